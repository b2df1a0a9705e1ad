package blk

import (
	"os"
	"testing"

	"github.com/govm/govm/devices/virtio/virtiotest"
)

// decodeChain turns fuzz input into a request chain: byte 0 gives the
// number of readable buffers (low 2 bits) and writable buffers (next 2
// bits), then two bytes per writable buffer give its length (at most
// 4 KiB), then one byte per readable buffer but the last gives its length;
// the last readable buffer takes the rest.
func decodeChain(in []byte) (readable [][]byte, writable []uint32, ok bool) {
	if len(in) < 1 {
		return nil, nil, false
	}
	nr, nw := int(in[0]&3), int(in[0]>>2&3)
	in = in[1:]
	for range nw {
		if len(in) < 2 {
			return nil, nil, false
		}
		writable = append(writable, uint32(in[0])|uint32(in[1]&0x0f)<<8)
		in = in[2:]
	}
	for i := range nr {
		n := len(in)
		if i < nr-1 {
			if len(in) < 1 {
				return nil, nil, false
			}
			n, in = min(int(in[0]), len(in)-1), in[1:]
		}
		readable = append(readable, in[:n])
		in = in[n:]
	}
	return readable, writable, nr+nw > 0
}

// FuzzRequest sends arbitrary request chains through a real queue to a
// device on a small image: it must never panic, never break the queue for
// a well-formed chain, always write a status when there is room for one,
// never report more bytes than the chain can take, and never change the
// image size.
func FuzzRequest(f *testing.F) {
	le16 := func(n int) []byte { return []byte{byte(n), byte(n >> 8)} }
	add := func(nr, nw int, wlens []int, rlens []int, payload ...[]byte) {
		b := []byte{byte(nr | nw<<2)}
		for _, w := range wlens {
			b = append(b, le16(w)...)
		}
		for _, r := range rlens {
			b = append(b, byte(r))
		}
		f.Add(cat(append([][]byte{b}, payload...)...))
	}
	add(1, 2, []int{SectorSize, 1}, nil, header(TypeIn, 3))
	add(2, 1, []int{1}, []int{headerSize}, header(TypeOut, 1), make([]byte, SectorSize))
	add(1, 1, []int{1}, nil, header(TypeFlush, 0))
	add(1, 2, []int{IDBytes, 1}, nil, header(TypeGetID, 0))
	add(2, 1, []int{1}, []int{headerSize}, header(TypeDiscard, 0), seg(2, 4, 0))
	add(2, 1, []int{1}, []int{headerSize}, header(TypeWriteZeroes, 0), seg(8, 4, segFlagUnmap))
	add(1, 1, []int{1}, nil, header(77, 0))
	add(1, 0, nil, nil, header(TypeIn, 0))

	p := tempImage(f, pattern(imgSize, 11))
	d, err := Open(Options{Path: p})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	d.syncFile = func() error { return nil } // keep the fuzzer fast

	f.Fuzz(func(t *testing.T, in []byte) {
		readable, writable, ok := decodeChain(in)
		if !ok {
			return
		}
		mem := virtiotest.NewMemory(256 << 10)
		drv := virtiotest.NewDriver(t, mem, 0, mem.Size(), 16)
		a, sig := virtiotest.Activation(mem, d.Features(), drv)
		if err := d.Activate(a); err != nil {
			t.Fatal(err)
		}
		defer d.Reset()
		drv.SetNotify(func() { d.QueueNotify(0) })
		head := drv.AddChain(readable, writable)
		drv.Kick()
		if r := sig.Resets(); len(r) != 0 {
			t.Fatalf("well-formed chain broke the queue: %v", r)
		}
		used := drv.Used()
		if len(used) != 1 {
			t.Fatalf("%d used entries", len(used))
		}
		var total uint32
		for _, w := range writable {
			total += w
		}
		if used[0].Len > total {
			t.Fatalf("used len %d > writable %d", used[0].Len, total)
		}
		if total > 0 && used[0].Len == 0 {
			t.Fatal("a chain with a status byte came back without a status")
		}
		if total > 0 && used[0].Len == total {
			out := drv.ReadWritable(head)
			if st := out[len(out)-1]; st > StatusUnsupp {
				t.Fatalf("status byte %d", st)
			}
		}
		st, err := os.Stat(p)
		if err != nil || st.Size() != imgSize {
			t.Fatalf("image size changed: %v %v", st, err)
		}
	})
}
