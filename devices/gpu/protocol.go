package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file is the wire format of virtio-gpu 2D (virtio 1.2 section 5.7.6,
// include/uapi/linux/virtio_gpu.h): every message starts with a 24-byte
// control header, followed by a fixed body that depends on the type. All
// fields are little-endian. Decoding copies into Go values; padding is
// ignored on input and written as zeroes.

// CtrlType is the type field of the control header: a command code or a
// response code (enum virtio_gpu_ctrl_type).
type CtrlType uint32

// 2D commands (control queue).
const (
	CmdGetDisplayInfo        CtrlType = 0x0100
	CmdResourceCreate2D      CtrlType = 0x0101
	CmdResourceUnref         CtrlType = 0x0102
	CmdSetScanout            CtrlType = 0x0103
	CmdResourceFlush         CtrlType = 0x0104
	CmdTransferToHost2D      CtrlType = 0x0105
	CmdResourceAttachBacking CtrlType = 0x0106
	CmdResourceDetachBacking CtrlType = 0x0107
	CmdGetCapsetInfo         CtrlType = 0x0108
	CmdGetCapset             CtrlType = 0x0109
	CmdGetEDID               CtrlType = 0x010a
	CmdResourceAssignUUID    CtrlType = 0x010b
	CmdResourceCreateBlob    CtrlType = 0x010c
	CmdSetScanoutBlob        CtrlType = 0x010d
)

// 3D commands (control queue; not served by the 2D device, named for a
// later Backend3D).
const (
	CmdCtxCreate          CtrlType = 0x0200
	CmdCtxDestroy         CtrlType = 0x0201
	CmdCtxAttachResource  CtrlType = 0x0202
	CmdCtxDetachResource  CtrlType = 0x0203
	CmdResourceCreate3D   CtrlType = 0x0204
	CmdTransferToHost3D   CtrlType = 0x0205
	CmdTransferFromHost3D CtrlType = 0x0206
	CmdSubmit3D           CtrlType = 0x0207
	CmdResourceMapBlob    CtrlType = 0x0208
	CmdResourceUnmapBlob  CtrlType = 0x0209
)

// Cursor commands (cursor queue).
const (
	CmdUpdateCursor CtrlType = 0x0300
	CmdMoveCursor   CtrlType = 0x0301
)

// Success responses.
const (
	RespOKNoData       CtrlType = 0x1100
	RespOKDisplayInfo  CtrlType = 0x1101
	RespOKCapsetInfo   CtrlType = 0x1102
	RespOKCapset       CtrlType = 0x1103
	RespOKEDID         CtrlType = 0x1104
	RespOKResourceUUID CtrlType = 0x1105
	RespOKMapInfo      CtrlType = 0x1106
)

// Error responses.
const (
	RespErrUnspec            CtrlType = 0x1200
	RespErrOutOfMemory       CtrlType = 0x1201
	RespErrInvalidScanoutID  CtrlType = 0x1202
	RespErrInvalidResourceID CtrlType = 0x1203
	RespErrInvalidContextID  CtrlType = 0x1204
	RespErrInvalidParameter  CtrlType = 0x1205
)

// Header flags.
const (
	// FlagFence asks the device to echo FenceID once the command is done.
	FlagFence = 1 << 0
	// FlagInfoRingIdx says RingIdx names the context's timeline for the
	// fence (VIRTIO_GPU_F_CONTEXT_INIT).
	FlagInfoRingIdx = 1 << 1
)

// Feature bits of the GPU device.
const (
	FeatureVirgl        = 1 << 0 // VIRTIO_GPU_F_VIRGL (3D)
	FeatureEDID         = 1 << 1 // VIRTIO_GPU_F_EDID: CmdGetEDID
	FeatureResourceUUID = 1 << 2 // VIRTIO_GPU_F_RESOURCE_UUID
	FeatureResourceBlob = 1 << 3 // VIRTIO_GPU_F_RESOURCE_BLOB
	FeatureContextInit  = 1 << 4 // VIRTIO_GPU_F_CONTEXT_INIT
)

// Protocol limits and fixed values.
const (
	EventDisplay  = 1 << 0 // VIRTIO_GPU_EVENT_DISPLAY in events_read
	MaxScanouts   = 16     // VIRTIO_GPU_MAX_SCANOUTS: pmodes in a display info
	EDIDBufSize   = 1024   // bytes of the edid array in RespEDID
	CursorSize    = 64     // the cursor image is at most 64×64 pixels
	BytesPerPixel = 4      // every 2D format

	displayOneEnabledOff = SizeRect // offset of enabled in virtio_gpu_display_one
)

// Struct sizes, header included where the struct has one (sizeof in
// virtio_gpu.h).
const (
	SizeCtrlHdr               = 24
	SizeRect                  = 16
	SizeCursorPos             = 16
	SizeUpdateCursor          = 56 // also MOVE_CURSOR
	SizeResourceCreate2D      = 40
	SizeResourceUnref         = 32
	SizeSetScanout            = 48
	SizeResourceFlush         = 48
	SizeTransferToHost2D      = 56
	SizeMemEntry              = 16
	SizeResourceAttachBacking = 32 // followed by NrEntries mem entries
	SizeResourceDetachBacking = 32
	SizeGetEDID               = 32
	SizeDisplayOne            = 24
	SizeRespDisplayInfo       = SizeCtrlHdr + MaxScanouts*SizeDisplayOne // 408
	SizeRespEDID              = SizeCtrlHdr + 8 + EDIDBufSize            // 1056
	SizeConfig                = 16                                       // struct virtio_gpu_config
)

// ErrShort is returned when a buffer is shorter than the message it should
// hold; ErrUnknownType when the type code is not one this package decodes.
var (
	ErrShort       = errors.New("virtio-gpu: message too short")
	ErrUnknownType = errors.New("virtio-gpu: unknown message type")
	ErrTooMany     = errors.New("virtio-gpu: too many memory entries")
)

// CtrlHeader is struct virtio_gpu_ctrl_hdr.
type CtrlHeader struct {
	Type    CtrlType
	Flags   uint32
	FenceID uint64
	CtxID   uint32
	RingIdx uint8
}

// DecodeHeader decodes the first SizeCtrlHdr bytes of b.
func DecodeHeader(b []byte) (CtrlHeader, error) {
	if len(b) < SizeCtrlHdr {
		return CtrlHeader{}, fmt.Errorf("%w: header of %d bytes", ErrShort, len(b))
	}
	return CtrlHeader{
		Type:    CtrlType(le.Uint32(b[0:])),
		Flags:   le.Uint32(b[4:]),
		FenceID: le.Uint64(b[8:]),
		CtxID:   le.Uint32(b[16:]),
		RingIdx: b[20],
	}, nil
}

// Append appends the header's encoding to b.
func (h CtrlHeader) Append(b []byte) []byte {
	b = le.AppendUint32(b, uint32(h.Type))
	b = le.AppendUint32(b, h.Flags)
	b = le.AppendUint64(b, h.FenceID)
	b = le.AppendUint32(b, h.CtxID)
	return append(b, h.RingIdx, 0, 0, 0)
}

// Response returns the header of the response to a request with header h:
// type t, and, for a fenced request, the fence (and its ring) echoed
// (virtio 1.2 section 5.7.6.7).
func (h CtrlHeader) Response(t CtrlType) CtrlHeader {
	r := CtrlHeader{Type: t}
	if h.Flags&FlagFence != 0 {
		r.Flags = FlagFence
		r.FenceID = h.FenceID
		r.CtxID = h.CtxID
		if h.Flags&FlagInfoRingIdx != 0 {
			r.Flags |= FlagInfoRingIdx
			r.RingIdx = h.RingIdx
		}
	}
	return r
}

// Rect is struct virtio_gpu_rect.
type Rect struct {
	X, Y, Width, Height uint32
}

func decodeRect(b []byte) Rect {
	return Rect{X: le.Uint32(b[0:]), Y: le.Uint32(b[4:]), Width: le.Uint32(b[8:]), Height: le.Uint32(b[12:])}
}

func (r Rect) appendTo(b []byte) []byte {
	b = le.AppendUint32(b, r.X)
	b = le.AppendUint32(b, r.Y)
	b = le.AppendUint32(b, r.Width)
	return le.AppendUint32(b, r.Height)
}

// Empty reports whether r covers no pixel.
func (r Rect) Empty() bool { return r.Width == 0 || r.Height == 0 }

// Within reports whether r lies inside a width×height image; computed in
// 64 bits, so no guest value can overflow it.
func (r Rect) Within(width, height uint32) bool {
	return uint64(r.X)+uint64(r.Width) <= uint64(width) &&
		uint64(r.Y)+uint64(r.Height) <= uint64(height)
}

// Intersects reports whether r and s share a pixel.
func (r Rect) Intersects(s Rect) bool {
	if r.Empty() || s.Empty() {
		return false
	}
	return uint64(r.X) < uint64(s.X)+uint64(s.Width) && uint64(s.X) < uint64(r.X)+uint64(r.Width) &&
		uint64(r.Y) < uint64(s.Y)+uint64(s.Height) && uint64(s.Y) < uint64(r.Y)+uint64(r.Height)
}

// Body is what follows the control header in a command or a response.
// Responses without data (RespOKNoData and the errors) have no Body.
type Body interface {
	// Type is the header type code for this body.
	Type() CtrlType
	// Append appends the body's encoding (without the header) to b.
	Append(b []byte) []byte
}

// decoder is a Body that can fill itself from exactly bodySize bytes.
type decoder interface {
	Body
	decode(b []byte)
}

// GetDisplayInfo is VIRTIO_GPU_CMD_GET_DISPLAY_INFO (no body).
type GetDisplayInfo struct{}

// ResourceCreate2D is struct virtio_gpu_resource_create_2d.
type ResourceCreate2D struct {
	ResourceID    uint32
	Format        Format
	Width, Height uint32
}

// ResourceUnref is struct virtio_gpu_resource_unref.
type ResourceUnref struct{ ResourceID uint32 }

// SetScanout is struct virtio_gpu_set_scanout.
type SetScanout struct {
	Rect       Rect
	ScanoutID  uint32
	ResourceID uint32
}

// ResourceFlush is struct virtio_gpu_resource_flush.
type ResourceFlush struct {
	Rect       Rect
	ResourceID uint32
}

// TransferToHost2D is struct virtio_gpu_transfer_to_host_2d. Row i of Rect
// starts at byte Offset + i*stride of the backing, stride being the
// resource's width times 4 (what Linux's dumb buffers use).
type TransferToHost2D struct {
	Rect       Rect
	Offset     uint64
	ResourceID uint32
}

// MemEntry is struct virtio_gpu_mem_entry: one piece of guest memory.
type MemEntry struct {
	Addr   uint64
	Length uint32
}

// ResourceAttachBacking is struct virtio_gpu_resource_attach_backing and
// the NrEntries mem entries that follow it. Decode fills Entries; Append
// writes NrEntries as given (tests may make it lie) and then Entries.
type ResourceAttachBacking struct {
	ResourceID uint32
	NrEntries  uint32
	Entries    []MemEntry
}

// ResourceDetachBacking is struct virtio_gpu_resource_detach_backing.
type ResourceDetachBacking struct{ ResourceID uint32 }

// GetEDID is struct virtio_gpu_cmd_get_edid.
type GetEDID struct{ Scanout uint32 }

// CursorPos is struct virtio_gpu_cursor_pos. X and Y are the guest's
// signed crtc position stored as uint32 (two's complement).
type CursorPos struct {
	ScanoutID uint32
	X, Y      uint32
}

// UpdateCursor is struct virtio_gpu_update_cursor for
// VIRTIO_GPU_CMD_UPDATE_CURSOR: a new image (ResourceID 0 hides it) and
// position.
type UpdateCursor struct {
	Pos        CursorPos
	ResourceID uint32
	HotX, HotY uint32
}

// MoveCursor is struct virtio_gpu_update_cursor for
// VIRTIO_GPU_CMD_MOVE_CURSOR: only the position counts.
type MoveCursor struct{ Pos CursorPos }

// DisplayOne is struct virtio_gpu_display_one: one scanout's preferred
// mode.
type DisplayOne struct {
	Rect    Rect
	Enabled bool
	Flags   uint32
}

// RespDisplayInfo is struct virtio_gpu_resp_display_info (after the header).
type RespDisplayInfo struct {
	PModes [MaxScanouts]DisplayOne
}

// RespEDID is struct virtio_gpu_resp_edid (after the header).
type RespEDID struct {
	Size uint32
	EDID [EDIDBufSize]byte
}

var le = binary.LittleEndian

// Type codes.
func (GetDisplayInfo) Type() CtrlType        { return CmdGetDisplayInfo }
func (ResourceCreate2D) Type() CtrlType      { return CmdResourceCreate2D }
func (ResourceUnref) Type() CtrlType         { return CmdResourceUnref }
func (SetScanout) Type() CtrlType            { return CmdSetScanout }
func (ResourceFlush) Type() CtrlType         { return CmdResourceFlush }
func (TransferToHost2D) Type() CtrlType      { return CmdTransferToHost2D }
func (ResourceAttachBacking) Type() CtrlType { return CmdResourceAttachBacking }
func (ResourceDetachBacking) Type() CtrlType { return CmdResourceDetachBacking }
func (GetEDID) Type() CtrlType               { return CmdGetEDID }
func (UpdateCursor) Type() CtrlType          { return CmdUpdateCursor }
func (MoveCursor) Type() CtrlType            { return CmdMoveCursor }
func (RespDisplayInfo) Type() CtrlType       { return RespOKDisplayInfo }
func (RespEDID) Type() CtrlType              { return RespOKEDID }

// Encoders: Append appends the body after the header.

func (GetDisplayInfo) Append(b []byte) []byte { return b }

func (c ResourceCreate2D) Append(b []byte) []byte {
	b = le.AppendUint32(b, c.ResourceID)
	b = le.AppendUint32(b, uint32(c.Format))
	b = le.AppendUint32(b, c.Width)
	return le.AppendUint32(b, c.Height)
}

func (c ResourceUnref) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.ResourceID), 0)
}

