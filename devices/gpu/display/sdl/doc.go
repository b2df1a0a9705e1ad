// Package sdl is govm's window for --display sdl: a gpu.Sink that shows
// scanout 0 in an SDL2 window and turns the window's keyboard and mouse
// input into evdev events for virtio-input.
//
// SDL must run on the process's main OS thread. The main package locks it
// (runtime.LockOSThread in an init function), calls New and Run on the main
// goroutine, and runs the virtual machine on other goroutines. Present and
// Events may be used from any goroutine: Present copies the frame and wakes
// the event loop, which uploads it to a texture on the main thread.
//
// The SDL code needs cgo. A binary built with CGO_ENABLED=0 still has this
// package's API, but New returns ErrNoCgo.
package sdl

import "errors"

// Options configures the window.
type Options struct {
	Title string
	// Width and Height are the initial window size in frame pixels,
	// normally the guest's resolution; 0 means 1280x800.
	Width, Height int
	// Scale multiplies the initial window size (0 means 1), e.g. 2 for a
	// small guest resolution on a large screen. The window stays
	// resizable; frames are always scaled to fit it.
	Scale int
	// GL opens the window in GL mode: it draws with an EGL context of
	// its own, which the virgl renderer joins (SharedGL), so scanouts
	// that are GL textures are shown without a copy through the CPU
	// (PresentTexture). GLES makes that context OpenGL ES 3.0, for
	// --gpu virgl,gles; otherwise it is desktop OpenGL.
	GL, GLES bool
}

// SharedGL is the window's EGL context in GL mode, for the virgl renderer
// to share: the uintptr values of its EGLDisplay, an EGLConfig of it, and
// the EGLContext. GLES says it is an OpenGL ES context.
type SharedGL struct {
	Display, Config, Context uintptr
	GLES                     bool
}

// Default window size, the virtio-gpu device's default mode.
const (
	defaultWidth  = 1280
	defaultHeight = 800
)

// Errors returned by the window.
var (
	// ErrNoCgo is returned by New in a binary built without cgo.
	ErrNoCgo = errors.New("govm was built without cgo, so it has no SDL window; use --display headless")
	// ErrClosed is returned by Present and Run after Close.
	ErrClosed = errors.New("sdl: window is closed")
	// ErrForceQuit is returned by Run when the user asks to close the
	// window a second time: the first request closes Closed() (the guest
	// is asked to power off), the second one means "now".
	ErrForceQuit = errors.New("sdl: window closed twice, quitting")
	// ErrNotGL is returned by PresentTexture when the window is not in
	// GL mode.
	ErrNotGL = errors.New("sdl: the window is not in GL mode: it cannot show GL textures")
)

// size returns the initial window size for o.
func (o Options) size() (w, h int) {
	w, h = o.Width, o.Height
	if w <= 0 || h <= 0 {
		w, h = defaultWidth, defaultHeight
	}
	if o.Scale > 1 {
		w, h = w*o.Scale, h*o.Scale
	}
	return w, h
}
