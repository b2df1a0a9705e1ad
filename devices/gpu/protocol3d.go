package gpu

import "fmt"

// This file is the wire format of the 3D (virgl) commands of virtio-gpu
// (virtio 1.2 section 5.7.6.8, include/uapi/linux/virtio_gpu.h), in the
// same style as protocol.go. Decode knows only the 2D messages; Decode3D
// knows both.

// Struct sizes of the 3D messages, header included.
const (
	SizeGetCapsetInfo     = 32
	SizeRespCapsetInfo    = 40
	SizeGetCapset         = 32
	SizeRespCapsetHdr     = SizeCtrlHdr // followed by the capset's bytes
	SizeCtxCreate         = 96
	SizeCtxDestroy        = SizeCtrlHdr
	SizeCtxResource       = 32 // CTX_ATTACH_RESOURCE and CTX_DETACH_RESOURCE
	SizeResourceCreate3D  = 72
	SizeBox               = 24
	SizeTransferHost3D    = 72 // TRANSFER_TO_HOST_3D and TRANSFER_FROM_HOST_3D
	SizeSubmit3D          = 32 // followed by Size bytes of commands
	CtxDebugNameSize      = 64 // bytes of debug_name in CTX_CREATE
	ContextInitCapsetMask = 0xff
)

// Box is struct virtio_gpu_box: a 3D region of one mip level.
type Box struct {
	X, Y, Z uint32
	W, H, D uint32
}

// Empty reports whether b covers no texel.
func (b Box) Empty() bool { return b.W == 0 || b.H == 0 || b.D == 0 }

func decodeBox(b []byte) Box {
	return Box{X: le.Uint32(b[0:]), Y: le.Uint32(b[4:]), Z: le.Uint32(b[8:]),
		W: le.Uint32(b[12:]), H: le.Uint32(b[16:]), D: le.Uint32(b[20:])}
}

func (b Box) appendTo(p []byte) []byte {
	for _, v := range [...]uint32{b.X, b.Y, b.Z, b.W, b.H, b.D} {
		p = le.AppendUint32(p, v)
	}
	return p
}

// GetCapsetInfo is struct virtio_gpu_get_capset_info.
type GetCapsetInfo struct{ CapsetIndex uint32 }

// RespCapsetInfo is struct virtio_gpu_resp_capset_info (after the header).
type RespCapsetInfo struct {
	CapsetID, MaxVersion, MaxSize uint32
}

// GetCapset is struct virtio_gpu_get_capset.
type GetCapset struct{ CapsetID, Version uint32 }

// RespCapset is struct virtio_gpu_resp_capset: the capset's bytes.
type RespCapset struct{ Data []byte }

// CtxCreate is struct virtio_gpu_ctx_create; the context id is the
// header's CtxID. ContextInit's low byte is a capset id
// (VIRTIO_GPU_F_CONTEXT_INIT), 0 for the default (virgl).
type CtxCreate struct {
	NLen        uint32
	ContextInit uint32
	DebugName   [CtxDebugNameSize]byte
}

// CtxDestroy is VIRTIO_GPU_CMD_CTX_DESTROY (header only).
type CtxDestroy struct{}

// CtxAttachResource and CtxDetachResource are struct
// virtio_gpu_ctx_resource.
type (
	CtxAttachResource struct{ ResourceID uint32 }
	CtxDetachResource struct{ ResourceID uint32 }
)

// ResourceCreate3D is struct virtio_gpu_resource_create_3d. Target is a
// Gallium pipe_texture_target, Format a virgl (Gallium) format, Bind
// VIRGL_BIND_* bits.
type ResourceCreate3D struct {
	ResourceID           uint32
	Target               uint32
	Format               Format
	Bind                 uint32
	Width, Height, Depth uint32
	ArraySize, LastLevel uint32
	NrSamples, Flags     uint32
}

// TransferHost3D is struct virtio_gpu_transfer_host_3d, the body of both
// TRANSFER_TO_HOST_3D and TRANSFER_FROM_HOST_3D: Box of mip Level, whose
// first byte is at Offset of the resource's backing, rows Stride bytes
// apart and layers LayerStride apart (0: the resource's own).
type TransferHost3D struct {
	Box         Box
	Offset      uint64
	ResourceID  uint32
	Level       uint32
	Stride      uint32
	LayerStride uint32
}

