package gpu

import (
	"fmt"
	"sync"
	"testing"

	"github.com/govm/govm/devices/input"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// testSink records what the device shows. It copies every frame, as a
// Sink must.
type testSink struct {
	mu       sync.Mutex
	presents []presented
	cursors  []cursorSet
	moves    [][3]uint32 // scanout, x, y
	err      error       // returned by Present when set
	discard  bool        // copy frames into one buffer, keep nothing (benchmarks)
	buf      []byte
}

type presented struct {
	scanout uint32
	frame   Frame // tightly packed copy
}

type cursorSet struct {
	img        *Frame // nil: hidden
	hotX, hotY uint32
}

func (s *testSink) Present(scanout uint32, f Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.discard {
		row := f.Width * BytesPerPixel
		if len(s.buf) < row*f.Height {
			s.buf = make([]byte, row*f.Height)
		}
		for y := range f.Height {
			copy(s.buf[y*row:(y+1)*row], f.Pix[y*f.Stride:])
		}
		return s.err
	}
	c := Frame{}
	if f.Width > 0 {
		c = copyFrame(f)
	}
	s.presents = append(s.presents, presented{scanout, c})
	return s.err
}

func (s *testSink) Events() <-chan input.Event { return nil }
func (s *testSink) Close() error               { return nil }

func (s *testSink) SetCursor(img *Frame, hotX, hotY uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *Frame
	if img != nil {
		f := copyFrame(*img)
		c = &f
	}
	s.cursors = append(s.cursors, cursorSet{c, hotX, hotY})
}

func (s *testSink) MoveCursor(scanout, x, y uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moves = append(s.moves, [3]uint32{scanout, x, y})
}

func (s *testSink) last() (presented, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.presents) == 0 {
		return presented{}, false
	}
	return s.presents[len(s.presents)-1], true
}

// Guest memory layout of the tests: the two queues' windows, then the
// framebuffers.
const (
	ctrlBase     = 0
	ctrlWindow   = 1 << 20
	cursorBase   = ctrlWindow
	cursorWindow = 256 << 10
	fbBase       = 2 << 20
	pageSize     = 4096
)

// rig is a device activated on fake guest memory with a fake driver on
// each queue.
type rig struct {
	t      testing.TB
	d      *Device
	mem    *virtiotest.Memory
	ctrl   *virtiotest.Driver
	curs   *virtiotest.Driver
	sig    *virtiotest.Signaller
	sink   *testSink
	fbNext uint64 // next free guest address for framebuffers
}

// newRig makes a device with o (its Sink replaced by a testSink) and
// fbBytes of guest memory for framebuffers.
func newRig(t testing.TB, o Options, fbBytes uint64) *rig {
	t.Helper()
	sink := &testSink{}
	o.Sink = sink
	d, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mem := virtiotest.NewMemory(fbBase + fbBytes)
	ctrl := virtiotest.NewDriver(t, mem, ctrlBase, ctrlWindow, QueueSize)
	curs := virtiotest.NewDriver(t, mem, cursorBase, cursorWindow, QueueSize)
	a, sig := virtiotest.Activation(mem, d.Features(), ctrl, curs)
	if err := d.Activate(a); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	ctrl.SetNotify(func() { d.QueueNotify(ControlQueue) })
	curs.SetNotify(func() { d.QueueNotify(CursorQueue) })
	return &rig{t: t, d: d, mem: mem, ctrl: ctrl, curs: curs, sig: sig, sink: sink, fbNext: fbBase}
}

// send puts one chain on drv, kicks, and returns the used length and the
// bytes written.
func (r *rig) send(drv *virtiotest.Driver, readable [][]byte, writable []uint32) (uint32, []byte) {
	r.t.Helper()
	head := drv.AddChain(readable, writable)
	drv.Kick()
	used := drv.Used()
	if len(used) != 1 || used[0].ID != uint32(head) {
		r.t.Fatalf("used %+v, want head %d", used, head)
	}
	return used[0].Len, drv.ReadWritable(head)
}

// cmd sends a control command with room for its response and decodes it.
func (r *rig) cmd(h CtrlHeader, body Body) (CtrlHeader, Body) {
	r.t.Helper()
	msg := Encode(h, body)
	readable := [][]byte{msg}
	if ab, ok := body.(ResourceAttachBacking); ok && len(ab.Entries) > 0 {
		// Linux puts the entries in a second buffer.
		readable = [][]byte{msg[:SizeResourceAttachBacking], msg[SizeResourceAttachBacking:]}
	}
	n, out := r.send(r.ctrl, readable, []uint32{SizeRespEDID})
	rh, rb, err := Decode(out)
	if err != nil || int(n) != len(Encode(rh, rb)) {
		r.t.Fatalf("response of %d bytes: %v", n, err)
	}
	return rh, rb
}

