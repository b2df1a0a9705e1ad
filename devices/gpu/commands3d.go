package gpu

import (
	"fmt"

	"github.com/govm/govm/devices/virtio"
)

// The 3D control commands, served when Options.Backend is a Backend3D.
// As for 2D, every guest value is checked against the device's records
// before the backend (and C) sees it: context and resource ids exist,
// boxes lie within their mip level, sizes are bounded and charged to
// MemLimit, command buffers are copied out of guest memory first.

// Limits of the 3D commands.
const (
	// MaxSubmitBytes bounds one SUBMIT_3D command buffer.
	MaxSubmitBytes = 4 << 20
	// MaxContexts bounds the live 3D contexts (each costs the host GL
	// contexts).
	MaxContexts = 256
	// MaxCapsetSize bounds a capset a backend may report.
	MaxCapsetSize = 64 << 10
	// MaxRings is the number of fence timelines of a context
	// (VIRTIO_GPU_F_CONTEXT_INIT ring_idx is below it).
	MaxRings = 64
	// MaxTextureLayers bounds a 3D texture's depth and an array's layers.
	MaxTextureLayers = 2048
	// MaxMipLevel is the last mip level a MaxResourceDim texture has.
	MaxMipLevel = 14
	// MaxSamples bounds nr_samples.
	MaxSamples = 16
	// maxBytesPerTexel is what a texel of a format the device does not
	// know is charged: the largest Gallium format (R32G32B32A32) or
	// compressed block per texel is no bigger.
	maxBytesPerTexel = 16
)

// Gallium texture targets (enum pipe_texture_target).
const (
	TargetBuffer    = 0
	Target1D        = 1
	Target2D        = 2
	Target3D        = 3
	TargetCube      = 4
	TargetRect      = 5
	Target1DArray   = 6
	Target2DArray   = 7
	TargetCubeArray = 8
)

// state3D is the device's 3D state: nil in a 2D device.
type state3D struct {
	backend  Backend3D
	capsets  []RespCapsetInfo // what NumCapsets/GetCapsetInfo said at New
	contexts map[uint32]struct{}

	// Fenced requests whose response waits for their fence.
	held     []heldFence
	fenceSeq uint64 // the last fence id given to the backend; never reset

	// What serveControl noted about the request just served.
	fenced   bool
	fenceHdr CtrlHeader

	submit []byte // copy of the last SUBMIT_3D buffer, reused
}

// heldFence is a used-ring entry held back until fence seq of timeline
// (ctx, ring) signals.
type heldFence struct {
	head      uint16
	written   uint32
	ctx, ring uint32
	seq       uint64
}

// newState3D asks b for its capsets (keeping those of a sane size) and
// gives it the device's fence handler.
func newState3D(d *Device, b Backend3D) (*state3D, error) {
	s := &state3D{backend: b, contexts: map[uint32]struct{}{}}
	n := b.NumCapsets()
	for i := range n {
		id, ver, size, err := b.GetCapsetInfo(i)
		if err != nil {
			return nil, fmt.Errorf("virtio-gpu: capset %d: %w", i, err)
		}
		if size == 0 || size > MaxCapsetSize {
			continue
		}
		s.capsets = append(s.capsets, RespCapsetInfo{CapsetID: id, MaxVersion: ver, MaxSize: size})
	}
	b.SetFenceHandler(d.fenceSignalled)
	return s, nil
}

// reset destroys every context and forgets the held requests (the
// driver resets the rings too).
func (s *state3D) reset() {
	for id := range s.contexts {
		s.backend.DestroyContext(id)
	}
	clear(s.contexts)
	s.held = s.held[:0]
	s.fenced = false
}

// noteRequest records whether the request just served waits for a fence:
// a fenced request that succeeded (an error is answered at once).
func (s *state3D) noteRequest(h CtrlHeader, t CtrlType) {
	s.fenced = h.Flags&FlagFence != 0 && t >= RespOKNoData && t < RespErrUnspec
	s.fenceHdr = h
}

