package blk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// queueRig is a device activated on a fake driver's queue.
type queueRig struct {
	d   *Device
	mem *virtiotest.Memory
	drv *virtiotest.Driver
	sig *virtiotest.Signaller
}

func activate(t *testing.T, d *Device, features uint64) *queueRig {
	t.Helper()
	mem := virtiotest.NewMemory(1 << 20)
	drv := virtiotest.NewDriver(t, mem, 0, mem.Size(), QueueSize)
	a, sig := virtiotest.Activation(mem, features, drv)
	if err := d.Activate(a); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	drv.SetNotify(func() { d.QueueNotify(0) })
	return &queueRig{d: d, mem: mem, drv: drv, sig: sig}
}

func TestQueueRoundTrip(t *testing.T) {
	p := tempImage(t, make([]byte, imgSize))
	d := mustOpen(t, Options{Path: p})
	q := activate(t, d, d.Features()|virtio.FeatureVersion1)

	data := pattern(2*SectorSize, 9)
	w := q.drv.AddChain([][]byte{header(TypeOut, 10), data}, []uint32{1})
	r := q.drv.AddChain([][]byte{header(TypeIn, 10)}, []uint32{2 * SectorSize, 1})
	id := q.drv.AddChain([][]byte{header(TypeGetID, 0)}, []uint32{IDBytes, 1})
	q.drv.Kick()

	used := q.drv.Used()
	if len(used) != 3 {
		t.Fatalf("%d used entries, want 3", len(used))
	}
	wantLen := map[uint16]uint32{w: 1, r: 2*SectorSize + 1, id: IDBytes + 1}
	for _, u := range used {
		if u.Len != wantLen[uint16(u.ID)] {
			t.Errorf("head %d: used len %d, want %d", u.ID, u.Len, wantLen[uint16(u.ID)])
		}
	}
	got := q.drv.ReadWritable(r)
	if !bytes.Equal(got[:2*SectorSize], data) || got[2*SectorSize] != StatusOK {
		t.Fatalf("read back differs or status %d", got[len(got)-1])
	}
	if got := q.drv.ReadWritable(id); !strings.HasPrefix(string(got), "disk.img\x00") {
		t.Fatalf("id %q", got)
	}
	if n := q.sig.UsedSignals(); n != 1 {
		t.Fatalf("%d used-buffer signals for one kick, want 1", n)
	}
	if !bytes.Equal(readFile(t, p)[10*SectorSize:12*SectorSize], data) {
		t.Fatal("the write did not reach the image")
	}
}

func TestQueueIndirectChain(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, pattern(imgSize, 10))})
	q := activate(t, d, d.Features()|virtio.FeatureIndirectDesc)
	h := q.drv.AddIndirectChain([][]byte{header(TypeIn, 0)}, []uint32{SectorSize, 1})
	q.drv.Kick()
	if used := q.drv.Used(); len(used) != 1 || used[0].Len != SectorSize+1 {
		t.Fatalf("used %+v", used)
	}
	if got := q.drv.ReadWritable(h); !bytes.Equal(got[:SectorSize], pattern(imgSize, 10)[:SectorSize]) {
		t.Fatal("indirect read returned the wrong bytes")
	}
}

func TestFlushCompletesAfterSync(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))})
	q := activate(t, d, d.Features())
	var usedAtSync []uint16
	d.syncFile = func() error {
		usedAtSync = append(usedAtSync, q.drv.UsedIdx())
		return nil
	}
	q.drv.AddChain([][]byte{header(TypeOut, 0), make([]byte, SectorSize)}, []uint32{1})
	h := q.drv.AddChain([][]byte{header(TypeFlush, 0)}, []uint32{1})
	q.drv.Kick()
	// The write was published (used idx 1) and the flush not yet when the
	// sync ran.
	if len(usedAtSync) != 1 || usedAtSync[0] != 1 {
		t.Fatalf("used idx at sync time %v, want [1]", usedAtSync)
	}
	q.drv.Used()
	if got := q.drv.ReadWritable(h); len(got) != 1 || got[0] != StatusOK {
		t.Fatalf("flush status %v", got)
	}
}

