package display

import (
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/govm/govm/devices/gpu"
)

// onePixel is a 1x1 frame holding the four bytes b in format f.
func onePixel(f gpu.Format, b [4]byte) gpu.Frame {
	return gpu.Frame{Width: 1, Height: 1, Stride: 4, Format: f, Pix: b[:]}
}

func TestToImageFormats(t *testing.T) {
	// Each pixel is red 0x10, green 0x20, blue 0x30, alpha/padding 0xff or
	// 0x40, laid out as the spec name says (byte order in memory).
	tests := []struct {
		format gpu.Format
		mem    [4]byte
		want   color.RGBA
	}{
		{gpu.FormatB8G8R8A8, [4]byte{0x30, 0x20, 0x10, 0xff}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatB8G8R8X8, [4]byte{0x30, 0x20, 0x10, 0x00}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatA8R8G8B8, [4]byte{0xff, 0x10, 0x20, 0x30}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatX8R8G8B8, [4]byte{0x00, 0x10, 0x20, 0x30}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatR8G8B8A8, [4]byte{0x10, 0x20, 0x30, 0xff}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatX8B8G8R8, [4]byte{0x00, 0x30, 0x20, 0x10}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatA8B8G8R8, [4]byte{0xff, 0x30, 0x20, 0x10}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		{gpu.FormatR8G8B8X8, [4]byte{0x10, 0x20, 0x30, 0x7f}, color.RGBA{0x10, 0x20, 0x30, 0xff}},
		// A scanout's alpha is ignored, as a monitor ignores it: the
		// screenshot shows the colour, opaque.
		{gpu.FormatB8G8R8A8, [4]byte{0x80, 0x80, 0x80, 0x80}, color.RGBA{0x80, 0x80, 0x80, 0xff}},
		{gpu.FormatA8R8G8B8, [4]byte{0x00, 0xff, 0xff, 0xff}, color.RGBA{0xff, 0xff, 0xff, 0xff}},
		{gpu.FormatR8G8B8A8, [4]byte{0xff, 0x00, 0x80, 0x80}, color.RGBA{0xff, 0x00, 0x80, 0xff}},
		{gpu.FormatA8B8G8R8, [4]byte{0x80, 0x00, 0x00, 0xff}, color.RGBA{0xff, 0x00, 0x00, 0xff}},
	}
	for _, tt := range tests {
		img := ToImage(onePixel(tt.format, tt.mem))
		if img == nil {
			t.Fatalf("format %d: ToImage returned nil", tt.format)
		}
		if got := img.RGBAAt(0, 0); got != tt.want {
			t.Errorf("format %d, memory % x: got %v, want %v", tt.format, tt.mem, got, tt.want)
		}
	}
}

func TestToImageEveryFormatCovered(t *testing.T) {
	for f := range layouts {
		if ToImage(onePixel(f, [4]byte{1, 2, 3, 4})) == nil {
			t.Errorf("format %d not converted", f)
		}
	}
	if len(layouts) != 8 {
		t.Errorf("%d formats, want the 8 of the spec", len(layouts))
	}
}

func TestToImageStride(t *testing.T) {
	// 2x2 in R8G8B8X8 with 4 bytes of padding after each row; the last
	// row has no padding (Pix ends right after it).
	pix := []byte{
		1, 2, 3, 0, 4, 5, 6, 0, 0xee, 0xee, 0xee, 0xee,
		7, 8, 9, 0, 10, 11, 12, 0,
	}
	img := ToImage(gpu.Frame{Width: 2, Height: 2, Stride: 12, Format: gpu.FormatR8G8B8X8, Pix: pix})
	if img == nil {
		t.Fatal("nil image")
	}
	if img.Bounds() != image.Rect(0, 0, 2, 2) {
		t.Fatalf("bounds %v", img.Bounds())
	}
	want := []byte{1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 255}
	if string(img.Pix) != string(want) {
		t.Errorf("pixels % x, want % x", img.Pix, want)
	}
}

func TestCheckFrameRejects(t *testing.T) {
	good := gpu.Frame{Width: 2, Height: 2, Stride: 8, Format: gpu.FormatB8G8R8X8, Pix: make([]byte, 16)}
	tests := map[string]func(*gpu.Frame){
		"unknown format":  func(f *gpu.Frame) { f.Format = 5 },
		"zero width":      func(f *gpu.Frame) { f.Width = 0 },
		"negative height": func(f *gpu.Frame) { f.Height = -1 },
		"huge width":      func(f *gpu.Frame) { f.Width = MaxDimension + 1 },
		"short stride":    func(f *gpu.Frame) { f.Stride = 7 },
		"huge stride":     func(f *gpu.Frame) { f.Stride = 1 << 62 },
		"short pix":       func(f *gpu.Frame) { f.Pix = f.Pix[:15] },
		"nil pix":         func(f *gpu.Frame) { f.Pix = nil },
	}
	if err := CheckFrame(good); err != nil {
		t.Fatalf("good frame: %v", err)
	}
	for name, mutate := range tests {
		f := good
		mutate(&f)
		err := CheckFrame(f)
		if !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: err = %v, want ErrBadFrame", name, err)
		}
		if ToImage(f) != nil {
			t.Errorf("%s: ToImage did not return nil", name)
		}
	}
}

func FuzzToImage(f *testing.F) {
	f.Add(uint32(gpu.FormatB8G8R8X8), 2, 2, 8, []byte("0123456789abcdef"))
	f.Add(uint32(gpu.FormatA8R8G8B8), 1, 3, 5, []byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, format uint32, w, h, stride int, pix []byte) {
		fr := gpu.Frame{Width: w, Height: h, Stride: stride, Format: gpu.Format(format), Pix: pix}
		img := ToImage(fr)
		if (img == nil) != (CheckFrame(fr) != nil) {
			t.Fatalf("ToImage and CheckFrame disagree on %dx%d stride %d len %d", w, h, stride, len(pix))
		}
	})
}

func BenchmarkToImage1280x800(b *testing.B) {
	const w, h = 1280, 800
	for _, format := range []gpu.Format{gpu.FormatB8G8R8X8, gpu.FormatB8G8R8A8, gpu.FormatR8G8B8X8} {
		fr := gpu.Frame{Width: w, Height: h, Stride: w * 4, Format: format, Pix: make([]byte, w*h*4)}
		for i := range fr.Pix {
			fr.Pix[i] = byte(i)
		}
		b.Run(formatName(format), func(b *testing.B) {
			b.SetBytes(int64(len(fr.Pix)))
			for b.Loop() {
				ToImage(fr)
			}
		})
	}
}

func formatName(f gpu.Format) string {
	switch f {
	case gpu.FormatB8G8R8X8:
		return "B8G8R8X8"
	case gpu.FormatB8G8R8A8:
		return "B8G8R8A8"
	case gpu.FormatR8G8B8X8:
		return "R8G8B8X8"
	}
	return "other"
}
