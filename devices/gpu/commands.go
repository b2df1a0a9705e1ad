package gpu

import (
	"errors"
	"fmt"

	"github.com/govm/govm/devices/virtio"
)

// The 2D control commands. Each checks every guest value against the
// device's records before the Backend sees it, and answers with the error
// code of the first check that fails.

// known reports whether f is one of the 2D formats.
func (f Format) known() bool {
	switch f {
	case FormatB8G8R8A8, FormatB8G8R8X8, FormatA8R8G8B8, FormatX8R8G8B8,
		FormatR8G8B8A8, FormatX8B8G8R8, FormatA8B8G8R8, FormatR8G8B8X8:
		return true
	}
	return false
}

// lookup finds resource id; 0 is never a resource.
func (d *Device) lookup(id uint32) (*resource, CtrlType) {
	if r, ok := d.resources[id]; ok && id != 0 {
		return r, RespOKNoData
	}
	return nil, RespErrInvalidResourceID
}

// displayInfo: every scanout wants the configured size.
func (d *Device) displayInfo() *RespDisplayInfo {
	info := &RespDisplayInfo{}
	for i := range d.scanouts {
		info.PModes[i] = DisplayOne{Rect: Rect{Width: d.width, Height: d.height}, Enabled: true}
	}
	return info
}

func (d *Device) getEDID(c GetEDID) (CtrlType, Body, error) {
	if c.Scanout >= uint32(len(d.scanouts)) {
		return RespErrInvalidScanoutID, nil, nil
	}
	resp := &RespEDID{Size: EDIDBlockSize}
	copy(resp.EDID[:], d.edid[:])
	return RespOKEDID, resp, nil
}

func (d *Device) create2D(c ResourceCreate2D) CtrlType {
	if c.ResourceID == 0 {
		return RespErrInvalidResourceID
	}
	if _, ok := d.resources[c.ResourceID]; ok {
		return RespErrInvalidResourceID
	}
	if !c.Format.known() {
		return RespErrInvalidParameter
	}
	if c.Width == 0 || c.Height == 0 || c.Width > MaxResourceDim || c.Height > MaxResourceDim {
		return RespErrInvalidParameter
	}
	// At most 16384² × 4 = 1 GiB: no overflow in 64 bits.
	cost := uint64(c.Width)*uint64(c.Height)*BytesPerPixel + resourceOverhead
	if cost > d.memLimit-d.memUsed {
		return RespErrOutOfMemory
	}
	if err := d.backend.CreateResource2D(c.ResourceID, c.Format, c.Width, c.Height); err != nil {
		return RespErrOutOfMemory
	}
	d.resources[c.ResourceID] = &resource{format: c.Format, width: c.Width, height: c.Height, cost: cost}
	d.memUsed += cost
	return RespOKNoData
}

// unref destroys a resource; the scanouts showing it go dark.
func (d *Device) unref(c ResourceUnref) CtrlType {
	r, t := d.lookup(c.ResourceID)
	if r == nil {
		return t
	}
	for i, s := range d.scanouts {
		if s.resource == c.ResourceID {
			d.disableScanout(uint32(i))
		}
	}
	d.backend.Unref(c.ResourceID)
	d.memUsed -= r.cost + r.backingCost
	delete(d.resources, c.ResourceID)
	return RespOKNoData
}

// setScanout shows rectangle c.Rect of a resource on a scanout, or
// disables the scanout for resource 0. The frame reaches the sink at the
// next RESOURCE_FLUSH (Linux always sends one right after).
func (d *Device) setScanout(c SetScanout) CtrlType {
	if c.ScanoutID >= uint32(len(d.scanouts)) {
		return RespErrInvalidScanoutID
	}
	if c.ResourceID == 0 {
		d.disableScanout(c.ScanoutID)
		return RespOKNoData
	}
	r, t := d.lookup(c.ResourceID)
	if r == nil {
		return t
	}
	if c.Rect.Empty() || !c.Rect.Within(r.width, r.height) {
		return RespErrInvalidParameter
	}
	s := &d.scanouts[c.ScanoutID]
	if s.resource != c.ResourceID || s.rect != c.Rect {
		*s = scanout{resource: c.ResourceID, rect: c.Rect}
	}
	return RespOKNoData
}

