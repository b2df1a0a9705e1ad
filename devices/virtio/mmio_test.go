package virtio_test

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// fakeDevice records what the transport does to it.
type fakeDevice struct {
	features    uint64
	sizes       []uint16
	activateErr error
	config      [8]byte

	mu         sync.Mutex
	activation *virtio.Activation
	resets     int
	notified   chan int
}

func newFakeDevice() *fakeDevice {
	return &fakeDevice{features: 1 << 5, sizes: []uint16{16, 16}, notified: make(chan int, 16), config: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}
}

func (f *fakeDevice) Type() virtio.DeviceType { return virtio.TypeRNG }
func (f *fakeDevice) Features() uint64        { return f.features }
func (f *fakeDevice) QueueSizes() []uint16    { return f.sizes }
func (f *fakeDevice) ReadConfig(off uint64, p []byte) {
	if off < uint64(len(f.config)) {
		copy(p, f.config[off:])
	}
}
func (f *fakeDevice) WriteConfig(off uint64, p []byte) {
	if off < uint64(len(f.config)) {
		copy(f.config[off:], p)
	}
}
func (f *fakeDevice) Activate(a virtio.Activation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.activateErr != nil {
		return f.activateErr
	}
	f.activation = &a
	return nil
}
func (f *fakeDevice) QueueNotify(i int) { f.notified <- i }
func (f *fakeDevice) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets++
	f.activation = nil
}
func (f *fakeDevice) active() *virtio.Activation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.activation
}

// bus plays the guest's 32-bit MMIO accesses.
type bus struct {
	t *testing.T
	m *virtio.MMIO
}

func (b bus) r(off uint64) uint32 {
	var p [4]byte
	b.m.Read(off, p[:])
	return binary.LittleEndian.Uint32(p[:])
}

func (b bus) w(off uint64, v uint32) {
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], v)
	b.m.Write(off, p[:])
}

