package gpu

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// The values of include/uapi/linux/virtio_gpu.h, written out by hand from
// the header (enum virtio_gpu_ctrl_type counts up from each base).
func TestTypeCodesMatchHeader(t *testing.T) {
	codes := []struct {
		name string
		got  CtrlType
		want uint32
	}{
		{"VIRTIO_GPU_CMD_GET_DISPLAY_INFO", CmdGetDisplayInfo, 0x0100},
		{"VIRTIO_GPU_CMD_RESOURCE_CREATE_2D", CmdResourceCreate2D, 0x0101},
		{"VIRTIO_GPU_CMD_RESOURCE_UNREF", CmdResourceUnref, 0x0102},
		{"VIRTIO_GPU_CMD_SET_SCANOUT", CmdSetScanout, 0x0103},
		{"VIRTIO_GPU_CMD_RESOURCE_FLUSH", CmdResourceFlush, 0x0104},
		{"VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D", CmdTransferToHost2D, 0x0105},
		{"VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING", CmdResourceAttachBacking, 0x0106},
		{"VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING", CmdResourceDetachBacking, 0x0107},
		{"VIRTIO_GPU_CMD_GET_CAPSET_INFO", CmdGetCapsetInfo, 0x0108},
		{"VIRTIO_GPU_CMD_GET_CAPSET", CmdGetCapset, 0x0109},
		{"VIRTIO_GPU_CMD_GET_EDID", CmdGetEDID, 0x010a},
		{"VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID", CmdResourceAssignUUID, 0x010b},
		{"VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB", CmdResourceCreateBlob, 0x010c},
		{"VIRTIO_GPU_CMD_SET_SCANOUT_BLOB", CmdSetScanoutBlob, 0x010d},
		{"VIRTIO_GPU_CMD_CTX_CREATE", CmdCtxCreate, 0x0200},
		{"VIRTIO_GPU_CMD_CTX_DESTROY", CmdCtxDestroy, 0x0201},
		{"VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE", CmdCtxAttachResource, 0x0202},
		{"VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE", CmdCtxDetachResource, 0x0203},
		{"VIRTIO_GPU_CMD_RESOURCE_CREATE_3D", CmdResourceCreate3D, 0x0204},
		{"VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D", CmdTransferToHost3D, 0x0205},
		{"VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D", CmdTransferFromHost3D, 0x0206},
		{"VIRTIO_GPU_CMD_SUBMIT_3D", CmdSubmit3D, 0x0207},
		{"VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB", CmdResourceMapBlob, 0x0208},
		{"VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB", CmdResourceUnmapBlob, 0x0209},
		{"VIRTIO_GPU_CMD_UPDATE_CURSOR", CmdUpdateCursor, 0x0300},
		{"VIRTIO_GPU_CMD_MOVE_CURSOR", CmdMoveCursor, 0x0301},
		{"VIRTIO_GPU_RESP_OK_NODATA", RespOKNoData, 0x1100},
		{"VIRTIO_GPU_RESP_OK_DISPLAY_INFO", RespOKDisplayInfo, 0x1101},
		{"VIRTIO_GPU_RESP_OK_CAPSET_INFO", RespOKCapsetInfo, 0x1102},
		{"VIRTIO_GPU_RESP_OK_CAPSET", RespOKCapset, 0x1103},
		{"VIRTIO_GPU_RESP_OK_EDID", RespOKEDID, 0x1104},
		{"VIRTIO_GPU_RESP_OK_RESOURCE_UUID", RespOKResourceUUID, 0x1105},
		{"VIRTIO_GPU_RESP_OK_MAP_INFO", RespOKMapInfo, 0x1106},
		{"VIRTIO_GPU_RESP_ERR_UNSPEC", RespErrUnspec, 0x1200},
		{"VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY", RespErrOutOfMemory, 0x1201},
		{"VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID", RespErrInvalidScanoutID, 0x1202},
		{"VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID", RespErrInvalidResourceID, 0x1203},
		{"VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID", RespErrInvalidContextID, 0x1204},
		{"VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER", RespErrInvalidParameter, 0x1205},
	}
	for _, c := range codes {
		if uint32(c.got) != c.want {
			t.Errorf("%s = %#x, header says %#x", c.name, uint32(c.got), c.want)
		}
	}
	others := []struct {
		name      string
		got, want uint64
	}{
		{"VIRTIO_GPU_F_VIRGL", FeatureVirgl, 1 << 0},
		{"VIRTIO_GPU_F_EDID", FeatureEDID, 1 << 1},
		{"VIRTIO_GPU_F_RESOURCE_UUID", FeatureResourceUUID, 1 << 2},
		{"VIRTIO_GPU_F_RESOURCE_BLOB", FeatureResourceBlob, 1 << 3},
		{"VIRTIO_GPU_F_CONTEXT_INIT", FeatureContextInit, 1 << 4},
		{"VIRTIO_GPU_FLAG_FENCE", FlagFence, 1 << 0},
		{"VIRTIO_GPU_FLAG_INFO_RING_IDX", FlagInfoRingIdx, 1 << 1},
		{"VIRTIO_GPU_EVENT_DISPLAY", EventDisplay, 1 << 0},
		{"VIRTIO_GPU_MAX_SCANOUTS", MaxScanouts, 16},
		{"VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM", uint64(FormatB8G8R8A8), 1},
		{"VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM", uint64(FormatB8G8R8X8), 2},
		{"VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM", uint64(FormatA8R8G8B8), 3},
		{"VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM", uint64(FormatX8R8G8B8), 4},
		{"VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM", uint64(FormatR8G8B8A8), 67},
		{"VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM", uint64(FormatX8B8G8R8), 68},
		{"VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM", uint64(FormatA8B8G8R8), 121},
		{"VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM", uint64(FormatR8G8B8X8), 134},
	}
	for _, c := range others {
		if c.got != c.want {
			t.Errorf("%s = %#x, header says %#x", c.name, c.got, c.want)
		}
	}
}

