//go:build cgo

package virgl_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/gpu/virgl"
	"github.com/govm/govm/devices/input"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// open starts a Renderer for one test (llvmpipe here: there is no GPU).
func open(t *testing.T) *virgl.Renderer {
	t.Helper()
	r, err := virgl.New(virgl.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestInitAndCapsets(t *testing.T) {
	r := open(t)
	if _, err := virgl.New(virgl.Options{}); !errors.Is(err, virgl.ErrBusy) {
		t.Fatalf("second New: %v", err)
	}
	vendor, renderer, version := r.RendererString()
	t.Logf("GL: %q %q %q", vendor, renderer, version)
	if renderer == "" || version == "" {
		t.Fatal("no GL_RENDERER / GL_VERSION")
	}
	if r.NumCapsets() != 2 {
		t.Fatalf("%d capsets, want virgl and virgl2", r.NumCapsets())
	}
	for i, want := range []uint32{virgl.CapsetVirgl, virgl.CapsetVirgl2} {
		id, ver, size, err := r.GetCapsetInfo(uint32(i))
		if err != nil || id != want || ver < 1 || size < 64 || size > gpu.MaxCapsetSize {
			t.Fatalf("capset %d: id %d version %d size %d: %v", i, id, ver, size, err)
		}
		data, err := r.GetCapset(id, ver)
		if err != nil || len(data) != int(size) || bytes.Equal(data, make([]byte, size)) {
			t.Fatalf("capset %d data: %d bytes, %v", id, len(data), err)
		}
	}
	if _, err := r.GetCapset(3, 1); err == nil {
		t.Fatal("capset 3")
	}
}

// Close lets a new renderer be opened (virglrenderer is re-initialised).
func TestReopen(t *testing.T) {
	for range 2 {
		r, err := virgl.New(virgl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CreateContext(1, "x", 0); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if err := r.CreateContext(2, "y", 0); !errors.Is(err, virgl.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
}

// sink keeps the last frame presented.
type sink struct {
	mu   sync.Mutex
	last gpu.Frame
	n    int
}

func (s *sink) Present(_ uint32, f gpu.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.last = gpu.Frame{Width: f.Width, Height: f.Height, Stride: f.Width * 4, Format: f.Format}
	for y := range f.Height {
		s.last.Pix = append(s.last.Pix, f.Pix[y*f.Stride:y*f.Stride+f.Width*4]...)
	}
	return nil
}
func (s *sink) Events() <-chan input.Event { return nil }
func (s *sink) Close() error               { return nil }

// spy records when the renderer reports a fence, before the device hears.
type spy struct {
	*virgl.Renderer
	fired atomic.Int64
}

func (s *spy) SetFenceHandler(h gpu.FenceFunc) {
	s.Renderer.SetFenceHandler(func(ctx, ring uint32, id uint64) {
		s.fired.Add(1)
		h(ctx, ring, id)
	})
}

const (
	queueWindow = 1 << 20
	fbBase      = 2 << 20
	fbSize      = 1 << 20
)

type rig struct {
	t    *testing.T
	d    *gpu.Device
	mem  *virtiotest.Memory
	ctrl *virtiotest.Driver
	sig  *virtiotest.Signaller
	sink *sink
	spy  *spy
}

func newRig(t *testing.T) *rig {
	sp := &spy{Renderer: open(t)}
	sk := &sink{}
	d, err := gpu.New(gpu.Options{Width: 64, Height: 32, Sink: sk, Backend: sp})
	if err != nil {
		t.Fatal(err)
	}
	mem := virtiotest.NewMemory(fbBase + fbSize)
	ctrl := virtiotest.NewDriver(t, mem, 0, queueWindow, gpu.QueueSize)
	curs := virtiotest.NewDriver(t, mem, queueWindow, queueWindow, gpu.QueueSize)
	a, sig := virtiotest.Activation(mem, d.Features(), ctrl, curs)
	if err := d.Activate(a); err != nil {
		t.Fatal(err)
	}
	ctrl.SetNotify(func() { d.QueueNotify(gpu.ControlQueue) })
	t.Cleanup(d.Reset) // before the renderer closes
	return &rig{t: t, d: d, mem: mem, ctrl: ctrl, sig: sig, sink: sk, spy: sp}
}

// cmd sends one command and waits for its response (fenced ones come
// when the fence signals).
func (g *rig) cmd(h gpu.CtrlHeader, body gpu.Body) gpu.CtrlHeader {
	g.t.Helper()
	head := g.ctrl.AddChain([][]byte{gpu.Encode(h, body)}, []uint32{4096})
	g.ctrl.Kick()
	used := g.ctrl.WaitUsed(1, 10*time.Second)
	if len(used) != 1 || used[0].ID != uint32(head) {
		g.t.Fatalf("%T: used %+v, want head %d", body, used, head)
	}
	rh, _, err := gpu.Decode3D(g.ctrl.ReadWritable(head))
	if err != nil {
		g.t.Fatalf("%T: response: %v", body, err)
	}
	return rh
}

func (g *rig) expect(h gpu.CtrlHeader, body gpu.Body, want gpu.CtrlType) {
	g.t.Helper()
	if got := g.cmd(h, body); got.Type != want {
		g.t.Fatalf("%T %+v: response %#x, want %#x", body, body, uint32(got.Type), uint32(want))
	}
}

// pattern is a w×h B8G8R8X8 image.
func pattern(w, h int, seed byte) []byte {
	p := make([]byte, w*h*4)
	for i := range w * h {
		p[4*i], p[4*i+1], p[4*i+2], p[4*i+3] = byte(i)+seed, byte(i>>4), byte(i>>8)^seed, 0xff
	}
	return p
}

const w, h = 64, 32

// newTexture makes resource id, a 64×32 B8G8R8X8 render target with
// backing at fbBase, in context ctx.
func (g *rig) newTexture(ctx, id uint32) {
	g.expect(gpu.CtrlHeader{CtxID: ctx}, gpu.ResourceCreate3D{ResourceID: id, Target: gpu.Target2D, Format: gpu.FormatB8G8R8X8,
		Bind: 1<<1 | 1<<3, Width: w, Height: h, Depth: 1, ArraySize: 1}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceAttachBacking{ResourceID: id, NrEntries: 1,
		Entries: []gpu.MemEntry{{Addr: fbBase, Length: w * h * 4}}}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{CtxID: ctx}, gpu.CtxAttachResource{ResourceID: id}, gpu.RespOKNoData)
}

// Pixels go guest → texture → guest, and the scanout shows the texture.
func TestTransferRoundTripAndScanout(t *testing.T) {
	g := newRig(t)
	ctx := gpu.CtrlHeader{CtxID: 1}
	g.expect(ctx, gpu.CtxCreate{NLen: 4, DebugName: [64]byte{'t', 'e', 's', 't'}}, gpu.RespOKNoData)
	g.newTexture(1, 10)
	want := pattern(w, h, 3)
	g.mem.Write(fbBase, want)
	full := gpu.Box{W: w, H: h, D: 1}
	g.expect(ctx, gpu.TransferToHost3D{TransferHost3D: gpu.TransferHost3D{ResourceID: 10, Box: full, Stride: w * 4}}, gpu.RespOKNoData)
	g.mem.Write(fbBase, make([]byte, len(want)))
	g.expect(ctx, gpu.TransferFromHost3D{TransferHost3D: gpu.TransferHost3D{ResourceID: 10, Box: full, Stride: w * 4}}, gpu.RespOKNoData)
	if got := g.mem.Read(fbBase, uint64(len(want))); !bytes.Equal(got, want) {
		t.Fatal("pixels changed on the way through the texture")
	}
	// A sub-box, read back from the texture.
	g.expect(ctx, gpu.TransferFromHost3D{TransferHost3D: gpu.TransferHost3D{ResourceID: 10,
		Box: gpu.Box{X: 5, Y: 7, W: 3, H: 2, D: 1}, Stride: w * 4, Offset: 7*w*4 + 5*4}}, gpu.RespOKNoData)

	g.expect(gpu.CtrlHeader{}, gpu.SetScanout{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 10}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceFlush{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 10}, gpu.RespOKNoData)
	if g.sink.n != 1 || !bytes.Equal(g.sink.last.Pix, want) || g.sink.last.Format != gpu.FormatB8G8R8X8 {
		t.Fatalf("sink got %d frames, pixels equal: %v", g.sink.n, bytes.Equal(g.sink.last.Pix, want))
	}
	shot, ok := g.d.Screenshot(0)
	if !ok || !bytes.Equal(shot.Pix, want) {
		t.Fatal("Screenshot differs")
	}
	if err := g.d.SinkErr(); err != nil {
		t.Fatal(err)
	}
}

// A 2D resource on the virgl device works as on the 2D one.
func TestResource2DOnVirgl(t *testing.T) {
	g := newRig(t)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceCreate2D{ResourceID: 1, Format: gpu.FormatB8G8R8X8, Width: w, Height: h}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceAttachBacking{ResourceID: 1, NrEntries: 2,
		Entries: []gpu.MemEntry{{Addr: fbBase, Length: 4096}, {Addr: fbBase + 4096, Length: w*h*4 - 4096}}}, gpu.RespOKNoData)
	want := pattern(w, h, 9)
	g.mem.Write(fbBase, want)
	g.expect(gpu.CtrlHeader{}, gpu.TransferToHost2D{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 1}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.SetScanout{Rect: gpu.Rect{X: 8, Y: 4, Width: 16, Height: 8}, ResourceID: 1}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceFlush{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 1}, gpu.RespOKNoData)
	var sub []byte
	for y := 4; y < 12; y++ {
		sub = append(sub, want[(y*w+8)*4:(y*w+24)*4]...)
	}
	if !bytes.Equal(g.sink.last.Pix, sub) {
		t.Fatal("scanout of a sub-rectangle differs")
	}
	g.expect(gpu.CtrlHeader{}, gpu.ResourceDetachBacking{ResourceID: 1}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.TransferToHost2D{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 1}, gpu.RespErrUnspec)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceUnref{ResourceID: 1}, gpu.RespOKNoData)
}

// virgl commands (virgl_protocol.h).
const (
	ccmdCreateObject        = 1
	ccmdSetFramebufferState = 5
	ccmdClear               = 7
	objectSurface           = 8
	pipeClearColor0         = 1 << 2
)

func cmd0(cmd, obj, n uint32) uint32 { return cmd | obj<<8 | n<<16 }

func words(ws ...uint32) []byte {
	b := make([]byte, 0, 4*len(ws))
	for _, v := range ws {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// A real command stream renders into the texture (a clear to red), and
// the scanout shows what GL rendered.
func TestSubmitRendersToScanout(t *testing.T) {
	g := newRig(t)
	ctx := gpu.CtrlHeader{CtxID: 2}
	g.expect(ctx, gpu.CtxCreate{}, gpu.RespOKNoData)
	g.newTexture(2, 20)
	red := math.Float32bits(1)
	cmds := words(
		cmd0(ccmdCreateObject, objectSurface, 5), 1, 20, uint32(gpu.FormatB8G8R8X8), 0, 0,
		cmd0(ccmdSetFramebufferState, 0, 3), 1, 0, 1,
		cmd0(ccmdClear, 0, 8), pipeClearColor0, red, 0, 0, red, 0, 0, 0,
	)
	g.expect(ctx, gpu.Submit3D{Size: uint32(len(cmds)), Data: cmds}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.SetScanout{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 20}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{}, gpu.ResourceFlush{Rect: gpu.Rect{Width: w, Height: h}, ResourceID: 20}, gpu.RespOKNoData)
	shot, ok := g.d.Screenshot(0)
	if !ok {
		t.Fatal("no screenshot")
	}
	for i := 0; i < len(shot.Pix); i += 4 {
		if px := shot.Pix[i : i+3]; !bytes.Equal(px, []byte{0, 0, 0xff}) {
			t.Fatalf("pixel %d = %v, want red (B8G8R8: 0 0 255)", i/4, px)
		}
	}
}

// Garbage commands get an error response; the context, the renderer and
// the device keep working. Bad ids and sizes never reach virglrenderer.
func TestHostileOnVirgl(t *testing.T) {
	g := newRig(t)
	ctx := gpu.CtrlHeader{CtxID: 3}
	g.expect(ctx, gpu.CtxCreate{}, gpu.RespOKNoData)
	g.newTexture(3, 30)
	garbage := bytes.Repeat([]byte{0xff, 0xfe, 0x13, 0x37}, 64)
	g.expect(ctx, gpu.Submit3D{Size: uint32(len(garbage)), Data: garbage}, gpu.RespErrUnspec)
	g.expect(gpu.CtrlHeader{CtxID: 99}, gpu.Submit3D{Size: 4, Data: make([]byte, 4)}, gpu.RespErrInvalidContextID)
	g.expect(gpu.CtrlHeader{CtxID: 99}, gpu.CtxDestroy{}, gpu.RespErrInvalidContextID)
	g.expect(ctx, gpu.ResourceCreate3D{ResourceID: 31, Target: gpu.Target2DArray, Format: gpu.FormatB8G8R8X8,
		Width: 16384, Height: 16384, Depth: 1, ArraySize: 2048}, gpu.RespErrOutOfMemory)
	g.expect(ctx, gpu.ResourceCreate3D{ResourceID: 31, Target: gpu.Target2D, Format: gpu.FormatB8G8R8X8,
		Width: 1 << 20, Height: 1, Depth: 1, ArraySize: 1}, gpu.RespErrInvalidParameter)
	g.expect(ctx, gpu.TransferToHost3D{TransferHost3D: gpu.TransferHost3D{ResourceID: 30, Box: gpu.Box{X: 60, W: 5, H: 1, D: 1}}}, gpu.RespErrInvalidParameter)
	g.expect(ctx, gpu.TransferToHost3D{TransferHost3D: gpu.TransferHost3D{ResourceID: 30, Box: gpu.Box{W: w, H: h, D: 1}, Stride: 4}}, gpu.RespErrUnspec)  // virglrenderer: stride too small
	g.expect(ctx, gpu.TransferToHost3D{TransferHost3D: gpu.TransferHost3D{ResourceID: 30, Box: gpu.Box{W: w, H: h, D: 1}, Offset: 64}}, gpu.RespErrUnspec) // past the backing by 64 bytes
	// Still working: a round trip in a new context.
	g.expect(gpu.CtrlHeader{CtxID: 4}, gpu.CtxCreate{}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{CtxID: 4}, gpu.CtxAttachResource{ResourceID: 30}, gpu.RespOKNoData)
	want := pattern(w, h, 5)
	g.mem.Write(fbBase, want)
	full := gpu.TransferHost3D{ResourceID: 30, Box: gpu.Box{W: w, H: h, D: 1}}
	g.expect(gpu.CtrlHeader{CtxID: 4}, gpu.TransferToHost3D{TransferHost3D: full}, gpu.RespOKNoData)
	g.mem.Write(fbBase, make([]byte, len(want)))
	g.expect(gpu.CtrlHeader{CtxID: 4}, gpu.TransferFromHost3D{TransferHost3D: full}, gpu.RespOKNoData)
	if !bytes.Equal(g.mem.Read(fbBase, uint64(len(want))), want) {
		t.Fatal("round trip after garbage failed")
	}
	g.expect(ctx, gpu.CtxDestroy{}, gpu.RespOKNoData)
	g.expect(gpu.CtrlHeader{CtxID: 4}, gpu.CtxDestroy{}, gpu.RespOKNoData)
	if rs := g.sig.Resets(); len(rs) != 0 {
		t.Fatal(rs)
	}
}

// A fenced command is answered only after virglrenderer signals its
// fence, through the poll fd and the callback.
func TestFencesOnVirgl(t *testing.T) {
	g := newRig(t)
	g.expect(gpu.CtrlHeader{CtxID: 5}, gpu.CtxCreate{}, gpu.RespOKNoData)
	g.newTexture(5, 50)
	nop := gpu.Submit3D{Size: 4, Data: make([]byte, 4)} // VIRGL_CCMD_NOP
	for i := range uint64(3) {
		before := g.spy.fired.Load()
		rh := g.cmd(gpu.CtrlHeader{Flags: gpu.FlagFence, FenceID: 1000 + i, CtxID: 5}, nop)
		if rh.Type != gpu.RespOKNoData || rh.FenceID != 1000+i {
			t.Fatalf("fenced response %+v", rh)
		}
		if g.spy.fired.Load() == before {
			t.Fatal("response before the fence was reported")
		}
	}
	// Per-context fence on ring 0 (write_context_fence).
	before := g.spy.fired.Load()
	rh := g.cmd(gpu.CtrlHeader{Flags: gpu.FlagFence | gpu.FlagInfoRingIdx, FenceID: 77, CtxID: 5, RingIdx: 0}, nop)
	if rh.Type != gpu.RespOKNoData || rh.FenceID != 77 || g.spy.fired.Load() == before {
		t.Fatalf("ring fence: %+v", rh)
	}
	// Ring 1: virgl contexts have one ring, so no fence: answered at once.
	if rh := g.cmd(gpu.CtrlHeader{Flags: gpu.FlagFence | gpu.FlagInfoRingIdx, FenceID: 78, CtxID: 5, RingIdx: 1}, nop); rh.FenceID != 78 {
		t.Fatalf("ring 1: %+v", rh)
	}
	// Many fenced commands in one kick all complete.
	const n = 32
	for i := range n {
		g.ctrl.AddChain([][]byte{gpu.Encode(gpu.CtrlHeader{Flags: gpu.FlagFence, FenceID: uint64(2000 + i)}, nop)}, []uint32{gpu.SizeCtrlHdr})
	}
	g.ctrl.Kick()
	// These lack a context (ctx 0): SUBMIT_3D answers INVALID_CONTEXT_ID at once.
	if used := g.ctrl.WaitUsed(n, 10*time.Second); len(used) != n {
		t.Fatalf("%d of %d answered", len(used), n)
	}
	for i := range n {
		g.ctrl.AddChain([][]byte{gpu.Encode(gpu.CtrlHeader{Flags: gpu.FlagFence, FenceID: uint64(3000 + i), CtxID: 5}, nop)}, []uint32{gpu.SizeCtrlHdr})
	}
	g.ctrl.Kick()
	if used := g.ctrl.WaitUsed(n, 10*time.Second); len(used) != n {
		t.Fatalf("%d of %d fenced submits answered", len(used), n)
	}
}

// --gpu virgl,gles: virglrenderer on OpenGL ES.
func TestGLES(t *testing.T) {
	r, err := virgl.New(virgl.Options{GLES: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer r.Close()
	_, renderer, version := r.RendererString()
	t.Logf("GLES: %q %q, %d capsets", renderer, version, r.NumCapsets())
	if !strings.Contains(version, "OpenGL ES") || r.NumCapsets() == 0 {
		t.Fatalf("version %q, %d capsets", version, r.NumCapsets())
	}
}
