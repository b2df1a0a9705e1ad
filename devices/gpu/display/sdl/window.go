//go:build cgo

package sdl

import (
	"errors"
	"fmt"
	"sync"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/input"
	"github.com/veandco/go-sdl2/sdl"
)

const (
	bytesPerPixel = 4
	// maxFrameSide bounds a frame's width and height (a frame is guest
	// data); it is also the largest texture common GPUs take.
	maxFrameSide = 16384
	// eventQueueLen is how many input events may wait for the guest;
	// more are dropped rather than stalling the window.
	eventQueueLen = 256
	// waitMillis bounds each wait for an SDL event, so Run notices done
	// even if a wake-up event were lost.
	waitMillis = 250
)

// Window is an SDL window showing scanout 0. Create it with New; see the
// package comment for which goroutine may call what.
type Window struct {
	// Owned by the main thread (New, Run, Close).
	win      *sdl.Window
	ren      *sdl.Renderer // nil in GL mode
	tex      *sdl.Texture
	gl       *glState // GL mode (Options.GL), else nil
	texW     int      // size and format of tex
	texH     int
	texFmt   uint32
	upload   []byte // the frame being uploaded, swapped with staging
	wakeType uint32 // SDL user event type that means "look at w.mu's state"
	keysDown [len(linuxKeys)]bool
	closes   int // how many times the user asked to close the window

	events chan input.Event
	closed chan struct{} // closed on the first close request

	// Fixed once New returns: any goroutine may read them.
	glMode bool     // the window is in GL mode
	shared SharedGL // its EGL context, in GL mode

	mu      sync.Mutex
	staging []byte // the newest frame from Present, packed rows
	stW     int    // its size and SDL format; stW == 0: scanout off
	stH     int
	stFmt   uint32
	stTex   *gpu.Texture // the newest frame is this texture (GL mode)
	dirty   bool         // staging or stTex holds a frame not yet shown
	woken   bool         // a wake event is queued and not yet handled
	running bool         // Run is in its loop
	shut    bool         // Close was called
}

var _ gpu.Sink = (*Window)(nil)

// New initialises SDL and opens a resizable window. It must be called on
// the main goroutine with the main OS thread locked (runtime.LockOSThread
// from an init function), like Run and Close. There can be one Window per
// process.
func New(o Options) (*Window, error) {
	// Leave SIGINT/SIGTERM to Go, and report a window close as a
	// window event rather than a quit.
	sdl.SetHint(sdl.HINT_NO_SIGNAL_HANDLERS, "1")
	sdl.SetHint(sdl.HINT_QUIT_ON_LAST_WINDOW_CLOSE, "0")
	sdl.SetHint(sdl.HINT_RENDER_SCALE_QUALITY, "linear")
	if o.GL {
		// EGL on X11 too, so that virgl can join the window's context.
		sdl.SetHint(hintForceEGL, "1")
	}
	if err := sdl.Init(sdl.INIT_VIDEO | sdl.INIT_EVENTS); err != nil {
		return nil, fmt.Errorf("sdl: init: %w", err)
	}
	w := &Window{
		events: make(chan input.Event, eventQueueLen),
		closed: make(chan struct{}),
	}
	if err := w.open(o); err != nil {
		w.destroy()
		return nil, err
	}
	return w, nil
}

func (w *Window) open(o Options) error {
	title := o.Title
	if title == "" {
		title = "govm"
	}
	width, height := o.size()
	var err error
	flags := uint32(sdl.WINDOW_RESIZABLE | sdl.WINDOW_SHOWN)
	if o.GL {
		flags |= sdl.WINDOW_OPENGL
		if err := setGLAttributes(o.GLES); err != nil {
			return err
		}
	}
	w.win, err = sdl.CreateWindow(title, sdl.WINDOWPOS_CENTERED, sdl.WINDOWPOS_CENTERED,
		int32(width), int32(height), flags)
	if err != nil {
		return fmt.Errorf("sdl: create window: %w", err)
	}
	if o.GL {
		if w.gl, err = openGL(w.win, o.GLES); err != nil {
			return err
		}
		w.glMode, w.shared = true, w.gl.shared
		return w.finishOpen()
	}
	// Flags 0 lets SDL pick, accelerated first; ask for the software
	// renderer explicitly if that fails (no GPU, no GL).
	w.ren, err = sdl.CreateRenderer(w.win, -1, 0)
	if err != nil {
		w.ren, err = sdl.CreateRenderer(w.win, -1, sdl.RENDERER_SOFTWARE)
		if err != nil {
			return fmt.Errorf("sdl: create renderer: %w", err)
		}
	}
	return w.finishOpen()
}

func (w *Window) finishOpen() error {
	w.wakeType = sdl.RegisterEvents(1)
	if w.wakeType == ^uint32(0) {
		return errors.New("sdl: no user event type left")
	}
	sdl.StopTextInput() // keys go to the guest, not to an input method
	w.render()
	return nil
}

