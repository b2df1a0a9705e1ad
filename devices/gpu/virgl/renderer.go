//go:build cgo

package virgl

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/devices/gpu"
)

// Values virglrenderer's API takes for the 2D resources of virtio-gpu.
const (
	bindRenderTarget = 1 << 1 // VIRGL_BIND_RENDER_TARGET
	resourceY0Top    = 1 << 0 // VIRGL_RESOURCE_Y_0_TOP
	// fallbackPoll is how often fences are polled while some are pending,
	// if virglrenderer gives no poll fd (no fence thread).
	fallbackPoll = 2 * time.Millisecond
	// maxFrameBytes bounds a read-back frame (a MaxResourceDim² frame).
	maxFrameBytes = gpu.MaxResourceDim * gpu.MaxResourceDim * gpu.BytesPerPixel
)

// active is the open Renderer (virglrenderer is global to the process);
// its callbacks find it here.
var active atomic.Pointer[Renderer]

// Renderer is an open virglrenderer, implementing gpu.Backend3D. Its
// methods may be called from any goroutine; they run on the renderer's
// thread one at a time.
type Renderer struct {
	work       chan func()
	quit       chan struct{} // closed by Close: the thread ends
	threadDone chan struct{}
	closeOnce  sync.Once

	// Fixed after New.
	capsets                   []capset
	vendor, renderer, version string
	pollFD                    int  // virglrenderer's fence eventfd, -1 if none
	shared                    bool // GL contexts share with Options.Share's

	// Renderer-thread state.
	resources map[uint32]*resource
	ctxFences []pendingFence // device-wide fences, in creation order
	nextFence uint32         // last id given to virgl_renderer_create_fence
	frame     []byte         // read-back buffer, reused

	// Fence delivery: the thread queues, the deliverer reports.
	pending   atomic.Int64 // fences created and not yet signalled
	fenceMu   sync.Mutex
	signalled []signal
	handler   gpu.FenceFunc
	kick      chan struct{} // a fence was signalled
	wake      chan struct{} // a fence was created (for pollTimer)
	stopFD    int           // eventfd that stops the poller
	stop      chan struct{}
	wg        sync.WaitGroup
}

type capset struct{ id, maxVersion, maxSize uint32 }

// resource is what the renderer keeps of a virgl resource: what Frame
// needs and the backing it gave virglrenderer.
type resource struct {
	format        gpu.Format
	width, height uint32
	iov           *iovecs
}

// pendingFence maps a 32-bit virglrenderer fence to the device's id.
type pendingFence struct {
	virgl uint32
	id    uint64
}

type signal struct {
	ctx, ring uint32
	id        uint64
}

var (
	_ gpu.Backend3D      = (*Renderer)(nil)
	_ gpu.TextureBackend = (*Renderer)(nil)
)

