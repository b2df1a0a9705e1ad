//go:build cgo

package sdl

import (
	"fmt"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/gpu/display"
	"github.com/veandco/go-sdl2/sdl"
)

// hintForceEGL makes SDL create GL contexts through EGL on X11 as well
// (it picks GLX there otherwise). virglrenderer's contexts are EGL
// contexts, and contexts share objects only within one API.
const hintForceEGL = "SDL_VIDEO_X11_FORCE_EGL"

// glesMajor is the OpenGL ES version of the window's context in GLES mode:
// 3.0 is the first with glBlitFramebuffer.
const glesMajor = 3

// glState is the window's GL mode: its context, and the frame it shows (a
// guest texture, or its own texture holding a frame uploaded from the
// CPU). Main thread only.
type glState struct {
	ctx    sdl.GLContext
	shared SharedGL
	cur    gpu.Texture // what render draws; ID 0: black
}

// setGLAttributes asks SDL for the window context: desktop OpenGL as SDL
// likes it (a compatibility context), or OpenGL ES 3.0.
func setGLAttributes(gles bool) error {
	if !gles {
		return nil
	}
	for _, a := range []struct {
		attr sdl.GLattr
		v    int
	}{
		{sdl.GL_CONTEXT_PROFILE_MASK, sdl.GL_CONTEXT_PROFILE_ES},
		{sdl.GL_CONTEXT_MAJOR_VERSION, glesMajor},
		{sdl.GL_CONTEXT_MINOR_VERSION, 0},
	} {
		if err := sdl.GLSetAttribute(a.attr, a.v); err != nil {
			return fmt.Errorf("sdl: GL attribute %d: %w", a.attr, err)
		}
	}
	return nil
}

// openGL makes the window's context, current on this (the main) thread
// for good, and checks that it is an EGL context others can share.
func openGL(win *sdl.Window, gles bool) (*glState, error) {
	ctx, err := win.GLCreateContext()
	if err != nil {
		return nil, fmt.Errorf("sdl: GL context: %w", err)
	}
	g := &glState{ctx: ctx}
	if err := win.GLMakeCurrent(ctx); err != nil {
		g.close()
		return nil, fmt.Errorf("sdl: GL context: %w", err)
	}
	dpy, cfg, ectx, ok := eglCurrent()
	if !ok {
		g.close()
		return nil, fmt.Errorf("sdl: the window's GL context is not an EGL context (SDL used GLX?)")
	}
	g.shared = SharedGL{Display: dpy, Config: cfg, Context: ectx, GLES: gles}
	// Frames come when the guest flushes; never wait for a vertical
	// blank on the main thread, which also runs input.
	_ = sdl.GLSetSwapInterval(0)
	return g, nil
}

// take makes the newest frame current: tex if not nil, else the pixels
// (width x height RGBA rows; width 0: nothing, black).
func (g *glState) take(tex *gpu.Texture, pix []byte, width, height int) {
	switch {
	case tex != nil:
		g.cur = *tex
	case width == 0 || len(pix) < width*height*bytesPerPixel:
		g.cur = gpu.Texture{}
	default:
		id := glUpload(pix[:width*height*bytesPerPixel], width, height)
		g.cur = gpu.Texture{ID: id, Width: uint32(width), Height: uint32(height),
			Rect: gpu.Rect{Width: uint32(width), Height: uint32(height)}, Y0Top: true}
	}
}

// size is the shown frame's size (0, 0 when black).
func (g *glState) size() (int, int) {
	if g.cur.ID == 0 {
		return 0, 0
	}
	return int(g.cur.Rect.Width), int(g.cur.Rect.Height)
}

// render draws the current frame letterboxed on black and shows it.
func (g *glState) render(win *sdl.Window) {
	dw, dh := win.GLGetDrawableSize()
	w, h := int(dw), int(dh)
	fw, fh := g.size()
	var src, dst [4]int
	if fw > 0 {
		r := letterbox(w, h, fw, fh)
		dst = [4]int{r.X, h - r.Y - r.H, r.X + r.W, h - r.Y}
		src = srcRect(g.cur)
	}
	glBlit(g.cur.ID, src, dst, w, h)
	win.GLSwap()
}

// srcRect is t.Rect in GL's bottom-up texture coordinates, listed so that
// its bottom row comes first: flipped when the texture's row 0 is the
// image's top.
func srcRect(t gpu.Texture) [4]int {
	x0, x1 := int(t.Rect.X), int(t.Rect.X+t.Rect.Width)
	top, bottom := int(t.Rect.Y), int(t.Rect.Y+t.Rect.Height) // image rows
	if t.Y0Top {
		return [4]int{x0, bottom, x1, top}
	}
	th := int(t.Height)
	return [4]int{x0, th - bottom, x1, th - top}
}

func (g *glState) close() {
	if g.ctx != nil {
		glRelease()
		sdl.GLDeleteContext(g.ctx)
		g.ctx = nil
	}
}

// SharedGL returns the window's EGL context for virgl to share; ok is
// false unless the window is in GL mode.
func (w *Window) SharedGL() (SharedGL, bool) {
	return w.shared, w.glMode
}

// PresentTexture shows texture t on the window (gpu.TextureSink): the
// main thread draws it straight from the GPU's memory. Only scanout 0 is
// shown. The window must be in GL mode, sharing its context with t's.
func (w *Window) PresentTexture(scanout uint32, t gpu.Texture) error {
	if scanout != 0 {
		return nil
	}
	if !w.glMode {
		return ErrNotGL
	}
	if t.Rect.Width == 0 || t.Rect.Height == 0 || uint64(t.Rect.X)+uint64(t.Rect.Width) > uint64(t.Width) ||
		uint64(t.Rect.Y)+uint64(t.Rect.Height) > uint64(t.Height) {
		return fmt.Errorf("sdl: texture rectangle %+v outside %dx%d", t.Rect, t.Width, t.Height)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return ErrClosed
	}
	w.stTex = &t
	w.stW, w.stH = int(t.Rect.Width), int(t.Rect.Height)
	w.dirty = true
	return w.wakeLocked()
}

// rgbaFrame converts f to tightly packed RGBA.
func rgbaFrame(f gpu.Frame) gpu.Frame {
	img := display.ToImage(f)
	return gpu.Frame{Width: f.Width, Height: f.Height, Stride: img.Stride, Format: gpu.FormatR8G8B8A8, Pix: img.Pix}
}

var _ gpu.TextureSink = (*Window)(nil)
