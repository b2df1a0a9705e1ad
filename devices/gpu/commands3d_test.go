package gpu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// fake3D is a Backend3D over the soft 2D backend that records the 3D
// calls and signals fences only when the test says so.
type fake3D struct {
	Backend
	fence     FenceFunc
	contexts  map[uint32]string
	attached  map[uint32]int // resource -> backing pieces
	fences    []signalled
	submits   [][]byte
	submitErr error
	transfers []TransferHost3D
}

type signalled struct {
	ctx, ring uint32
	id        uint64
}

func newFake3D() *fake3D {
	return &fake3D{Backend: NewSoftBackend(), contexts: map[uint32]string{}, attached: map[uint32]int{}}
}

var fakeCapsets = []RespCapsetInfo{{CapsetID: 1, MaxVersion: 1, MaxSize: 8}, {CapsetID: 2, MaxVersion: 2, MaxSize: 16}}

func (f *fake3D) SetFenceHandler(h FenceFunc) { f.fence = h }
func (f *fake3D) NumCapsets() uint32          { return uint32(len(fakeCapsets)) }
func (f *fake3D) GetCapsetInfo(i uint32) (uint32, uint32, uint32, error) {
	c := fakeCapsets[i]
	return c.CapsetID, c.MaxVersion, c.MaxSize, nil
}
func (f *fake3D) GetCapset(id, version uint32) ([]byte, error) {
	return []byte{byte(id), byte(version), 0xaa}, nil
}
func (f *fake3D) CreateContext(id uint32, name string, _ uint32) error {
	f.contexts[id] = name
	return nil
}
func (f *fake3D) DestroyContext(id uint32)                { delete(f.contexts, id) }
func (f *fake3D) ContextAttachResource(_, _ uint32)       {}
func (f *fake3D) ContextDetachResource(_, _ uint32)       {}
func (f *fake3D) CreateResource3D(ResourceCreate3D) error { return nil }
func (f *fake3D) AttachBacking(id uint32, b [][]byte) error {
	f.attached[id] = len(b)
	return nil
}
func (f *fake3D) DetachBacking(id uint32) { delete(f.attached, id) }
func (f *fake3D) TransferToHost3D(_ uint32, t TransferHost3D) error {
	f.transfers = append(f.transfers, t)
	return nil
}
func (f *fake3D) TransferFromHost3D(_ uint32, t TransferHost3D) error {
	f.transfers = append(f.transfers, t)
	return nil
}
func (f *fake3D) Submit3D(_ uint32, cmd []byte) error {
	f.submits = append(f.submits, append([]byte(nil), cmd...))
	return f.submitErr
}
func (f *fake3D) CreateFence(ctx, ring uint32, id uint64) error {
	f.fences = append(f.fences, signalled{ctx, ring, id})
	return nil
}

// cmd3D sends a command and returns its decoded response (which must
// come at once).
func (r *rig) cmd3D(h CtrlHeader, body Body) (CtrlHeader, Body) {
	r.t.Helper()
	_, out := r.send(r.ctrl, [][]byte{Encode(h, body)}, []uint32{4096})
	rh, rb, err := Decode3D(out)
	if err != nil {
		r.t.Fatalf("response: %v", err)
	}
	return rh, rb
}

func (r *rig) expect3D(h CtrlHeader, body Body, want CtrlType) {
	r.t.Helper()
	if got, _ := r.cmd3D(h, body); got.Type != want {
		r.t.Fatalf("%T %+v: response %#x, want %#x", body, body, uint32(got.Type), uint32(want))
	}
}