// New initialises virglrenderer on a thread of its own: on the render
// node if there is one, else on EGL's surfaceless platform (llvmpipe).
func New(o Options) (*Renderer, error) {
	r := &Renderer{
		work:       make(chan func()),
		quit:       make(chan struct{}),
		threadDone: make(chan struct{}),
		resources:  map[uint32]*resource{},
		pollFD:     -1,
		stopFD:     -1,
		kick:       make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if !active.CompareAndSwap(nil, r) {
		return nil, ErrBusy
	}
	initErr := make(chan error)
	go r.loop(o, initErr)
	if err := <-initErr; err != nil {
		active.Store(nil)
		return nil, err
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("virgl: eventfd: %w", err)
	}
	r.stopFD = fd
	r.wg.Add(2)
	go r.deliver()
	if r.pollFD >= 0 {
		go r.pollFence()
	} else {
		go r.pollTimer()
	}
	return r, nil
}

// loop is the renderer's thread: it initialises virglrenderer, then runs
// posted work until Close. The thread stays locked: it ends with the
// goroutine, and its GL state with it.
func (r *Renderer) loop(o Options, initErr chan<- error) {
	runtime.LockOSThread()
	defer close(r.threadDone)
	if err := r.init(o); err != nil {
		initErr <- err
		return
	}
	initErr <- nil
	for {
		select {
		case f := <-r.work:
			f()
		case <-r.quit:
			for id, res := range r.resources {
				r.dropResource(id, res)
			}
			cCleanup()
			return
		}
	}
}

// init runs on the renderer's thread.
func (r *Renderer) init(o Options) error {
	flags := flagUseEGL | flagThreadSync
	if o.GLES {
		flags |= flagUseGLES
	}
	if o.Share != nil {
		if o.Share.GLES != o.GLES {
			return errors.New("virgl: the shared GL context and the renderer must both be OpenGL ES, or both desktop OpenGL")
		}
		if rc := cInitShared(flags&^flagUseEGL, o.Share); rc != 0 {
			return fmt.Errorf("virgl: virgl_renderer_init on the window's GL failed (%d)", rc)
		}
		r.shared = true
		r.finishInit()
		return nil
	}
	node := o.RenderNode
	if node == "" {
		if _, err := os.Stat(DefaultRenderNode); err == nil {
			node = DefaultRenderNode
		}
	}
	ok := false
	if node != "" && node != "none" {
		if fd, err := unix.Open(node, unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
			// virglrenderer owns fd from here.
			ok = cInit(flags, fd) == 0
		}
	}
	if !ok {
		if rc := cInit(flags|flagUseSurfaceless, -1); rc != 0 {
			return fmt.Errorf("virgl: virgl_renderer_init failed (%d): no usable EGL/OpenGL", rc)
		}
	}
	r.finishInit()
	return nil
}

// finishInit reads what virglrenderer offers, once it is initialised.
func (r *Renderer) finishInit() {
	for _, id := range []uint32{CapsetVirgl, CapsetVirgl2} {
		if v, s := cCapset(id); v > 0 && s > 0 {
			r.capsets = append(r.capsets, capset{id: id, maxVersion: v, maxSize: s})
		}
	}
	r.vendor, r.renderer, r.version = cGLString(glVendor), cGLString(glRenderer), cGLString(glVersion)
	r.pollFD = cPollFD()
}

// do runs f on the renderer's thread and waits for it.
func (r *Renderer) do(f func()) error {
	done := make(chan struct{})
	select {
	case r.work <- func() { f(); close(done) }:
	case <-r.quit:
		return ErrClosed
	}
	<-done
	return nil
}

// Close stops the fence goroutines, frees every resource and context and
// cleans virglrenderer up; another Renderer can be opened afterwards.
func (r *Renderer) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		if r.stopFD >= 0 {
			var one [8]byte
			one[0] = 1
			_, _ = unix.Write(r.stopFD, one[:]) // an eventfd write of 1 cannot fail short
		}
		r.wg.Wait()
		if r.stopFD >= 0 {
			unix.Close(r.stopFD)
		}
		close(r.quit)
		<-r.threadDone
		active.Store(nil)
	})
	return nil
}

// RendererString is the host GL's GL_VENDOR, GL_RENDERER and GL_VERSION
// (for govm probe).
func (r *Renderer) RendererString() (vendor, renderer, version string) {
	return r.vendor, r.renderer, r.version
}

// rcErr turns a virglrenderer return code into an error.
func rcErr(what string, rc int) error {
	if rc == 0 {
		return nil
	}
	return fmt.Errorf("virgl: %s: error %d", what, rc)
}

// call runs f on the thread and returns its error (or ErrClosed).
func (r *Renderer) call(f func() error) error {
	var err error
	if e := r.do(func() { err = f() }); e != nil {
		return e
	}
	return err
}

// --- gpu.Backend ---

// CreateResource2D makes a 2D render target, the way virtio-gpu 2D
// resources exist in virgl.
func (r *Renderer) CreateResource2D(id uint32, f gpu.Format, width, height uint32) error {
	return r.CreateResource3D(gpu.ResourceCreate3D{ResourceID: id, Target: gpu.Target2D, Format: f,
		Bind: bindRenderTarget, Width: width, Height: height, Depth: 1, ArraySize: 1, Flags: resourceY0Top})
}

// Unref destroys a resource (detaching its backing first).
func (r *Renderer) Unref(id uint32) {
	_ = r.do(func() {
		if res, ok := r.resources[id]; ok {
			r.dropResource(id, res)
		}
	})
}