func newTransport(t *testing.T, dev *fakeDevice) (bus, *virtiotest.Memory, *virtiotest.Interrupt) {
	t.Helper()
	mem := virtiotest.NewMemory(testMem)
	irq := &virtiotest.Interrupt{}
	m, err := virtio.NewMMIO(dev, mem, irq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return bus{t, m}, mem, irq
}

// Queue i of the fake device has its rings at queueBase(i).
func queueBase(i int) uint64 { return uint64(i) * 0x10000 }

// probe plays the Linux virtio_mmio driver's probe and virtio core
// sequence (drivers/virtio/virtio_mmio.c, virtio.c) up to DRIVER_OK,
// accepting features and setting up every queue. It returns the status.
func probe(t testing.TB, b bus, features uint64) uint32 {
	t.Helper()
	return probeHook(t, b, features, nil)
}

// probeHook is probe, calling beforeDriverOK (if not nil) just before
// setting DRIVER_OK.
func probeHook(t testing.TB, b bus, features uint64, beforeDriverOK func()) uint32 {
	t.Helper()
	return probeLayout(t, b, features, defaultLayout, beforeDriverOK)
}

// layout gives the ring addresses of queue i (or ok false to leave it
// disabled).
type layout func(i int) (desc, avail, used uint64, ok bool)

func defaultLayout(i int) (uint64, uint64, uint64, bool) {
	base := queueBase(i)
	return base, base + 0x1000, base + 0x2000, true
}

func probeLayout(t testing.TB, b bus, features uint64, rings layout, beforeDriverOK func()) uint32 {
	t.Helper()
	if got := b.r(virtio.RegMagicValue); got != virtio.MagicValue {
		t.Fatalf("magic %#x", got)
	}
	if got := b.r(virtio.RegVersion); got != 2 {
		t.Fatalf("version %d", got)
	}
	if got := b.r(virtio.RegDeviceID); got != uint32(virtio.TypeRNG) {
		t.Fatalf("device id %d", got)
	}
	if got := b.r(virtio.RegVendorID); got != virtio.VendorID {
		t.Fatalf("vendor %#x", got)
	}
	b.w(virtio.RegStatus, 0) // reset
	if got := b.r(virtio.RegStatus); got != 0 {
		t.Fatalf("status after reset %#x", got)
	}
	b.w(virtio.RegStatus, virtio.StatusAcknowledge)
	b.w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	b.w(virtio.RegDeviceFeaturesSel, 1)
	offered := uint64(b.r(virtio.RegDeviceFeatures)) << 32
	b.w(virtio.RegDeviceFeaturesSel, 0)
	offered |= uint64(b.r(virtio.RegDeviceFeatures))
	if offered&virtio.FeatureVersion1 == 0 {
		t.Fatalf("offered %#x without VERSION_1", offered)
	}
	b.w(virtio.RegDriverFeaturesSel, 1)
	b.w(virtio.RegDriverFeatures, uint32(features>>32))
	b.w(virtio.RegDriverFeaturesSel, 0)
	b.w(virtio.RegDriverFeatures, uint32(features))
	st := uint32(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
	b.w(virtio.RegStatus, st)
	if b.r(virtio.RegStatus)&virtio.StatusFeaturesOK == 0 {
		return b.r(virtio.RegStatus)
	}
	for i := 0; ; i++ {
		b.w(virtio.RegQueueSel, uint32(i))
		if b.r(virtio.RegQueueReady) != 0 {
			t.Fatalf("queue %d ready before setup", i)
		}
		max := b.r(virtio.RegQueueNumMax)
		if max == 0 {
			break
		}
		desc, avail, used, ok := rings(i)
		if !ok {
			continue
		}
		b.w(virtio.RegQueueNum, max)
		b.w(virtio.RegQueueDescLow, uint32(desc))
		b.w(virtio.RegQueueDescHigh, uint32(desc>>32))
		b.w(virtio.RegQueueDriverLow, uint32(avail))
		b.w(virtio.RegQueueDriverHigh, uint32(avail>>32))
		b.w(virtio.RegQueueDeviceLow, uint32(used))
		b.w(virtio.RegQueueDeviceHigh, uint32(used>>32))
		b.w(virtio.RegQueueReady, 1)
	}
	if beforeDriverOK != nil {
		beforeDriverOK()
	}
	b.w(virtio.RegStatus, st|virtio.StatusDriverOK)
	return b.r(virtio.RegStatus)
}

const goodFeatures = virtio.FeatureVersion1 | virtio.FeatureEventIdx | 1<<5

func TestProbe(t *testing.T) {
	dev := newFakeDevice()
	b, mem, irq := newTransport(t, dev)
	st := probe(t, b, goodFeatures)
	if st != virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK {
		t.Fatalf("status %#x", st)
	}
	a := dev.active()
	if a == nil {
		t.Fatal("device not activated")
	}
	if a.Features != goodFeatures || len(a.Queues) != 2 || a.Mem != virtio.GuestMemory(mem) {
		t.Fatalf("activation %+v", a)
	}
	q := a.Queues[1]
	if !q.Ready || q.Size != 16 || q.DescTable != 0x10000 || q.AvailRing != 0x11000 || q.UsedRing != 0x12000 || !q.EventIdx || q.Indirect {
		t.Fatalf("queue 1: %+v", q)
	}

	// Queue registers are frozen after DRIVER_OK.
	b.w(virtio.RegQueueSel, 1)
	b.w(virtio.RegQueueDescLow, 0x5000)
	b.w(virtio.RegQueueReady, 0)
	if q.DescTable != 0x10000 || !q.Ready {
		t.Fatalf("queue changed after DRIVER_OK: %+v", q)
	}

	// A kick through the register reaches the device on the queue's reader.
	b.w(virtio.RegQueueNotify, 1)
	b.w(virtio.RegQueueNotify, 7) // no such queue: ignored
	expectNotify(t, dev, 1)

	// The device signals: ISR bit, interrupt, ACK clears.
	a.Signal.Signal(virtio.InterruptUsedBuffer)
	if got := b.r(virtio.RegInterruptStatus); got != uint32(virtio.InterruptUsedBuffer) || irq.Count() != 1 {
		t.Fatalf("ISR %#x, %d interrupts", got, irq.Count())
	}
	b.w(virtio.RegInterruptACK, uint32(virtio.InterruptUsedBuffer))
	if got := b.r(virtio.RegInterruptStatus); got != 0 {
		t.Fatalf("ISR %#x after ACK", got)
	}
	gen := b.r(virtio.RegConfigGeneration)
	a.Signal.Signal(virtio.InterruptConfigChange)
	if b.r(virtio.RegConfigGeneration) == gen {
		t.Fatal("config generation not bumped by a config change")
	}

	// Reset.
	gen = b.r(virtio.RegConfigGeneration)
	b.w(virtio.RegStatus, 0)
	if dev.resets != 1 || dev.active() != nil {
		t.Fatalf("resets %d", dev.resets)
	}
	if b.r(virtio.RegStatus) != 0 || b.r(virtio.RegInterruptStatus) != 0 || b.r(virtio.RegConfigGeneration) == gen {
		t.Fatal("transport state survived reset")
	}
	if *q != (virtio.Queue{MaxSize: 16}) {
		t.Fatalf("queue after reset %+v", q)
	}
	// And the driver can probe again.
	if st := probe(t, b, goodFeatures); st&virtio.StatusDriverOK == 0 {
		t.Fatalf("second probe: status %#x", st)
	}
}

func expectNotify(t *testing.T, dev *fakeDevice, want int) {
	t.Helper()
	select {
	case got := <-dev.notified:
		if got != want {
			t.Fatalf("notified queue %d, want %d", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification for queue %d", want)
	}
}

func TestFeatureNegotiation(t *testing.T) {
	tests := []struct {
		name     string
		features uint64
		ok       bool
	}{
		{"all offered", goodFeatures | virtio.FeatureIndirectDesc, true},
		{"version 1 only", virtio.FeatureVersion1, true},
		{"legacy driver", 1 << 5, false},
		{"not offered", virtio.FeatureVersion1 | 1<<6, false},
		{"reserved not offered", virtio.FeatureVersion1 | virtio.FeatureAccessPlatform, false},
		{"high garbage", virtio.FeatureVersion1 | 1<<63, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newFakeDevice()
			b, _, _ := newTransport(t, dev)
			st := probe(t, b, tt.features)
			if got := st&virtio.StatusFeaturesOK != 0; got != tt.ok {
				t.Fatalf("FEATURES_OK %v, want %v (status %#x)", got, tt.ok, st)
			}
			if !tt.ok {
				// DRIVER_OK without FEATURES_OK does not stick either.
				b.w(virtio.RegStatus, st|virtio.StatusDriverOK)
				if b.r(virtio.RegStatus)&virtio.StatusDriverOK != 0 || dev.active() != nil {
					t.Fatal("DRIVER_OK accepted without FEATURES_OK")
				}
			}
		})
	}
}

func TestOfferedFeatures(t *testing.T) {
	dev := newFakeDevice()
	dev.features = 1<<5 | virtio.FeatureAccessPlatform // the reserved bit is dropped
	b, _, _ := newTransport(t, dev)
	b.w(virtio.RegDeviceFeaturesSel, 0)
	lo := b.r(virtio.RegDeviceFeatures)
	b.w(virtio.RegDeviceFeaturesSel, 1)
	hi := b.r(virtio.RegDeviceFeatures)
	b.w(virtio.RegDeviceFeaturesSel, 2)
	if b.r(virtio.RegDeviceFeatures) != 0 {
		t.Error("feature select 2 reads nonzero")
	}
	want := uint64(1<<5 | virtio.FeatureVersion1 | virtio.FeatureEventIdx | virtio.FeatureIndirectDesc)
	if got := uint64(hi)<<32 | uint64(lo); got != want {
		t.Fatalf("offered %#x, want %#x", got, want)
	}
}

func TestActivateFailure(t *testing.T) {
	dev := newFakeDevice()
	dev.activateErr = errors.New("no backend")
	b, _, irq := newTransport(t, dev)
	st := probe(t, b, goodFeatures)
	if st&virtio.StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x", st)
	}
	if b.r(virtio.RegInterruptStatus)&uint32(virtio.InterruptConfigChange) == 0 || irq.Count() != 1 {
		t.Fatal("no config interrupt")
	}
}

func TestBadQueueAtDriverOK(t *testing.T) {
	dev := newFakeDevice()
	b, _, _ := newTransport(t, dev)
	b.w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	b.w(virtio.RegDriverFeaturesSel, 1)
	b.w(virtio.RegDriverFeatures, 1) // VERSION_1
	b.w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	b.w(virtio.RegQueueSel, 0)
	b.w(virtio.RegQueueNum, 12) // not a power of two
	b.w(virtio.RegQueueReady, 1)
	b.w(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK)
	if b.r(virtio.RegStatus)&virtio.StatusDeviceNeedsReset == 0 || dev.active() != nil {
		t.Fatal("bad queue accepted")
	}
}

func TestQueueRegisters(t *testing.T) {
	dev := newFakeDevice()
	b, _, _ := newTransport(t, dev)
	b.w(virtio.RegQueueSel, 5)
	if b.r(virtio.RegQueueNumMax) != 0 || b.r(virtio.RegQueueReady) != 0 {
		t.Fatal("queue 5 exists")
	}
	b.w(virtio.RegQueueReady, 1) // ignored
	b.w(virtio.RegQueueSel, 0)
	if b.r(virtio.RegQueueNumMax) != 16 {
		t.Fatal("queue 0 max")
	}
	b.w(virtio.RegQueueNum, 1<<20) // over the max: invalid
	b.w(virtio.RegQueueDescLow, 0x1000)
	b.w(virtio.RegQueueReady, 1)
	b.w(virtio.RegQueueDescLow, 0x2000) // ignored: queue ready
	b.w(virtio.RegQueueReady, 0)
	b.w(virtio.RegQueueNum, 8)
	b.w(virtio.RegQueueReady, 1)
	if b.r(virtio.RegQueueReady) != 1 {
		t.Fatal("queue not ready")
	}
	// The SHM registers say "no region"; QueueReset reads 0.
	b.w(virtio.RegSHMSel, 0)
	if b.r(virtio.RegSHMLenLow) != 0xffffffff || b.r(virtio.RegSHMLenHigh) != 0xffffffff || b.r(virtio.RegQueueReset) != 0 {
		t.Fatal("SHM or QueueReset")
	}
}

func TestAccessWidths(t *testing.T) {
	dev := newFakeDevice()
	b, _, _ := newTransport(t, dev)
	p := []byte{0xff, 0xff}
	b.m.Read(virtio.RegMagicValue, p)
	if p[0] != 0 || p[1] != 0 {
		t.Fatal("16-bit register read not zero")
	}
	p4 := []byte{0xff, 0xff, 0xff, 0xff}
	b.m.Read(virtio.RegMagicValue+2, p4)
	if binary.LittleEndian.Uint32(p4) != 0 {
		t.Fatal("unaligned register read not zero")
	}
	b.m.Write(virtio.RegStatus, []byte{1}) // 8-bit status write: ignored
	if b.r(virtio.RegStatus) != 0 {
		t.Fatal("8-bit register write taken")
	}
	// Config space takes any width.
	one := []byte{0}
	b.m.Read(virtio.RegConfig+3, one)
	if one[0] != 4 {
		t.Fatalf("config byte %d", one[0])
	}
	b.m.Write(virtio.RegConfig+1, []byte{9, 9})
	if dev.config[1] != 9 || dev.config[2] != 9 {
		t.Fatal("config write")
	}
	big := make([]byte, 8)
	b.m.Read(virtio.RegConfig+0x800, big) // beyond the device's config
	for _, x := range big {
		if x != 0 {
			t.Fatal("config beyond the end not zero")
		}
	}
}

func TestKickBeforeDriverOK(t *testing.T) {
	dev := newFakeDevice()
	b, _, _ := newTransport(t, dev)
	probeHook(t, b, goodFeatures, func() {
		b.w(virtio.RegQueueNotify, 0)
		select {
		case i := <-dev.notified:
			t.Fatalf("queue %d notified before DRIVER_OK", i)
		case <-time.After(50 * time.Millisecond):
		}
	})
	expectNotify(t, dev, 0)
}

func TestNeedsResetStopsNotifications(t *testing.T) {
	dev := newFakeDevice()
	b, _, irq := newTransport(t, dev)
	probe(t, b, goodFeatures)
	a := dev.active()
	a.Signal.NeedsReset(errors.New("broken ring"))
	if b.r(virtio.RegStatus)&virtio.StatusDeviceNeedsReset == 0 || irq.Count() != 1 {
		t.Fatal("NEEDS_RESET not set or no interrupt")
	}
	if b.r(virtio.RegInterruptStatus) != uint32(virtio.InterruptConfigChange) {
		t.Fatal("ISR")
	}
	b.w(virtio.RegQueueNotify, 0)
	select {
	case i := <-dev.notified:
		t.Fatalf("queue %d notified after NeedsReset", i)
	case <-time.After(50 * time.Millisecond):
	}
	b.w(virtio.RegStatus, 0)
	if b.r(virtio.RegStatus) != 0 {
		t.Fatal("NEEDS_RESET survived reset")
	}
}

func TestEventFD(t *testing.T) {
	dev := newFakeDevice()
	b, _, _ := newTransport(t, dev)
	if b.m.NotifyEventFD(2) != -1 || b.m.NotifyEventFD(-1) != -1 {
		t.Fatal("eventfd for a missing queue")
	}
	fd := b.m.NotifyEventFD(1)
	if fd < 0 {
		t.Fatal("no eventfd")
	}
	probe(t, b, goodFeatures)
	// What KVM does on an ioeventfd hit: add 1 to the counter.
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := writeFD(fd, one[:]); err != nil {
		t.Fatal(err)
	}
	expectNotify(t, dev, 1)
}

// TestCloseStopsReaders checks that Close ends the blocked eventfd readers
// (one per queue), after kicks and twice, and that kicks after it are
// ignored.
func TestCloseStopsReaders(t *testing.T) {
	before := runtime.NumGoroutine()
	dev := newFakeDevice()
	dev.sizes = []uint16{16, 16, 16, 16}
	m, err := virtio.NewMMIO(dev, virtiotest.NewMemory(testMem), &virtiotest.Interrupt{})
	if err != nil {
		t.Fatal(err)
	}
	b := bus{t, m}
	probe(t, b, goodFeatures)
	b.w(virtio.RegQueueNotify, 3)
	expectNotify(t, dev, 3)
	closed := make(chan struct{})
	go func() {
		m.Close()
		m.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	b.w(virtio.RegQueueNotify, 0) // the eventfd is closed: ignored
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case i := <-dev.notified:
		t.Fatalf("queue %d notified after Close", i)
	default:
	}
}

func TestNewMMIOBadSizes(t *testing.T) {
	for _, sizes := range [][]uint16{{0}, {3}, {65535}} {
		dev := newFakeDevice()
		dev.sizes = sizes
		if _, err := virtio.NewMMIO(dev, virtiotest.NewMemory(4096), &virtiotest.Interrupt{}); !errors.Is(err, virtio.ErrBadQueueSizes) {
			t.Errorf("sizes %v: %v", sizes, err)
		}
	}
}

// TestEndToEnd runs a device that echoes chains behind the transport, with
// the fake driver's rings, kicks through the QueueNotify register and
// waits for the used entries and the interrupt.
func TestEndToEnd(t *testing.T) {
	mem := virtiotest.NewMemory(testMem)
	irq := &virtiotest.Interrupt{}
	dev := &popDevice{}
	m, err := virtio.NewMMIO(dev, mem, irq)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := bus{t, m}
	drv := virtiotest.NewDriver(t, mem, 0, testMem/2, dev.QueueSizes()[0])
	st := probeLayout(t, b, virtio.FeatureVersion1|virtio.FeatureEventIdx|virtio.FeatureIndirectDesc,
		func(i int) (uint64, uint64, uint64, bool) {
			return drv.DescTable, drv.AvailRing, drv.UsedRing, i == 0
		}, nil)
	if st&virtio.StatusDriverOK == 0 {
		t.Fatalf("status %#x", st)
	}
	drv.SetNotify(func() { b.w(virtio.RegQueueNotify, 0) })
	for round := range 20 {
		msg := []byte{byte(round), 'h', 'i'}
		var head uint16
		if round%2 == 0 {
			head = drv.AddChain([][]byte{msg}, []uint32{8})
		} else {
			head = drv.AddIndirectChain([][]byte{msg[:1], msg[1:]}, []uint32{1, 7})
		}
		drv.SetUsedEvent(uint16(round)) // interrupt for every entry
		drv.Kick()
		used := drv.WaitUsed(1, 5*time.Second)
		if len(used) != 1 || used[0] != (virtiotest.UsedElem{ID: uint32(head), Len: 3}) {
			t.Fatalf("round %d: used %v", round, used)
		}
		if got := drv.ReadWritable(head); string(got) != string(msg) {
			t.Fatalf("round %d: echo %q", round, got)
		}
		deadline := time.Now().Add(5 * time.Second)
		for irq.Count() < round+1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if irq.Count() != round+1 {
			t.Fatalf("round %d: %d interrupts", round, irq.Count())
		}
		b.w(virtio.RegInterruptACK, b.r(virtio.RegInterruptStatus))
	}
	if b.r(virtio.RegStatus)&virtio.StatusDeviceNeedsReset != 0 {
		t.Fatal("device needs reset")
	}
	// A broken ring: the device asks for a reset.
	drv.SetAvailIdx(drv.UsedIdx() + 100)
	drv.Kick()
	deadline := time.Now().Add(5 * time.Second)
	for b.r(virtio.RegStatus)&virtio.StatusDeviceNeedsReset == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if b.r(virtio.RegStatus)&virtio.StatusDeviceNeedsReset == 0 {
		t.Fatal("no NEEDS_RESET after a bad avail idx")
	}
	if !errors.Is(m.Err(), virtio.ErrBadAvailIdx) {
		t.Fatalf("Err() = %v", m.Err())
	}
}
