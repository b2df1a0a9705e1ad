package gpu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// Linux's sequence from probe to the first frame (virtgpu_kms.c,
// virtgpu_vq.c, virtgpu_plane.c): read the config, GET_EDID and
// GET_DISPLAY_INFO; then for the fbdev/KMS framebuffer RESOURCE_CREATE_2D,
// ATTACH_BACKING (entries in a second buffer), TRANSFER_TO_HOST_2D,
// SET_SCANOUT, RESOURCE_FLUSH. The sink must end up with the guest's
// pixels; then a damaged rectangle goes through the same way.
func TestLinuxInitSequence(t *testing.T) {
	const w, h = 320, 200
	r := newRig(t, Options{Width: w, Height: h}, 1<<20)

	var cfg [SizeConfig]byte
	r.d.ReadConfig(0, cfg[:])
	if n := binary.LittleEndian.Uint32(cfg[cfgNumScanouts:]); n != 1 {
		t.Fatalf("num_scanouts %d", n)
	}
	if n := binary.LittleEndian.Uint32(cfg[cfgNumCapsets:]); n != 0 {
		t.Fatalf("num_capsets %d", n)
	}
	if r.d.Features()&FeatureEDID == 0 {
		t.Fatal("EDID not offered")
	}

	hdr, body := r.cmd(CtrlHeader{}, GetEDID{Scanout: 0})
	edid, ok := body.(*RespEDID)
	if hdr.Type != RespOKEDID || !ok || edid.Size != EDIDBlockSize {
		t.Fatalf("GET_EDID: %#x %+v", uint32(hdr.Type), body)
	}
	want, _ := EDID(w, h)
	if !bytes.Equal(edid.EDID[:EDIDBlockSize], want[:]) || !bytes.Equal(edid.EDID[EDIDBlockSize:], make([]byte, EDIDBufSize-EDIDBlockSize)) {
		t.Fatal("GET_EDID: wrong block")
	}

	hdr, body = r.cmd(CtrlHeader{}, GetDisplayInfo{})
	info, ok := body.(*RespDisplayInfo)
	if hdr.Type != RespOKDisplayInfo || !ok {
		t.Fatalf("GET_DISPLAY_INFO: %#x", uint32(hdr.Type))
	}
	if m := info.PModes[0]; m != (DisplayOne{Rect: Rect{Width: w, Height: h}, Enabled: true}) {
		t.Fatalf("pmodes[0] = %+v", m)
	}
	for i := 1; i < MaxScanouts; i++ {
		if info.PModes[i] != (DisplayOne{}) {
			t.Fatalf("pmodes[%d] = %+v", i, info.PModes[i])
		}
	}

	fb := r.newFramebuffer(w, h)
	fb.fill(0, 0, w, h, 1)
	fenced := CtrlHeader{Flags: FlagFence, FenceID: 1}
	if hdr, _ := r.cmd(fenced, ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8X8, Width: w, Height: h}); hdr.Type != RespOKNoData || hdr.FenceID != 1 {
		t.Fatalf("create: %+v", hdr)
	}
	fenced.FenceID = 2
	if hdr, _ := r.cmd(fenced, ResourceAttachBacking{ResourceID: 1, NrEntries: uint32(len(fb.entries)), Entries: fb.entries}); hdr.Type != RespOKNoData {
		t.Fatalf("attach: %+v", hdr)
	}
	full := Rect{Width: w, Height: h}
	r.expect(TransferToHost2D{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(SetScanout{Rect: full, ScanoutID: 0, ResourceID: 1}, RespOKNoData)
	if _, ok := r.sink.last(); ok {
		t.Fatal("presented before the flush")
	}
	r.expect(ResourceFlush{Rect: full, ResourceID: 1}, RespOKNoData)
	p, ok := r.sink.last()
	if !ok || p.scanout != 0 || p.frame.Width != w || p.frame.Height != h || p.frame.Format != FormatB8G8R8X8 {
		t.Fatalf("presented %v", p)
	}
	if !bytes.Equal(p.frame.Pix, fb.pixels()) {
		t.Fatal("presented pixels differ from the guest's")
	}

	// A damaged rectangle: Linux transfers it with offset y*stride+x*4,
	// then flushes it.
	dmg := Rect{X: 17, Y: 33, Width: 101, Height: 57}
	fb.fill(dmg.X, dmg.Y, dmg.Width, dmg.Height, 99)
	off := uint64(dmg.Y)*w*BytesPerPixel + uint64(dmg.X)*BytesPerPixel
	r.expect(TransferToHost2D{Rect: dmg, Offset: off, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceFlush{Rect: dmg, ResourceID: 1}, RespOKNoData)
	p, _ = r.sink.last()
	if !bytes.Equal(p.frame.Pix, fb.pixels()) {
		t.Fatal("after a partial update, presented pixels differ from the guest's")
	}
	shot, ok := r.d.Screenshot(0)
	if !ok || !bytes.Equal(shot.Pix, fb.pixels()) || shot.Stride != w*BytesPerPixel {
		t.Fatal("Screenshot differs from the guest's pixels")
	}
	if _, ok := r.d.Screenshot(1); ok {
		t.Fatal("Screenshot of a scanout that does not exist")
	}
	if r.d.SinkErr() != nil {
		t.Fatal(r.d.SinkErr())
	}
}

// A scanout showing a part of a larger resource gets that part only, and
// only flushes that touch it present it.
func TestScanoutSubRect(t *testing.T) {
	r := newRig(t, Options{Width: 64, Height: 48, Scanouts: 2}, 1<<20)
	fb := r.newFramebuffer(200, 100)
	fb.fill(0, 0, 200, 100, 3)
	r.setup(1, fb)
	r.expect(TransferToHost2D{Rect: Rect{Width: 200, Height: 100}, ResourceID: 1}, RespOKNoData)
	left, right := Rect{0, 0, 100, 100}, Rect{100, 20, 64, 48}
	r.expect(SetScanout{Rect: left, ScanoutID: 0, ResourceID: 1}, RespOKNoData)
	r.expect(SetScanout{Rect: right, ScanoutID: 1, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceFlush{Rect: Rect{150, 30, 10, 10}, ResourceID: 1}, RespOKNoData)
	if len(r.sink.presents) != 1 || r.sink.presents[0].scanout != 1 {
		t.Fatalf("presents %v", r.sink.presents)
	}
	if got := r.sink.presents[0].frame; got.Width != 64 || got.Height != 48 || !bytes.Equal(got.Pix, fb.sub(right)) {
		t.Fatalf("scanout 1 shows the wrong pixels (%dx%d)", got.Width, got.Height)
	}
	r.expect(ResourceFlush{Rect: Rect{Width: 200, Height: 100}, ResourceID: 1}, RespOKNoData)
	if len(r.sink.presents) != 3 {
		t.Fatalf("presents %v", r.sink.presents)
	}
	if got := r.sink.presents[1].frame; !bytes.Equal(got.Pix, fb.sub(left)) {
		t.Fatal("scanout 0 shows the wrong pixels")
	}
	// Display info: both scanouts enabled.
	_, body := r.cmd(CtrlHeader{}, GetDisplayInfo{})
	if info := body.(*RespDisplayInfo); !info.PModes[1].Enabled || info.PModes[2].Enabled {
		t.Fatalf("pmodes %+v", info.PModes[:3])
	}
}

// Every hostile value gets its error, and the device keeps working.
func TestHostileCommands(t *testing.T) {
	r := newRig(t, Options{Width: 64, Height: 48}, 1<<20)
	fb := r.newFramebuffer(64, 48)
	r.setup(1, fb)
	r.expect(ResourceCreate2D{ResourceID: 2, Format: FormatR8G8B8A8, Width: 16, Height: 16}, RespOKNoData) // no backing
	huge := uint32(0xffffffff)
	outside := r.mem.Size() // first byte past guest RAM
	tests := []struct {
		name string
		body Body
		want CtrlType
	}{
		{"create id 0", ResourceCreate2D{ResourceID: 0, Format: FormatB8G8R8X8, Width: 1, Height: 1}, RespErrInvalidResourceID},
		{"create existing", ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8X8, Width: 1, Height: 1}, RespErrInvalidResourceID},
		{"format 0", ResourceCreate2D{ResourceID: 9, Format: 0, Width: 1, Height: 1}, RespErrInvalidParameter},
		{"format 5", ResourceCreate2D{ResourceID: 9, Format: 5, Width: 1, Height: 1}, RespErrInvalidParameter},
		{"width 0", ResourceCreate2D{ResourceID: 9, Format: FormatB8G8R8X8, Width: 0, Height: 1}, RespErrInvalidParameter},
		{"height 0", ResourceCreate2D{ResourceID: 9, Format: FormatB8G8R8X8, Width: 1, Height: 0}, RespErrInvalidParameter},
		{"width 16385", ResourceCreate2D{ResourceID: 9, Format: FormatB8G8R8X8, Width: 16385, Height: 1}, RespErrInvalidParameter},
		{"65535x65535", ResourceCreate2D{ResourceID: 9, Format: FormatB8G8R8X8, Width: 65535, Height: 65535}, RespErrInvalidParameter},
		{"16384x16384 over the budget", ResourceCreate2D{ResourceID: 9, Format: FormatB8G8R8X8, Width: 16384, Height: 16384}, RespErrOutOfMemory},
		{"unref 0", ResourceUnref{ResourceID: 0}, RespErrInvalidResourceID},
		{"unref unknown", ResourceUnref{ResourceID: 77}, RespErrInvalidResourceID},
		{"detach unknown", ResourceDetachBacking{ResourceID: 77}, RespErrInvalidResourceID},
		{"detach without backing", ResourceDetachBacking{ResourceID: 2}, RespErrUnspec},
		{"attach unknown", ResourceAttachBacking{ResourceID: 77, NrEntries: 1, Entries: fb.entries[:1]}, RespErrInvalidResourceID},
		{"attach twice", ResourceAttachBacking{ResourceID: 1, NrEntries: 1, Entries: fb.entries[:1]}, RespErrUnspec},
		{"attach too many", ResourceAttachBacking{ResourceID: 2, NrEntries: MaxMemEntries + 1}, RespErrInvalidParameter},
		{"attach 2^32-1 entries", ResourceAttachBacking{ResourceID: 2, NrEntries: huge}, RespErrInvalidParameter},
		{"attach entries missing", ResourceAttachBacking{ResourceID: 2, NrEntries: 3, Entries: fb.entries[:1]}, RespErrUnspec},
		{"attach outside RAM", ResourceAttachBacking{ResourceID: 2, NrEntries: 1, Entries: []MemEntry{{Addr: outside, Length: 4096}}}, RespErrUnspec},
		{"attach wrapping", ResourceAttachBacking{ResourceID: 2, NrEntries: 1, Entries: []MemEntry{{Addr: ^uint64(0) - 10, Length: 4096}}}, RespErrUnspec},
		{"attach straddling the end", ResourceAttachBacking{ResourceID: 2, NrEntries: 1, Entries: []MemEntry{{Addr: r.mem.Size() - 100, Length: 4096}}}, RespErrUnspec},
		{"transfer unknown", TransferToHost2D{Rect: Rect{Width: 1, Height: 1}, ResourceID: 77}, RespErrInvalidResourceID},
		{"transfer id 0", TransferToHost2D{Rect: Rect{Width: 1, Height: 1}, ResourceID: 0}, RespErrInvalidResourceID},
		{"transfer without backing", TransferToHost2D{Rect: Rect{Width: 1, Height: 1}, ResourceID: 2}, RespErrUnspec},
		{"transfer rect too wide", TransferToHost2D{Rect: Rect{X: 1, Width: 64, Height: 1}, ResourceID: 1}, RespErrInvalidParameter},
		{"transfer x overflow", TransferToHost2D{Rect: Rect{X: huge, Width: 2, Height: 1}, ResourceID: 1}, RespErrInvalidParameter},
		{"transfer y overflow", TransferToHost2D{Rect: Rect{Y: huge, Width: 1, Height: 2}, ResourceID: 1}, RespErrInvalidParameter},
		{"transfer offset past backing", TransferToHost2D{Rect: Rect{Width: 1, Height: 1}, Offset: 64 * 48 * 4, ResourceID: 1}, RespErrInvalidParameter},
		{"transfer offset 2^64-1", TransferToHost2D{Rect: Rect{Width: 1, Height: 1}, Offset: ^uint64(0), ResourceID: 1}, RespErrInvalidParameter},
		{"transfer last row past backing", TransferToHost2D{Rect: Rect{Width: 64, Height: 48}, Offset: 4, ResourceID: 1}, RespErrInvalidParameter},
		{"set_scanout id 1 of 1", SetScanout{Rect: Rect{Width: 1, Height: 1}, ScanoutID: 1, ResourceID: 1}, RespErrInvalidScanoutID},
		{"set_scanout id 2^32-1", SetScanout{Rect: Rect{Width: 1, Height: 1}, ScanoutID: huge, ResourceID: 1}, RespErrInvalidScanoutID},
		{"set_scanout unknown", SetScanout{Rect: Rect{Width: 1, Height: 1}, ResourceID: 77}, RespErrInvalidResourceID},
		{"set_scanout rect outside", SetScanout{Rect: Rect{X: 32, Width: 64, Height: 48}, ResourceID: 1}, RespErrInvalidParameter},
		{"set_scanout rect overflow", SetScanout{Rect: Rect{X: huge, Y: huge, Width: 2, Height: 2}, ResourceID: 1}, RespErrInvalidParameter},
		{"set_scanout empty rect", SetScanout{Rect: Rect{Width: 0, Height: 48}, ResourceID: 1}, RespErrInvalidParameter},
		{"flush unknown", ResourceFlush{Rect: Rect{Width: 1, Height: 1}, ResourceID: 77}, RespErrInvalidResourceID},
		{"flush rect outside", ResourceFlush{Rect: Rect{Y: 1, Width: 64, Height: 48}, ResourceID: 1}, RespErrInvalidParameter},
		{"flush rect overflow", ResourceFlush{Rect: Rect{X: huge, Width: huge, Height: 1}, ResourceID: 1}, RespErrInvalidParameter},
		{"edid scanout 1 of 1", GetEDID{Scanout: 1}, RespErrInvalidScanoutID},
		{"update_cursor on the control queue", UpdateCursor{ResourceID: 1}, RespErrUnspec},
		{"3D submit", rawBody{CmdSubmit3D, make([]byte, 8)}, RespErrUnspec},
		{"capset info", rawBody{CmdGetCapsetInfo, make([]byte, 8)}, RespErrUnspec},
		{"type 0", rawBody{0, nil}, RespErrUnspec},
		{"a response as a command", rawBody{RespOKNoData, nil}, RespErrUnspec},
		{"create cut short", rawBody{CmdResourceCreate2D, make([]byte, 15)}, RespErrUnspec},
		{"transfer cut short", rawBody{CmdTransferToHost2D, make([]byte, 31)}, RespErrUnspec},
		{"edid cut short", rawBody{CmdGetEDID, nil}, RespErrUnspec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.t = t
			r.expect(tt.body, tt.want)
		})
	}
	r.t = t
	if len(r.sig.Resets()) != 0 {
		t.Fatalf("NeedsReset: %v", r.sig.Resets())
	}
	// Still working: the whole path to a frame.
	fb.fill(0, 0, 64, 48, 5)
	r.expect(TransferToHost2D{Rect: Rect{Width: 64, Height: 48}, ResourceID: 1}, RespOKNoData)
	r.expect(SetScanout{Rect: Rect{Width: 64, Height: 48}, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceFlush{Rect: Rect{Width: 64, Height: 48}, ResourceID: 1}, RespOKNoData)
	if p, ok := r.sink.last(); !ok || !bytes.Equal(p.frame.Pix, fb.pixels()) {
		t.Fatal("no correct frame after the hostile commands")
	}
}

// rawBody sends arbitrary bytes after a header of type t.
type rawBody struct {
	t CtrlType
	b []byte
}

func (r rawBody) Type() CtrlType         { return r.t }
func (r rawBody) Append(b []byte) []byte { return append(b, r.b...) }

// Requests and response buffers of the wrong size.
func TestShortChains(t *testing.T) {
	r := newRig(t, Options{Width: 64, Height: 48}, 1<<20)
	// Less than a header: ERR_UNSPEC with a zero header.
	n, out := r.send(r.ctrl, [][]byte{make([]byte, 10)}, []uint32{64})
	if h, _ := DecodeHeader(out); n != SizeCtrlHdr || h != (CtrlHeader{Type: RespErrUnspec}) {
		t.Fatalf("10-byte request: %d bytes, %+v", n, h)
	}
	// No readable part at all.
	n, out = r.send(r.ctrl, nil, []uint32{64})
	if h, _ := DecodeHeader(out); n != SizeCtrlHdr || h.Type != RespErrUnspec {
		t.Fatalf("empty request: %d bytes, %+v", n, h)
	}
	// No room for a response: returned with 0 written.
	if n, _ := r.send(r.ctrl, [][]byte{Encode(CtrlHeader{}, GetDisplayInfo{})}, nil); n != 0 {
		t.Fatalf("no writable part: %d written", n)
	}
	if n, _ := r.send(r.ctrl, [][]byte{Encode(CtrlHeader{}, GetDisplayInfo{})}, []uint32{SizeCtrlHdr - 1}); n != 0 {
		t.Fatalf("23 writable bytes: %d written", n)
	}
	// Room for a header but not the display info: ERR_UNSPEC.
	n, out = r.send(r.ctrl, [][]byte{Encode(CtrlHeader{Flags: FlagFence, FenceID: 9}, GetDisplayInfo{})}, []uint32{100})
	if h, _ := DecodeHeader(out); n != SizeCtrlHdr || h.Type != RespErrUnspec || h.FenceID != 9 {
		t.Fatalf("small response buffer: %d bytes, %+v", n, h)
	}
	// A response split over several writable buffers.
	n, out = r.send(r.ctrl, [][]byte{Encode(CtrlHeader{}, GetDisplayInfo{})}, []uint32{5, 100, 303})
	if h, b, err := Decode(out); n != SizeRespDisplayInfo || err != nil || h.Type != RespOKDisplayInfo || !b.(*RespDisplayInfo).PModes[0].Enabled {
		t.Fatalf("split response: %d bytes, %v", n, err)
	}
	// A request split at every byte.
	msg := Encode(CtrlHeader{}, ResourceCreate2D{ResourceID: 3, Format: FormatB8G8R8A8, Width: 4, Height: 4})
	var pieces [][]byte
	for i := range msg {
		pieces = append(pieces, msg[i:i+1])
	}
	n, out = r.send(r.ctrl, pieces, []uint32{SizeCtrlHdr})
	if h, _ := DecodeHeader(out); n != SizeCtrlHdr || h.Type != RespOKNoData {
		t.Fatalf("byte-split request: %+v", h)
	}
	if len(r.sig.Resets()) != 0 {
		t.Fatalf("NeedsReset: %v", r.sig.Resets())
	}
}

// The memory budget counts every resource; freeing one makes room again.
func TestMemLimit(t *testing.T) {
	const limit = 1 << 20
	r := newRig(t, Options{Width: 64, Height: 48, MemLimit: limit}, 1<<20)
	r.expect(ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8X8, Width: 512, Height: 512}, RespErrOutOfMemory)
	for id := uint32(1); id <= 3; id++ {
		r.expect(ResourceCreate2D{ResourceID: id, Format: FormatB8G8R8X8, Width: 256, Height: 256}, RespOKNoData)
	}
	r.expect(ResourceCreate2D{ResourceID: 4, Format: FormatB8G8R8X8, Width: 256, Height: 256}, RespErrOutOfMemory)
	r.expect(ResourceUnref{ResourceID: 2}, RespOKNoData)
	r.expect(ResourceCreate2D{ResourceID: 4, Format: FormatB8G8R8X8, Width: 256, Height: 256}, RespOKNoData)
	// Backing entries are charged too: the budget left is about 256 KiB,
	// 4096 entries of bookkeeping fit, 16384 do not.
	r.expect(ResourceAttachBacking{ResourceID: 1, NrEntries: MaxMemEntries}, RespErrOutOfMemory)
	entries := make([]MemEntry, 1024)
	for i := range entries {
		entries[i] = MemEntry{Addr: fbBase, Length: 16}
	}
	r.expect(ResourceAttachBacking{ResourceID: 1, NrEntries: 1024, Entries: entries}, RespOKNoData)
	used := r.d.memUsed
	r.expect(ResourceDetachBacking{ResourceID: 1}, RespOKNoData)
	if r.d.memUsed != used-1024*memEntryOverhead {
		t.Fatalf("detach freed %d bytes", used-r.d.memUsed)
	}
	for _, id := range []uint32{1, 3, 4} {
		r.expect(ResourceUnref{ResourceID: id}, RespOKNoData)
	}
	if r.d.memUsed != 0 {
		t.Fatalf("%d bytes still charged with no resources", r.d.memUsed)
	}
}

// A fenced command's response carries the fence; responses come in order,
// and a batch gets one interrupt.
func TestFences(t *testing.T) {
	r := newRig(t, Options{Width: 64, Height: 48}, 1<<20)
	reqs := []struct {
		h    CtrlHeader
		body Body
		want CtrlType
	}{
		{CtrlHeader{Flags: FlagFence, FenceID: 100, CtxID: 0}, ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8X8, Width: 8, Height: 8}, RespOKNoData},
		{CtrlHeader{Flags: FlagFence, FenceID: 101}, ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8X8, Width: 8, Height: 8}, RespErrInvalidResourceID},
		{CtrlHeader{FenceID: 555}, ResourceUnref{ResourceID: 1}, RespOKNoData},
		{CtrlHeader{Flags: FlagFence | FlagInfoRingIdx, FenceID: 102, RingIdx: 3}, GetDisplayInfo{}, RespOKDisplayInfo},
	}
	var heads []uint16
	for _, q := range reqs {
		heads = append(heads, r.ctrl.AddChain([][]byte{Encode(q.h, q.body)}, []uint32{SizeRespDisplayInfo}))
	}
	before := r.sig.UsedSignals()
	r.ctrl.Kick()
	used := r.ctrl.Used()
	if len(used) != len(reqs) {
		t.Fatalf("used %+v", used)
	}
	if r.sig.UsedSignals() != before+1 {
		t.Fatalf("%d interrupts for one batch", r.sig.UsedSignals()-before)
	}
	for i, q := range reqs {
		if used[i].ID != uint32(heads[i]) {
			t.Fatalf("used[%d] is head %d, want %d (out of order)", i, used[i].ID, heads[i])
		}
		h, _ := DecodeHeader(r.ctrl.ReadWritable(heads[i]))
		if h.Type != q.want || h != q.h.Response(q.want) {
			t.Errorf("request %d: response %+v, want %+v", i, h, q.h.Response(q.want))
		}
	}
	last, _ := DecodeHeader(r.ctrl.ReadWritable(heads[3]))
	if last.Flags != FlagFence|FlagInfoRingIdx || last.FenceID != 102 || last.RingIdx != 3 {
		t.Fatalf("ring_idx not echoed: %+v", last)
	}
	first, _ := DecodeHeader(r.ctrl.ReadWritable(heads[2]))
	if first.Flags != 0 || first.FenceID != 0 {
		t.Fatalf("unfenced request got a fence: %+v", first)
	}
}