// RendererName names the SDL renderer in use ("opengl", "software"...).
func (w *Window) RendererName() string {
	if w.gl != nil {
		return "egl"
	}
	info, err := w.ren.GetInfo()
	if err != nil {
		return "unknown"
	}
	return info.Name
}

// Present copies f for the window to show (gpu.Sink). Only scanout 0 is
// shown; others are ignored. Any goroutine may call it.
func (w *Window) Present(scanout uint32, f gpu.Frame) error {
	if scanout != 0 {
		return nil
	}
	var format uint32
	if f.Width != 0 {
		if err := checkFrame(f); err != nil {
			return err
		}
		var err error
		if format, err = sdlFormat(f.Format); err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return ErrClosed
	}
	w.stTex = nil
	if w.glMode && f.Width != 0 {
		// GL mode uploads RGBA: convert (this path is for frames
		// that are not already textures, which is rare there).
		f = rgbaFrame(f)
	}
	row := f.Width * bytesPerPixel
	if cap(w.staging) < row*f.Height {
		w.staging = make([]byte, row*f.Height)
	}
	w.staging = w.staging[:row*f.Height]
	for y := range f.Height {
		copy(w.staging[y*row:(y+1)*row], f.Pix[y*f.Stride:])
	}
	w.stW, w.stH, w.stFmt = f.Width, f.Height, format
	w.dirty = true
	return w.wakeLocked()
}

// checkFrame rejects a frame whose pixels do not fit its slice.
func checkFrame(f gpu.Frame) error {
	switch {
	case f.Width <= 0 || f.Height <= 0 || f.Width > maxFrameSide || f.Height > maxFrameSide:
		return fmt.Errorf("sdl: bad frame size %dx%d", f.Width, f.Height)
	case f.Stride < f.Width*bytesPerPixel:
		return fmt.Errorf("sdl: frame stride %d too small for width %d", f.Stride, f.Width)
	case len(f.Pix) < (f.Height-1)*f.Stride+f.Width*bytesPerPixel:
		return fmt.Errorf("sdl: frame has %d bytes, %dx%d stride %d needs more", len(f.Pix), f.Width, f.Height, f.Stride)
	}
	return nil
}

// wakeLocked queues one wake event for the loop unless one is already
// queued. SDL_PushEvent may be called from any thread.
func (w *Window) wakeLocked() error {
	if w.woken || w.shut {
		return nil
	}
	if err := pushWake(w.wakeType); err != nil {
		return fmt.Errorf("sdl: wake event loop: %w", err)
	}
	w.woken = true
	return nil
}

// Events returns the input events for the guest (gpu.Sink). Events that
// do not fit are dropped (a whole group at a time). The channel is closed
// by Close.
func (w *Window) Events() <-chan input.Event { return w.events }

// Closed is closed the first time the user asks to close the window.
func (w *Window) Closed() <-chan struct{} { return w.closed }

// Run is the event loop; call it on the main goroutine. It shows frames,
// forwards input, and returns nil when done is closed, ErrForceQuit when the
// user closes the window a second time (the first time closes Closed()),
// or ErrClosed after Close.
func (w *Window) Run(done <-chan struct{}) error {
	w.mu.Lock()
	if w.shut || w.running {
		w.mu.Unlock()
		return ErrClosed
	}
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		shut := w.shut
		w.mu.Unlock()
		if shut {
			w.destroy()
		}
	}()

	// SDL waits on its own queue, not on Go channels: turn done into a
	// wake event.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
			w.mu.Lock()
			w.woken = false // force a new event
			_ = w.wakeLocked()
			w.mu.Unlock()
		case <-stop:
		}
	}()

	for {
		select {
		case <-done:
			return nil
		default:
		}
		if w.isShut() {
			return ErrClosed
		}
		ev := sdl.WaitEventTimeout(waitMillis)
		if ev == nil {
			continue
		}
		if err := w.handle(ev); err != nil {
			return err
		}
	}
}

func (w *Window) isShut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.shut
}

// handle processes one SDL event on the main thread.
func (w *Window) handle(ev sdl.Event) error {
	switch e := ev.(type) {
	case *sdl.UserEvent:
		if e.Type == w.wakeType {
			w.takeFrame()
			w.render()
		}
	case *sdl.QuitEvent:
		return w.closeRequest()
	case *sdl.WindowEvent:
		switch e.Event {
		case sdl.WINDOWEVENT_CLOSE:
			return w.closeRequest()
		case sdl.WINDOWEVENT_EXPOSED, sdl.WINDOWEVENT_SIZE_CHANGED:
			w.render()
		case sdl.WINDOWEVENT_FOCUS_LOST:
			w.send(w.releaseKeys())
		}
	case *sdl.KeyboardEvent:
		evs := keyEvents(e)
		if len(evs) > 0 && int(e.Keysym.Scancode) < len(w.keysDown) {
			w.keysDown[e.Keysym.Scancode] = e.Type == sdl.KEYDOWN
		}
		w.send(evs)
	default:
		w.send(pointerEvents(ev, w.view()))
	}
	return nil
}