func TestBrokenRingNeedsReset(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))})
	q := activate(t, d, d.Features())
	q.drv.SetAvailIdx(QueueSize + 5) // more entries than the queue holds
	q.drv.Kick()
	if len(q.sig.Resets()) != 1 {
		t.Fatalf("resets %v, want one", q.sig.Resets())
	}
	q.drv.Kick() // ignored until Reset
	if len(q.sig.Resets()) != 1 || q.drv.UsedIdx() != 0 {
		t.Fatal("a broken queue was used again")
	}
	d.Reset()
	q = activate(t, d, d.Features())
	q.drv.AddChain([][]byte{header(TypeFlush, 0)}, []uint32{1})
	q.drv.Kick()
	if len(q.drv.Used()) != 1 {
		t.Fatal("no service after Reset and Activate")
	}
}

func TestNoInterruptWhenSuppressed(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))})
	q := activate(t, d, d.Features())
	q.drv.SetAvailFlags(virtiotest.FlagNoInterrupt)
	q.drv.AddChain([][]byte{header(TypeFlush, 0)}, []uint32{1})
	q.drv.Kick()
	if len(q.drv.Used()) != 1 || q.sig.UsedSignals() != 0 {
		t.Fatalf("used-buffer signals %d with NO_INTERRUPT", q.sig.UsedSignals())
	}
	q.drv.Kick() // nothing new: no signal either
	if q.sig.UsedSignals() != 0 {
		t.Fatal("signal without new used entries")
	}
}

func TestActivateNeedsQueue(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))})
	mem := virtiotest.NewMemory(1 << 20)
	drv := virtiotest.NewDriver(t, mem, 0, mem.Size(), QueueSize)
	a, _ := virtiotest.Activation(mem, 0, drv)
	a.Queues[0].Ready = false
	if err := d.Activate(a); err == nil {
		t.Fatal("Activate accepted a disabled queue")
	}
	a.Queues = nil
	if err := d.Activate(a); err == nil {
		t.Fatal("Activate accepted no queue")
	}
	d.QueueNotify(0) // not active: must not panic
	d.QueueNotify(7)
}

func TestConfigSpace(t *testing.T) {
	// The offsets of struct virtio_blk_config (virtio 1.2 section 5.2.4).
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"capacity", cfgCapacity, 0},
		{"size_max", cfgSizeMax, 8},
		{"seg_max", cfgSegMax, 12},
		{"geometry", cfgGeometry, 16},
		{"blk_size", cfgBlkSize, 20},
		{"topology", cfgTopology, 24},
		{"writeback", cfgWriteback, 32},
		{"num_queues", cfgNumQueues, 34},
		{"max_discard_sectors", cfgMaxDiscardSectors, 36},
		{"max_discard_seg", cfgMaxDiscardSeg, 40},
		{"discard_sector_alignment", cfgDiscardSectorAlignment, 44},
		{"max_write_zeroes_sectors", cfgMaxWriteZeroesSectors, 48},
		{"max_write_zeroes_seg", cfgMaxWriteZeroesSeg, 52},
		{"write_zeroes_may_unmap", cfgWriteZeroesMayUnmap, 56},
		{"end of unused1", configSize, 60},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.name, c.got, c.want)
		}
	}
	// Seven sectors and a half: the half is not visible.
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, 7*SectorSize+256))})
	if d.Capacity() != 7 || d.IgnoredTailBytes() != 256 {
		t.Fatalf("capacity %d tail %d", d.Capacity(), d.IgnoredTailBytes())
	}
	le := binary.LittleEndian
	read := func(off uint64, n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = 0xee
		}
		d.ReadConfig(off, p)
		return p
	}
	for _, c := range []struct {
		name string
		off  uint64
		size int
		want uint64
	}{
		{"capacity", cfgCapacity, 8, 7},
		{"size_max", cfgSizeMax, 4, sizeMax},
		{"seg_max", cfgSegMax, 4, segMax},
		{"blk_size", cfgBlkSize, 4, SectorSize},
		{"max_discard_sectors", cfgMaxDiscardSectors, 4, maxDiscardSectors},
		{"max_discard_seg", cfgMaxDiscardSeg, 4, maxDiscardSeg},
		{"discard_sector_alignment", cfgDiscardSectorAlignment, 4, discardSectorAlignment},
		{"max_write_zeroes_sectors", cfgMaxWriteZeroesSectors, 4, maxWriteZeroesSectors},
		{"max_write_zeroes_seg", cfgMaxWriteZeroesSeg, 4, maxWriteZeroesSeg},
		{"write_zeroes_may_unmap", cfgWriteZeroesMayUnmap, 1, 1},
		{"unused1", cfgWriteZeroesMayUnmap + 1, 3, 0},
		{"past the end", configSize, 4, 0},
		{"far past the end", 1 << 40, 8, 0},
	} {
		b := read(c.off, c.size)
		var got uint64
		for i := c.size - 1; i >= 0; i-- {
			got = got<<8 | uint64(b[i])
		}
		if got != c.want {
			t.Errorf("config %s = %#x, want %#x", c.name, got, c.want)
		}
	}
	// A read straddling the end gets the last bytes, then zeroes.
	if b := read(configSize-2, 4); le.Uint32(b) != 0 {
		t.Errorf("straddling read %x", b)
	}
	d.WriteConfig(cfgCapacity, []byte{1, 2, 3, 4}) // ignored
	if d.Capacity() != 7 || le.Uint64(read(0, 8)) != 7 {
		t.Error("a config write changed the capacity")
	}
	// segMax full-size segments plus header and status fit in one chain.
	if segMax*sizeMax+headerSize+statusSize > virtio.MaxChainBytes {
		t.Error("a request within seg_max and size_max exceeds virtio.MaxChainBytes")
	}
}

