// Package gpu is govm's virtio-gpu device (virtio device id 16), in three
// layers: protocol (decoding and encoding the guest's commands), the
// device's state (resources and scanouts, checked against everything the
// guest may get wrong), and a Backend that does the pixel work: the pure-Go
// 2D backend in devices/gpu/soft, or virgl (cgo). Finished frames go to a
// Sink, such as the SDL window: as pixels, or as GL textures when the
// window shares virgl's GL. Screenshots read the device's resources.
package gpu

import "github.com/govm/govm/devices/input"

// Format is a virtio-gpu pixel format (enum virtio_gpu_formats).
type Format uint32

// The 2D formats of the virtio-gpu spec. Names give the byte order in
// memory (B8G8R8A8: byte 0 is blue).
const (
	FormatB8G8R8A8 Format = 1
	FormatB8G8R8X8 Format = 2
	FormatA8R8G8B8 Format = 3
	FormatX8R8G8B8 Format = 4
	FormatR8G8B8A8 Format = 67
	FormatX8B8G8R8 Format = 68
	FormatA8B8G8R8 Format = 121
	FormatR8G8B8X8 Format = 134
)

// Frame is what a scanout shows: Height rows of Stride bytes, each pixel 4
// bytes in Format. A Sink must not keep Pix after Present returns: copy it.
type Frame struct {
	Width, Height int
	Stride        int
	Format        Format
	Pix           []byte
}

// Sink is where frames are shown: an SDL window, say, or a buffer.
type Sink interface {
	// Present shows f on scanout (0 for the first display). It is called
	// from the device's goroutine after RESOURCE_FLUSH, or with an empty
	// Frame (Width 0) when the scanout is disabled.
	Present(scanout uint32, f Frame) error
	// Events delivers keyboard and pointer input for the guest (nil if
	// the sink has none).
	Events() <-chan input.Event
	Close() error
}

// Texture is a scanout that lives in a host GL texture, as every resource
// of the virgl backend does. A TextureSink whose GL context shares objects
// with the backend's contexts draws it straight from the GPU's memory,
// with no copy through the CPU.
type Texture struct {
	ID            uint32 // GL texture name (GL_TEXTURE_2D) in the shared group
	Width, Height uint32 // the texture's size
	Rect          Rect   // the part of it the scanout shows
	// Y0Top: the texture's row 0 is the top of the image. Otherwise it
	// is the bottom, as in GL's convention.
	Y0Top bool
}

// TextureBackend is a Backend whose resources are GL textures.
type TextureBackend interface {
	// Texture returns resource id's texture once the rendering submitted
	// to it so far has finished. It fails if the backend's GL contexts do
	// not share objects with a sink's.
	Texture(resourceID uint32) (Texture, error)
}

// TextureSink is a Sink that can show a Texture.
type TextureSink interface {
	Sink
	// PresentTexture shows t on scanout. Like Present, it is called with
	// the Device's lock held; the texture may be drawn until the next
	// Present or PresentTexture of that scanout.
	PresentTexture(scanout uint32, t Texture) error
}
