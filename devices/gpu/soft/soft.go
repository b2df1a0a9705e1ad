// Package soft is the pure-Go pixel engine behind govm's 2D virtio-gpu
// backend: one Image per resource, filled from the guest's backing pages
// by Transfer, read by the display through Sub.
//
// Every 2D virtio-gpu format is 4 bytes per pixel, and a 2D transfer copies
// bytes as they are, so the engine never looks at the format: the pixels
// stay in the guest's byte order (BGRA, RGBA, ...) and the Frame given to a
// display says which. Package gpu wraps this into its Backend; this package
// does not import gpu, so that gpu can use it as its default.
package soft

import (
	"errors"
	"fmt"
)

const (
	// BytesPerPixel is the size of a pixel in every 2D format.
	BytesPerPixel = 4
	// MaxDim is the largest width or height of an Image.
	MaxDim = 16384
)

// Errors from NewImage, Transfer and Sub; each is wrapped with detail.
var (
	ErrSize    = errors.New("soft: image size out of range")
	ErrRect    = errors.New("soft: rectangle outside the image")
	ErrBacking = errors.New("soft: transfer reaches past the guest backing")
)

// Image is one resource's host pixels: Height rows of Stride bytes.
type Image struct {
	Width, Height int
	Stride        int
	Pix           []byte
}

// NewImage allocates a zeroed width×height image, both in [1, MaxDim].
// Bounding the size against a memory budget is the caller's job.
func NewImage(width, height uint32) (*Image, error) {
	if width == 0 || height == 0 || width > MaxDim || height > MaxDim {
		return nil, fmt.Errorf("%w: %dx%d (max %d)", ErrSize, width, height, MaxDim)
	}
	stride := int(width) * BytesPerPixel
	return &Image{
		Width:  int(width),
		Height: int(height),
		Stride: stride,
		Pix:    make([]byte, stride*int(height)),
	}, nil
}

// within reports whether the w×h rectangle at (x, y) lies in the image,
// computed in 64 bits so no uint32 can overflow it.
func (im *Image) within(x, y, w, h uint32) bool {
	return uint64(x)+uint64(w) <= uint64(im.Width) && uint64(y)+uint64(h) <= uint64(im.Height)
}

// Transfer copies the w×h rectangle at (x, y) from the guest's backing into
// the image (VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D). backing is the guest
// memory attached to the resource, read as one byte stream; row i of the
// rectangle starts at stream offset offset+i*Stride, the layout of a guest
// framebuffer with the image's own stride (Linux sends offset = y*stride +
// x*4). Rows may span pieces of the backing. Transfer allocates nothing.
func (im *Image) Transfer(x, y, w, h uint32, offset uint64, backing [][]byte) error {
	if !im.within(x, y, w, h) {
		return fmt.Errorf("%w: %dx%d at (%d,%d) in %dx%d", ErrRect, w, h, x, y, im.Width, im.Height)
	}
	if w == 0 || h == 0 {
		return nil
	}
	stride := uint64(im.Stride)
	row := uint64(w) * BytesPerPixel
	need := uint64(h-1)*stride + row
	if total := totalLen(backing); offset > total || need > total-offset {
		return fmt.Errorf("%w: %d bytes at offset %d, backing of %d", ErrBacking, need, offset, total)
	}
	src := cursor{segs: backing}
	first := uint64(y)*stride + uint64(x)*BytesPerPixel
	if row == stride {
		// Whole rows: one contiguous run on both sides.
		src.copyAt(im.Pix[first:first+uint64(h)*stride], offset)
		return nil
	}
	for i := range uint64(h) {
		dst := first + i*stride
		src.copyAt(im.Pix[dst:dst+row], offset+i*stride)
	}
	return nil
}

// Sub returns the pixels of the w×h rectangle at (x, y), w and h at least
// 1: a view into Pix starting at the rectangle's first pixel, row i at
// i*Stride. The view ends with the rectangle's last pixel, so its last row
// may be shorter than Stride. It is valid until the image changes.
func (im *Image) Sub(x, y, w, h uint32) ([]byte, error) {
	if w == 0 || h == 0 || !im.within(x, y, w, h) {
		return nil, fmt.Errorf("%w: %dx%d at (%d,%d) in %dx%d", ErrRect, w, h, x, y, im.Width, im.Height)
	}
	start := int(y)*im.Stride + int(x)*BytesPerPixel
	end := start + int(h-1)*im.Stride + int(w)*BytesPerPixel
	return im.Pix[start:end:end], nil
}

// totalLen is the length of the backing stream.
func totalLen(segs [][]byte) uint64 {
	var n uint64
	for _, s := range segs {
		n += uint64(len(s))
	}
	return n
}

// cursor reads a list of byte slices as one stream. It remembers the slice
// where the last read ended, so reading rows at increasing offsets costs
// O(rows + slices) in all rather than O(rows × slices).
type cursor struct {
	segs  [][]byte
	i     int    // current slice
	start uint64 // stream offset of segs[i]
}

// copyAt fills dst from stream offset off. It reports false, with dst
// partly filled, if the stream ends first.
func (c *cursor) copyAt(dst []byte, off uint64) bool {
	if off < c.start {
		c.i, c.start = 0, 0
	}
	// Skip to the slice holding off (empty slices are passed over).
	for c.i < len(c.segs) && off >= c.start+uint64(len(c.segs[c.i])) {
		c.start += uint64(len(c.segs[c.i]))
		c.i++
	}
	for len(dst) > 0 {
		if c.i == len(c.segs) {
			return false
		}
		seg := c.segs[c.i]
		n := copy(dst, seg[off-c.start:])
		dst, off = dst[n:], off+uint64(n)
		if off == c.start+uint64(len(seg)) {
			c.start += uint64(len(seg))
			c.i++
		}
	}
	return true
}