func (c SetScanout) Append(b []byte) []byte {
	b = c.Rect.appendTo(b)
	b = le.AppendUint32(b, c.ScanoutID)
	return le.AppendUint32(b, c.ResourceID)
}

func (c ResourceFlush) Append(b []byte) []byte {
	b = c.Rect.appendTo(b)
	return le.AppendUint32(le.AppendUint32(b, c.ResourceID), 0)
}

func (c TransferToHost2D) Append(b []byte) []byte {
	b = c.Rect.appendTo(b)
	b = le.AppendUint64(b, c.Offset)
	return le.AppendUint32(le.AppendUint32(b, c.ResourceID), 0)
}

// Append writes the fixed part, then the entries.
func (c ResourceAttachBacking) Append(b []byte) []byte {
	b = le.AppendUint32(b, c.ResourceID)
	b = le.AppendUint32(b, c.NrEntries)
	for _, e := range c.Entries {
		b = e.Append(b)
	}
	return b
}

// Append appends the entry's 16 bytes.
func (e MemEntry) Append(b []byte) []byte {
	b = le.AppendUint64(b, e.Addr)
	return le.AppendUint32(le.AppendUint32(b, e.Length), 0)
}

func (c ResourceDetachBacking) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.ResourceID), 0)
}

func (c GetEDID) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.Scanout), 0)
}

