//go:build cgo

package sdl

import (
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/govm/govm/devices/gpu"
	"github.com/veandco/go-sdl2/sdl"
)

// TestSDLFormat writes a pixel in each virtio-gpu format's byte order,
// reads it the way SDL will (a native uint32 and the format's channel
// masks), and checks the colour survives.
func TestSDLFormat(t *testing.T) {
	const r, g, b = 0x11, 0x22, 0x33
	// Memory order of each format, from its name; 'X' and 'A' bytes are
	// filled with 0x44.
	formats := map[gpu.Format]string{
		gpu.FormatB8G8R8A8: "BGRA",
		gpu.FormatB8G8R8X8: "BGRX",
		gpu.FormatA8R8G8B8: "ARGB",
		gpu.FormatX8R8G8B8: "XRGB",
		gpu.FormatR8G8B8A8: "RGBA",
		gpu.FormatX8B8G8R8: "XBGR",
		gpu.FormatA8B8G8R8: "ABGR",
		gpu.FormatR8G8B8X8: "RGBX",
	}
	for f, order := range formats {
		sf, err := sdlFormat(f)
		if err != nil {
			t.Fatalf("%s: %v", order, err)
		}
		pix := make([]byte, 4)
		for i, c := range order {
			pix[i] = map[rune]byte{'R': r, 'G': g, 'B': b, 'X': 0x44, 'A': 0x44}[c]
		}
		bpp, rm, gm, bm, am, err := sdl.PixelFormatEnumToMasks(uint(sf))
		if err != nil || bpp != 32 {
			t.Fatalf("%s -> %s: bpp %d, %v", order, sdl.GetPixelFormatName(uint(sf)), bpp, err)
		}
		v := binary.NativeEndian.Uint32(pix)
		channel := func(mask uint32) uint32 { return (v & mask) >> bits.TrailingZeros32(mask) }
		if channel(rm) != r || channel(gm) != g || channel(bm) != b {
			t.Errorf("%s -> %s reads r,g,b = %#x,%#x,%#x", order, sdl.GetPixelFormatName(uint(sf)), channel(rm), channel(gm), channel(bm))
		}
		if hasAlpha := order[0] == 'A' || order[3] == 'A'; hasAlpha != (am != 0) {
			t.Errorf("%s -> %s: alpha mask %#x", order, sdl.GetPixelFormatName(uint(sf)), am)
		}
	}
	if _, err := sdlFormat(0); err == nil {
		t.Error("format 0 accepted")
	}
	if len(formats) != len(sdlFormatLE) || len(formats) != len(sdlFormatBE) {
		t.Error("format tables and test disagree on the format list")
	}
}

func TestCheckFrame(t *testing.T) {
	ok := gpu.Frame{Width: 2, Height: 2, Stride: 12, Format: gpu.FormatB8G8R8X8, Pix: make([]byte, 12+8)}
	if err := checkFrame(ok); err != nil {
		t.Fatalf("good frame: %v", err)
	}
	bad := []gpu.Frame{
		{Width: 2, Height: 2, Stride: 12, Pix: make([]byte, 12+7)}, // short
		{Width: 2, Height: 2, Stride: 4, Pix: make([]byte, 100)},   // stride < row
		{Width: -1, Height: 2, Stride: 12, Pix: make([]byte, 100)},
		{Width: maxFrameSide + 1, Height: 1, Stride: (maxFrameSide + 1) * 4, Pix: make([]byte, (maxFrameSide+1)*4)},
	}
	for _, f := range bad {
		if err := checkFrame(f); err == nil {
			t.Errorf("frame %dx%d stride %d len %d accepted", f.Width, f.Height, f.Stride, len(f.Pix))
		}
	}
}
