package gpu

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/govm/govm/devices/virtio"
)

// Queue indices and sizes.
const (
	ControlQueue = 0 // controlq: every command but the cursor's
	CursorQueue  = 1 // cursorq: UPDATE_CURSOR and MOVE_CURSOR
	QueueSize    = 256
)

// Defaults and limits of Options.
const (
	DefaultWidth    = 1280
	DefaultHeight   = 800
	DefaultMemLimit = 256 << 20
	// MaxResourceDim bounds a resource's width and height.
	MaxResourceDim = 16384
	// MaxBackingBytes bounds the guest memory attached to one resource:
	// the largest resource there can be.
	MaxBackingBytes = MaxResourceDim * MaxResourceDim * BytesPerPixel
)

// Host costs charged to Options.MemLimit besides pixels, so that no guest
// can make the device hold unbounded bookkeeping (a million 1×1
// resources, or thousands of backings of 16384 entries each).
const (
	resourceOverhead = 256 // map entry and resource struct, rounded up
	memEntryOverhead = 64  // a slice header and a MemEntry, rounded up
)

// Configuration space layout (struct virtio_gpu_config).
const (
	cfgEventsRead  = 0
	cfgEventsClear = 4
	cfgNumScanouts = 8
	cfgNumCapsets  = 12
)

// Options configure a Device.
type Options struct {
	// Width and Height are the preferred mode of every scanout
	// (default 1280x800, at most MaxEDIDDim each: the EDID must hold it).
	Width, Height int
	// Scanouts is the number of displays (default 1, at most MaxScanouts).
	Scanouts int
	// MemLimit bounds the host memory the guest can make the device hold
	// for resources (default 256 MiB).
	MemLimit uint64
	// Sink shows the frames (nil: none is shown, and no flush reads the
	// pixels; Screenshot reads them when asked).
	// If it also implements CursorSink it gets the cursor too.
	Sink Sink
	// Backend does the pixel work (nil: NewSoftBackend()). A Backend3D
	// (virgl) makes the device 3D: it offers VIRTIO_GPU_F_VIRGL and
	// VIRTIO_GPU_F_CONTEXT_INIT and serves the 3D commands.
	Backend Backend
}

// CursorSink is implemented by a Sink that draws the guest's cursor itself.
// Both are called with the Device's lock held, like Present.
type CursorSink interface {
	// SetCursor sets the cursor image (at most CursorSize×CursorSize), or
	// hides the cursor when img is nil. hotX, hotY is the hot spot inside
	// the image. img is only valid during the call: copy it.
	SetCursor(img *Frame, hotX, hotY uint32)
	// MoveCursor moves the cursor's hot spot to (x, y) on scanout. The
	// guest sends signed positions: a cursor partly off the left or top
	// edge comes as a two's-complement uint32 (int32(x) < 0).
	MoveCursor(scanout uint32, x, y uint32)
}

// Device is a 2D virtio-gpu device (virtio 1.2 section 5.7). It implements
// virtio.Device. Every 2D command is done when its response is written.
// With a Backend3D, a fenced request that succeeded is answered only when
// the backend signals its fence (commands3d.go).
//
// The Sink's Present (and CursorSink's methods) are called with the
// Device's lock held: a Sink must not call back into the Device.
type Device struct {
	width, height uint32
	memLimit      uint64
	sink          Sink
	cursorSink    CursorSink // the Sink, if it draws cursors
	backend       Backend
	edid          [EDIDBlockSize]byte
	s3d           *state3D // nil: 2D only
	// texSink is the Sink, if it shows the backend's GL textures itself
	// (a window sharing virgl's GL objects); nil once that failed.
	texSink    TextureSink
	texBackend TextureBackend
	shown      PresentStats // under mu

	mu      sync.Mutex
	active  bool
	broken  bool
	mem     virtio.GuestMemory
	queues  [2]*virtio.Queue
	signal  virtio.Signaller
	events  uint32 // events_read
	sinkErr error  // the last error from Sink.Present

	resources map[uint32]*resource
	memUsed   uint64
	scanouts  []scanout
	cursor    cursor
	// kept holds, per scanout, a copy of the last frame it showed before
	// it was disabled (Width 0: none), so that a screenshot taken after
	// the guest turned its display off (Linux does when it shuts down)
	// shows the last thing on screen. Made on the first disable; each
	// buffer is reused.
	kept []Frame

	// Scratch space reused by every request.
	body    [SizeTransferToHost2D - SizeCtrlHdr]byte // the largest control body
	entBuf  []byte
	entries []MemEntry
	resp    []byte
}

