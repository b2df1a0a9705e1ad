//go:build !cgo

package sdl

import (
	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/input"
)

// Window is the SDL window; without cgo there is none and New fails.
type Window struct{}

// New returns ErrNoCgo: this binary was built without cgo.
func New(o Options) (*Window, error) { return nil, ErrNoCgo }

// Run returns ErrNoCgo.
func (w *Window) Run(done <-chan struct{}) error { return ErrNoCgo }

// Closed returns nil (a channel that never fires).
func (w *Window) Closed() <-chan struct{} { return nil }

// Present returns ErrNoCgo.
func (w *Window) Present(scanout uint32, f gpu.Frame) error { return ErrNoCgo }

// Events returns nil.
func (w *Window) Events() <-chan input.Event { return nil }

// Close does nothing.
func (w *Window) Close() error { return nil }

var _ gpu.Sink = (*Window)(nil)

// SharedGL returns false: without cgo there is no GL.
func (w *Window) SharedGL() (SharedGL, bool) { return SharedGL{}, false }

// PresentTexture returns ErrNoCgo.
func (w *Window) PresentTexture(scanout uint32, t gpu.Texture) error { return ErrNoCgo }