// flush presents every scanout that shows a part of the flushed rectangle.
func (d *Device) flush(c ResourceFlush) CtrlType {
	r, t := d.lookup(c.ResourceID)
	if r == nil {
		return t
	}
	if !c.Rect.Within(r.width, r.height) {
		return RespErrInvalidParameter
	}
	for i, s := range d.scanouts {
		if s.resource == c.ResourceID && s.rect.Intersects(c.Rect) {
			d.present(uint32(i))
		}
	}
	return RespOKNoData
}

// transfer copies a rectangle from the guest backing into the resource.
// Row i of the rectangle is at backing offset c.Offset + i*stride, stride
// being the resource's width × 4; the last row must end inside the
// backing.
func (d *Device) transfer(c TransferToHost2D) CtrlType {
	r, t := d.lookup(c.ResourceID)
	if r == nil {
		return t
	}
	if r.backing == nil {
		return RespErrUnspec
	}
	if !c.Rect.Within(r.width, r.height) {
		return RespErrInvalidParameter
	}
	if c.Rect.Empty() {
		return RespOKNoData
	}
	stride := uint64(r.width) * BytesPerPixel
	need := uint64(c.Rect.Height-1)*stride + uint64(c.Rect.Width)*BytesPerPixel
	if c.Offset > r.backingLen || need > r.backingLen-c.Offset {
		return RespErrInvalidParameter
	}
	if err := d.backend.TransferToHost2D(c.ResourceID, c.Rect, c.Offset, r.backing); err != nil {
		return RespErrUnspec
	}
	return RespOKNoData
}

// Errors of attachBacking that are the guest's fault (answered, not fatal).
var (
	errBadEntry = errors.New("virtio-gpu: backing entry outside guest memory")
)

// attachBacking reads c.NrEntries mem entries from the request and gives
// the resource the guest memory they describe. Each entry is checked
// against guest memory now; the total is bounded by MaxBackingBytes and
// the bookkeeping is charged to MemLimit.
func (d *Device) attachBacking(c ResourceAttachBacking, rd *virtio.ChainReader) (CtrlType, error) {
	r, t := d.lookup(c.ResourceID)
	if r == nil {
		return t, nil
	}
	if c.NrEntries > MaxMemEntries {
		return RespErrInvalidParameter, nil
	}
	if r.backing != nil {
		return RespErrUnspec, nil
	}
	cost := uint64(c.NrEntries) * memEntryOverhead
	if cost > d.memLimit-d.memUsed {
		return RespErrOutOfMemory, nil
	}
	n := int(c.NrEntries) * SizeMemEntry
	if cap(d.entBuf) < n {
		d.entBuf = make([]byte, n)
	}
	if err := readFull(rd, d.entBuf[:n]); err != nil {
		return 0, err
	}
	var err error
	d.entries, err = AppendMemEntries(d.entries[:0], d.entBuf[:n], c.NrEntries)
	if err != nil {
		return RespErrInvalidParameter, nil
	}
	backing, total, err := d.mapEntries(d.entries)
	switch {
	case errors.Is(err, errBadEntry):
		return RespErrUnspec, nil
	case err != nil:
		return RespErrInvalidParameter, nil
	}
	r.backing, r.backingLen, r.backingCost = backing, total, cost
	d.memUsed += cost
	return RespOKNoData, nil
}

// mapEntries turns mem entries into guest memory slices (empty entries are
// dropped) and returns their total length.
func (d *Device) mapEntries(es []MemEntry) ([][]byte, uint64, error) {
	backing := make([][]byte, 0, len(es))
	var total uint64
	for i, e := range es {
		if e.Length == 0 {
			continue
		}
		total += uint64(e.Length)
		if total > MaxBackingBytes {
			return nil, 0, fmt.Errorf("virtio-gpu: backing over %d bytes", MaxBackingBytes)
		}
		s, err := d.mem.Slice(e.Addr, uint64(e.Length))
		if err != nil {
			return nil, 0, fmt.Errorf("%w: entry %d %#x+%#x: %w", errBadEntry, i, e.Addr, e.Length, err)
		}
		backing = append(backing, s)
	}
	if len(backing) == 0 {
		// Keep "attached" distinct from "none" even for an empty backing.
		backing = [][]byte{}
	}
	return backing, total, nil
}

// detachBacking forgets a resource's guest memory.
func (d *Device) detachBacking(c ResourceDetachBacking) CtrlType {
	r, t := d.lookup(c.ResourceID)
	if r == nil {
		return t
	}
	if r.backing == nil {
		return RespErrUnspec
	}
	d.memUsed -= r.backingCost
	r.backing, r.backingLen, r.backingCost = nil, 0, 0
	return RespOKNoData
}
