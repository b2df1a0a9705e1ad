package virtiotest

import (
	"bytes"
	"io"
	"testing"

	"github.com/govm/govm/devices/virtio"
)

func TestRoundTrip(t *testing.T) {
	mem := NewMemory(1 << 20)
	d := NewDriver(t, mem, 0, 1<<20, 8)
	q := d.Queue()
	for _, indirect := range []bool{false, true} {
		q.Indirect = indirect
		var head uint16
		if indirect {
			head = d.AddIndirectChain([][]byte{[]byte("hello, "), []byte("world")}, []uint32{4, 8})
		} else {
			head = d.AddChain([][]byte{[]byte("hello, "), []byte("world")}, []uint32{4, 8})
		}
		c, err := q.Pop(mem)
		if err != nil || c == nil {
			t.Fatalf("Pop: %v, %v", c, err)
		}
		if c.Head != head || c.ReadableLen() != 12 || c.WritableLen() != 12 {
			t.Fatalf("chain %+v", c)
		}
		got, err := io.ReadAll(c.Reader(mem))
		if err != nil || string(got) != "hello, world" {
			t.Fatalf("read %q, %v", got, err)
		}
		w := c.Writer(mem)
		if n, err := w.Write([]byte("0123456789")); n != 10 || err != nil {
			t.Fatalf("write %d, %v", n, err)
		}
		if n, err := w.Write([]byte("abc")); n != 2 || err != io.ErrShortWrite {
			t.Fatalf("short write %d, %v", n, err)
		}
		if err := q.PushUsed(mem, c.Head, w.Written()); err != nil {
			t.Fatal(err)
		}
		used := d.Used()
		if len(used) != 1 || used[0] != (UsedElem{ID: uint32(head), Len: 12}) {
			t.Fatalf("used %+v", used)
		}
		if got := d.ReadWritable(head); !bytes.Equal(got, []byte("0123456789ab")) {
			t.Fatalf("writable %q", got)
		}
		if c, err := q.Pop(mem); c != nil || err != nil {
			t.Fatalf("empty Pop: %v, %v", c, err)
		}
	}
	var _ virtio.GuestMemory = mem
	var _ virtio.Interrupt = &Interrupt{}
	var _ virtio.Signaller = &Signaller{}
}