// sizeof of each struct in virtio_gpu.h, added up by hand from its fields.
func TestStructSizesMatchHeader(t *testing.T) {
	sizes := []struct {
		name      string
		got, want int
	}{
		{"virtio_gpu_ctrl_hdr (le32 type, flags; le64 fence_id; le32 ctx_id; u8 ring_idx, padding[3])", SizeCtrlHdr, 24},
		{"virtio_gpu_rect", SizeRect, 16},
		{"virtio_gpu_cursor_pos", SizeCursorPos, 16},
		{"virtio_gpu_update_cursor (hdr, pos, 4 x le32)", SizeUpdateCursor, 24 + 16 + 16},
		{"virtio_gpu_resource_unref", SizeResourceUnref, 24 + 8},
		{"virtio_gpu_resource_create_2d", SizeResourceCreate2D, 24 + 16},
		{"virtio_gpu_set_scanout", SizeSetScanout, 24 + 16 + 8},
		{"virtio_gpu_resource_flush", SizeResourceFlush, 24 + 16 + 8},
		{"virtio_gpu_transfer_to_host_2d (hdr, rect, le64 offset, 2 x le32)", SizeTransferToHost2D, 24 + 16 + 8 + 8},
		{"virtio_gpu_mem_entry", SizeMemEntry, 16},
		{"virtio_gpu_resource_attach_backing", SizeResourceAttachBacking, 24 + 8},
		{"virtio_gpu_resource_detach_backing", SizeResourceDetachBacking, 24 + 8},
		{"virtio_gpu_display_one", SizeDisplayOne, 16 + 8},
		{"virtio_gpu_resp_display_info", SizeRespDisplayInfo, 24 + 16*24},
		{"virtio_gpu_cmd_get_edid", SizeGetEDID, 24 + 8},
		{"virtio_gpu_resp_edid", SizeRespEDID, 24 + 8 + 1024},
		{"virtio_gpu_config", SizeConfig, 16},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("sizeof(%s) = %d, want %d", s.name, s.got, s.want)
		}
	}
	// And the encoders produce exactly those sizes.
	enc := []struct {
		body Body
		want int
	}{
		{GetDisplayInfo{}, SizeCtrlHdr},
		{ResourceCreate2D{}, SizeResourceCreate2D},
		{ResourceUnref{}, SizeResourceUnref},
		{SetScanout{}, SizeSetScanout},
		{ResourceFlush{}, SizeResourceFlush},
		{TransferToHost2D{}, SizeTransferToHost2D},
		{ResourceAttachBacking{}, SizeResourceAttachBacking},
		{ResourceAttachBacking{NrEntries: 2, Entries: make([]MemEntry, 2)}, SizeResourceAttachBacking + 2*SizeMemEntry},
		{ResourceDetachBacking{}, SizeResourceDetachBacking},
		{GetEDID{}, SizeGetEDID},
		{UpdateCursor{}, SizeUpdateCursor},
		{MoveCursor{}, SizeUpdateCursor},
		{RespDisplayInfo{}, SizeRespDisplayInfo},
		{RespEDID{}, SizeRespEDID},
	}
	for _, e := range enc {
		if got := len(Encode(CtrlHeader{}, e.body)); got != e.want {
			t.Errorf("%T encodes to %d bytes, want %d", e.body, got, e.want)
		}
	}
}