func TestFeatures3D(t *testing.T) {
	r := newRig(t, Options{Backend: newFake3D()}, 1<<20)
	if f := r.d.Features(); f&FeatureVirgl == 0 || f&FeatureContextInit == 0 || f&FeatureEDID == 0 {
		t.Fatalf("features %#x", f)
	}
	var cfg [SizeConfig]byte
	r.d.ReadConfig(0, cfg[:])
	if n := binary.LittleEndian.Uint32(cfg[cfgNumCapsets:]); n != 2 {
		t.Fatalf("num_capsets %d", n)
	}
	h, b := r.cmd3D(CtrlHeader{}, GetCapsetInfo{CapsetIndex: 1})
	if info, ok := b.(*RespCapsetInfo); h.Type != RespOKCapsetInfo || !ok || *info != fakeCapsets[1] {
		t.Fatalf("capset info: %#x %+v", uint32(h.Type), b)
	}
	h, b = r.cmd3D(CtrlHeader{}, GetCapset{CapsetID: 2, Version: 2})
	if cs, ok := b.(*RespCapset); h.Type != RespOKCapset || !ok || !bytes.Equal(cs.Data, []byte{2, 2, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("capset: %#x %+v", uint32(h.Type), b)
	}
	// The 2D device has neither.
	r2 := newRig(t, Options{}, 1<<20)
	if r2.d.Features()&(FeatureVirgl|FeatureContextInit) != 0 {
		t.Fatal("2D device offers 3D")
	}
}

// Every guest value is checked before the backend sees it.
func TestHostile3D(t *testing.T) {
	fake := newFake3D()
	r := newRig(t, Options{Backend: fake, MemLimit: 64 << 20}, 1<<20)
	ctx := CtrlHeader{CtxID: 7}
	r.expect3D(ctx, CtxCreate{NLen: 4, DebugName: [64]byte{'t', 'e', 's', 't'}}, RespOKNoData)
	if fake.contexts[7] != "test" {
		t.Fatalf("contexts %v", fake.contexts)
	}
	tex := ResourceCreate3D{ResourceID: 1, Target: Target2D, Format: FormatB8G8R8X8, Width: 64, Height: 32, Depth: 1, ArraySize: 1}
	r.expect3D(ctx, tex, RespOKNoData)
	fb := r.newFramebuffer(64, 32)
	r.expect(ResourceAttachBacking{ResourceID: 1, NrEntries: uint32(len(fb.entries)), Entries: fb.entries}, RespOKNoData)
	if fake.attached[1] != len(fb.entries) {
		t.Fatalf("backend backing %v", fake.attached)
	}
	huge := ^uint32(0)
	tests := []struct {
		name string
		h    CtrlHeader
		body Body
		want CtrlType
	}{
		{"capset index 2 of 2", CtrlHeader{}, GetCapsetInfo{CapsetIndex: 2}, RespErrInvalidParameter},
		{"capset unknown id", CtrlHeader{}, GetCapset{CapsetID: 3}, RespErrInvalidParameter},
		{"capset version too new", CtrlHeader{}, GetCapset{CapsetID: 1, Version: 2}, RespErrInvalidParameter},
		{"ctx create id 0", CtrlHeader{}, CtxCreate{}, RespErrInvalidContextID},
		{"ctx create twice", ctx, CtxCreate{}, RespErrInvalidContextID},
		{"ctx create nlen 65", CtrlHeader{CtxID: 8}, CtxCreate{NLen: 65}, RespErrInvalidParameter},
		{"ctx create unknown capset", CtrlHeader{CtxID: 8}, CtxCreate{ContextInit: 9}, RespErrInvalidParameter},
		{"ctx create junk init bits", CtrlHeader{CtxID: 8}, CtxCreate{ContextInit: 1 << 8}, RespErrInvalidParameter},
		{"ctx destroy unknown", CtrlHeader{CtxID: 99}, CtxDestroy{}, RespErrInvalidContextID},
		{"attach to unknown ctx", CtrlHeader{CtxID: 99}, CtxAttachResource{ResourceID: 1}, RespErrInvalidContextID},
		{"attach unknown resource", ctx, CtxAttachResource{ResourceID: 5}, RespErrInvalidResourceID},
		{"detach unknown resource", ctx, CtxDetachResource{ResourceID: 5}, RespErrInvalidResourceID},
		{"create 3D id 0", ctx, ResourceCreate3D{Target: Target2D, Width: 1, Height: 1, Depth: 1, ArraySize: 1}, RespErrInvalidResourceID},
		{"create 3D existing", ctx, tex, RespErrInvalidResourceID},
		{"create 3D absurd size", ctx, ResourceCreate3D{ResourceID: 2, Target: Target3D, Format: 1, Width: 16384, Height: 16384, Depth: 2048, ArraySize: 1}, RespErrOutOfMemory},
		{"create 3D absurd layers", ctx, ResourceCreate3D{ResourceID: 2, Target: Target2DArray, Width: 16384, Height: 16384, Depth: 1, ArraySize: 2048, LastLevel: 14, NrSamples: 16}, RespErrOutOfMemory},
		{"create 3D width 2^32-1", ctx, ResourceCreate3D{ResourceID: 2, Target: Target2D, Width: huge, Height: 1, Depth: 1, ArraySize: 1}, RespErrInvalidParameter},
		{"create 3D zero depth", ctx, ResourceCreate3D{ResourceID: 2, Target: Target2D, Width: 1, Height: 1, ArraySize: 1}, RespErrInvalidParameter},
		{"create 3D bad target", ctx, ResourceCreate3D{ResourceID: 2, Target: 9, Width: 1, Height: 1, Depth: 1, ArraySize: 1}, RespErrInvalidParameter},
		{"create 3D 2D with depth", ctx, ResourceCreate3D{ResourceID: 2, Target: Target2D, Width: 1, Height: 1, Depth: 2, ArraySize: 1}, RespErrInvalidParameter},
		{"create buffer 2D-shaped", ctx, ResourceCreate3D{ResourceID: 2, Target: TargetBuffer, Width: 64, Height: 2, Depth: 1, ArraySize: 1}, RespErrInvalidParameter},
		{"create buffer 4 GiB", ctx, ResourceCreate3D{ResourceID: 2, Target: TargetBuffer, Width: huge, Height: 1, Depth: 1, ArraySize: 1}, RespErrInvalidParameter},
		{"create 3D too many levels", ctx, ResourceCreate3D{ResourceID: 2, Target: Target2D, Width: 1, Height: 1, Depth: 1, ArraySize: 1, LastLevel: 15}, RespErrInvalidParameter},
		{"transfer unknown resource", ctx, TransferToHost3D{TransferHost3D{ResourceID: 5, Box: Box{W: 1, H: 1, D: 1}}}, RespErrInvalidResourceID},
		{"transfer unknown ctx", CtrlHeader{CtxID: 99}, TransferToHost3D{TransferHost3D{ResourceID: 1, Box: Box{W: 1, H: 1, D: 1}}}, RespErrInvalidContextID},
		{"transfer beyond the box", ctx, TransferToHost3D{TransferHost3D{ResourceID: 1, Box: Box{X: 1, W: 64, H: 1, D: 1}}}, RespErrInvalidParameter},
		{"transfer from beyond", ctx, TransferFromHost3D{TransferHost3D{ResourceID: 1, Box: Box{Y: 31, W: 1, H: 2, D: 1}}}, RespErrInvalidParameter},
		{"transfer box overflow", ctx, TransferToHost3D{TransferHost3D{ResourceID: 1, Box: Box{X: huge, W: 2, H: 1, D: 1}}}, RespErrInvalidParameter},
		{"transfer depth 2 of 1", ctx, TransferToHost3D{TransferHost3D{ResourceID: 1, Box: Box{W: 1, H: 1, D: 2}}}, RespErrInvalidParameter},
		{"transfer level 1 of 0", ctx, TransferToHost3D{TransferHost3D{ResourceID: 1, Level: 1, Box: Box{W: 1, H: 1, D: 1}}}, RespErrInvalidParameter},
		{"transfer offset past backing", ctx, TransferToHost3D{TransferHost3D{ResourceID: 1, Offset: 64 * 32 * 4, Box: Box{W: 1, H: 1, D: 1}}}, RespErrInvalidParameter},
		{"submit unknown ctx", CtrlHeader{CtxID: 99}, Submit3D{Size: 4, Data: make([]byte, 4)}, RespErrInvalidContextID},
		{"submit not words", ctx, Submit3D{Size: 3, Data: make([]byte, 3)}, RespErrInvalidParameter},
		{"submit over 4 MiB", ctx, Submit3D{Size: MaxSubmitBytes + 4}, RespErrInvalidParameter},
		{"submit cut short", ctx, Submit3D{Size: 64, Data: make([]byte, 60)}, RespErrUnspec},
		{"submit size 2^32-4", ctx, Submit3D{Size: huge &^ 3}, RespErrInvalidParameter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { r.expect3D(tc.h, tc.body, tc.want) })
	}
	if len(fake.submits) != 0 || len(fake.transfers) != 0 {
		t.Fatalf("the backend saw %d submits, %d transfers", len(fake.submits), len(fake.transfers))
	}
	// Good requests do reach it.
	r.expect3D(ctx, CtxAttachResource{ResourceID: 1}, RespOKNoData)
	r.expect3D(ctx, TransferToHost3D{TransferHost3D{ResourceID: 1, Box: Box{X: 63, Y: 31, W: 1, H: 1, D: 1}, Offset: 64*32*4 - 4}}, RespOKNoData)
	r.expect3D(ctx, Submit3D{Size: 8, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}, RespOKNoData)
	if len(fake.submits) != 1 || !bytes.Equal(fake.submits[0], []byte{1, 2, 3, 4, 5, 6, 7, 8}) || len(fake.transfers) != 1 {
		t.Fatalf("submits %v transfers %v", fake.submits, fake.transfers)
	}
	fake.submitErr = errors.New("garbage")
	r.expect3D(ctx, Submit3D{Size: 4, Data: make([]byte, 4)}, RespErrUnspec)
	r.expect3D(ctx, CtxDestroy{}, RespOKNoData)
	if len(r.sig.Resets()) != 0 {
		t.Fatal(r.sig.Resets())
	}
}

// A fenced command's response is published only when its fence signals;
// unfenced ones and errors are answered at once.
func TestFenceHoldsResponse(t *testing.T) {
	fake := newFake3D()
	r := newRig(t, Options{Backend: fake}, 1<<20)
	r.expect3D(CtrlHeader{CtxID: 1}, CtxCreate{}, RespOKNoData)

	fenced := CtrlHeader{Flags: FlagFence, FenceID: 100, CtxID: 1}
	h1 := r.ctrl.AddChain([][]byte{Encode(fenced, Submit3D{Size: 4, Data: make([]byte, 4)})}, []uint32{SizeCtrlHdr})
	r.ctrl.Kick()
	if used := r.ctrl.Used(); len(used) != 0 {
		t.Fatalf("answered before the fence: %+v", used)
	}
	if len(fake.fences) != 1 || fake.fences[0].ctx != 0 {
		t.Fatalf("fences %+v", fake.fences)
	}
	// A fenced error is answered at once, with no fence.
	bad := CtrlHeader{Flags: FlagFence, FenceID: 101, CtxID: 42}
	r.send(r.ctrl, [][]byte{Encode(bad, Submit3D{Size: 4, Data: make([]byte, 4)})}, []uint32{SizeCtrlHdr})
	// A second fenced command on the same timeline.
	fenced.FenceID = 102
	h2 := r.ctrl.AddChain([][]byte{Encode(fenced, Submit3D{Size: 4, Data: make([]byte, 4)})}, []uint32{SizeCtrlHdr})
	r.ctrl.Kick()
	// A context-ring fence, on another timeline.
	ringed := CtrlHeader{Flags: FlagFence | FlagInfoRingIdx, FenceID: 7, CtxID: 1, RingIdx: 3}
	h3 := r.ctrl.AddChain([][]byte{Encode(ringed, Submit3D{Size: 4, Data: make([]byte, 4)})}, []uint32{SizeCtrlHdr})
	r.ctrl.Kick()
	if used := r.ctrl.Used(); len(used) != 0 || len(fake.fences) != 3 {
		t.Fatalf("used %+v fences %+v", used, fake.fences)
	}
	if f := fake.fences[2]; f.ctx != 1 || f.ring != 3 {
		t.Fatalf("ring fence %+v", f)
	}
	before := r.sig.UsedSignals()
	// Signalling the second device-wide fence releases both, in order.
	fake.fence(0, 0, fake.fences[1].id)
	used := r.ctrl.Used()
	if len(used) != 2 || used[0].ID != uint32(h1) || used[1].ID != uint32(h2) {
		t.Fatalf("used %+v, want heads %d %d", used, h1, h2)
	}
	if r.sig.UsedSignals() != before+1 {
		t.Fatal("no interrupt for the fenced responses")
	}
	h, _, err := Decode(r.ctrl.ReadWritable(h2))
	if err != nil || h.Type != RespOKNoData || h.FenceID != 102 || h.Flags&FlagFence == 0 {
		t.Fatalf("fenced response %+v %v", h, err)
	}
	// Stale or foreign fences release nothing; destroying the context
	// releases its ring's held request.
	fake.fence(0, 0, 1)
	fake.fence(2, 3, 1<<60)
	if used := r.ctrl.Used(); len(used) != 0 {
		t.Fatalf("used %+v", used)
	}
	hd := r.ctrl.AddChain([][]byte{Encode(CtrlHeader{CtxID: 1}, CtxDestroy{})}, []uint32{SizeCtrlHdr})
	r.ctrl.Kick()
	if used := r.ctrl.Used(); len(used) != 2 || used[0].ID != uint32(h3) || used[1].ID != uint32(hd) {
		t.Fatalf("used %+v, want heads %d %d", used, h3, hd)
	}
	if h, _, err := Decode(r.ctrl.ReadWritable(h3)); err != nil || h.FenceID != 7 || h.RingIdx != 3 {
		t.Fatalf("ring response %+v %v", h, err)
	}
	// After a reset, late fences are ignored.
	fenced = CtrlHeader{Flags: FlagFence, FenceID: 1}
	r.ctrl.AddChain([][]byte{Encode(fenced, GetDisplayInfo{})}, []uint32{SizeRespDisplayInfo})
	r.ctrl.Kick()
	r.d.Reset()
	fake.fence(0, 0, ^uint64(0))
	if len(r.sig.Resets()) != 0 {
		t.Fatal(r.sig.Resets())
	}
}

func TestDecode3DRoundTrip(t *testing.T) {
	msgs := []Body{
		GetCapsetInfo{CapsetIndex: 1}, RespCapsetInfo{CapsetID: 2, MaxVersion: 2, MaxSize: 1376},
		GetCapset{CapsetID: 2, Version: 1}, RespCapset{Data: []byte{1, 2, 3}},
		CtxCreate{NLen: 3, ContextInit: 2, DebugName: [64]byte{'a', 'b', 'c'}}, CtxDestroy{},
		CtxAttachResource{ResourceID: 5}, CtxDetachResource{ResourceID: 6},
		ResourceCreate3D{ResourceID: 1, Target: 2, Format: 2, Bind: 2, Width: 3, Height: 4, Depth: 1, ArraySize: 1, LastLevel: 2, NrSamples: 4, Flags: 1},
		TransferToHost3D{TransferHost3D{Box: Box{1, 2, 3, 4, 5, 6}, Offset: 1 << 40, ResourceID: 9, Level: 1, Stride: 64, LayerStride: 4096}},
		TransferFromHost3D{TransferHost3D{Box: Box{6, 5, 4, 3, 2, 1}, ResourceID: 9}},
		Submit3D{Size: 8, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	}
	sizes := map[CtrlType]int{CmdGetCapsetInfo: SizeGetCapsetInfo, RespOKCapsetInfo: SizeRespCapsetInfo, CmdGetCapset: SizeGetCapset,
		CmdCtxCreate: SizeCtxCreate, CmdCtxDestroy: SizeCtxDestroy, CmdCtxAttachResource: SizeCtxResource,
		CmdCtxDetachResource: SizeCtxResource, CmdResourceCreate3D: SizeResourceCreate3D,
		CmdTransferToHost3D: SizeTransferHost3D, CmdTransferFromHost3D: SizeTransferHost3D}
	for _, m := range msgs {
		b := Encode(CtrlHeader{Flags: FlagFence, FenceID: 3, CtxID: 4}, m)
		if want, ok := sizes[m.Type()]; ok && len(b) != want {
			t.Errorf("%T: %d bytes, want %d", m, len(b), want)
		}
		h, body, err := Decode3D(b)
		if err != nil || h.Type != m.Type() || !bytes.Equal(Encode(h, body), b) {
			t.Errorf("%T: %v, re-encoded %x", m, err, Encode(h, body))
		}
	}
	if _, _, err := Decode3D(Encode(CtrlHeader{}, Submit3D{Size: 12, Data: make([]byte, 8)})); !errors.Is(err, ErrShort) {
		t.Errorf("short submit: %v", err)
	}
}

// FuzzControlQueue3D hands a 3D device (fake backend) arbitrary requests,
// fenced or not: no panic, no reset, and every request is answered at
// once or once its fence signals.
func FuzzControlQueue3D(f *testing.F) {
	for _, m := range []Body{
		CtxCreate{NLen: 1}, ResourceCreate3D{ResourceID: 2, Target: 2, Format: 1, Width: 4, Height: 4, Depth: 1, ArraySize: 1},
		TransferToHost3D{TransferHost3D{ResourceID: 1, Box: Box{W: 2, H: 2, D: 1}}}, Submit3D{Size: 4, Data: make([]byte, 4)},
		GetCapset{CapsetID: 1, Version: 1}, CtxAttachResource{ResourceID: 1},
	} {
		f.Add(Encode(CtrlHeader{CtxID: 1, Flags: FlagFence}, m))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fake := newFake3D()
		r := newRig(t, Options{Width: 8, Height: 8, MemLimit: 1 << 20, Backend: fake}, 4096)
		r.expect3D(CtrlHeader{CtxID: 1}, CtxCreate{}, RespOKNoData)
		r.expect(ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8A8, Width: 8, Height: 8}, RespOKNoData)
		head := r.ctrl.AddChain([][]byte{msg}, []uint32{4096})
		r.ctrl.Kick()
		used := r.ctrl.Used()
		if len(used) == 0 {
			for _, s := range fake.fences {
				fake.fence(s.ctx, s.ring, s.id)
			}
			used = r.ctrl.Used()
		}
		if len(used) != 1 || used[0].ID != uint32(head) || len(r.sig.Resets()) != 0 {
			t.Fatalf("used %+v resets %v", used, r.sig.Resets())
		}
	})
}
