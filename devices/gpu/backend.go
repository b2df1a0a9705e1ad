package gpu

import (
	"errors"
	"fmt"

	"github.com/govm/govm/devices/gpu/soft"
)

// Backend does the pixel work of the 2D commands. The Device has already
// checked every guest value against its own records before it calls a
// Backend (the id exists or is new, the format is known, the size within
// limits and the memory budget, rectangles inside the resource, the
// transfer inside the backing), so a Backend error means the host failed,
// and the guest sees ERR_UNSPEC. A Backend is used by one goroutine at a
// time (the Device's lock).
//
// A 3D backend (virgl) will extend this with a Backend3D interface
// (capsets, contexts, 3D resources, command submission, fences); the 2D
// calls stay as they are.
type Backend interface {
	// CreateResource2D makes host pixels for resource id, width×height
	// (each in [1, MaxResourceDim]) in format f.
	CreateResource2D(id uint32, f Format, width, height uint32) error
	// Unref frees resource id (a no-op for an unknown id).
	Unref(id uint32)
	// TransferToHost2D copies rectangle r of resource id from the guest
	// backing: row i of r starts at byte offset+i*width*4 of the backing
	// slices read as one stream (they alias guest memory).
	TransferToHost2D(id uint32, r Rect, offset uint64, backing [][]byte) error
	// Frame returns the pixels of rectangle r (not empty) of resource id.
	// Pix is a view, valid until the next call on the Backend; row i
	// starts at i*Stride and the last row may end right after its Width
	// pixels.
	Frame(id uint32, r Rect) (Frame, error)
}

// ErrNoResource is what the soft backend returns for an id it does not
// hold (a bug in the caller: the Device checks ids first).
var ErrNoResource = errors.New("virtio-gpu backend: no such resource")

// NewSoftBackend returns the pure-Go 2D backend (package soft): the
// default when Options.Backend is nil.
func NewSoftBackend() Backend {
	return &softBackend{images: map[uint32]softImage{}}
}

// softBackend adapts soft.Image to Backend. soft does not import this
// package (so this package can default to it); the adapter is where ids
// and formats meet the pixels.
type softBackend struct {
	images map[uint32]softImage
}

type softImage struct {
	im     *soft.Image
	format Format
}

func (b *softBackend) CreateResource2D(id uint32, f Format, width, height uint32) error {
	if _, ok := b.images[id]; ok {
		return fmt.Errorf("virtio-gpu backend: resource %d exists", id)
	}
	im, err := soft.NewImage(width, height)
	if err != nil {
		return fmt.Errorf("virtio-gpu backend: resource %d: %w", id, err)
	}
	b.images[id] = softImage{im: im, format: f}
	return nil
}

func (b *softBackend) Unref(id uint32) { delete(b.images, id) }

func (b *softBackend) TransferToHost2D(id uint32, r Rect, offset uint64, backing [][]byte) error {
	s, ok := b.images[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrNoResource, id)
	}
	if err := s.im.Transfer(r.X, r.Y, r.Width, r.Height, offset, backing); err != nil {
		return fmt.Errorf("virtio-gpu backend: resource %d: %w", id, err)
	}
	return nil
}

func (b *softBackend) Frame(id uint32, r Rect) (Frame, error) {
	s, ok := b.images[id]
	if !ok {
		return Frame{}, fmt.Errorf("%w: %d", ErrNoResource, id)
	}
	pix, err := s.im.Sub(r.X, r.Y, r.Width, r.Height)
	if err != nil {
		return Frame{}, fmt.Errorf("virtio-gpu backend: resource %d: %w", id, err)
	}
	return Frame{Width: int(r.Width), Height: int(r.Height), Stride: s.im.Stride, Format: s.format, Pix: pix}, nil
}