// holdForFence is called after the request of chain head was answered
// with written bytes: if it was fenced, the backend gets a fence and the
// chain is held until it signals (true). If the backend cannot fence,
// the response goes now.
func (d *Device) holdForFence(head uint16, written uint32) bool {
	s := d.s3d
	if s == nil || !s.fenced {
		return false
	}
	s.fenced = false
	h := s.fenceHdr
	var ctx, ring uint32
	if h.Flags&FlagInfoRingIdx != 0 {
		if _, ok := s.contexts[h.CtxID]; !ok || uint32(h.RingIdx) >= MaxRings {
			return false
		}
		ctx, ring = h.CtxID, uint32(h.RingIdx)
	}
	s.fenceSeq++
	if err := s.backend.CreateFence(ctx, ring, s.fenceSeq); err != nil {
		return false
	}
	s.held = append(s.held, heldFence{head: head, written: written, ctx: ctx, ring: ring, seq: s.fenceSeq})
	return true
}

// fenceSignalled is the FenceFunc the device gives its backend: it
// releases the requests held for fences up to fenceID of the timeline.
func (d *Device) fenceSignalled(ctxID, ringIdx uint32, fenceID uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseHeld(func(f heldFence) bool {
		return f.ctx == ctxID && f.ring == ringIdx && f.seq <= fenceID
	})
}

// releaseHeld puts the held requests that match on the used ring and
// interrupts the driver if it wants.
func (d *Device) releaseHeld(match func(heldFence) bool) {
	s := d.s3d
	if s == nil || !d.active || d.broken || d.queues[ControlQueue] == nil {
		return
	}
	q := d.queues[ControlQueue]
	keep, pushed := s.held[:0], false
	for i, f := range s.held {
		if !match(f) {
			keep = append(keep, f)
			continue
		}
		if err := q.PushUsed(d.mem, f.head, f.written); err != nil {
			s.held = append(keep, s.held[i+1:]...)
			d.fail(fmt.Errorf("queue %d: %w", ControlQueue, err))
			return
		}
		pushed = true
	}
	s.held = keep
	if !pushed {
		return
	}
	need, err := q.NeedsInterrupt(d.mem)
	if err != nil {
		d.fail(fmt.Errorf("queue %d: %w", ControlQueue, err))
		return
	}
	if need {
		d.signal.Signal(virtio.InterruptUsedBuffer)
	}
}

// control3D does one 3D command whose header is read; r is positioned at
// its body.
func (d *Device) control3D(h CtrlHeader, r *virtio.ChainReader) (CtrlType, Body, error) {
	n, ok := body3DSize(h.Type)
	if !ok {
		return RespErrUnspec, nil, nil
	}
	var buf [SizeCtxCreate - SizeCtrlHdr]byte // the largest 3D body
	b := buf[:n]
	if err := readFull(r, b); err != nil {
		return 0, nil, err
	}
	s := d.s3d
	switch h.Type {
	case CmdGetCapsetInfo:
		var c GetCapsetInfo
		c.decode(b)
		if c.CapsetIndex >= uint32(len(s.capsets)) {
			return RespErrInvalidParameter, nil, nil
		}
		info := s.capsets[c.CapsetIndex]
		return RespOKCapsetInfo, &info, nil
	case CmdGetCapset:
		var c GetCapset
		c.decode(b)
		return d.getCapset(c)
	case CmdCtxCreate:
		var c CtxCreate
		c.decode(b)
		return d.ctxCreate(h.CtxID, c), nil, nil
	case CmdCtxDestroy:
		return d.ctxDestroy(h.CtxID), nil, nil
	case CmdCtxAttachResource:
		var c CtxAttachResource
		c.decode(b)
		return d.ctxResource(h.CtxID, c.ResourceID, true), nil, nil
	case CmdCtxDetachResource:
		var c CtxDetachResource
		c.decode(b)
		return d.ctxResource(h.CtxID, c.ResourceID, false), nil, nil
	case CmdResourceCreate3D:
		var c ResourceCreate3D
		c.decode(b)
		return d.create3D(c), nil, nil
	case CmdTransferToHost3D, CmdTransferFromHost3D:
		var c TransferHost3D
		c.decode(b)
		return d.transfer3D(h.CtxID, c, h.Type == CmdTransferToHost3D), nil, nil
	case CmdSubmit3D:
		var c Submit3D
		c.decode(b)
		t, err := d.submit3D(h.CtxID, c, r)
		return t, nil, err
	}
	return RespErrUnspec, nil, nil
}

func (d *Device) getCapset(c GetCapset) (CtrlType, Body, error) {
	for _, info := range d.s3d.capsets {
		if info.CapsetID != c.CapsetID {
			continue
		}
		if c.Version > info.MaxVersion {
			return RespErrInvalidParameter, nil, nil
		}
		data, err := d.s3d.backend.GetCapset(c.CapsetID, c.Version)
		if err != nil {
			return RespErrUnspec, nil, nil
		}
		// The driver reads exactly max_size bytes.
		out := make([]byte, info.MaxSize)
		copy(out, data)
		return RespOKCapset, &RespCapset{Data: out}, nil
	}
	return RespErrInvalidParameter, nil, nil
}