func (r *Renderer) dropResource(id uint32, res *resource) {
	r.detach(id, res)
	cResourceUnref(id)
	delete(r.resources, id)
}

// TransferToHost2D uploads rectangle rc from the attached backing (the
// device attaches every backing through AttachBacking).
func (r *Renderer) TransferToHost2D(id uint32, rc gpu.Rect, offset uint64, _ [][]byte) error {
	t := gpu.TransferHost3D{Box: gpu.Box{X: rc.X, Y: rc.Y, W: rc.Width, H: rc.Height, D: 1}, Offset: offset, ResourceID: id}
	return r.TransferToHost3D(0, t)
}

// Frame reads rectangle rc of resource id back from its GL texture.
func (r *Renderer) Frame(id uint32, rc gpu.Rect) (gpu.Frame, error) {
	var f gpu.Frame
	err := r.call(func() error {
		res, ok := r.resources[id]
		if !ok {
			return fmt.Errorf("%w: %d", gpu.ErrNoResource, id)
		}
		if !fourBytes(res.format) {
			return fmt.Errorf("virgl: resource %d: format %d is not a scanout format", id, res.format)
		}
		if rc.Width == 0 || rc.Height == 0 || uint64(rc.X)+uint64(rc.Width) > uint64(res.width) ||
			uint64(rc.Y)+uint64(rc.Height) > uint64(res.height) {
			return fmt.Errorf("virgl: resource %d: rectangle %+v outside %dx%d", id, rc, res.width, res.height)
		}
		stride := rc.Width * gpu.BytesPerPixel
		size := uint64(stride) * uint64(rc.Height)
		if size > maxFrameBytes {
			return fmt.Errorf("virgl: frame of %d bytes", size)
		}
		if uint64(cap(r.frame)) < size {
			r.frame = make([]byte, size)
		}
		pix := r.frame[:size]
		if err := rcErr("reading back the texture", cReadInto(id, rc, stride, pix)); err != nil {
			return err
		}
		f = gpu.Frame{Width: int(rc.Width), Height: int(rc.Height), Stride: int(stride), Format: res.format, Pix: pix}
		return nil
	})
	return f, err
}

// ErrNotShared is returned by Texture when the renderer's GL contexts are
// its own (no Options.Share): nobody else can draw its textures.
var ErrNotShared = errors.New("virgl: the renderer's GL contexts are not shared")

// Texture returns resource id's GL texture, once the rendering so far
// has finished (gpu.TextureBackend). Only a renderer made with
// Options.Share has textures others can use.
func (r *Renderer) Texture(id uint32) (gpu.Texture, error) {
	if !r.shared {
		return gpu.Texture{}, ErrNotShared
	}
	var t gpu.Texture
	err := r.call(func() error {
		if _, ok := r.resources[id]; !ok {
			return fmt.Errorf("%w: %d", gpu.ErrNoResource, id)
		}
		tex, w, h, flags, rc := cTexture(id)
		if err := rcErr("resource info", rc); err != nil {
			return err
		}
		// virglrenderer stores a Y_0_TOP resource the GL way up (its
		// transfers flip the rows), so in its texture row 0 is the
		// bottom; any other resource was rendered top row first.
		t = gpu.Texture{ID: tex, Width: w, Height: h, Y0Top: flags&resourceY0Top == 0}
		return nil
	})
	return t, err
}

// fourBytes reports whether f is one of the 4-byte formats a Frame holds.
func fourBytes(f gpu.Format) bool {
	switch f {
	case gpu.FormatB8G8R8A8, gpu.FormatB8G8R8X8, gpu.FormatA8R8G8B8, gpu.FormatX8R8G8B8,
		gpu.FormatR8G8B8A8, gpu.FormatX8B8G8R8, gpu.FormatA8B8G8R8, gpu.FormatR8G8B8X8:
		return true
	}
	return false
}

// --- gpu.Backend3D ---

// SetFenceHandler sets the function signalled fences are reported to.
func (r *Renderer) SetFenceHandler(f gpu.FenceFunc) {
	r.fenceMu.Lock()
	r.handler = f
	r.fenceMu.Unlock()
}