// The field offsets, checked on a hand-written message.
func TestEncodeLayout(t *testing.T) {
	h := CtrlHeader{Flags: FlagFence | FlagInfoRingIdx, FenceID: 0x0102030405060708, CtxID: 0x0a0b0c0d, RingIdx: 0x0e}
	got := Encode(h, TransferToHost2D{Rect: Rect{1, 2, 3, 4}, Offset: 0x1122334455667788, ResourceID: 9})
	want := []byte{
		0x05, 0x01, 0, 0, // type
		3, 0, 0, 0, // flags
		8, 7, 6, 5, 4, 3, 2, 1, // fence_id
		0x0d, 0x0c, 0x0b, 0x0a, // ctx_id
		0x0e, 0, 0, 0, // ring_idx, padding
		1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, // rect
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // offset
		9, 0, 0, 0, 0, 0, 0, 0, // resource_id, padding
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%x\nwant\n%x", got, want)
	}
	cur := Encode(CtrlHeader{}, UpdateCursor{Pos: CursorPos{ScanoutID: 1, X: 2, Y: 3}, ResourceID: 4, HotX: 5, HotY: 6})
	for off, v := range map[int]byte{24: 1, 28: 2, 32: 3, 40: 4, 44: 5, 48: 6} {
		if cur[off] != v {
			t.Errorf("update_cursor byte %d = %d, want %d", off, cur[off], v)
		}
	}
}

