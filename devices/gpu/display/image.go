// Package display holds govm's pure-Go display sinks: Headless (keeps the
// last frame of each scanout for screenshots), Null (drops everything) and
// Multi (presents to several sinks at once), plus the conversion from a
// guest frame to an image.Image or a PNG file and the --resolution parser. The SDL
// window lives in the cgo package display/sdl.
package display

import (
	"errors"
	"fmt"
	"image"

	"github.com/govm/govm/devices/gpu"
)

// bytesPerPixel is the size of a pixel in every 2D virtio-gpu format.
const bytesPerPixel = 4

// opaque is the alpha value of a fully opaque pixel.
const opaque = 0xff

// maxStride bounds a frame's stride so that stride*height cannot
// overflow. The widest legal row is MaxDimension*bytesPerPixel (64 KiB);
// padding beyond 1 MiB a row is refused as nonsense.
const maxStride = 1 << 20

// layout says where each colour channel sits inside a 4-byte pixel in
// memory; the fourth byte (alpha or padding) is never read.
type layout struct {
	r, g, b int
}

// layouts follows the virtio-gpu spec: a format's name lists its bytes in
// memory order, so B8G8R8X8 is byte 0 blue, 1 green, 2 red, 3 unused.
// A scanout is what a monitor shows: nothing behind it to blend with, so
// the alpha byte of the A formats is ignored too, as real displays do, and
// a screenshot is always opaque.
var layouts = map[gpu.Format]layout{
	gpu.FormatB8G8R8A8: {r: 2, g: 1, b: 0},
	gpu.FormatB8G8R8X8: {r: 2, g: 1, b: 0},
	gpu.FormatA8R8G8B8: {r: 1, g: 2, b: 3},
	gpu.FormatX8R8G8B8: {r: 1, g: 2, b: 3},
	gpu.FormatR8G8B8A8: {r: 0, g: 1, b: 2},
	gpu.FormatX8B8G8R8: {r: 3, g: 2, b: 1},
	gpu.FormatA8B8G8R8: {r: 3, g: 2, b: 1},
	gpu.FormatR8G8B8X8: {r: 0, g: 1, b: 2},
}

// ErrBadFrame is wrapped by CheckFrame's errors.
var ErrBadFrame = errors.New("bad frame")

// CheckFrame reports whether f can be converted: a known format, a
// positive size, a stride that holds a row, and enough bytes in Pix. An
// empty frame (Width 0, a disabled scanout) is not convertible either.
func CheckFrame(f gpu.Frame) error {
	if _, ok := layouts[f.Format]; !ok {
		return fmt.Errorf("%w: unknown format %d", ErrBadFrame, f.Format)
	}
	if f.Width <= 0 || f.Height <= 0 {
		return fmt.Errorf("%w: size %dx%d", ErrBadFrame, f.Width, f.Height)
	}
	// Bound the sizes before multiplying so that nothing overflows.
	if f.Width > MaxDimension || f.Height > MaxDimension {
		return fmt.Errorf("%w: size %dx%d is over %d", ErrBadFrame, f.Width, f.Height, MaxDimension)
	}
	row := f.Width * bytesPerPixel
	if f.Stride < row || f.Stride > maxStride {
		return fmt.Errorf("%w: stride %d for width %d", ErrBadFrame, f.Stride, f.Width)
	}
	if need := f.Stride*(f.Height-1) + row; len(f.Pix) < need {
		return fmt.Errorf("%w: %d bytes of pixels, need %d", ErrBadFrame, len(f.Pix), need)
	}
	return nil
}

// ToImage converts f to an opaque RGBA image (a scanout's alpha is ignored;
// see layouts). ToImage returns nil if CheckFrame rejects f.
func ToImage(f gpu.Frame) *image.RGBA {
	if CheckFrame(f) != nil {
		return nil
	}
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	convert(img, f)
	return img
}

// convert writes the checked frame f into img, which has f's size.
func convert(img *image.RGBA, f gpu.Frame) {
	l := layouts[f.Format]
	row := f.Width * bytesPerPixel
	for y := 0; y < f.Height; y++ {
		src := f.Pix[y*f.Stride : y*f.Stride+row]
		dst := img.Pix[y*img.Stride : y*img.Stride+row]
		if f.Format == gpu.FormatR8G8B8A8 || f.Format == gpu.FormatR8G8B8X8 {
			copy(dst, src) // already in image.RGBA's byte order
			for i := 3; i < len(dst); i += bytesPerPixel {
				dst[i] = opaque
			}
			continue
		}
		for i := 0; i < len(src); i += bytesPerPixel {
			s := src[i : i+bytesPerPixel : i+bytesPerPixel]
			d := dst[i : i+bytesPerPixel : i+bytesPerPixel]
			d[0], d[1], d[2], d[3] = s[l.r], s[l.g], s[l.b], opaque
		}
	}
}