// TransferToHost3D and TransferFromHost3D give TransferHost3D its two
// command codes.
type (
	TransferToHost3D   struct{ TransferHost3D }
	TransferFromHost3D struct{ TransferHost3D }
)

// Submit3D is struct virtio_gpu_cmd_submit and the Size bytes of virgl
// commands that follow it. Append writes Size as given, then Data.
type Submit3D struct {
	Size uint32
	Data []byte
}

func (GetCapsetInfo) Type() CtrlType      { return CmdGetCapsetInfo }
func (RespCapsetInfo) Type() CtrlType     { return RespOKCapsetInfo }
func (GetCapset) Type() CtrlType          { return CmdGetCapset }
func (RespCapset) Type() CtrlType         { return RespOKCapset }
func (CtxCreate) Type() CtrlType          { return CmdCtxCreate }
func (CtxDestroy) Type() CtrlType         { return CmdCtxDestroy }
func (CtxAttachResource) Type() CtrlType  { return CmdCtxAttachResource }
func (CtxDetachResource) Type() CtrlType  { return CmdCtxDetachResource }
func (ResourceCreate3D) Type() CtrlType   { return CmdResourceCreate3D }
func (TransferToHost3D) Type() CtrlType   { return CmdTransferToHost3D }
func (TransferFromHost3D) Type() CtrlType { return CmdTransferFromHost3D }
func (Submit3D) Type() CtrlType           { return CmdSubmit3D }

func (c GetCapsetInfo) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.CapsetIndex), 0)
}

func (r RespCapsetInfo) Append(b []byte) []byte {
	b = le.AppendUint32(b, r.CapsetID)
	b = le.AppendUint32(b, r.MaxVersion)
	b = le.AppendUint32(b, r.MaxSize)
	return le.AppendUint32(b, 0)
}

func (c GetCapset) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.CapsetID), c.Version)
}

func (r RespCapset) Append(b []byte) []byte { return append(b, r.Data...) }

func (c CtxCreate) Append(b []byte) []byte {
	b = le.AppendUint32(b, c.NLen)
	b = le.AppendUint32(b, c.ContextInit)
	return append(b, c.DebugName[:]...)
}

func (CtxDestroy) Append(b []byte) []byte { return b }

func (c CtxAttachResource) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.ResourceID), 0)
}

func (c CtxDetachResource) Append(b []byte) []byte {
	return le.AppendUint32(le.AppendUint32(b, c.ResourceID), 0)
}

func (c ResourceCreate3D) Append(b []byte) []byte {
	for _, v := range [...]uint32{c.ResourceID, c.Target, uint32(c.Format), c.Bind, c.Width, c.Height,
		c.Depth, c.ArraySize, c.LastLevel, c.NrSamples, c.Flags, 0} {
		b = le.AppendUint32(b, v)
	}
	return b
}

func (t TransferHost3D) Append(b []byte) []byte {
	b = t.Box.appendTo(b)
	b = le.AppendUint64(b, t.Offset)
	for _, v := range [...]uint32{t.ResourceID, t.Level, t.Stride, t.LayerStride} {
		b = le.AppendUint32(b, v)
	}
	return b
}

func (c Submit3D) Append(b []byte) []byte {
	b = le.AppendUint32(le.AppendUint32(b, c.Size), 0)
	return append(b, c.Data...)
}

func (c *GetCapsetInfo) decode(b []byte) { c.CapsetIndex = le.Uint32(b) }

func (r *RespCapsetInfo) decode(b []byte) {
	r.CapsetID, r.MaxVersion, r.MaxSize = le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[8:])
}

func (c *GetCapset) decode(b []byte) { c.CapsetID, c.Version = le.Uint32(b[0:]), le.Uint32(b[4:]) }

func (r *RespCapset) decode([]byte) {}

func (c *CtxCreate) decode(b []byte) {
	c.NLen, c.ContextInit = le.Uint32(b[0:]), le.Uint32(b[4:])
	copy(c.DebugName[:], b[8:])
}

func (*CtxDestroy) decode([]byte) {}

func (c *CtxAttachResource) decode(b []byte) { c.ResourceID = le.Uint32(b) }
func (c *CtxDetachResource) decode(b []byte) { c.ResourceID = le.Uint32(b) }

