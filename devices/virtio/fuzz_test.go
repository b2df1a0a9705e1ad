package virtio_test

import (
	"encoding/binary"
	"io"
	"sync"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

const fuzzMem = 4096

// popHeader is the fuzz input's queue setup: size shift, flags, the three
// ring addresses (16 bits each) and the avail idx to publish; guest memory
// follows.
const popHeader = 1 + 1 + 3*2

// FuzzPop hands Pop random rings and descriptor tables in a small guest
// memory. Pop must never panic or loop; whatever it returns must be usable.
func FuzzPop(f *testing.F) {
	f.Add(popSeedValid())
	f.Add(popSeedLoop())
	f.Add(make([]byte, popHeader+64))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < popHeader {
			return
		}
		mem := virtiotest.NewMemory(fuzzMem)
		copy(mem.Bytes(), data[popHeader:])
		q := &virtio.Queue{
			MaxSize:   16,
			Size:      1 << (data[0] % 6), // 1..32: 32 is over MaxSize
			Ready:     true,
			Indirect:  data[1]&1 != 0,
			EventIdx:  data[1]&2 != 0,
			DescTable: uint64(binary.LittleEndian.Uint16(data[2:])),
			AvailRing: uint64(binary.LittleEndian.Uint16(data[4:])),
			UsedRing:  uint64(binary.LittleEndian.Uint16(data[6:])),
		}
		q.Validate(mem) // Pop must be safe whatever Validate says
		for range 2*int(q.Size) + 2 {
			c, err := q.Pop(mem)
			if err != nil || c == nil {
				break
			}
			if c.ReadableLen()+c.WritableLen() > virtio.MaxChainBytes {
				t.Fatalf("chain of %d+%d bytes", c.ReadableLen(), c.WritableLen())
			}
			b, err := io.ReadAll(c.Reader(mem))
			if err != nil || uint64(len(b)) != c.ReadableLen() {
				t.Fatalf("read %d of %d: %v", len(b), c.ReadableLen(), err)
			}
			w := c.Writer(mem)
			w.Write(b)
			if err := q.PushUsed(mem, c.Head, w.Written()); err != nil {
				break
			}
			q.NeedsInterrupt(mem)
		}
	})
}

// popSeedValid is a queue of 4 at 0x100/0x200/0x300 with one valid chain.
func popSeedValid() []byte {
	d := make([]byte, popHeader+fuzzMem)
	d[0] = 2 // size 4
	binary.LittleEndian.PutUint16(d[2:], 0x100)
	binary.LittleEndian.PutUint16(d[4:], 0x200)
	binary.LittleEndian.PutUint16(d[6:], 0x300)
	m := d[popHeader:]
	putDesc(m[0x100:], 0x800, 8, virtiotest.FlagNext, 1)
	putDesc(m[0x110:], 0x900, 8, virtiotest.FlagWrite, 0)
	binary.LittleEndian.PutUint16(m[0x202:], 1) // avail idx
	return d
}

// popSeedLoop is popSeedValid with an indirect table that loops.
func popSeedLoop() []byte {
	d := popSeedValid()
	d[1] = 3
	m := d[popHeader:]
	putDesc(m[0x100:], 0xa00, 32, virtiotest.FlagIndirect, 0)
	putDesc(m[0xa00:], 0x800, 8, virtiotest.FlagNext, 1)
	putDesc(m[0xa10:], 0x800, 8, virtiotest.FlagNext, 0)
	return d
}

func putDesc(b []byte, addr uint64, n uint32, flags, next uint16) {
	binary.LittleEndian.PutUint64(b[0:], addr)
	binary.LittleEndian.PutUint32(b[8:], n)
	binary.LittleEndian.PutUint16(b[12:], flags)
	binary.LittleEndian.PutUint16(b[14:], next)
}

// popDevice pops, echoes and completes every chain when kicked, and asks
// for a reset when the ring is broken, as real devices do.
type popDevice struct {
	mu sync.Mutex
	a  *virtio.Activation
}

func (d *popDevice) Type() virtio.DeviceType    { return virtio.TypeRNG }
func (d *popDevice) Features() uint64           { return 0 }
func (d *popDevice) QueueSizes() []uint16       { return []uint16{8, 4} }
func (d *popDevice) ReadConfig(uint64, []byte)  {}
func (d *popDevice) WriteConfig(uint64, []byte) {}
func (d *popDevice) Activate(a virtio.Activation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.a = &a
	return nil
}
func (d *popDevice) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.a = nil
}
func (d *popDevice) QueueNotify(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.a == nil || i >= len(d.a.Queues) || !d.a.Queues[i].Ready {
		return
	}
	q, mem := d.a.Queues[i], d.a.Mem
	for {
		c, err := q.Pop(mem)
		if err != nil {
			d.a.Signal.NeedsReset(err)
			return
		}
		if c == nil {
			return
		}
		b, _ := io.ReadAll(c.Reader(mem))
		w := c.Writer(mem)
		w.Write(b)
		if err := q.PushUsed(mem, c.Head, w.Written()); err != nil {
			d.a.Signal.NeedsReset(err)
			return
		}
		if need, err := q.NeedsInterrupt(mem); err == nil && need {
			d.a.Signal.Signal(virtio.InterruptUsedBuffer)
		}
	}
}

// mmioOp is one 6-byte register access of FuzzMMIO's input: kind (even
// read, odd write), register index (offset / 4, so config space too), and
// a 32-bit value.
const mmioOpSize = 6

// FuzzMMIO plays random register accesses against the transport with a
// device that really uses its queues, in a guest memory holding ram.
// Nothing may panic or hang.
func FuzzMMIO(f *testing.F) {
	f.Add(mmioProbeSeed(), popSeedValid()[popHeader:])
	f.Add([]byte{1, virtio.RegStatus / 4, 0xff, 0xff, 0xff, 0xff}, []byte{})
	f.Fuzz(func(t *testing.T, data, ram []byte) {
		mem := virtiotest.NewMemory(fuzzMem)
		copy(mem.Bytes(), ram)
		m, err := virtio.NewMMIO(&popDevice{}, mem, &virtiotest.Interrupt{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var p [4]byte
		for ; len(data) >= mmioOpSize; data = data[mmioOpSize:] {
			off := uint64(data[1]) * 4
			copy(p[:], data[2:6])
			width := 4
			if data[0]&6 == 2 {
				width = 2 // sometimes a narrow access
			}
			if data[0]&1 == 0 {
				m.Read(off, p[:width])
			} else {
				m.Write(off, p[:width])
			}
		}
	})
}

// mmioProbeSeed is the Linux probe sequence setting up queue 0 of popDevice
// in fuzzMem (with the rings of popSeedValid), then a kick.
func mmioProbeSeed() []byte {
	var out []byte
	w := func(off uint64, v uint32) {
		op := []byte{1, byte(off / 4), 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(op[2:], v)
		out = append(out, op...)
	}
	w(virtio.RegStatus, 0)
	w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	w(virtio.RegDriverFeaturesSel, 1)
	w(virtio.RegDriverFeatures, 1)
	w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	w(virtio.RegQueueSel, 0)
	w(virtio.RegQueueNum, 8)
	w(virtio.RegQueueDescLow, 0x100)
	w(virtio.RegQueueDriverLow, 0x200)
	w(virtio.RegQueueDeviceLow, 0x300)
	w(virtio.RegQueueReady, 1)
	w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK)
	w(virtio.RegQueueNotify, 0)
	w(virtio.RegInterruptACK, 3)
	return out
}