// SET_SCANOUT with resource 0 disables the scanout: the sink gets an
// empty frame, Screenshot the last one; unref of a shown resource does the
// same.
func TestDisableScanout(t *testing.T) {
	r := newRig(t, Options{Width: 16, Height: 16}, 1<<20)
	fb := r.newFramebuffer(16, 16)
	r.setup(1, fb)
	full := Rect{Width: 16, Height: 16}
	r.expect(TransferToHost2D{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(SetScanout{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceFlush{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(SetScanout{ScanoutID: 0, ResourceID: 0}, RespOKNoData)
	if p, _ := r.sink.last(); p.frame.Width != 0 || len(r.sink.presents) != 2 {
		t.Fatalf("presents %v", r.sink.presents)
	}
	if shot, ok := r.d.Screenshot(0); !ok || !bytes.Equal(shot.Pix, fb.pixels()) {
		t.Fatal("screenshot of a disabled scanout: not its last frame")
	}
	r.expect(ResourceFlush{Rect: full, ResourceID: 1}, RespOKNoData)
	if len(r.sink.presents) != 2 {
		t.Fatal("flush presented a disabled scanout")
	}
	r.expect(SetScanout{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceFlush{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceUnref{ResourceID: 1}, RespOKNoData)
	if p, _ := r.sink.last(); p.frame.Width != 0 || len(r.sink.presents) != 4 {
		t.Fatalf("unref of the shown resource: presents %v", r.sink.presents)
	}
	// And a sink error is recorded, not fatal.
	r.sink.err = errors.New("window closed")
	r.setup(2, fb)
	r.expect(SetScanout{Rect: full, ResourceID: 2}, RespOKNoData)
	r.expect(ResourceFlush{Rect: full, ResourceID: 2}, RespOKNoData)
	if !errors.Is(r.d.SinkErr(), r.sink.err) {
		t.Fatalf("SinkErr %v", r.d.SinkErr())
	}
}

// The cursor: Linux transfers a 64×64 image, then UPDATE_CURSOR on the
// cursor queue with no response buffer; MOVE_CURSOR; resource 0 hides.
func TestCursor(t *testing.T) {
	r := newRig(t, Options{Width: 64, Height: 48}, 1<<20)
	fb := r.newFramebuffer(CursorSize, CursorSize)
	fb.fill(0, 0, CursorSize, CursorSize, 42)
	r.setup(7, fb)
	r.expect(TransferToHost2D{Rect: Rect{Width: CursorSize, Height: CursorSize}, ResourceID: 7}, RespOKNoData)

	upd := Encode(CtrlHeader{}, UpdateCursor{Pos: CursorPos{X: 10, Y: 20}, ResourceID: 7, HotX: 3, HotY: 4})
	if n, _ := r.send(r.curs, [][]byte{upd}, nil); n != 0 {
		t.Fatalf("cursor update without a response buffer: %d written", n)
	}
	if len(r.sink.cursors) != 1 || r.sink.cursors[0].img == nil {
		t.Fatalf("cursors %+v", r.sink.cursors)
	}
	c := r.sink.cursors[0]
	if c.hotX != 3 || c.hotY != 4 || c.img.Width != CursorSize || c.img.Format != FormatB8G8R8X8 || !bytes.Equal(c.img.Pix, fb.pixels()) {
		t.Fatalf("cursor image wrong (hot %d,%d)", c.hotX, c.hotY)
	}
	neg := uint32(0xfffffff6) // -10: partly off the left edge
	mv := Encode(CtrlHeader{}, MoveCursor{Pos: CursorPos{X: neg, Y: 5}})
	r.send(r.curs, [][]byte{mv}, nil)
	if want := [][3]uint32{{0, 10, 20}, {0, neg, 5}}; len(r.sink.moves) != 2 || r.sink.moves[0] != want[0] || r.sink.moves[1] != want[1] {
		t.Fatalf("moves %v", r.sink.moves)
	}
	hide := Encode(CtrlHeader{}, UpdateCursor{ResourceID: 0})
	r.send(r.curs, [][]byte{hide}, nil)
	if len(r.sink.cursors) != 2 || r.sink.cursors[1].img != nil {
		t.Fatalf("hide: cursors %+v", r.sink.cursors)
	}

	// Errors, seen when the chain has room for a response.
	cases := []struct {
		name string
		msg  []byte
		want CtrlType
	}{
		{"scanout 1 of 1", Encode(CtrlHeader{}, UpdateCursor{Pos: CursorPos{ScanoutID: 1}, ResourceID: 7}), RespErrInvalidScanoutID},
		{"move on scanout 9", Encode(CtrlHeader{}, MoveCursor{Pos: CursorPos{ScanoutID: 9}}), RespErrInvalidScanoutID},
		{"unknown resource", Encode(CtrlHeader{}, UpdateCursor{ResourceID: 99}), RespErrInvalidResourceID},
		{"hot spot outside", Encode(CtrlHeader{}, UpdateCursor{ResourceID: 7, HotX: 64}), RespErrInvalidParameter},
		{"control command", Encode(CtrlHeader{}, GetDisplayInfo{}), RespErrUnspec},
		{"cut short", Encode(CtrlHeader{}, MoveCursor{})[:40], RespErrUnspec},
		{"fenced ok", Encode(CtrlHeader{Flags: FlagFence, FenceID: 8}, MoveCursor{}), RespOKNoData},
	}
	for _, tt := range cases {
		n, out := r.send(r.curs, [][]byte{tt.msg}, []uint32{SizeCtrlHdr})
		if h, _ := DecodeHeader(out); n != SizeCtrlHdr || h.Type != tt.want {
			t.Errorf("%s: %d bytes, type %#x, want %#x", tt.name, n, uint32(h.Type), uint32(tt.want))
		}
	}
	// A small resource gives a small cursor.
	r.expect(ResourceCreate2D{ResourceID: 8, Format: FormatB8G8R8A8, Width: 32, Height: 16}, RespOKNoData)
	r.send(r.curs, [][]byte{Encode(CtrlHeader{}, UpdateCursor{ResourceID: 8})}, nil)
	if c := r.sink.cursors[len(r.sink.cursors)-1]; c.img == nil || c.img.Width != 32 || c.img.Height != 16 || c.img.Format != FormatB8G8R8A8 {
		t.Fatalf("small cursor %+v", c.img)
	}
}

// A ring the guest broke makes the device ask for a reset and stop.
func TestBrokenRingNeedsReset(t *testing.T) {
	r := newRig(t, Options{Width: 64, Height: 48}, 1<<20)
	r.ctrl.SetAvailIdx(1000) // more than the queue size ahead
	r.ctrl.Kick()
	if len(r.sig.Resets()) != 1 {
		t.Fatalf("resets %v", r.sig.Resets())
	}
	r.d.QueueNotify(ControlQueue) // ignored now
	if len(r.sig.Resets()) != 1 {
		t.Fatal("kept processing after NeedsReset")
	}
}

// Reset drops everything; the device can be activated again.
func TestReset(t *testing.T) {
	r := newRig(t, Options{Width: 16, Height: 16}, 1<<20)
	fb := r.newFramebuffer(16, 16)
	r.setup(1, fb)
	full := Rect{Width: 16, Height: 16}
	r.expect(SetScanout{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(ResourceFlush{Rect: full, ResourceID: 1}, RespOKNoData)
	r.d.Reset()
	if p, _ := r.sink.last(); p.frame.Width != 0 {
		t.Fatal("reset left the scanout on")
	}
	if len(r.d.resources) != 0 || r.d.memUsed != 0 {
		t.Fatal("reset kept resources")
	}
	r2 := newRigFor(t, r.d, r.sink)
	r2.setup(1, r2.newFramebuffer(16, 16))
}

// newRigFor activates an existing device on fresh memory.
func newRigFor(t *testing.T, d *Device, sink *testSink) *rig {
	mem := virtiotest.NewMemory(fbBase + 1<<20)
	ctrl := virtiotest.NewDriver(t, mem, ctrlBase, ctrlWindow, QueueSize)
	curs := virtiotest.NewDriver(t, mem, cursorBase, cursorWindow, QueueSize)
	a, sig := virtiotest.Activation(mem, d.Features(), ctrl, curs)
	if err := d.Activate(a); err != nil {
		t.Fatal(err)
	}
	ctrl.SetNotify(func() { d.QueueNotify(ControlQueue) })
	curs.SetNotify(func() { d.QueueNotify(CursorQueue) })
	return &rig{t: t, d: d, mem: mem, ctrl: ctrl, curs: curs, sig: sig, sink: sink, fbNext: fbBase}
}

func TestOptions(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.width != DefaultWidth || d.height != DefaultHeight || len(d.scanouts) != 1 || d.memLimit != DefaultMemLimit {
		t.Fatalf("defaults %+v", d)
	}
	for _, o := range []Options{{Scanouts: MaxScanouts + 1}, {Scanouts: -1}, {Width: 4096, Height: 800}, {Width: -5, Height: 10}, {Width: 100}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// The device behind the real virtio-mmio transport: id, features and the
// configuration space; events_clear clears events_read.
func TestBehindMMIO(t *testing.T) {
	d, err := New(Options{Scanouts: 2})
	if err != nil {
		t.Fatal(err)
	}
	m, err := virtio.NewMMIO(d, virtiotest.NewMemory(1<<16), &virtiotest.Interrupt{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	reg := func(off uint64) uint32 {
		var b [4]byte
		m.Read(off, b[:])
		return binary.LittleEndian.Uint32(b[:])
	}
	if id := reg(virtio.RegDeviceID); id != uint32(virtio.TypeGPU) {
		t.Fatalf("device id %d", id)
	}
	if f := reg(virtio.RegDeviceFeatures); f&FeatureEDID == 0 {
		t.Fatalf("features %#x", f)
	}
	if n := reg(virtio.RegConfig + cfgNumScanouts); n != 2 {
		t.Fatalf("num_scanouts %d", n)
	}
	d.mu.Lock()
	d.events = EventDisplay | 4
	d.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], EventDisplay)
	m.Write(virtio.RegConfig+cfgEventsClear, b[:])
	if ev := reg(virtio.RegConfig + cfgEventsRead); ev != 4 {
		t.Fatalf("events_read %#x after clearing", ev)
	}
	if v := reg(virtio.RegConfig + SizeConfig); v != 0 {
		t.Fatalf("past the config: %#x", v)
	}
}

// A scanout that goes dark keeps its last frame for Screenshot, however it
// is disabled: a screenshot taken at power-off (Linux disables the
// scanout when it shuts down) shows the last thing on screen.
func TestScreenshotAfterDisable(t *testing.T) {
	const w, h = 24, 16
	cases := []struct {
		name    string
		disable func(r *rig, id uint32)
	}{
		{"SET_SCANOUT 0", func(r *rig, _ uint32) { r.expect(SetScanout{ResourceID: 0}, RespOKNoData) }},
		{"unref", func(r *rig, id uint32) { r.expect(ResourceUnref{ResourceID: id}, RespOKNoData) }},
		{"reset", func(r *rig, _ uint32) { r.d.Reset() }},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Options{Width: w, Height: h}, 1<<20)
			fb := r.newFramebuffer(w, h)
			r.show(1, fb, 5)
			want := fb.pixels()
			tt.disable(r, 1)
			if p, _ := r.sink.last(); p.frame.Width != 0 {
				t.Fatal("the sink was not told the scanout is off")
			}
			shot, ok := r.d.Screenshot(0)
			if !ok || shot.Width != w || shot.Height != h || shot.Stride != w*BytesPerPixel ||
				shot.Format != FormatB8G8R8X8 || !bytes.Equal(shot.Pix, want) {
				t.Fatalf("screenshot after disabling: ok %v, %dx%d", ok, shot.Width, shot.Height)
			}
			// The screenshot is a copy: changing it leaves the kept frame.
			shot.Pix[0] ^= 0xff
			if again, _ := r.d.Screenshot(0); !bytes.Equal(again.Pix, want) {
				t.Fatal("a screenshot shares its pixels with the kept frame")
			}
		})
	}
}

// The kept frame is the last one shown, in one reused buffer, and is only
// a fallback: a scanout that shows something again gives its live frame.
func TestScreenshotKeptFrame(t *testing.T) {
	const w, h = 16, 8
	r := newRig(t, Options{Width: w, Height: h}, 1<<20)
	if _, ok := r.d.Screenshot(0); ok {
		t.Fatal("screenshot before anything was shown")
	}
	fb := r.newFramebuffer(w, h)
	full := Rect{Width: w, Height: h}
	r.setup(1, fb)
	r.expect(SetScanout{Rect: full, ResourceID: 1}, RespOKNoData)
	r.expect(SetScanout{ResourceID: 0}, RespOKNoData)
	if _, ok := r.d.Screenshot(0); ok {
		t.Fatal("screenshot of a scanout disabled before it was ever presented")
	}

	r.expect(ResourceUnref{ResourceID: 1}, RespOKNoData)
	r.show(1, fb, 1)
	r.expect(SetScanout{ResourceID: 0}, RespOKNoData)
	buf := &r.d.kept[0].Pix[0]

	r.expect(ResourceUnref{ResourceID: 1}, RespOKNoData)
	r.show(1, fb, 2)
	live := fb.pixels()
	if shot, ok := r.d.Screenshot(0); !ok || !bytes.Equal(shot.Pix, live) {
		t.Fatal("an active scanout did not give its live frame")
	}
	r.expect(SetScanout{ResourceID: 0}, RespOKNoData)
	if shot, ok := r.d.Screenshot(0); !ok || !bytes.Equal(shot.Pix, live) {
		t.Fatal("the kept frame is not the last one shown")
	}
	if &r.d.kept[0].Pix[0] != buf {
		t.Fatal("the kept frame's buffer was not reused")
	}
}

// With no Sink, a flush reads no pixels (no copy per frame); Screenshot
// reads them when asked, and the last frame is still kept at disable.
func TestNilSinkReadsOnDemand(t *testing.T) {
	const w, h, flushes = 16, 8, 5
	be := &countingBackend{Backend: NewSoftBackend()}
	d, err := New(Options{Width: w, Height: h, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigFor(t, d, nil)
	fb := r.newFramebuffer(w, h)
	r.show(1, fb, 9)
	for range flushes - 1 {
		r.expect(ResourceFlush{Rect: Rect{Width: w, Height: h}, ResourceID: 1}, RespOKNoData)
	}
	if be.frames != 0 {
		t.Fatalf("%d flushes with no sink read the pixels %d times", flushes, be.frames)
	}
	want := fb.pixels()
	if shot, ok := d.Screenshot(0); !ok || !bytes.Equal(shot.Pix, want) {
		t.Fatal("screenshot with no sink differs from the guest's pixels")
	}
	if be.frames != 1 {
		t.Fatalf("a screenshot read the pixels %d times", be.frames)
	}
	r.expect(SetScanout{ResourceID: 0}, RespOKNoData)
	if shot, ok := d.Screenshot(0); !ok || !bytes.Equal(shot.Pix, want) {
		t.Fatal("screenshot after disabling, with no sink: not the last frame")
	}
	if d.SinkErr() != nil {
		t.Fatal(d.SinkErr())
	}
}
