package gpu

import (
	"testing"

	"github.com/govm/govm/devices/virtio/virtiotest"
)

// FuzzControlQueue hands the device arbitrary requests, split into two
// readable buffers at an arbitrary point, on either queue, after a setup
// that gives it a resource with backing on a scanout. Whatever the bytes,
// the chain comes back with at most a response's worth written, the
// response decodes, and the device never asks for a reset or panics.
func FuzzControlQueue(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m, uint8(24), false)
	}
	f.Add(Encode(CtrlHeader{}, ResourceAttachBacking{ResourceID: 1, NrEntries: 1, Entries: []MemEntry{{Addr: fuzzFB, Length: 64}}}), uint8(32), false)
	f.Add(Encode(CtrlHeader{}, TransferToHost2D{Rect: Rect{X: 1, Y: 1, Width: 2, Height: 2}, Offset: 36, ResourceID: 1}), uint8(0), false)
	f.Add(Encode(CtrlHeader{}, UpdateCursor{ResourceID: 1, HotX: 1}), uint8(30), true)
	f.Fuzz(func(t *testing.T, msg []byte, cut uint8, cursorQ bool) {
		d, err := New(Options{Width: 8, Height: 8, MemLimit: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		mem := virtiotest.NewMemory(fuzzMem)
		ctrl := virtiotest.NewDriver(t, mem, 0, fuzzWindow, 16)
		curs := virtiotest.NewDriver(t, mem, fuzzWindow, fuzzWindow, 16)
		a, sig := virtiotest.Activation(mem, d.Features(), ctrl, curs)
		if err := d.Activate(a); err != nil {
			t.Fatal(err)
		}
		// Resource 1: 8x8 with 256 bytes of backing, on scanout 0.
		for _, m := range [][]byte{
			Encode(CtrlHeader{}, ResourceCreate2D{ResourceID: 1, Format: FormatB8G8R8A8, Width: 8, Height: 8}),
			Encode(CtrlHeader{}, ResourceAttachBacking{ResourceID: 1, NrEntries: 1, Entries: []MemEntry{{Addr: fuzzFB, Length: 256}}}),
			Encode(CtrlHeader{}, SetScanout{Rect: Rect{Width: 8, Height: 8}, ResourceID: 1}),
		} {
			ctrl.AddChain([][]byte{m}, []uint32{SizeCtrlHdr})
		}
		d.QueueNotify(ControlQueue)
		ctrl.Used()

		drv, q := ctrl, ControlQueue
		if cursorQ {
			drv, q = curs, CursorQueue
		}
		var readable [][]byte
		if c := int(cut); c > 0 && c < len(msg) {
			readable = [][]byte{msg[:c], msg[c:]}
		} else if len(msg) > 0 {
			readable = [][]byte{msg}
		}
		head := drv.AddChain(readable, []uint32{SizeRespEDID})
		d.QueueNotify(q)
		used := drv.Used()
		if len(used) != 1 || used[0].ID != uint32(head) {
			t.Fatalf("used %+v", used)
		}
		if rs := sig.Resets(); len(rs) != 0 {
			t.Fatalf("NeedsReset: %v", rs)
		}
		out := drv.ReadWritable(head)
		h, body, err := Decode(out)
		if err != nil || uint32(len(Encode(h, body))) != used[0].Len {
			t.Fatalf("response of %d bytes does not decode: %v", used[0].Len, err)
		}
	})
}

// Guest memory of the fuzz target: two queue windows, then a framebuffer.
const (
	fuzzWindow = 64 << 10
	fuzzFB     = 2 * fuzzWindow
	fuzzMem    = fuzzFB + 4096
)
