package sdl

import (
	"testing"

	"github.com/govm/govm/devices/input"
)

func TestLetterbox(t *testing.T) {
	tests := []struct {
		name           string
		ww, wh, fw, fh int
		want           rect
	}{
		{"exact fit", 640, 400, 640, 400, rect{0, 0, 640, 400}},
		{"double", 1280, 800, 640, 400, rect{0, 0, 1280, 800}},
		{"wide window: bars left and right", 1000, 400, 640, 400, rect{180, 0, 640, 400}},
		{"tall window: bars top and bottom", 640, 1000, 640, 400, rect{0, 300, 640, 400}},
		{"4:3 frame in 16:9 window", 1920, 1080, 1024, 768, rect{240, 0, 1440, 1080}},
		{"narrow frame", 640, 400, 320, 400, rect{160, 0, 320, 400}},
		{"tiny window", 1, 1, 1920, 1080, rect{0, 0, 1, 1}},
		{"no frame", 640, 400, 0, 0, rect{}},
		{"minimised window", 0, 0, 640, 400, rect{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := letterbox(tt.ww, tt.wh, tt.fw, tt.fh)
			if got != tt.want {
				t.Errorf("letterbox(%d, %d, %d, %d) = %+v, want %+v", tt.ww, tt.wh, tt.fw, tt.fh, got, tt.want)
			}
			if got.X < 0 || got.Y < 0 || got.X+got.W > tt.ww || got.Y+got.H > tt.wh {
				t.Errorf("letterbox %+v outside window %dx%d", got, tt.ww, tt.wh)
			}
		})
	}
}

func TestAbsPos(t *testing.T) {
	tests := []struct {
		p, origin, size int
		want            int32
	}{
		{0, 0, 640, 0},
		{639, 0, 640, input.AbsMax},
		{180, 180, 640, 0},            // left edge of a letterboxed frame
		{819, 180, 640, input.AbsMax}, // its right edge
		{500, 180, 640, 16409},        // 320 * 32767 / 639 = 16409.1
		{10, 180, 640, 0},             // on the left bar: clamped
		{999, 180, 640, input.AbsMax}, // on the right bar: clamped
		{-50, 0, 640, 0},              // outside the window while dragging
		{5, 0, 1, 0},                  // degenerate sizes
		{5, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := absPos(tt.p, tt.origin, tt.size); got != tt.want {
			t.Errorf("absPos(%d, %d, %d) = %d, want %d", tt.p, tt.origin, tt.size, got, tt.want)
		}
	}
	// Monotonic and in range over a whole axis.
	prev := int32(-1)
	for p := -10; p < 1300; p++ {
		v := absPos(p, 100, 1024)
		if v < prev || v < 0 || v > input.AbsMax {
			t.Fatalf("absPos(%d) = %d after %d", p, v, prev)
		}
		prev = v
	}
}

func TestOptionsSize(t *testing.T) {
	tests := []struct {
		o    Options
		w, h int
	}{
		{Options{}, defaultWidth, defaultHeight},
		{Options{Width: 640, Height: 400}, 640, 400},
		{Options{Width: 640, Height: 400, Scale: 2}, 1280, 800},
		{Options{Width: 640}, defaultWidth, defaultHeight},
	}
	for _, tt := range tests {
		if w, h := tt.o.size(); w != tt.w || h != tt.h {
			t.Errorf("%+v.size() = %dx%d, want %dx%d", tt.o, w, h, tt.w, tt.h)
		}
	}
}