// hasCapset reports whether id is one of the device's capsets.
func (s *state3D) hasCapset(id uint32) bool {
	for _, c := range s.capsets {
		if c.CapsetID == id {
			return true
		}
	}
	return false
}

func (d *Device) ctxCreate(id uint32, c CtxCreate) CtrlType {
	s := d.s3d
	if id == 0 {
		return RespErrInvalidContextID
	}
	if _, ok := s.contexts[id]; ok {
		return RespErrInvalidContextID
	}
	if c.NLen > CtxDebugNameSize || c.ContextInit&^ContextInitCapsetMask != 0 {
		return RespErrInvalidParameter
	}
	if capset := c.ContextInit & ContextInitCapsetMask; capset != 0 && !s.hasCapset(capset) {
		return RespErrInvalidParameter
	}
	if len(s.contexts) >= MaxContexts {
		return RespErrOutOfMemory
	}
	if err := s.backend.CreateContext(id, string(c.DebugName[:c.NLen]), c.ContextInit); err != nil {
		return RespErrUnspec
	}
	s.contexts[id] = struct{}{}
	return RespOKNoData
}

// ctxDestroy destroys a context. Requests held for its own timelines are
// answered now: a destroyed context's fences never signal.
func (d *Device) ctxDestroy(id uint32) CtrlType {
	s := d.s3d
	if _, ok := s.contexts[id]; !ok {
		return RespErrInvalidContextID
	}
	s.backend.DestroyContext(id)
	delete(s.contexts, id)
	d.releaseHeld(func(f heldFence) bool { return f.ctx == id })
	return RespOKNoData
}

func (d *Device) ctxResource(ctx, res uint32, attach bool) CtrlType {
	if _, ok := d.s3d.contexts[ctx]; !ok {
		return RespErrInvalidContextID
	}
	if r, t := d.lookup(res); r == nil {
		return t
	}
	if attach {
		d.s3d.backend.ContextAttachResource(ctx, res)
	} else {
		d.s3d.backend.ContextDetachResource(ctx, res)
	}
	return RespOKNoData
}

// resourceCost3D is the host memory charged for a 3D resource (an upper
// bound), or false if its shape is out of range. Every factor is bounded
// first, so the product (at most 2^59) cannot overflow.
func resourceCost3D(c ResourceCreate3D) (uint64, bool) {
	if c.Target > TargetCubeArray || c.Width == 0 || c.Height == 0 || c.Depth == 0 || c.ArraySize == 0 ||
		c.LastLevel > MaxMipLevel || c.NrSamples > MaxSamples {
		return 0, false
	}
	bpp := uint64(maxBytesPerTexel)
	switch {
	case c.Target == TargetBuffer:
		// width is the size in bytes; the rest must be 1.
		if c.Height != 1 || c.Depth != 1 || c.ArraySize != 1 || c.LastLevel != 0 || c.Width > MaxBackingBytes {
			return 0, false
		}
		bpp = 1
	case c.Format.known():
		bpp = BytesPerPixel
	}
	if c.Target != TargetBuffer {
		if c.Width > MaxResourceDim || c.Height > MaxResourceDim ||
			c.Depth > MaxTextureLayers || c.ArraySize > MaxTextureLayers {
			return 0, false
		}
		if c.Target != Target3D && c.Depth != 1 {
			return 0, false
		}
	}
	cost := uint64(c.Width) * uint64(c.Height) * uint64(c.Depth) * uint64(c.ArraySize) * bpp
	cost *= uint64(max(c.NrSamples, 1))
	if c.LastLevel > 0 {
		cost *= 2 // a mip chain adds less than the base level
	}
	return cost + resourceOverhead, true
}

func (d *Device) create3D(c ResourceCreate3D) CtrlType {
	if c.ResourceID == 0 {
		return RespErrInvalidResourceID
	}
	if _, ok := d.resources[c.ResourceID]; ok {
		return RespErrInvalidResourceID
	}
	cost, ok := resourceCost3D(c)
	if !ok {
		return RespErrInvalidParameter
	}
	if cost > d.memLimit-d.memUsed {
		return RespErrOutOfMemory
	}
	if err := d.s3d.backend.CreateResource3D(c); err != nil {
		return RespErrUnspec
	}
	info := c
	d.resources[c.ResourceID] = &resource{format: c.Format, width: c.Width, height: c.Height, cost: cost, info3D: &info}
	d.memUsed += cost
	return RespOKNoData
}