// resource is one guest resource as the device tracks it; the pixels are
// the Backend's.
type resource struct {
	format        Format
	width, height uint32
	backing       [][]byte // guest memory; nil when none is attached
	backingLen    uint64
	cost          uint64            // charged to memLimit for the pixels and overhead
	backingCost   uint64            // charged to memLimit for the backing entries
	info3D        *ResourceCreate3D // how a 3D resource was made; nil for 2D
}

// scanout is one display: the resource shown and the rectangle of it.
type scanout struct {
	resource  uint32 // 0: disabled
	rect      Rect
	presented bool // a frame has been presented since SET_SCANOUT
}

var _ virtio.Device = (*Device)(nil)

// New returns a device for o, with its defaults filled in.
func New(o Options) (*Device, error) {
	if o.Width == 0 && o.Height == 0 {
		o.Width, o.Height = DefaultWidth, DefaultHeight
	}
	if o.Scanouts == 0 {
		o.Scanouts = 1
	}
	if o.MemLimit == 0 {
		o.MemLimit = DefaultMemLimit
	}
	if o.Scanouts < 0 || o.Scanouts > MaxScanouts {
		return nil, fmt.Errorf("virtio-gpu: %d scanouts (1 to %d)", o.Scanouts, MaxScanouts)
	}
	edid, err := EDID(o.Width, o.Height)
	if err != nil {
		return nil, fmt.Errorf("virtio-gpu: display size: %w", err)
	}
	if o.Backend == nil {
		o.Backend = NewSoftBackend()
	}
	d := &Device{
		width:     uint32(o.Width),
		height:    uint32(o.Height),
		memLimit:  o.MemLimit,
		sink:      o.Sink,
		backend:   o.Backend,
		edid:      edid,
		resources: map[uint32]*resource{},
		scanouts:  make([]scanout, o.Scanouts),
		resp:      make([]byte, 0, SizeRespEDID),
	}
	d.cursorSink, _ = o.Sink.(CursorSink)
	if ts, ok := o.Sink.(TextureSink); ok {
		if tb, ok := o.Backend.(TextureBackend); ok {
			d.texSink, d.texBackend = ts, tb
		}
	}
	if b3, ok := o.Backend.(Backend3D); ok {
		if d.s3d, err = newState3D(d, b3); err != nil {
			return nil, err
		}
	}
	d.cursor.img.Pix = make([]byte, CursorSize*CursorSize*BytesPerPixel)
	return d, nil
}

// Type is virtio.TypeGPU.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeGPU }

// Features: EDID; with a 3D backend, VIRGL and CONTEXT_INIT.
func (d *Device) Features() uint64 {
	if d.s3d != nil {
		return FeatureEDID | FeatureVirgl | FeatureContextInit
	}
	return FeatureEDID
}

// QueueSizes: the control queue and the cursor queue.
func (d *Device) QueueSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ReadConfig reads struct virtio_gpu_config; bytes past its end read 0.
func (d *Device) ReadConfig(off uint64, p []byte) {
	d.mu.Lock()
	var cfg [SizeConfig]byte
	le.PutUint32(cfg[cfgEventsRead:], d.events)
	le.PutUint32(cfg[cfgNumScanouts:], uint32(len(d.scanouts)))
	if d.s3d != nil {
		le.PutUint32(cfg[cfgNumCapsets:], uint32(len(d.s3d.capsets)))
	}
	d.mu.Unlock()
	clear(p)
	if off < SizeConfig {
		copy(p, cfg[off:])
	}
}

// WriteConfig handles the one writable field, events_clear: the bits
// written are cleared from events_read.
func (d *Device) WriteConfig(off uint64, p []byte) {
	if off != cfgEventsClear || len(p) != 4 {
		return
	}
	d.mu.Lock()
	d.events &^= le.Uint32(p)
	d.mu.Unlock()
}