// expect sends a command and checks the response type.
func (r *rig) expect(body Body, want CtrlType) {
	r.t.Helper()
	if h, _ := r.cmd(CtrlHeader{}, body); h.Type != want {
		r.t.Fatalf("%T %+v: response %#x, want %#x", body, body, uint32(h.Type), uint32(want))
	}
}

// framebuffer is a guest framebuffer spread over pages placed in reverse
// order in guest memory, as a fragmented guest might have them.
type framebuffer struct {
	w, h    uint32
	entries []MemEntry
	r       *rig
}

func (r *rig) newFramebuffer(w, h uint32) *framebuffer {
	size := uint64(w) * uint64(h) * BytesPerPixel
	pages := (size + pageSize - 1) / pageSize
	base := r.fbNext
	r.fbNext += pages * pageSize
	if r.fbNext > r.mem.Size() {
		r.t.Fatalf("framebuffer memory exhausted")
	}
	fb := &framebuffer{w: w, h: h, r: r}
	for i := range pages {
		n := min(pageSize, size-i*pageSize)
		fb.entries = append(fb.entries, MemEntry{Addr: base + (pages-1-i)*pageSize, Length: uint32(n)})
	}
	return fb
}

// set writes pixel (x, y) of the guest framebuffer.
func (fb *framebuffer) set(x, y uint32, px [4]byte) {
	off := (uint64(y)*uint64(fb.w) + uint64(x)) * BytesPerPixel
	for i := range uint64(BytesPerPixel) {
		e := fb.entries[(off+i)/pageSize]
		fb.r.mem.Write(e.Addr+(off+i)%pageSize, px[i:i+1])
	}
}

// fill paints the w×h rectangle at (x, y) with a pattern depending on seed.
func (fb *framebuffer) fill(x, y, w, h uint32, seed byte) {
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			fb.set(i, j, [4]byte{byte(i) + seed, byte(j), byte(i>>8) ^ seed, 0xff})
		}
	}
}

// pixels returns the guest framebuffer, tightly packed.
func (fb *framebuffer) pixels() []byte {
	var out []byte
	for _, e := range fb.entries {
		out = append(out, fb.r.mem.Read(e.Addr, uint64(e.Length))...)
	}
	return out
}

// sub returns rectangle rc of the guest framebuffer, tightly packed.
func (fb *framebuffer) sub(rc Rect) []byte {
	all := fb.pixels()
	var out []byte
	stride := fb.w * BytesPerPixel
	for y := rc.Y; y < rc.Y+rc.Height; y++ {
		start := y*stride + rc.X*BytesPerPixel
		out = append(out, all[start:start+rc.Width*BytesPerPixel]...)
	}
	return out
}

// setup creates resource id for fb and attaches fb's memory.
func (r *rig) setup(id uint32, fb *framebuffer) {
	r.t.Helper()
	r.expect(ResourceCreate2D{ResourceID: id, Format: FormatB8G8R8X8, Width: fb.w, Height: fb.h}, RespOKNoData)
	r.expect(ResourceAttachBacking{ResourceID: id, NrEntries: uint32(len(fb.entries)), Entries: fb.entries}, RespOKNoData)
}

func (p presented) String() string {
	return fmt.Sprintf("scanout %d %dx%d", p.scanout, p.frame.Width, p.frame.Height)
}

// countingBackend is the soft backend counting the Frame calls: the
// read-backs of resource pixels.
type countingBackend struct {
	Backend
	frames int
}

func (b *countingBackend) Frame(id uint32, r Rect) (Frame, error) {
	b.frames++
	return b.Backend.Frame(id, r)
}

// show puts fb (filled with seed) in a new resource id on scanout 0, as
// Linux does: create, attach, transfer, set scanout, flush.
func (r *rig) show(id uint32, fb *framebuffer, seed byte) {
	r.t.Helper()
	fb.fill(0, 0, fb.w, fb.h, seed)
	full := Rect{Width: fb.w, Height: fb.h}
	r.setup(id, fb)
	r.expect(TransferToHost2D{Rect: full, ResourceID: id}, RespOKNoData)
	r.expect(SetScanout{Rect: full, ResourceID: id}, RespOKNoData)
	r.expect(ResourceFlush{Rect: full, ResourceID: id}, RespOKNoData)
}