// seedMessages is one valid message of every type Decode knows.
func seedMessages() [][]byte {
	fence := CtrlHeader{Flags: FlagFence, FenceID: 7}
	var edid RespEDID
	edid.Size = EDIDBlockSize
	var info RespDisplayInfo
	info.PModes[0] = DisplayOne{Rect: Rect{Width: 1280, Height: 800}, Enabled: true}
	return [][]byte{
		Encode(CtrlHeader{}, GetDisplayInfo{}),
		Encode(fence, ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8X8, Width: 1280, Height: 800}),
		Encode(CtrlHeader{}, ResourceUnref{ResourceID: 1}),
		Encode(CtrlHeader{}, SetScanout{Rect: Rect{0, 0, 1280, 800}, ScanoutID: 0, ResourceID: 1}),
		Encode(CtrlHeader{}, ResourceFlush{Rect: Rect{0, 0, 1280, 800}, ResourceID: 1}),
		Encode(fence, TransferToHost2D{Rect: Rect{0, 0, 1280, 800}, ResourceID: 1}),
		Encode(fence, ResourceAttachBacking{ResourceID: 1, NrEntries: 2, Entries: []MemEntry{{0x100000, 4096}, {0x200000, 8192}}}),
		Encode(CtrlHeader{}, ResourceDetachBacking{ResourceID: 1}),
		Encode(CtrlHeader{}, GetEDID{Scanout: 0}),
		Encode(CtrlHeader{}, UpdateCursor{Pos: CursorPos{X: 10, Y: 20}, ResourceID: 2, HotX: 1, HotY: 1}),
		Encode(CtrlHeader{}, MoveCursor{Pos: CursorPos{X: 11, Y: 21}}),
		Encode(fence, info),
		Encode(CtrlHeader{}, edid),
		Encode(CtrlHeader{Type: RespOKNoData}, nil),
		Encode(fence.Response(RespErrInvalidParameter), nil),
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, m := range seedMessages() {
		h, body, err := Decode(m)
		if err != nil {
			t.Fatalf("Decode(%x): %v", m[:4], err)
		}
		again := Encode(h, body)
		if !bytes.Equal(again, m) {
			t.Errorf("type %#x: re-encoded\n%x\nwant\n%x", uint32(h.Type), again, m)
		}
		// Every prefix shorter than the message is rejected.
		for n := range len(m) {
			if _, _, err := Decode(m[:n]); !errors.Is(err, ErrShort) {
				t.Fatalf("type %#x cut to %d bytes: %v", uint32(h.Type), n, err)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, _, err := Decode(Encode(CtrlHeader{Type: CmdSubmit3D}, nil)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("3D command: %v", err)
	}
	lying := Encode(CtrlHeader{}, ResourceAttachBacking{ResourceID: 1, NrEntries: 3, Entries: []MemEntry{{1, 2}}})
	if _, _, err := Decode(lying); !errors.Is(err, ErrShort) {
		t.Errorf("nr_entries beyond the message: %v", err)
	}
	huge := Encode(CtrlHeader{}, ResourceAttachBacking{ResourceID: 1, NrEntries: 0xffffffff})
	if _, _, err := Decode(huge); !errors.Is(err, ErrTooMany) {
		t.Errorf("nr_entries 2^32-1: %v", err)
	}
}

func TestResponseEchoesFence(t *testing.T) {
	tests := []struct {
		req, want CtrlHeader
	}{
		{CtrlHeader{FenceID: 5, CtxID: 3}, CtrlHeader{Type: RespOKNoData}},
		{CtrlHeader{Flags: FlagFence, FenceID: 5, CtxID: 3, RingIdx: 2}, CtrlHeader{Type: RespOKNoData, Flags: FlagFence, FenceID: 5, CtxID: 3}},
		{CtrlHeader{Flags: FlagFence | FlagInfoRingIdx, FenceID: 6, RingIdx: 2}, CtrlHeader{Type: RespOKNoData, Flags: FlagFence | FlagInfoRingIdx, FenceID: 6, RingIdx: 2}},
	}
	for _, tt := range tests {
		if got := tt.req.Response(RespOKNoData); got != tt.want {
			t.Errorf("Response of %+v = %+v, want %+v", tt.req, got, tt.want)
		}
	}
}

func TestRect(t *testing.T) {
	if !(Rect{0, 0, 4, 4}).Within(4, 4) || (Rect{1, 0, 4, 4}).Within(4, 4) {
		t.Error("Within at the edge")
	}
	if (Rect{0xffffffff, 0, 2, 1}).Within(4, 4) || (Rect{0, 0xffffffff, 1, 2}).Within(4, 4) {
		t.Error("Within overflowed")
	}
	if !(Rect{0, 0, 2, 2}).Intersects(Rect{1, 1, 2, 2}) || (Rect{0, 0, 2, 2}).Intersects(Rect{2, 0, 2, 2}) {
		t.Error("Intersects")
	}
	if (Rect{0, 0, 0, 2}).Intersects(Rect{0, 0, 2, 2}) {
		t.Error("an empty rect intersects")
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to a message that decodes the same.
		h2, body2, err := Decode(Encode(h, body))
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if h2 != h || !reflect.DeepEqual(body, body2) {
			t.Fatalf("round trip changed %+v %+v into %+v %+v", h, body, h2, body2)
		}
	})
}
