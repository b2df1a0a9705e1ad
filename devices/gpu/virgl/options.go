// Package virgl is govm's 3D virtio-gpu backend: it binds libvirglrenderer
// (through cgo) and implements gpu.Backend3D. The guest's Mesa "virgl"
// driver sends Gallium command streams; virglrenderer turns them into host
// OpenGL (or GLES) calls, here on Mesa's llvmpipe when there is no GPU.
//
// virglrenderer is process-global state with thread-bound GL contexts, so
// a Renderer owns one goroutine locked to its OS thread, and every
// virglrenderer call runs there, posted through a work queue. Only one
// Renderer can be open in a process at a time.
//
// Built without cgo, New returns ErrNoVirgl and the rest of govm (the 2D
// device) works as before.
package virgl

import "errors"

// ErrNoVirgl is what New returns in a govm built without cgo.
var ErrNoVirgl = errors.New("this govm was built without cgo, so it has no virgl 3D; use --gpu 2d")

// ErrBusy is what New returns while another Renderer is open:
// virglrenderer is global to the process.
var ErrBusy = errors.New("virgl: a renderer is already open in this process")

// ErrClosed is returned by the methods of a closed Renderer.
var ErrClosed = errors.New("virgl: renderer closed")

// DefaultRenderNode is the DRM render node used when it exists; without it
// virglrenderer runs on EGL's surfaceless platform (llvmpipe).
const DefaultRenderNode = "/dev/dri/renderD128"

// Options configure New.
type Options struct {
	// GLES makes virglrenderer use OpenGL ES on the host instead of
	// desktop OpenGL (--gpu virgl,gles).
	GLES bool
	// RenderNode is the DRM render node to use; "" means
	// DefaultRenderNode if it exists, and "none" forces the surfaceless
	// platform. If the render node fails, New falls back to surfaceless.
	RenderNode string
	// Share, if not nil, is a GL context (the SDL window's) whose share
	// group virglrenderer's contexts join, on its EGL display, so that
	// the window draws scanouts straight from their textures
	// (Renderer.Texture). RenderNode is then unused: the display decides
	// the GPU.
	Share *SharedGL
}

// SharedGL names an EGL context to share objects with, as the uintptr
// values of its EGLDisplay, an EGLConfig compatible with it, and the
// EGLContext. GLES says it is an OpenGL ES context: virglrenderer's
// contexts must then be GLES too (Options.GLES).
type SharedGL struct {
	Display, Config, Context uintptr
	GLES                     bool
}

// The virtio-gpu capability sets virglrenderer serves
// (VIRTIO_GPU_CAPSET_*).
const (
	CapsetVirgl  = 1
	CapsetVirgl2 = 2
)