// levelExtent is the size of mip level of resource r in the three
// coordinates of a box: for arrays the layers are z (y for 1D arrays).
func (r *resource) levelExtent(level uint32) (w, h, depth uint32, ok bool) {
	c := ResourceCreate3D{Target: Target2D, Width: r.width, Height: r.height, Depth: 1, ArraySize: 1}
	if r.info3D != nil {
		c = *r.info3D
	}
	if level > c.LastLevel {
		return 0, 0, 0, false
	}
	mip := func(v uint32) uint32 { return max(v>>level, 1) }
	switch c.Target {
	case TargetBuffer:
		return c.Width, 1, 1, true
	case Target3D:
		return mip(c.Width), mip(c.Height), mip(c.Depth), true
	case Target1DArray:
		return mip(c.Width), c.ArraySize, 1, true
	case Target2DArray, TargetCube, TargetCubeArray:
		return mip(c.Width), mip(c.Height), c.ArraySize, true
	}
	return mip(c.Width), mip(c.Height), 1, true
}

// within reports whether b lies inside a w×h×depth extent (64-bit sums).
func (b Box) within(w, h, depth uint32) bool {
	return uint64(b.X)+uint64(b.W) <= uint64(w) && uint64(b.Y)+uint64(b.H) <= uint64(h) &&
		uint64(b.Z)+uint64(b.D) <= uint64(depth)
}

func (d *Device) transfer3D(ctx uint32, t TransferHost3D, toHost bool) CtrlType {
	r, rt := d.lookup(t.ResourceID)
	if r == nil {
		return rt
	}
	if _, ok := d.s3d.contexts[ctx]; ctx != 0 && !ok {
		return RespErrInvalidContextID
	}
	w, h, depth, ok := r.levelExtent(t.Level)
	if !ok || !t.Box.within(w, h, depth) {
		return RespErrInvalidParameter
	}
	if r.backing == nil {
		return RespErrUnspec
	}
	if t.Box.Empty() {
		return RespOKNoData
	}
	// The backend checks the exact extent (it knows the format's block
	// size); the first byte at least must be in the backing.
	if t.Offset >= r.backingLen {
		return RespErrInvalidParameter
	}
	var err error
	if toHost {
		err = d.s3d.backend.TransferToHost3D(ctx, t)
	} else {
		err = d.s3d.backend.TransferFromHost3D(ctx, t)
	}
	if err != nil {
		return RespErrUnspec
	}
	return RespOKNoData
}

// submit3D copies the command buffer out of the request and runs it.
func (d *Device) submit3D(ctx uint32, c Submit3D, rd *virtio.ChainReader) (CtrlType, error) {
	s := d.s3d
	if _, ok := s.contexts[ctx]; !ok {
		return RespErrInvalidContextID, nil
	}
	if c.Size > MaxSubmitBytes || c.Size%4 != 0 {
		return RespErrInvalidParameter, nil
	}
	if uint32(cap(s.submit)) < c.Size {
		s.submit = make([]byte, c.Size)
	}
	buf := s.submit[:c.Size]
	if err := readFull(rd, buf); err != nil {
		return 0, err
	}
	if c.Size == 0 {
		return RespOKNoData, nil
	}
	if err := s.backend.Submit3D(ctx, buf); err != nil {
		return RespErrUnspec, nil
	}
	return RespOKNoData, nil
}

// backingAttached tells a 3D backend about the backing just attached to
// resource id; if it refuses, the attach is undone.
func (d *Device) backingAttached(id uint32) CtrlType {
	r := d.resources[id]
	if d.s3d == nil || r == nil {
		return RespOKNoData
	}
	if err := d.s3d.backend.AttachBacking(id, r.backing); err != nil {
		d.memUsed -= r.backingCost
		r.backing, r.backingLen, r.backingCost = nil, 0, 0
		return RespErrUnspec
	}
	return RespOKNoData
}

// backingDetached tells a 3D backend a resource lost its backing.
func (d *Device) backingDetached(id uint32) {
	if d.s3d != nil {
		d.s3d.backend.DetachBacking(id)
	}
}