func (p CursorPos) appendTo(b []byte) []byte {
	b = le.AppendUint32(b, p.ScanoutID)
	b = le.AppendUint32(b, p.X)
	b = le.AppendUint32(b, p.Y)
	return le.AppendUint32(b, 0)
}

func (c UpdateCursor) Append(b []byte) []byte {
	b = c.Pos.appendTo(b)
	b = le.AppendUint32(b, c.ResourceID)
	b = le.AppendUint32(b, c.HotX)
	b = le.AppendUint32(b, c.HotY)
	return le.AppendUint32(b, 0)
}

func (c MoveCursor) Append(b []byte) []byte {
	return UpdateCursor{Pos: c.Pos}.Append(b)
}

func (r RespDisplayInfo) Append(b []byte) []byte {
	for _, m := range r.PModes {
		b = m.Rect.appendTo(b)
		var enabled uint32
		if m.Enabled {
			enabled = 1
		}
		b = le.AppendUint32(b, enabled)
		b = le.AppendUint32(b, m.Flags)
	}
	return b
}

func (r RespEDID) Append(b []byte) []byte {
	b = le.AppendUint32(le.AppendUint32(b, r.Size), 0)
	return append(b, r.EDID[:]...)
}

// Decoders: each gets exactly bodySize(Type) bytes.

