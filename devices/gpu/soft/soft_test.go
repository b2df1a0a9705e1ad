package soft

import (
	"bytes"
	"errors"
	"testing"
)

// split cuts b into pieces of the given lengths (the rest in a last piece).
func split(b []byte, lens ...int) [][]byte {
	var out [][]byte
	for _, n := range lens {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestCursorCopyAt(t *testing.T) {
	stream := pattern(100)
	tests := []struct {
		name string
		segs [][]byte
	}{
		{"one piece", [][]byte{stream}},
		{"many pieces", split(stream, 1, 2, 3, 10, 30, 50)},
		{"empty pieces", split(stream, 0, 10, 0, 0, 45, 0)},
		{"byte pieces", split(stream, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)},
	}
	reads := []struct{ off, n int }{{0, 10}, {5, 20}, {9, 1}, {40, 60}, {99, 1}, {0, 100}, {3, 0}, {60, 5}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cursor{segs: tt.segs}
			for _, r := range reads { // includes backwards moves
				dst := make([]byte, r.n)
				if !c.copyAt(dst, uint64(r.off)) {
					t.Fatalf("copyAt(%d, %d) ran out", r.off, r.n)
				}
				if !bytes.Equal(dst, stream[r.off:r.off+r.n]) {
					t.Fatalf("copyAt(%d, %d) = %v", r.off, r.n, dst)
				}
			}
			if c.copyAt(make([]byte, 2), 99) {
				t.Fatal("read past the end succeeded")
			}
			if c.copyAt(make([]byte, 1), 1000) {
				t.Fatal("read far past the end succeeded")
			}
		})
	}
}