// NumCapsets is 1 or 2: virgl, and virgl2 if the host GL has it.
func (r *Renderer) NumCapsets() uint32 { return uint32(len(r.capsets)) }

// GetCapsetInfo describes capset number index.
func (r *Renderer) GetCapsetInfo(index uint32) (id, maxVersion, maxSize uint32, err error) {
	if index >= uint32(len(r.capsets)) {
		return 0, 0, 0, fmt.Errorf("virgl: no capset %d", index)
	}
	c := r.capsets[index]
	return c.id, c.maxVersion, c.maxSize, nil
}

// GetCapset returns capset id at version.
func (r *Renderer) GetCapset(id, version uint32) ([]byte, error) {
	for _, c := range r.capsets {
		if c.id != id {
			continue
		}
		if version > c.maxVersion {
			return nil, fmt.Errorf("virgl: capset %d version %d (max %d)", id, version, c.maxVersion)
		}
		buf := make([]byte, c.maxSize)
		if err := r.do(func() { cFillCaps(id, version, buf) }); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return nil, fmt.Errorf("virgl: no capset id %d", id)
}

// CreateContext makes a virgl context; contextInit's low byte picks the
// capset (0: virglrenderer's default).
func (r *Renderer) CreateContext(ctxID uint32, name string, contextInit uint32) error {
	return r.call(func() error {
		return rcErr("creating context", cContextCreate(ctxID, contextInit&gpu.ContextInitCapsetMask, name))
	})
}

func (r *Renderer) DestroyContext(ctxID uint32) { _ = r.do(func() { cContextDestroy(ctxID) }) }

func (r *Renderer) ContextAttachResource(ctxID, resourceID uint32) {
	_ = r.do(func() { cAttach(ctxID, resourceID) })
}

func (r *Renderer) ContextDetachResource(ctxID, resourceID uint32) {
	_ = r.do(func() { cDetach(ctxID, resourceID) })
}

// CreateResource3D makes a virgl resource with no backing yet.
func (r *Renderer) CreateResource3D(c gpu.ResourceCreate3D) error {
	return r.call(func() error {
		if _, ok := r.resources[c.ResourceID]; ok {
			return fmt.Errorf("virgl: resource %d exists", c.ResourceID)
		}
		if err := rcErr("creating resource", cResourceCreate(c)); err != nil {
			return err
		}
		r.resources[c.ResourceID] = &resource{format: c.Format, width: c.Width, height: c.Height}
		return nil
	})
}

// AttachBacking gives virglrenderer the guest memory of a resource.
func (r *Renderer) AttachBacking(id uint32, backing [][]byte) error {
	return r.call(func() error {
		res, ok := r.resources[id]
		if !ok {
			return fmt.Errorf("%w: %d", gpu.ErrNoResource, id)
		}
		r.detach(id, res)
		v := newIovecs(backing)
		if err := rcErr("attaching backing", cAttachIOV(id, v)); err != nil {
			v.free()
			return err
		}
		res.iov = v
		return nil
	})
}

// DetachBacking takes a resource's guest memory back from virglrenderer.
func (r *Renderer) DetachBacking(id uint32) {
	_ = r.do(func() {
		if res, ok := r.resources[id]; ok {
			r.detach(id, res)
		}
	})
}

func (r *Renderer) detach(id uint32, res *resource) {
	if res.iov == nil {
		return
	}
	cDetachIOV(id)
	res.iov.free()
	res.iov = nil
}

func (r *Renderer) transfer(write bool, ctxID uint32, t gpu.TransferHost3D) error {
	return r.call(func() error {
		res, ok := r.resources[t.ResourceID]
		if !ok {
			return fmt.Errorf("%w: %d", gpu.ErrNoResource, t.ResourceID)
		}
		if res.iov == nil {
			return fmt.Errorf("virgl: resource %d has no backing", t.ResourceID)
		}
		return rcErr("transfer", cTransfer(write, t.ResourceID, ctxID, t))
	})
}

// TransferToHost3D uploads a box from the attached backing.
func (r *Renderer) TransferToHost3D(ctxID uint32, t gpu.TransferHost3D) error {
	return r.transfer(true, ctxID, t)
}

// TransferFromHost3D downloads a box into the attached backing.
func (r *Renderer) TransferFromHost3D(ctxID uint32, t gpu.TransferHost3D) error {
	return r.transfer(false, ctxID, t)
}

// Submit3D decodes and runs a virgl command buffer.
func (r *Renderer) Submit3D(ctxID uint32, cmd []byte) error {
	if len(cmd) == 0 || len(cmd)%4 != 0 || len(cmd) > gpu.MaxSubmitBytes {
		return errors.New("virgl: command buffer size")
	}
	return r.call(func() error { return rcErr("submit", cSubmit(ctxID, cmd)) })
}

// CreateFence fences the work so far: on the device-wide timeline when
// ctxID is 0 (virglrenderer's 32-bit fences, mapped back to fenceID),
// else on the context's ring.
func (r *Renderer) CreateFence(ctxID, ringIdx uint32, fenceID uint64) error {
	err := r.call(func() error {
		if ctxID == 0 {
			r.nextFence++
			if err := rcErr("creating fence", cCreateFence(r.nextFence)); err != nil {
				return err
			}
			r.ctxFences = append(r.ctxFences, pendingFence{virgl: r.nextFence, id: fenceID})
		} else if err := rcErr("creating context fence", cContextCreateFence(ctxID, ringIdx, fenceID)); err != nil {
			return err
		}
		r.pending.Add(1)
		return nil
	})
	if err == nil && r.pollFD < 0 {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return err
}

// --- fences ---

// onFence is virglrenderer's write_fence: device-wide fences up to
// fence (32-bit, in order, merged) have signalled.
func (r *Renderer) onFence(fence uint32) {
	n := 0
	for n < len(r.ctxFences) && int32(fence-r.ctxFences[n].virgl) >= 0 {
		n++
	}
	if n == 0 {
		return
	}
	last := r.ctxFences[n-1].id
	r.ctxFences = append(r.ctxFences[:0], r.ctxFences[n:]...)
	r.pending.Add(-int64(n))
	r.emit(signal{id: last})
}

// onContextFence is virglrenderer's write_context_fence.
func (r *Renderer) onContextFence(ctx, ring uint32, fence uint64) {
	if r.pending.Add(-1) < 0 {
		r.pending.Store(0)
	}
	r.emit(signal{ctx: ctx, ring: ring, id: fence})
}

// emit queues a signalled fence for the deliverer.
func (r *Renderer) emit(s signal) {
	r.fenceMu.Lock()
	r.signalled = append(r.signalled, s)
	r.fenceMu.Unlock()
	r.poke()
}

func (r *Renderer) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// deliver reports signalled fences to the handler, outside the renderer's
// thread (the handler takes the device's lock, which may be held by a
// goroutine waiting on the thread).
func (r *Renderer) deliver() {
	defer r.wg.Done()
	var batch []signal
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		}
		r.fenceMu.Lock()
		batch, r.signalled = r.signalled, batch[:0]
		h := r.handler
		r.fenceMu.Unlock()
		for _, s := range batch {
			if h != nil {
				h(s.ctx, s.ring, s.id)
			}
		}
	}
}

// pollFence waits on virglrenderer's fence eventfd (written by its fence
// thread when a GL fence signals) and then lets virglrenderer retire the
// fences on its own thread; virgl_renderer_poll drains the eventfd.
func (r *Renderer) pollFence() {
	defer r.wg.Done()
	fds := []unix.PollFd{{Fd: int32(r.pollFD), Events: unix.POLLIN}, {Fd: int32(r.stopFD), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents != 0 && r.do(cPoll) != nil {
			return
		}
	}
}

// pollTimer is the fallback without a fence thread: while fences are
// pending, virgl_renderer_poll runs every fallbackPoll; otherwise it
// sleeps until a fence is created.
func (r *Renderer) pollTimer() {
	defer r.wg.Done()
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		}
		for r.pending.Load() > 0 {
			select {
			case <-r.stop:
				return
			case <-time.After(fallbackPoll):
			}
			if r.do(cPoll) != nil {
				return
			}
		}
	}
}
