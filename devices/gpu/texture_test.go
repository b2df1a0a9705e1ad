package gpu

import (
	"errors"
	"testing"
)

// texBackend is the soft backend handing out made-up texture names.
type texBackend struct {
	countingBackend
	fail bool // Texture fails, as virgl does when its GL is not shared
}

func (b *texBackend) Texture(id uint32) (Texture, error) {
	if b.fail {
		return Texture{}, errors.New("not shared")
	}
	return Texture{ID: 100 + id, Width: 64, Height: 32}, nil
}

// texSink is a testSink that also takes textures.
type texSink struct {
	testSink
	textures []Texture
	refuse   bool // PresentTexture fails, as a window not in GL mode
}

func (s *texSink) PresentTexture(scanout uint32, t Texture) error {
	if s.refuse {
		return errors.New("not GL")
	}
	s.textures = append(s.textures, t)
	return nil
}

// TestTexturePath checks that a sink sharing the backend's GL gets the
// scanout as a texture, with the scanout's rectangle, and no read-back;
// and that a backend or sink that cannot share falls back to frames.
func TestTexturePath(t *testing.T) {
	const w, h = 16, 8
	for _, tc := range []struct {
		name                 string
		backendFails, refuse bool
	}{
		{"shared", false, false},
		{"backend not shared", true, false},
		{"sink refuses", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &texBackend{countingBackend: countingBackend{Backend: NewSoftBackend()}, fail: tc.backendFails}
			sink := &texSink{refuse: tc.refuse}
			d, err := New(Options{Width: w, Height: h, Backend: be, Sink: sink})
			if err != nil {
				t.Fatal(err)
			}
			r := newRigFor(t, d, &sink.testSink)
			fb := r.newFramebuffer(w, h)
			r.show(1, fb, 3)
			half := Rect{X: w / 2, Width: w / 2, Height: h}
			r.expect(SetScanout{Rect: half, ResourceID: 1}, RespOKNoData)
			r.expect(ResourceFlush{Rect: half, ResourceID: 1}, RespOKNoData)
			st := d.PresentStats()
			if tc.backendFails || tc.refuse {
				if st.Textures != 0 || st.Frames != 2 {
					t.Errorf("present stats %+v, want 2 frames", st)
				}
				if len(sink.textures) != 0 {
					t.Fatalf("textures presented: %v", sink.textures)
				}
				if p, ok := sink.last(); !ok || p.frame.Width != w/2 {
					t.Fatalf("no frame fell back to the CPU path: %v", p)
				}
				return
			}
			if st.Textures != 2 || st.Frames != 0 {
				t.Errorf("present stats %+v, want 2 textures", st)
			}
			if be.frames != 0 {
				t.Errorf("the texture path read the pixels back %d times", be.frames)
			}
			want := []Texture{{ID: 101, Width: 64, Height: 32, Rect: Rect{Width: w, Height: h}},
				{ID: 101, Width: 64, Height: 32, Rect: half}}
			if len(sink.textures) != len(want) || sink.textures[0] != want[0] || sink.textures[1] != want[1] {
				t.Fatalf("textures presented %+v, want %+v", sink.textures, want)
			}
			if shot, ok := d.Screenshot(0); !ok || shot.Width != w/2 {
				t.Fatalf("screenshot of a texture scanout: %v %dx%d", ok, shot.Width, shot.Height)
			}
		})
	}
}