func (c *ResourceCreate3D) decode(b []byte) {
	v := func(i int) uint32 { return le.Uint32(b[4*i:]) }
	*c = ResourceCreate3D{ResourceID: v(0), Target: v(1), Format: Format(v(2)), Bind: v(3),
		Width: v(4), Height: v(5), Depth: v(6), ArraySize: v(7), LastLevel: v(8), NrSamples: v(9), Flags: v(10)}
}

func (t *TransferHost3D) decode(b []byte) {
	t.Box, t.Offset = decodeBox(b), le.Uint64(b[SizeBox:])
	r := b[SizeBox+8:]
	t.ResourceID, t.Level, t.Stride, t.LayerStride = le.Uint32(r[0:]), le.Uint32(r[4:]), le.Uint32(r[8:]), le.Uint32(r[12:])
}

// decode reads the fixed part only; the commands are read separately.
func (c *Submit3D) decode(b []byte) { c.Size, c.Data = le.Uint32(b), nil }

// body3DSize is the fixed body size (after the header) of each 3D
// control command.
func body3DSize(t CtrlType) (int, bool) {
	switch t {
	case CmdGetCapsetInfo:
		return SizeGetCapsetInfo - SizeCtrlHdr, true
	case CmdGetCapset:
		return SizeGetCapset - SizeCtrlHdr, true
	case CmdCtxCreate:
		return SizeCtxCreate - SizeCtrlHdr, true
	case CmdCtxDestroy:
		return 0, true
	case CmdCtxAttachResource, CmdCtxDetachResource:
		return SizeCtxResource - SizeCtrlHdr, true
	case CmdResourceCreate3D:
		return SizeResourceCreate3D - SizeCtrlHdr, true
	case CmdTransferToHost3D, CmdTransferFromHost3D:
		return SizeTransferHost3D - SizeCtrlHdr, true
	case CmdSubmit3D:
		return SizeSubmit3D - SizeCtrlHdr, true
	}
	return 0, false
}

// newBody3D is newBody for the 3D messages.
func newBody3D(t CtrlType) (decoder, int, bool) {
	n, ok := body3DSize(t)
	switch t {
	case CmdGetCapsetInfo:
		return &GetCapsetInfo{}, n, ok
	case CmdGetCapset:
		return &GetCapset{}, n, ok
	case CmdCtxCreate:
		return &CtxCreate{}, n, ok
	case CmdCtxDestroy:
		return &CtxDestroy{}, n, ok
	case CmdCtxAttachResource:
		return &CtxAttachResource{}, n, ok
	case CmdCtxDetachResource:
		return &CtxDetachResource{}, n, ok
	case CmdResourceCreate3D:
		return &ResourceCreate3D{}, n, ok
	case CmdTransferToHost3D:
		return &TransferToHost3D{}, n, ok
	case CmdTransferFromHost3D:
		return &TransferFromHost3D{}, n, ok
	case CmdSubmit3D:
		return &Submit3D{}, n, ok
	case RespOKCapsetInfo:
		return &RespCapsetInfo{}, SizeRespCapsetInfo - SizeCtrlHdr, true
	case RespOKCapset:
		return &RespCapset{}, 0, true
	}
	return nil, 0, false
}

// Decode3D is Decode for the 3D messages as well as the 2D ones. A
// SUBMIT_3D gets its Size bytes of commands (ErrShort if the message is
// shorter), a capset response all the bytes after its header.
func Decode3D(b []byte) (CtrlHeader, Body, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return h, nil, err
	}
	body, n, ok := newBody3D(h.Type)
	if !ok {
		return Decode(b)
	}
	rest := b[SizeCtrlHdr:]
	if len(rest) < n {
		return h, nil, fmt.Errorf("%w: %#x body of %d bytes, need %d", ErrShort, uint32(h.Type), len(rest), n)
	}
	body.decode(rest[:n])
	switch v := body.(type) {
	case *Submit3D:
		if uint64(len(rest)-n) < uint64(v.Size) {
			return h, nil, fmt.Errorf("%w: submit of %d bytes in %d", ErrShort, v.Size, len(rest)-n)
		}
		v.Data = append([]byte(nil), rest[n:n+int(v.Size)]...)
	case *RespCapset:
		v.Data = append([]byte(nil), rest...)
	}
	return h, body, nil
}
