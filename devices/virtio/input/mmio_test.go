package input

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	evt "github.com/govm/govm/devices/input"
	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// The device behind the real transport, set up register by register the
// way a driver does: configuration through the window at RegConfig,
// events from Send arriving with an interrupt, kicks through QueueNotify
// reaching the device on the transport's worker, and a reset by status 0.
func TestBehindMMIO(t *testing.T) {
	dev := NewTablet()
	mem := virtiotest.NewMemory(testMemSize)
	irq := &virtiotest.Interrupt{}
	m, err := virtio.NewMMIO(dev, mem, irq)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	write := func(off uint64, v uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		m.Write(off, b[:])
	}
	read := func(off uint64) uint32 {
		var b [4]byte
		m.Read(off, b[:])
		return binary.LittleEndian.Uint32(b[:])
	}
	if id := read(virtio.RegDeviceID); id != uint32(virtio.TypeInput) {
		t.Fatalf("device id %d", id)
	}
	m.Write(virtio.RegConfig+cfgSelect, []byte{CfgIDName})
	m.Write(virtio.RegConfig+cfgSubsel, []byte{0})
	name := make([]byte, len(TabletName))
	m.Read(virtio.RegConfig+cfgUnion, name)
	if string(name) != TabletName {
		t.Fatalf("name %q", name)
	}

	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	write(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	write(virtio.RegDriverFeaturesSel, 1)
	write(virtio.RegDriverFeatures, virtio.FeatureVersion1>>32)
	write(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	for i, d := range ds {
		write(virtio.RegQueueSel, uint32(i))
		write(virtio.RegQueueNum, QueueSize)
		write(virtio.RegQueueDescLow, uint32(d.DescTable))
		write(virtio.RegQueueDriverLow, uint32(d.AvailRing))
		write(virtio.RegQueueDeviceLow, uint32(d.UsedRing))
		write(virtio.RegQueueReady, 1)
		d.SetNotify(func() { write(virtio.RegQueueNotify, uint32(i)) })
	}
	write(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK)
	if s := read(virtio.RegStatus); s&virtio.StatusDriverOK == 0 {
		t.Fatalf("status %#x: %v", s, m.Err())
	}
	evq := ds[EventQueue]

	// Buffers first, then Send: delivered at once, with an interrupt.
	for range 4 {
		evq.AddChain(nil, []uint32{EventSize})
	}
	evq.Kick()
	move := PointerEvents(50, 50, 101, 101)
	dev.Send(move)
	used := evq.WaitUsed(len(move), 5*time.Second)
	if len(used) != len(move) || irq.Count() == 0 || read(virtio.RegInterruptStatus)&uint32(virtio.InterruptUsedBuffer) == 0 {
		t.Fatalf("used %v, interrupts %d", used, irq.Count())
	}
	for i, u := range used {
		if got := decodeEvent([EventSize]byte(evq.ReadWritable(uint16(u.ID)))); got != move[i] {
			t.Fatalf("event %d: %v, want %v", i, got, move[i])
		}
	}
	write(virtio.RegInterruptACK, uint32(virtio.InterruptUsedBuffer))

	// Send first (one buffer left), then more buffers and a kick: the
	// rest arrives through the transport's worker.
	click := []evt.Event{{Type: evt.EvKey, Code: evt.BtnLeft, Value: 1}, evt.Syn, {Type: evt.EvKey, Code: evt.BtnLeft, Value: 0}, evt.Syn}
	dev.Send(click)
	for range 4 {
		evq.AddChain(nil, []uint32{EventSize})
	}
	evq.Kick()
	used = evq.WaitUsed(len(click), 5*time.Second)
	var got []evt.Event
	for _, u := range used {
		got = append(got, decodeEvent([EventSize]byte(evq.ReadWritable(uint16(u.ID)))))
	}
	if !reflect.DeepEqual(got, click) {
		t.Fatalf("got %v, want %v", got, click)
	}

	// A status report through the status queue.
	ds[StatusQueue].AddChain([][]byte{encodeStatus(EvLed, LedNumLock, 1)}, nil)
	ds[StatusQueue].Kick()
	if u := ds[StatusQueue].WaitUsed(1, 5*time.Second); len(u) != 1 || dev.LEDs() != 1<<LedNumLock {
		t.Fatalf("status used %v, LEDs %#b", u, dev.LEDs())
	}

	dev.Send(click) // one buffer left: three events pending
	write(virtio.RegStatus, 0)
	if dev.Pending() != 0 {
		t.Fatalf("pending %d after reset", dev.Pending())
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
}