func TestFeatures(t *testing.T) {
	p := tempImage(t, make([]byte, imgSize))
	rw := mustOpen(t, Options{Path: p})
	f := rw.Features()
	if f&FeatureRO != 0 || f&FeatureDiscard == 0 || f&FeatureWriteZeroes == 0 || f&FeatureFlush == 0 {
		t.Errorf("read-write features %#x", f)
	}
	rw.Close()
	ro := mustOpen(t, Options{Path: p, ReadOnly: true})
	f = ro.Features()
	if f&FeatureRO == 0 || f&(FeatureDiscard|FeatureWriteZeroes) != 0 {
		t.Errorf("read-only features %#x", f)
	}
	if ro.Type() != virtio.TypeBlock || len(ro.QueueSizes()) != 1 {
		t.Error("type or queues")
	}
}

func TestLocking(t *testing.T) {
	p := tempImage(t, make([]byte, imgSize))
	open := func(ro bool) (*Device, error) { return Open(Options{Path: p, ReadOnly: ro}) }

	w, err := open(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, err := open(ro)
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second open (ro=%v) while a writer has it: %v", ro, err)
		}
		want := `disk "` + p + `" is in use by another process (locked)`
		if err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r1, err := open(true)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := open(true)
	if err != nil {
		t.Fatalf("two read-only opens: %v", err)
	}
	if _, err := open(false); !errors.Is(err, ErrLocked) {
		t.Fatalf("writer while readers have it: %v", err)
	}
	r1.Close()
	r2.Close()
	w, err = open(false)
	if err != nil {
		t.Fatalf("open after everybody closed: %v", err)
	}
	w.Close()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	fifo := dir + "/fifo"
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	empty := dir + "/empty"
	short := dir + "/short"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, make([]byte, 511), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		is   error
	}{
		{"nonexistent", Options{Path: dir + "/nope"}, os.ErrNotExist},
		{"nonexistent read-only", Options{Path: dir + "/nope", ReadOnly: true}, os.ErrNotExist},
		{"directory", Options{Path: dir}, ErrNotDisk},
		{"directory read-only", Options{Path: dir, ReadOnly: true}, ErrNotDisk},
		{"fifo", Options{Path: fifo}, ErrNotDisk},
		{"fifo read-only", Options{Path: fifo, ReadOnly: true}, ErrNotDisk},
		{"character device", Options{Path: "/dev/null"}, ErrNotDisk},
		{"empty", Options{Path: empty}, ErrTooSmall},
		{"smaller than a sector", Options{Path: short}, ErrTooSmall},
		{"bad id", Options{Path: short, ID: "way-too-long-for-an-id"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(tc.o)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.o.Path) {
				t.Fatalf("error %q does not name the path", err)
			}
		})
	}
}