// Activate starts the device: the control queue must be enabled; the
// cursor queue is served if it is.
func (d *Device) Activate(a virtio.Activation) error {
	if len(a.Queues) != 2 || a.Queues[ControlQueue] == nil || !a.Queues[ControlQueue].Ready {
		return errors.New("virtio-gpu: the control queue is not enabled")
	}
	var qs [2]*virtio.Queue
	for i, q := range a.Queues {
		if q == nil || !q.Ready {
			continue
		}
		if err := q.Validate(a.Mem); err != nil {
			return fmt.Errorf("virtio-gpu: queue %d: %w", i, err)
		}
		qs[i] = q
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.broken = true, false
	d.mem, d.queues, d.signal = a.Mem, qs, a.Signal
	return nil
}

// Reset drops every resource and disables the scanouts (keeping their
// last frames for Screenshot) and the cursor.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.scanouts {
		d.disableScanout(uint32(i))
	}
	for id := range d.resources {
		d.backend.Unref(id)
	}
	clear(d.resources)
	d.memUsed = 0
	if d.s3d != nil {
		d.s3d.reset()
	}
	d.hideCursor()
	d.cursor = cursor{img: Frame{Pix: d.cursor.img.Pix}}
	d.active, d.broken, d.events = false, false, 0
	d.mem, d.queues, d.signal = nil, [2]*virtio.Queue{}, nil
}

// QueueNotify serves every available request of queue i, then interrupts
// the driver once if the queue asks for it.
func (d *Device) QueueNotify(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.active || d.broken || i < 0 || i >= len(d.queues) || d.queues[i] == nil {
		return
	}
	q := d.queues[i]
	pushed := false
	for {
		c, err := q.Pop(d.mem)
		if err != nil {
			d.fail(fmt.Errorf("queue %d: %w", i, err))
			return
		}
		if c == nil {
			break
		}
		var n uint32
		if i == ControlQueue {
			n, err = d.serveControl(c)
			if err == nil && d.holdForFence(c.Head, n) {
				continue // answered when its fence signals
			}
		} else {
			n, err = d.serveCursor(c)
		}
		if err == nil {
			err = q.PushUsed(d.mem, c.Head, n)
		}
		if err != nil {
			d.fail(fmt.Errorf("queue %d: %w", i, err))
			return
		}
		pushed = true
	}
	if !pushed {
		return
	}
	need, err := q.NeedsInterrupt(d.mem)
	if err != nil {
		d.fail(fmt.Errorf("queue %d: %w", i, err))
		return
	}
	if need {
		d.signal.Signal(virtio.InterruptUsedBuffer)
	}
}

// fail marks the device broken after a ring or chain error.
func (d *Device) fail(err error) {
	d.broken = true
	d.signal.NeedsReset(fmt.Errorf("virtio-gpu: %w", err))
}

// Screenshot returns a copy of what scanout shows: its rectangle of its
// resource, once a RESOURCE_FLUSH has presented it. The copy is taken from
// the resource now (the only read of the pixels when there is no Sink), so
// pixels transferred after the last flush show too. A scanout that is off,
// or on but not presented since its last SET_SCANOUT, gives the last frame
// it showed before it was disabled. It returns false if the scanout never
// showed anything, or if the backend failed to read the pixels.
func (d *Device) Screenshot(scanout uint32) (Frame, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if scanout >= uint32(len(d.scanouts)) {
		return Frame{}, false
	}
	if s := d.scanouts[scanout]; s.resource != 0 && s.presented {
		f, err := d.backend.Frame(s.resource, s.rect)
		if err != nil {
			return Frame{}, false
		}
		return copyFrame(f), true
	}
	if scanout < uint32(len(d.kept)) && d.kept[scanout].Width > 0 {
		return copyFrame(d.kept[scanout]), true
	}
	return Frame{}, false
}

// SinkErr is the last error Sink.Present returned (nil if none). A sink
// failure does not fail the guest's command.
func (d *Device) SinkErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sinkErr
}

// copyFrame copies f into a new, tightly packed frame.
func copyFrame(f Frame) Frame { return copyFrameInto(nil, f) }

// copyFrameInto copies f into a tightly packed frame whose pixels are buf
// if it has the room, a new slice otherwise.
func copyFrameInto(buf []byte, f Frame) Frame {
	row := f.Width * BytesPerPixel
	size := row * f.Height
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	out := Frame{Width: f.Width, Height: f.Height, Stride: row, Format: f.Format, Pix: buf[:size]}
	for y := range f.Height {
		copy(out.Pix[y*row:(y+1)*row], f.Pix[y*f.Stride:])
	}
	return out
}

