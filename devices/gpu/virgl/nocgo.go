//go:build !cgo

package virgl

import "github.com/govm/govm/devices/gpu"

// Renderer is the virgl backend; without cgo it cannot be made, and every
// method fails with ErrNoVirgl.
type Renderer struct{}

var _ gpu.Backend3D = (*Renderer)(nil)

// New returns ErrNoVirgl: this build has no cgo.
func New(o Options) (*Renderer, error) { return nil, ErrNoVirgl }

// RendererString returns empty strings without cgo.
func (r *Renderer) RendererString() (vendor, renderer, version string) { return "", "", "" }

// Close does nothing without cgo.
func (r *Renderer) Close() error { return nil }

func (r *Renderer) CreateResource2D(uint32, gpu.Format, uint32, uint32) error { return ErrNoVirgl }
func (r *Renderer) Unref(uint32)                                              {}
func (r *Renderer) TransferToHost2D(uint32, gpu.Rect, uint64, [][]byte) error {
	return ErrNoVirgl
}
func (r *Renderer) Frame(uint32, gpu.Rect) (gpu.Frame, error)            { return gpu.Frame{}, ErrNoVirgl }
func (r *Renderer) SetFenceHandler(gpu.FenceFunc)                        {}
func (r *Renderer) NumCapsets() uint32                                   { return 0 }
func (r *Renderer) GetCapsetInfo(uint32) (uint32, uint32, uint32, error) { return 0, 0, 0, ErrNoVirgl }
func (r *Renderer) GetCapset(uint32, uint32) ([]byte, error)             { return nil, ErrNoVirgl }
func (r *Renderer) CreateContext(uint32, string, uint32) error           { return ErrNoVirgl }
func (r *Renderer) DestroyContext(uint32)                                {}
func (r *Renderer) ContextAttachResource(uint32, uint32)                 {}
func (r *Renderer) ContextDetachResource(uint32, uint32)                 {}
func (r *Renderer) CreateResource3D(gpu.ResourceCreate3D) error          { return ErrNoVirgl }
func (r *Renderer) AttachBacking(uint32, [][]byte) error                 { return ErrNoVirgl }
func (r *Renderer) DetachBacking(uint32)                                 {}
func (r *Renderer) TransferToHost3D(uint32, gpu.TransferHost3D) error    { return ErrNoVirgl }
func (r *Renderer) TransferFromHost3D(uint32, gpu.TransferHost3D) error  { return ErrNoVirgl }
func (r *Renderer) Submit3D(uint32, []byte) error                        { return ErrNoVirgl }
func (r *Renderer) CreateFence(uint32, uint32, uint64) error             { return ErrNoVirgl }

// Texture fails without cgo.
func (r *Renderer) Texture(uint32) (gpu.Texture, error) { return gpu.Texture{}, ErrNoVirgl }