func (*GetDisplayInfo) decode([]byte) {}

func (c *ResourceCreate2D) decode(b []byte) {
	c.ResourceID, c.Format = le.Uint32(b[0:]), Format(le.Uint32(b[4:]))
	c.Width, c.Height = le.Uint32(b[8:]), le.Uint32(b[12:])
}

func (c *ResourceUnref) decode(b []byte) { c.ResourceID = le.Uint32(b) }

func (c *SetScanout) decode(b []byte) {
	c.Rect = decodeRect(b)
	c.ScanoutID, c.ResourceID = le.Uint32(b[16:]), le.Uint32(b[20:])
}

func (c *ResourceFlush) decode(b []byte) {
	c.Rect, c.ResourceID = decodeRect(b), le.Uint32(b[16:])
}

func (c *TransferToHost2D) decode(b []byte) {
	c.Rect, c.Offset, c.ResourceID = decodeRect(b), le.Uint64(b[16:]), le.Uint32(b[24:])
}

// decode reads the fixed part only; the entries are read separately.
func (c *ResourceAttachBacking) decode(b []byte) {
	c.ResourceID, c.NrEntries, c.Entries = le.Uint32(b[0:]), le.Uint32(b[4:]), nil
}

func (c *ResourceDetachBacking) decode(b []byte) { c.ResourceID = le.Uint32(b) }

