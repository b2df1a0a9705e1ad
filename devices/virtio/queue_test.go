package virtio_test

import (
	"errors"
	"io"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

const (
	testMem   = 1 << 20
	testQueue = 8
	dataAddr  = 0x80000 // buffers used by hand-built chains
	tableAddr = 0x90000 // indirect tables used by hand-built chains
)

type desc struct {
	addr        uint64
	len         uint32
	flags, next uint16
}

func newQueue(t *testing.T) (*virtiotest.Memory, *virtiotest.Driver) {
	mem := virtiotest.NewMemory(testMem)
	return mem, virtiotest.NewDriver(t, mem, 0, testMem, testQueue)
}

const (
	fNext     = virtiotest.FlagNext
	fWrite    = virtiotest.FlagWrite
	fIndirect = virtiotest.FlagIndirect
)

func TestPopHostile(t *testing.T) {
	tests := []struct {
		name     string
		indirect bool
		table    []desc // the queue's descriptors from 0
		ind      []desc // an indirect table at tableAddr
		heads    []uint16
		availIdx int // if nonzero, published after the heads
		want     error
	}{
		{name: "valid", table: []desc{{dataAddr, 16, fNext, 1}, {dataAddr + 16, 16, fWrite, 0}}, heads: []uint16{0}},
		{name: "zero length outside RAM", table: []desc{{1 << 40, 0, 0, 0}}, heads: []uint16{0}},
		{name: "valid direct then indirect", indirect: true,
			table: []desc{{dataAddr, 8, fNext, 3}, {}, {}, {tableAddr, 32, fIndirect, 0}},
			ind:   []desc{{dataAddr, 8, fNext, 1}, {dataAddr + 8, 8, fWrite, 0}}, heads: []uint16{0}},
		{name: "avail idx jump", table: []desc{{dataAddr, 1, 0, 0}}, heads: []uint16{0}, availIdx: testQueue + 1, want: virtio.ErrBadAvailIdx},
		{name: "avail idx backwards", heads: nil, availIdx: 0xffff, want: virtio.ErrBadAvailIdx},
		{name: "head beyond size", heads: []uint16{testQueue}, want: virtio.ErrBadDescIndex},
		{name: "next beyond size", table: []desc{{dataAddr, 1, fNext, testQueue}}, heads: []uint16{0}, want: virtio.ErrBadDescIndex},
		{name: "self loop", table: []desc{{dataAddr, 1, fNext, 0}}, heads: []uint16{0}, want: virtio.ErrChainLoop},
		{name: "loop via next", table: []desc{{dataAddr, 1, fNext, 1}, {dataAddr, 1, fNext, 0}}, heads: []uint16{0}, want: virtio.ErrChainLoop},
		{name: "loop in indirect table", indirect: true, table: []desc{{tableAddr, 32, fIndirect, 0}},
			ind: []desc{{dataAddr, 1, fNext, 1}, {dataAddr, 1, fNext, 0}}, heads: []uint16{0}, want: virtio.ErrChainLoop},
		{name: "indirect next beyond table", indirect: true, table: []desc{{tableAddr, 32, fIndirect, 0}},
			ind: []desc{{dataAddr, 1, fNext, 2}}, heads: []uint16{0}, want: virtio.ErrBadDescIndex},
		{name: "indirect without feature", table: []desc{{tableAddr, 16, fIndirect, 0}},
			ind: []desc{{dataAddr, 1, 0, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "nested indirect", indirect: true, table: []desc{{tableAddr, 16, fIndirect, 0}},
			ind: []desc{{tableAddr, 16, fIndirect, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "indirect with next", indirect: true, table: []desc{{tableAddr, 16, fIndirect | fNext, 1}, {dataAddr, 1, 0, 0}},
			ind: []desc{{dataAddr, 1, 0, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "indirect length not whole", indirect: true, table: []desc{{tableAddr, 20, fIndirect, 0}},
			ind: []desc{{dataAddr, 1, 0, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "indirect length zero", indirect: true, table: []desc{{tableAddr, 0, fIndirect, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "indirect longer than queue", indirect: true, table: []desc{{tableAddr, 16 * (testQueue + 1), fIndirect, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "indirect table outside RAM", indirect: true, table: []desc{{testMem - 16, 32, fIndirect, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "indirect table wraps", indirect: true, table: []desc{{^uint64(0) - 15, 32, fIndirect, 0}}, heads: []uint16{0}, want: virtio.ErrBadIndirect},
		{name: "buffer crosses end of RAM", table: []desc{{testMem - 8, 16, 0, 0}}, heads: []uint16{0}, want: virtio.ErrBadDescriptor},
		{name: "buffer beyond RAM", table: []desc{{testMem, 1, 0, 0}}, heads: []uint16{0}, want: virtio.ErrBadDescriptor},
		{name: "addr+len overflows", table: []desc{{^uint64(0) - 4, 16, 0, 0}}, heads: []uint16{0}, want: virtio.ErrBadDescriptor},
		{name: "readable after writable", table: []desc{{dataAddr, 1, fWrite | fNext, 1}, {dataAddr, 1, 0, 0}}, heads: []uint16{0}, want: virtio.ErrWriteBeforeRO},
		{name: "readable after writable indirect", indirect: true, table: []desc{{tableAddr, 32, fIndirect, 0}},
			ind: []desc{{dataAddr, 1, fWrite | fNext, 1}, {dataAddr, 1, 0, 0}}, heads: []uint16{0}, want: virtio.ErrWriteBeforeRO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, d := newQueue(t)
			q := d.Queue()
			q.Indirect = tt.indirect
			for i, x := range tt.table {
				d.WriteDesc(d.DescTable, uint16(i), x.addr, x.len, x.flags, x.next)
			}
			for i, x := range tt.ind {
				d.WriteDesc(tableAddr, uint16(i), x.addr, x.len, x.flags, x.next)
			}
			for _, h := range tt.heads {
				d.Publish(h)
			}
			if tt.availIdx != 0 {
				d.SetAvailIdx(uint16(tt.availIdx))
			}
			c, err := q.Pop(mem)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Pop: %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if c != nil {
					t.Fatalf("chain %+v with error", c)
				}
				if q.NextAvail() != 0 {
					t.Errorf("NextAvail %d after a bad chain", q.NextAvail())
				}
				return
			}
			if c == nil {
				t.Fatal("no chain")
			}
		})
	}
}

func TestPopChainTooLarge(t *testing.T) {
	const (
		size   = 64 << 20
		bufLen = 40 << 20 // 8 of them overlap, and add up to 320 MiB
	)
	mem := virtiotest.NewMemory(size)
	d := virtiotest.NewDriver(t, mem, 0, 1<<20, testQueue)
	for i := range uint16(testQueue) {
		flags := uint16(fNext)
		if i == testQueue-1 {
			flags = 0
		}
		d.WriteDesc(d.DescTable, i, 16<<20, bufLen, flags, i+1)
	}
	d.Publish(0)
	if _, err := d.Queue().Pop(mem); !errors.Is(err, virtio.ErrChainTooLarge) {
		t.Fatalf("Pop: %v, want ErrChainTooLarge", err)
	}
}

func TestValidate(t *testing.T) {
	mem := virtiotest.NewMemory(testMem)
	good := virtio.Queue{MaxSize: 256, Size: 256, Ready: true, DescTable: 0, AvailRing: 0x1000, UsedRing: 0x2000}
	tests := []struct {
		name string
		edit func(q *virtio.Queue)
		ok   bool
	}{
		{"good", func(q *virtio.Queue) {}, true},
		{"minimal alignment", func(q *virtio.Queue) { q.DescTable, q.AvailRing, q.UsedRing = 0x10, 0x1002, 0x2004 }, true},
		{"zero size", func(q *virtio.Queue) { q.Size = 0 }, false},
		{"size not power of 2", func(q *virtio.Queue) { q.Size = 100 }, false},
		{"size over max", func(q *virtio.Queue) { q.MaxSize = 128 }, false},
		{"max over spec", func(q *virtio.Queue) { q.MaxSize = 65535 }, false},
		{"desc unaligned", func(q *virtio.Queue) { q.DescTable = 8 }, false},
		{"avail unaligned", func(q *virtio.Queue) { q.AvailRing = 0x1001 }, false},
		{"used unaligned", func(q *virtio.Queue) { q.UsedRing = 0x2002 }, false},
		{"desc outside RAM", func(q *virtio.Queue) { q.DescTable = testMem - 16 }, false},
		{"avail outside RAM", func(q *virtio.Queue) { q.AvailRing = testMem - 2 }, false},
		{"used outside RAM", func(q *virtio.Queue) { q.UsedRing = testMem }, false},
		{"used wraps", func(q *virtio.Queue) { q.UsedRing = ^uint64(0) &^ 3 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := good
			tt.edit(&q)
			err := q.Validate(mem)
			if tt.ok != (err == nil) {
				t.Fatalf("Validate: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, virtio.ErrBadRing) {
				t.Fatalf("error %v is not ErrBadRing", err)
			}
		})
	}
}

func TestNotReady(t *testing.T) {
	mem, d := newQueue(t)
	q := d.Queue()
	q.Ready = false
	if _, err := q.Pop(mem); !errors.Is(err, virtio.ErrQueueNotReady) {
		t.Errorf("Pop: %v", err)
	}
	if err := q.PushUsed(mem, 0, 0); !errors.Is(err, virtio.ErrQueueNotReady) {
		t.Errorf("PushUsed: %v", err)
	}
	q.Ready, q.Size = true, 0
	if _, err := q.Pop(mem); !errors.Is(err, virtio.ErrQueueNotReady) {
		t.Errorf("Pop with size 0: %v", err)
	}
}

func TestPushUsedBadHead(t *testing.T) {
	mem, d := newQueue(t)
	if err := d.Queue().PushUsed(mem, testQueue, 0); !errors.Is(err, virtio.ErrBadDescIndex) {
		t.Fatalf("PushUsed: %v", err)
	}
}

func TestReset(t *testing.T) {
	mem, d := newQueue(t)
	q := d.Queue()
	d.AddChain([][]byte{{1}}, nil)
	if c, err := q.Pop(mem); c == nil || err != nil {
		t.Fatalf("Pop: %v, %v", c, err)
	}
	q.Reset()
	if *q != (virtio.Queue{MaxSize: testQueue}) {
		t.Fatalf("after Reset: %+v", *q)
	}
}

func TestWrapAround(t *testing.T) {
	// Run the indices past 65535 to check the modular arithmetic.
	mem, d := newQueue(t)
	q := d.Queue()
	for i := range 70000 {
		head := d.AddChain([][]byte{{byte(i)}}, []uint32{1})
		c, err := q.Pop(mem)
		if err != nil || c == nil || c.Head != head {
			t.Fatalf("round %d: Pop %v, %v", i, c, err)
		}
		b := make([]byte, 2)
		if n, _ := io.ReadFull(c.Reader(mem), b); n != 1 || b[0] != byte(i) {
			t.Fatalf("round %d: read %d %v", i, n, b)
		}
		if err := q.PushUsed(mem, head, 1); err != nil {
			t.Fatal(err)
		}
		if u := d.Used(); len(u) != 1 || u[0].ID != uint32(head) {
			t.Fatalf("round %d: used %v", i, u)
		}
	}
}

func TestReaderWriterZeroLength(t *testing.T) {
	mem, d := newQueue(t)
	q := d.Queue()
	d.WriteDesc(d.DescTable, 0, 1<<40, 0, fNext, 1) // empty, outside RAM: allowed
	d.WriteDesc(d.DescTable, 1, dataAddr, 3, fNext, 2)
	d.WriteDesc(d.DescTable, 2, 1<<40, 0, fWrite|fNext, 3)
	d.WriteDesc(d.DescTable, 3, dataAddr+8, 2, fWrite, 0)
	mem.Write(dataAddr, []byte("abc"))
	d.Publish(0)
	c, err := q.Pop(mem)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c.Reader(mem))
	if err != nil || string(got) != "abc" {
		t.Fatalf("read %q, %v", got, err)
	}
	w := c.Writer(mem)
	if n, err := w.Write([]byte("xyz")); n != 2 || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("write %d, %v", n, err)
	}
	if w.Written() != 2 || w.Available() != 0 {
		t.Fatalf("Written %d Available %d", w.Written(), w.Available())
	}
	if got := mem.Read(dataAddr+8, 2); string(got) != "xy" {
		t.Fatalf("guest got %q", got)
	}
}