// closeRequest counts a user's request to close the window.
func (w *Window) closeRequest() error {
	w.closes++
	if w.closes == 1 {
		close(w.closed)
		return nil
	}
	return ErrForceQuit
}

// releaseKeys returns key-up events for every key held down, so the guest
// does not see keys stuck when the window loses focus mid-press.
func (w *Window) releaseKeys() []input.Event {
	var evs []input.Event
	for sc, down := range w.keysDown {
		if down {
			w.keysDown[sc] = false
			evs = append(evs, input.Event{Type: input.EvKey, Code: linuxKey(sdl.Scancode(sc))}, input.Syn)
		}
	}
	return evs
}

// send queues a group of events if all of them fit, else drops them: the
// window never waits for the guest. Only the loop sends, so the free room
// can only grow between the check and the sends.
func (w *Window) send(evs []input.Event) {
	if len(evs) == 0 || cap(w.events)-len(w.events) < len(evs) {
		return
	}
	for _, e := range evs {
		w.events <- e
	}
}

// view is where the frame is shown, in window coordinates (the whole
// window before the first frame).
func (w *Window) view() rect {
	ww, wh := w.win.GetSize()
	if w.texW == 0 {
		return rect{W: int(ww), H: int(wh)}
	}
	return letterbox(int(ww), int(wh), w.texW, w.texH)
}

// takeFrame moves the newest frame from Present into the texture.
func (w *Window) takeFrame() {
	w.mu.Lock()
	w.woken = false
	if !w.dirty {
		w.mu.Unlock()
		return
	}
	w.dirty = false
	w.staging, w.upload = w.upload, w.staging // Present writes the other one
	width, height, format := w.stW, w.stH, w.stFmt
	tex := w.stTex
	w.mu.Unlock()

	if w.gl != nil {
		w.gl.take(tex, w.upload, width, height)
		w.texW, w.texH = w.gl.size()
		return
	}
	if width == 0 { // scanout disabled: show black
		w.dropTexture()
		return
	}
	if w.tex == nil || w.texW != width || w.texH != height || w.texFmt != format {
		w.dropTexture()
		tex, err := w.ren.CreateTexture(format, sdl.TEXTUREACCESS_STREAMING, int32(width), int32(height))
		if err != nil {
			return // too big for this renderer, say: keep the window black
		}
		// A scanout is opaque: ignore the guest's alpha byte.
		_ = tex.SetBlendMode(sdl.BLENDMODE_NONE)
		w.tex, w.texW, w.texH, w.texFmt = tex, width, height, format
	}
	_ = updateTexture(w.tex, w.upload, width*bytesPerPixel)
}

func (w *Window) dropTexture() {
	if w.tex != nil {
		_ = w.tex.Destroy()
	}
	w.tex, w.texW, w.texH, w.texFmt = nil, 0, 0, 0
}

// render draws the texture letterboxed on black and shows it.
func (w *Window) render() {
	if w.gl != nil {
		w.gl.render(w.win)
		return
	}
	_ = w.ren.SetDrawColor(0, 0, 0, 255)
	_ = w.ren.Clear()
	if w.tex != nil {
		ow, oh, err := w.ren.GetOutputSize()
		if err == nil {
			r := letterbox(int(ow), int(oh), w.texW, w.texH)
			dst := sdl.Rect{X: int32(r.X), Y: int32(r.Y), W: int32(r.W), H: int32(r.H)}
			_ = w.ren.Copy(w.tex, nil, &dst)
		}
	}
	w.ren.Present()
}

// Close closes the window (gpu.Sink) and shuts SDL down. Call it on the
// main goroutine once Run has returned; called from elsewhere while Run is
// running, it makes Run return, and Run then releases the window.
func (w *Window) Close() error {
	w.mu.Lock()
	if w.shut {
		w.mu.Unlock()
		return nil
	}
	w.woken = false
	_ = w.wakeLocked() // so a running loop sees shut promptly
	w.shut = true
	running := w.running
	w.mu.Unlock()
	if !running {
		w.destroy()
	}
	return nil
}

// destroy releases everything SDL holds, on the main thread.
func (w *Window) destroy() {
	w.dropTexture()
	if w.gl != nil {
		w.gl.close()
		w.gl = nil
	}
	if w.ren != nil {
		_ = w.ren.Destroy()
		w.ren = nil
	}
	if w.win != nil {
		_ = w.win.Destroy()
		w.win = nil
	}
	sdl.Quit()
	close(w.events) // destroy runs once: after Close, on the main thread
}
