package input

import (
	"encoding/binary"
	"testing"

	evt "github.com/govm/govm/devices/input"
	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

const testMemSize = 1 << 18 // two 128 KiB queue windows

// rig is a device activated against a fake driver with both queues.
type rig struct {
	dev      *Device
	mem      *virtiotest.Memory
	evq, stq *virtiotest.Driver
	sig      *virtiotest.Signaller
	posted   int // eventq buffers in flight
}

func newRig(t testing.TB, dev *Device) *rig {
	t.Helper()
	return activate(t, dev, 0)
}

func activate(t testing.TB, dev *Device, features uint64) *rig {
	t.Helper()
	mem := virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	a, sig := virtiotest.Activation(mem, features, ds...)
	if err := dev.Activate(a); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	ds[EventQueue].SetNotify(func() { dev.QueueNotify(EventQueue) })
	ds[StatusQueue].SetNotify(func() { dev.QueueNotify(StatusQueue) })
	return &rig{dev: dev, mem: mem, evq: ds[EventQueue], stq: ds[StatusQueue], sig: sig}
}

// post makes n event buffers available (without kicking).
func (r *rig) post(n int) {
	for range n {
		r.evq.AddChain(nil, []uint32{EventSize})
	}
	r.posted += n
}

// refill tops the event queue up to QueueSize buffers and kicks, like
// Linux's virtinput_recv_events.
func (r *rig) refill() {
	r.post(QueueSize - r.posted)
	r.evq.Kick()
}

// received decodes the events in the eventq buffers used since the last
// call; every buffer must carry exactly one event.
func (r *rig) received(t testing.TB) []evt.Event {
	t.Helper()
	var out []evt.Event
	for _, u := range r.evq.Used() {
		r.posted--
		if u.Len != EventSize {
			t.Fatalf("used length %d, want %d", u.Len, EventSize)
		}
		b := r.evq.ReadWritable(uint16(u.ID))
		out = append(out, decodeEvent([EventSize]byte(b)))
	}
	return out
}

// drain refills and collects until the device has nothing pending.
func (r *rig) drain(t testing.TB) []evt.Event {
	t.Helper()
	var out []evt.Event
	for {
		r.refill()
		got := r.received(t)
		out = append(out, got...)
		if len(got) == 0 && r.dev.Pending() == 0 {
			return out
		}
	}
}

func key(code uint16, value int32) evt.Event {
	return evt.Event{Type: evt.EvKey, Code: code, Value: value}
}

// press is the group a display sends for one key press or release.
func press(code uint16, value int32) []evt.Event { return []evt.Event{key(code, value), evt.Syn} }

func encodeStatus(typ, code uint16, value int32) []byte {
	b := make([]byte, EventSize)
	binary.LittleEndian.PutUint16(b[0:], typ)
	binary.LittleEndian.PutUint16(b[2:], code)
	binary.LittleEndian.PutUint32(b[4:], uint32(value))
	return b
}

// cfgWrite8 and the readers below access the configuration space the way
// Linux's virtio_cwrite8/virtio_cread* do: naturally aligned, one field at
// a time.
func cfgWrite8(d virtio.Device, off uint64, v uint8) { d.WriteConfig(off, []byte{v}) }

func cfgRead8(d virtio.Device, off uint64) uint8 {
	var b [1]byte
	d.ReadConfig(off, b[:])
	return b[0]
}

func cfgRead16(d virtio.Device, off uint64) uint16 {
	var b [2]byte
	d.ReadConfig(off, b[:])
	return binary.LittleEndian.Uint16(b[:])
}

func cfgRead32(d virtio.Device, off uint64) uint32 {
	var b [4]byte
	d.ReadConfig(off, b[:])
	return binary.LittleEndian.Uint32(b[:])
}

// cfgReadBytes is virtio_cread_bytes: byte by byte.
func cfgReadBytes(d virtio.Device, off uint64, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = cfgRead8(d, off+uint64(i))
	}
	return out
}