// present sends scanout's current frame to the sink.
func (d *Device) present(id uint32) {
	s := &d.scanouts[id]
	d.shown.Flushes++
	if d.sink == nil {
		// Nothing to show: no read-back per flush. Screenshot reads the
		// resource when it is asked for.
		s.presented = true
		return
	}
	if d.texSink != nil && d.presentTexture(id, s) {
		return
	}
	f, err := d.backend.Frame(s.resource, s.rect)
	if err != nil {
		d.sinkErr = err
		return
	}
	s.presented = true
	d.shown.Frames++
	if err := d.sink.Present(id, f); err != nil {
		d.sinkErr = fmt.Errorf("virtio-gpu: presenting scanout %d: %w", id, err)
	}
}

// PresentStats counts how flushed scanouts reached the Sink.
type PresentStats struct {
	Flushes  uint64 // flushes of a scanout
	Textures uint64 // as GL textures, drawn by the sink with no copy
	Frames   uint64 // as pixels read back from the backend
}

// PresentStats says how the flushes so far reached the Sink.
func (d *Device) PresentStats() PresentStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.shown
}

// presentTexture shows scanout id's resource to the sink as a GL texture,
// without reading it back. It returns false, and stops trying for good, if
// the backend cannot hand out its textures (its GL does not share objects
// with the sink's) or the sink refuses them; the frame then goes through
// the CPU as in 2D.
func (d *Device) presentTexture(id uint32, s *scanout) bool {
	t, err := d.texBackend.Texture(s.resource)
	if err != nil {
		d.texSink = nil
		return false
	}
	t.Rect = s.rect
	if err := d.texSink.PresentTexture(id, t); err != nil {
		d.sinkErr = fmt.Errorf("virtio-gpu: presenting scanout %d as a texture: %w", id, err)
		d.texSink = nil
		return false
	}
	s.presented = true
	d.shown.Textures++
	return true
}

// disableScanout turns scanout id off and tells the sink (an empty frame).
// If it was presented, its frame is kept for Screenshot first.
func (d *Device) disableScanout(id uint32) {
	s := &d.scanouts[id]
	if s.resource == 0 {
		return
	}
	if s.presented {
		d.keepFrame(id)
	}
	*s = scanout{}
	if d.sink != nil {
		if err := d.sink.Present(id, Frame{}); err != nil {
			d.sinkErr = fmt.Errorf("virtio-gpu: disabling scanout %d: %w", id, err)
		}
	}
}

// keepFrame copies what scanout id shows into d.kept[id], reusing the
// buffer kept there: one frame per scanout, taken only when a scanout
// goes dark, never per flush. If the backend cannot read the frame, the
// scanout has none kept (an older one would be misleading).
func (d *Device) keepFrame(id uint32) {
	if d.kept == nil {
		d.kept = make([]Frame, len(d.scanouts))
	}
	k := &d.kept[id]
	s := d.scanouts[id]
	f, err := d.backend.Frame(s.resource, s.rect)
	if err != nil {
		k.Width = 0
		d.sinkErr = fmt.Errorf("virtio-gpu: keeping the last frame of scanout %d: %w", id, err)
		return
	}
	*k = copyFrameInto(k.Pix, f)
}

// errShortRequest marks a request shorter than its struct: the guest's
// mistake, answered with ERR_UNSPEC (as opposed to a broken chain).
var errShortRequest = errors.New("virtio-gpu: request shorter than its struct")

// readFull reads len(p) bytes of the request, or errShortRequest.
func readFull(r io.Reader, p []byte) error {
	_, err := io.ReadFull(r, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %d bytes wanted", errShortRequest, len(p))
	}
	return err
}