func (c *GetEDID) decode(b []byte) { c.Scanout = le.Uint32(b) }

func decodeCursorPos(b []byte) CursorPos {
	return CursorPos{ScanoutID: le.Uint32(b[0:]), X: le.Uint32(b[4:]), Y: le.Uint32(b[8:])}
}

func (c *UpdateCursor) decode(b []byte) {
	c.Pos = decodeCursorPos(b)
	c.ResourceID, c.HotX, c.HotY = le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[24:])
}

func (c *MoveCursor) decode(b []byte) { c.Pos = decodeCursorPos(b) }

func (r *RespDisplayInfo) decode(b []byte) {
	for i := range r.PModes {
		m := b[i*SizeDisplayOne:]
		r.PModes[i] = DisplayOne{
			Rect:    decodeRect(m),
			Enabled: le.Uint32(m[displayOneEnabledOff:]) != 0,
			Flags:   le.Uint32(m[displayOneEnabledOff+4:]),
		}
	}
}

func (r *RespEDID) decode(b []byte) {
	r.Size = le.Uint32(b)
	copy(r.EDID[:], b[8:])
}

// DecodeMemEntries decodes n mem entries from b. n is bounded by
// MaxMemEntries and by len(b), so a guest-chosen count never makes it
// allocate more than the bytes it was given.
func DecodeMemEntries(b []byte, n uint32) ([]MemEntry, error) {
	return AppendMemEntries(nil, b, n)
}

// AppendMemEntries is DecodeMemEntries appending to dst (the device reuses
// one slice).
func AppendMemEntries(dst []MemEntry, b []byte, n uint32) ([]MemEntry, error) {
	if n > MaxMemEntries {
		return dst, fmt.Errorf("%w: %d (max %d)", ErrTooMany, n, MaxMemEntries)
	}
	if uint64(len(b)) < uint64(n)*SizeMemEntry {
		return dst, fmt.Errorf("%w: %d mem entries in %d bytes", ErrShort, n, len(b))
	}
	for i := range n {
		e := b[i*SizeMemEntry:]
		dst = append(dst, MemEntry{Addr: le.Uint64(e[0:]), Length: le.Uint32(e[8:])})
	}
	return dst, nil
}