func TestNewImage(t *testing.T) {
	for _, sz := range [][2]uint32{{0, 1}, {1, 0}, {MaxDim + 1, 1}, {1, MaxDim + 1}, {65535, 65535}} {
		if _, err := NewImage(sz[0], sz[1]); !errors.Is(err, ErrSize) {
			t.Errorf("NewImage(%d, %d) = %v, want ErrSize", sz[0], sz[1], err)
		}
	}
	im, err := NewImage(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if im.Stride != 12 || len(im.Pix) != 24 {
		t.Fatalf("image %+v", im)
	}
}

// guestFB is a w×h framebuffer as the guest lays it out (stride w*4).
func guestFB(w, h int) []byte { return pattern(w * h * BytesPerPixel) }

// TestTransfer copies rectangles out of backings cut in awkward places and
// checks every pixel of the image: inside the rectangle it is the guest's,
// outside it is untouched.
func TestTransfer(t *testing.T) {
	const w, h = 7, 5
	fb := guestFB(w, h)
	stride := w * BytesPerPixel
	rects := []struct{ x, y, rw, rh uint32 }{
		{0, 0, w, h}, {0, 2, w, 2}, {1, 1, 3, 3}, {6, 4, 1, 1}, {0, 0, 1, h}, {2, 0, 5, 1}, {3, 3, 0, 0},
	}
	backings := map[string][][]byte{
		"contiguous":  {fb},
		"pages of 13": split(fb, 13, 13, 13, 13, 13, 13, 13, 13, 13),
		"mid-row":     split(fb, stride+5, 0, 2*stride-3),
		"single byte": split(fb, 1),
	}
	for name, backing := range backings {
		for _, r := range rects {
			im, _ := NewImage(w, h)
			off := uint64(r.y)*uint64(stride) + uint64(r.x)*BytesPerPixel
			if err := im.Transfer(r.x, r.y, r.rw, r.rh, off, backing); err != nil {
				t.Fatalf("%s %+v: %v", name, r, err)
			}
			for py := range h {
				for px := range w {
					i := py*stride + px*BytesPerPixel
					got := im.Pix[i : i+BytesPerPixel]
					in := uint32(px) >= r.x && uint32(px) < r.x+r.rw && uint32(py) >= r.y && uint32(py) < r.y+r.rh
					want := []byte{0, 0, 0, 0}
					if in {
						want = fb[i : i+BytesPerPixel]
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("%s %+v: pixel (%d,%d) = %v, want %v", name, r, px, py, got, want)
					}
				}
			}
		}
	}
}

func TestTransferErrors(t *testing.T) {
	const w, h = 4, 4
	fb := guestFB(w, h)
	tests := []struct {
		name         string
		x, y, rw, rh uint32
		off          uint64
		backing      [][]byte
		want         error
	}{
		{"x overflow", 0xffffffff, 0, 2, 1, 0, [][]byte{fb}, ErrRect},
		{"y overflow", 0, 0xffffffff, 1, 2, 0, [][]byte{fb}, ErrRect},
		{"too wide", 1, 0, w, 1, 0, [][]byte{fb}, ErrRect},
		{"too tall", 0, 1, 1, h, 0, [][]byte{fb}, ErrRect},
		{"offset past end", 0, 0, 1, 1, uint64(len(fb)), [][]byte{fb}, ErrBacking},
		{"huge offset", 0, 0, 1, 1, 1 << 63, [][]byte{fb}, ErrBacking},
		{"max offset", 0, 0, 1, 1, ^uint64(0), [][]byte{fb}, ErrBacking},
		{"last row short", 0, 0, w, h, 4, [][]byte{fb}, ErrBacking},
		{"short backing", 0, 0, w, h, 0, [][]byte{fb[:len(fb)-1]}, ErrBacking},
		{"no backing", 0, 0, 1, 1, 0, nil, ErrBacking},
	}
	for _, tt := range tests {
		im, _ := NewImage(w, h)
		if err := im.Transfer(tt.x, tt.y, tt.rw, tt.rh, tt.off, tt.backing); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if !bytes.Equal(im.Pix, make([]byte, len(im.Pix))) {
			t.Errorf("%s: image changed", tt.name)
		}
	}
}

// The last row of a rectangle only needs its own pixels: a backing that
// ends right after them is enough.
func TestTransferExactBacking(t *testing.T) {
	im, _ := NewImage(4, 3)
	fb := guestFB(4, 3)
	// 2x2 at (1,1): last byte needed is row 2, pixel 2.
	end := 2*16 + 3*4
	if err := im.Transfer(1, 1, 2, 2, 16+4, [][]byte{fb[:end]}); err != nil {
		t.Fatal(err)
	}
	if err := im.Transfer(1, 1, 2, 2, 16+4, [][]byte{fb[:end-1]}); !errors.Is(err, ErrBacking) {
		t.Fatalf("one byte short: %v", err)
	}
}

func TestSub(t *testing.T) {
	im, _ := NewImage(4, 3)
	copy(im.Pix, guestFB(4, 3))
	p, err := im.Sub(1, 1, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 16+8 || !bytes.Equal(p[:8], im.Pix[20:28]) || !bytes.Equal(p[16:24], im.Pix[36:44]) {
		t.Fatalf("sub view %v", p)
	}
	if full, _ := im.Sub(0, 0, 4, 3); len(full) != len(im.Pix) {
		t.Fatalf("full view of %d bytes", len(full))
	}
	for _, r := range [][4]uint32{{0, 0, 0, 1}, {0, 0, 5, 1}, {3, 2, 2, 1}, {0, 0xffffffff, 1, 2}} {
		if _, err := im.Sub(r[0], r[1], r[2], r[3]); !errors.Is(err, ErrRect) {
			t.Errorf("Sub%v = %v", r, err)
		}
	}
}

func TestTransferAllocatesNothing(t *testing.T) {
	im, _ := NewImage(64, 64)
	fb := guestFB(64, 64)
	backing := split(fb, 4096, 4096, 4096)
	n := testing.AllocsPerRun(100, func() {
		if err := im.Transfer(3, 5, 50, 40, 5*256+12, backing); err != nil {
			t.Fatal(err)
		}
		if err := im.Transfer(0, 0, 64, 64, 0, backing); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per transfer", n)
	}
}

func BenchmarkTransfer1280x800(b *testing.B) {
	im, _ := NewImage(1280, 800)
	fb := guestFB(1280, 800)
	var backing [][]byte
	for p := fb; len(p) > 0; p = p[min(len(p), 4096):] {
		backing = append(backing, p[:min(len(p), 4096)])
	}
	b.SetBytes(int64(len(fb)))
	for b.Loop() {
		if err := im.Transfer(0, 0, 1280, 800, 0, backing); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTransfer compares Transfer with a byte-at-a-time reference on
// backings cut at fuzzed places, and checks it never panics.
func FuzzTransfer(f *testing.F) {
	f.Add(uint8(7), uint8(5), uint8(1), uint8(1), uint8(3), uint8(3), uint16(32), []byte{13, 0, 40})
	f.Add(uint8(4), uint8(4), uint8(0), uint8(0), uint8(4), uint8(4), uint16(0), []byte{1, 1, 1, 60})
	f.Fuzz(func(t *testing.T, w, h, x, y, rw, rh uint8, off uint16, cuts []byte) {
		im, err := NewImage(uint32(w), uint32(h))
		if err != nil {
			return
		}
		fb := pattern(int(w) * int(h) * BytesPerPixel)
		var lens []int
		rest := len(fb)
		for _, c := range cuts {
			n := min(int(c), rest)
			lens = append(lens, n)
			rest -= n
		}
		backing := split(fb, lens...)
		err = im.Transfer(uint32(x), uint32(y), uint32(rw), uint32(rh), uint64(off), backing)

		// The reference.
		want := make([]byte, len(im.Pix))
		ok := int(x)+int(rw) <= int(w) && int(y)+int(rh) <= int(h)
		if ok && rw > 0 && rh > 0 {
			for i := 0; i < int(rh) && ok; i++ {
				for j := 0; j < int(rw)*BytesPerPixel; j++ {
					src := int(off) + i*im.Stride + j
					if src >= len(fb) {
						ok = false
						break
					}
					want[(int(y)+i)*im.Stride+int(x)*BytesPerPixel+j] = fb[src]
				}
			}
		}
		if !ok {
			if err == nil {
				t.Fatalf("Transfer accepted what the reference rejects")
			}
			return
		}
		if err != nil {
			t.Fatalf("Transfer: %v", err)
		}
		if !bytes.Equal(im.Pix, want) {
			t.Fatal("Transfer differs from the reference")
		}
	})
}