// respond writes the response h (+ body) into the chain's writable part
// and returns the bytes written. A part too small for the whole response
// gets ERR_UNSPEC alone if it holds a header, nothing otherwise.
func (d *Device) respond(c *virtio.Chain, h CtrlHeader, body Body) (uint32, error) {
	d.resp = Append(d.resp[:0], h, body)
	if room := c.WritableLen(); room < uint64(len(d.resp)) {
		if room < SizeCtrlHdr {
			return 0, nil
		}
		h.Type = RespErrUnspec
		d.resp = Append(d.resp[:0], h, nil)
	}
	w := c.Writer(d.mem)
	if _, err := w.Write(d.resp); err != nil {
		return w.Written(), fmt.Errorf("writing response: %w", err)
	}
	return w.Written(), nil
}

// serveControl reads one control request, does it and responds.
func (d *Device) serveControl(c *virtio.Chain) (uint32, error) {
	r := c.Reader(d.mem)
	var hb [SizeCtrlHdr]byte
	if err := readFull(r, hb[:]); err != nil {
		if errors.Is(err, errShortRequest) {
			return d.respond(c, CtrlHeader{Type: RespErrUnspec}, nil)
		}
		return 0, err
	}
	h, _ := DecodeHeader(hb[:])
	t, body, err := d.control(h, r)
	if errors.Is(err, errShortRequest) {
		t, body, err = RespErrUnspec, nil, nil
	}
	if err != nil {
		return 0, err
	}
	if d.s3d != nil {
		d.s3d.noteRequest(h, t)
	}
	return d.respond(c, h.Response(t), body)
}

// controlBodySize is the fixed body size of each control-queue command.
func controlBodySize(t CtrlType) (int, bool) {
	switch t {
	case CmdGetDisplayInfo:
		return 0, true
	case CmdResourceCreate2D:
		return SizeResourceCreate2D - SizeCtrlHdr, true
	case CmdResourceUnref:
		return SizeResourceUnref - SizeCtrlHdr, true
	case CmdSetScanout:
		return SizeSetScanout - SizeCtrlHdr, true
	case CmdResourceFlush:
		return SizeResourceFlush - SizeCtrlHdr, true
	case CmdTransferToHost2D:
		return SizeTransferToHost2D - SizeCtrlHdr, true
	case CmdResourceAttachBacking:
		return SizeResourceAttachBacking - SizeCtrlHdr, true
	case CmdResourceDetachBacking:
		return SizeResourceDetachBacking - SizeCtrlHdr, true
	case CmdGetEDID:
		return SizeGetEDID - SizeCtrlHdr, true
	}
	return 0, false
}

// control does one control command whose header is read; r is positioned
// at its body. It returns the response type and body, or an error for a
// short request (errShortRequest) or a broken chain.
func (d *Device) control(h CtrlHeader, r *virtio.ChainReader) (CtrlType, Body, error) {
	n, ok := controlBodySize(h.Type)
	if !ok {
		if d.s3d != nil {
			return d.control3D(h, r)
		}
		return RespErrUnspec, nil, nil // 3D, blob, capsets, cursor on the wrong queue, junk
	}
	b := d.body[:n]
	if err := readFull(r, b); err != nil {
		return 0, nil, err
	}
	switch h.Type {
	case CmdGetDisplayInfo:
		return RespOKDisplayInfo, d.displayInfo(), nil
	case CmdGetEDID:
		var c GetEDID
		c.decode(b)
		return d.getEDID(c)
	case CmdResourceCreate2D:
		var c ResourceCreate2D
		c.decode(b)
		return d.create2D(c), nil, nil
	case CmdResourceUnref:
		var c ResourceUnref
		c.decode(b)
		return d.unref(c), nil, nil
	case CmdSetScanout:
		var c SetScanout
		c.decode(b)
		return d.setScanout(c), nil, nil
	case CmdResourceFlush:
		var c ResourceFlush
		c.decode(b)
		return d.flush(c), nil, nil
	case CmdTransferToHost2D:
		var c TransferToHost2D
		c.decode(b)
		return d.transfer(c), nil, nil
	case CmdResourceAttachBacking:
		var c ResourceAttachBacking
		c.decode(b)
		t, err := d.attachBacking(c, r)
		if err == nil && t == RespOKNoData {
			t = d.backingAttached(c.ResourceID)
		}
		return t, nil, err
	case CmdResourceDetachBacking:
		var c ResourceDetachBacking
		c.decode(b)
		t := d.detachBacking(c)
		if t == RespOKNoData {
			d.backingDetached(c.ResourceID)
		}
		return t, nil, nil
	}
	return RespErrUnspec, nil, nil
}