// MaxMemEntries bounds nr_entries of RESOURCE_ATTACH_BACKING: 16384 entries
// of one 4 KiB page each describe a 64 MiB buffer, more than a 4096×4096
// framebuffer needs, and larger pieces need fewer entries.
const MaxMemEntries = 16384

// newBody returns an empty body for type t and its encoded size, or false
// for a type this package does not decode. RespOKNoData and the error
// responses have no body: nil, 0, true.
func newBody(t CtrlType) (decoder, int, bool) {
	switch t {
	case CmdGetDisplayInfo:
		return &GetDisplayInfo{}, 0, true
	case CmdResourceCreate2D:
		return &ResourceCreate2D{}, SizeResourceCreate2D - SizeCtrlHdr, true
	case CmdResourceUnref:
		return &ResourceUnref{}, SizeResourceUnref - SizeCtrlHdr, true
	case CmdSetScanout:
		return &SetScanout{}, SizeSetScanout - SizeCtrlHdr, true
	case CmdResourceFlush:
		return &ResourceFlush{}, SizeResourceFlush - SizeCtrlHdr, true
	case CmdTransferToHost2D:
		return &TransferToHost2D{}, SizeTransferToHost2D - SizeCtrlHdr, true
	case CmdResourceAttachBacking:
		return &ResourceAttachBacking{}, SizeResourceAttachBacking - SizeCtrlHdr, true
	case CmdResourceDetachBacking:
		return &ResourceDetachBacking{}, SizeResourceDetachBacking - SizeCtrlHdr, true
	case CmdGetEDID:
		return &GetEDID{}, SizeGetEDID - SizeCtrlHdr, true
	case CmdUpdateCursor:
		return &UpdateCursor{}, SizeUpdateCursor - SizeCtrlHdr, true
	case CmdMoveCursor:
		return &MoveCursor{}, SizeUpdateCursor - SizeCtrlHdr, true
	case RespOKDisplayInfo:
		return &RespDisplayInfo{}, SizeRespDisplayInfo - SizeCtrlHdr, true
	case RespOKEDID:
		return &RespEDID{}, SizeRespEDID - SizeCtrlHdr, true
	case RespOKNoData, RespErrUnspec, RespErrOutOfMemory, RespErrInvalidScanoutID,
		RespErrInvalidResourceID, RespErrInvalidContextID, RespErrInvalidParameter:
		return nil, 0, true
	}
	return nil, 0, false
}

// Decode decodes one whole message: the header and the body its type calls
// for (for RESOURCE_ATTACH_BACKING, the mem entries too). The body is a
// pointer to one of this file's types, or nil for a response without data.
// Bytes after the message are ignored, as the device ignores them.
func Decode(b []byte) (CtrlHeader, Body, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return h, nil, err
	}
	body, n, ok := newBody(h.Type)
	if !ok {
		return h, nil, fmt.Errorf("%w: %#x", ErrUnknownType, uint32(h.Type))
	}
	if body == nil {
		return h, nil, nil
	}
	rest := b[SizeCtrlHdr:]
	if len(rest) < n {
		return h, nil, fmt.Errorf("%w: %#x body of %d bytes, need %d", ErrShort, uint32(h.Type), len(rest), n)
	}
	body.decode(rest[:n])
	if ab, ok := body.(*ResourceAttachBacking); ok {
		ab.Entries, err = DecodeMemEntries(rest[n:], ab.NrEntries)
		if err != nil {
			return h, nil, err
		}
	}
	return h, body, nil
}

// Append appends a whole message: h with its Type taken from body (when
// body is not nil), then the body.
func Append(b []byte, h CtrlHeader, body Body) []byte {
	if body != nil {
		h.Type = body.Type()
	}
	b = h.Append(b)
	if body != nil {
		b = body.Append(b)
	}
	return b
}

// Encode is Append to a new slice.
func Encode(h CtrlHeader, body Body) []byte { return Append(nil, h, body) }
