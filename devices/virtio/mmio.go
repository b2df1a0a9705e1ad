package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// virtio-mmio register offsets (virtio 1.2 section 4.2.2, version 2).
const (
	RegMagicValue        = 0x000
	RegVersion           = 0x004
	RegDeviceID          = 0x008
	RegVendorID          = 0x00c
	RegDeviceFeatures    = 0x010
	RegDeviceFeaturesSel = 0x014
	RegDriverFeatures    = 0x020
	RegDriverFeaturesSel = 0x024
	RegQueueSel          = 0x030
	RegQueueNumMax       = 0x034
	RegQueueNum          = 0x038
	RegQueueReady        = 0x044
	RegQueueNotify       = 0x050
	RegInterruptStatus   = 0x060
	RegInterruptACK      = 0x064
	RegStatus            = 0x070
	RegQueueDescLow      = 0x080
	RegQueueDescHigh     = 0x084
	RegQueueDriverLow    = 0x090 // the available ring
	RegQueueDriverHigh   = 0x094
	RegQueueDeviceLow    = 0x0a0 // the used ring
	RegQueueDeviceHigh   = 0x0a4
	RegSHMSel            = 0x0ac
	RegSHMLenLow         = 0x0b0
	RegSHMLenHigh        = 0x0b4
	RegSHMBaseLow        = 0x0b8
	RegSHMBaseHigh       = 0x0bc
	RegQueueReset        = 0x0c0
	RegConfigGeneration  = 0x0fc
	RegConfig            = 0x100 // device-specific configuration space

	// MMIOSize is the size of one device's MMIO window.
	MMIOSize = 0x1000
)

// Register values.
const (
	MagicValue  = 0x74726976 // "virt" in little-endian
	MMIOVersion = 2          // the modern (non-legacy) interface
	// VendorID is "GOVM" read as a little-endian 32-bit value.
	VendorID = 0x4d564f47

	regSize     = 4          // registers are 32 bits wide
	noSHMRegion = 0xffffffff // SHMLen halves for "no such region": length -1
	featureSels = 2          // feature bits 0-31 and 32-63
)

// Transport feature bits this transport implements, and the range of
// reserved (transport) bits a device may not offer itself (virtio 1.2
// section 6: bits 28 to 49 are reserved for the transport and queues).
const (
	transportFeatures    = FeatureVersion1 | FeatureEventIdx | FeatureIndirectDesc
	reservedFeatureFirst = 28
	reservedFeatureLast  = 49
	reservedFeatureMask  = (uint64(1)<<(reservedFeatureLast+1) - 1) &^ (uint64(1)<<reservedFeatureFirst - 1)
)

// ErrBadQueueSizes is returned by NewMMIO for a device with an impossible
// queue list.
var ErrBadQueueSizes = errors.New("virtio: device queue sizes must be powers of two up to 32768")

// MMIO is the virtio-mmio transport for one device. Read and Write are
// called by vCPU threads through the bus (any number, concurrently); queue
// notifications reach the device on one reader goroutine per queue, which
// calls it under devMu, so one call at a time.
type MMIO struct {
	// OnError, if set before the guest starts, hears the first reason the
	// device needed a reset (a broken ring, a bad chain): the guest's
	// mistake, which would otherwise only show as a dead device.
	OnError func(error)

	dev     Device
	mem     GuestMemory
	irq     Interrupt
	offered uint64

	// mu guards the register state below. It is taken before devMu.
	mu          sync.Mutex
	devFeatSel  uint32
	drvFeatSel  uint32
	drvFeatures uint64
	queueSel    uint32
	queues      []*Queue
	closed      bool // after Close, the guest can change nothing

	// status and isr are also changed by the device (NeedsReset, Signal)
	// from its own goroutines, so they are atomics rather than under mu.
	status    atomic.Uint32
	isr       atomic.Uint32
	configGen atomic.Uint32
	irqErr    atomic.Pointer[error]
	resetErr  atomic.Pointer[error]

	// devMu serialises calls into the device: Activate, Reset and
	// QueueNotify never run concurrently. active and pending are under it.
	devMu   sync.Mutex
	active  bool
	pending []bool // kicks that came before DRIVER_OK

	notify    []*os.File  // one blocking eventfd per queue
	stopping  atomic.Bool // set by Close before it wakes the readers
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewMMIO builds the transport for dev and starts its notification readers.
// irq is the device's interrupt line (edge-triggered irqfd in govm).
func NewMMIO(dev Device, mem GuestMemory, irq Interrupt) (*MMIO, error) {
	sizes := dev.QueueSizes()
	m := &MMIO{
		dev:     dev,
		mem:     mem,
		irq:     irq,
		offered: dev.Features()&^reservedFeatureMask | transportFeatures,
		pending: make([]bool, len(sizes)),
	}
	for _, s := range sizes {
		if s == 0 || s > MaxQueueSize || s&(s-1) != 0 {
			return nil, fmt.Errorf("%w: %v", ErrBadQueueSizes, sizes)
		}
		m.queues = append(m.queues, &Queue{MaxSize: s})
	}
	for i := range sizes {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			m.closeFiles()
			return nil, fmt.Errorf("virtio: eventfd for queue %d: %w", i, err)
		}
		// A blocking fd: its reader waits in read(2) on a thread of its
		// own, which the kick wakes directly. Through the netpoller the
		// wake-up went to whichever thread polls, which then woke others
		// to run the reader: more latency per request, and these
		// requests are often polled one at a time by the driver.
		m.notify = append(m.notify, os.NewFile(uintptr(fd), fmt.Sprintf("virtio-queue-%d", i)))
	}
	for i, f := range m.notify {
		m.wg.Add(1)
		go m.readKicks(i, f)
	}
	return m, nil
}

// NotifyEventFD is the eventfd of queue i, for the machine to register as
// a KVM ioeventfd on base+RegQueueNotify with datamatch i; -1 when there is
// no such queue.
func (m *MMIO) NotifyEventFD(i int) int {
	if i < 0 || i >= len(m.notify) {
		return -1
	}
	return int(m.notify[i].Fd())
}

// Close resets the device (stopping its goroutines) and stops the
// transport's. The eventfds are closed: unregister the ioeventfds first.
func (m *MMIO) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.reset()
		m.closed = true
		m.mu.Unlock()
		// A blocked read(2) is not ended by closing its fd: wake each
		// reader with a kick it will see as the last.
		m.stopping.Store(true)
		for i := range m.notify {
			m.kick(uint32(i))
		}
		m.wg.Wait()
		m.closeFiles()
	})
	return nil
}

func (m *MMIO) closeFiles() {
	for _, f := range m.notify {
		f.Close() // the error of closing an eventfd says nothing new
	}
}

// readKicks hands each read of queue i's eventfd to the device, on this
// goroutine: one hop from the guest's kick to the device, no channel.
// devMu serialises it with the other queues' readers.
func (m *MMIO) readKicks(i int, f *os.File) {
	defer m.wg.Done()
	var buf [8]byte // an eventfd is read as one uint64 counter
	for {
		if _, err := f.Read(buf[:]); err != nil || m.stopping.Load() {
			return // stopped by Close (or broken: nothing more will come)
		}
		m.deliver(i)
	}
}

func (m *MMIO) deliver(i int) {
	m.devMu.Lock()
	defer m.devMu.Unlock()
	switch {
	case !m.active:
		m.pending[i] = true
	case m.status.Load()&StatusDeviceNeedsReset != 0:
		// A broken device gets no more work until the driver resets it.
	case m.queues[i].Ready:
		// Ready is stable while active: the transport changes queues
		// only before DRIVER_OK and after the device is reset, both
		// ordered with this read by devMu.
		m.dev.QueueNotify(i)
	}
}

// kick signals queue i's eventfd, as the ioeventfd would have.
func (m *MMIO) kick(i uint32) {
	if uint64(i) >= uint64(len(m.notify)) {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	// The only error is "closed" (shutting down): nothing to do. The fd
	// blocks, but a write waits only when the counter would pass 2^64-2,
	// and each kick adds 1 while the reader drains it.
	m.notify[i].Write(one[:])
}

// Read implements machine.Device for the MMIO window.
func (m *MMIO) Read(off uint64, p []byte) {
	clear(p)
	if off >= RegConfig {
		m.mu.Lock()
		m.dev.ReadConfig(off-RegConfig, p)
		m.mu.Unlock()
		return
	}
	if len(p) != regSize || off%regSize != 0 {
		return // registers only take aligned 32-bit accesses
	}
	binary.LittleEndian.PutUint32(p, m.readReg(off))
}

// Write implements machine.Device for the MMIO window.
func (m *MMIO) Write(off uint64, p []byte) {
	if off >= RegConfig {
		m.mu.Lock()
		if !m.closed {
			m.dev.WriteConfig(off-RegConfig, p)
		}
		m.mu.Unlock()
		return
	}
	if len(p) != regSize || off%regSize != 0 {
		return
	}
	v := binary.LittleEndian.Uint32(p)
	if off == RegQueueNotify {
		m.kick(v) // out-of-range queue indices are ignored there
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.writeReg(off, v)
	}
}

// selected returns the queue QueueSel points at, or nil.
func (m *MMIO) selected() *Queue {
	if uint64(m.queueSel) >= uint64(len(m.queues)) {
		return nil
	}
	return m.queues[m.queueSel]
}

func (m *MMIO) readReg(off uint64) uint32 {
	switch off {
	case RegMagicValue:
		return MagicValue
	case RegVersion:
		return MMIOVersion
	case RegDeviceID:
		return uint32(m.dev.Type())
	case RegVendorID:
		return VendorID
	case RegInterruptStatus:
		return m.isr.Load()
	case RegStatus:
		return m.status.Load()
	case RegConfigGeneration:
		return m.configGen.Load()
	case RegSHMLenLow, RegSHMLenHigh, RegSHMBaseLow, RegSHMBaseHigh:
		return noSHMRegion
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch off {
	case RegDeviceFeatures:
		if m.devFeatSel < featureSels {
			return uint32(m.offered >> (32 * m.devFeatSel))
		}
		return 0
	}
	q := m.selected()
	if q == nil {
		return 0 // QueueNumMax 0: no such queue
	}
	switch off {
	case RegQueueNumMax:
		return uint32(q.MaxSize)
	case RegQueueReady:
		if q.Ready {
			return 1
		}
	}
	return 0 // write-only or unknown registers; QueueReset (no RING_RESET)
}

// writeReg handles a register write, with m.mu held.
func (m *MMIO) writeReg(off uint64, v uint32) {
	switch off {
	case RegDeviceFeaturesSel:
		m.devFeatSel = v
		return
	case RegDriverFeaturesSel:
		m.drvFeatSel = v
		return
	case RegDriverFeatures:
		// Features are fixed once FEATURES_OK is set.
		if m.drvFeatSel < featureSels && m.status.Load()&StatusFeaturesOK == 0 {
			shift := 32 * m.drvFeatSel
			m.drvFeatures = m.drvFeatures&^(uint64(0xffffffff)<<shift) | uint64(v)<<shift
		}
		return
	case RegQueueSel:
		m.queueSel = v
		return
	case RegInterruptACK:
		m.isr.And(^v)
		return
	case RegStatus:
		m.writeStatus(v)
		return
	}
	m.writeQueueReg(off, v)
}

// writeQueueReg handles the selected queue's registers. The driver may set
// them up only before DRIVER_OK, and the size and addresses only while the
// queue is not ready (virtio 1.2 section 4.2.3.2).
func (m *MMIO) writeQueueReg(off uint64, v uint32) {
	q := m.selected()
	if q == nil || m.status.Load()&StatusDriverOK != 0 {
		return
	}
	if off == RegQueueReady {
		q.Ready = v&1 != 0
		return
	}
	if q.Ready {
		return
	}
	setLow := func(a *uint64) { *a = *a&^0xffffffff | uint64(v) }
	setHigh := func(a *uint64) { *a = *a&0xffffffff | uint64(v)<<32 }
	switch off {
	case RegQueueNum:
		if v > uint32(q.MaxSize) {
			v = 0 // invalid; Validate refuses it at DRIVER_OK
		}
		q.Size = uint16(v)
	case RegQueueDescLow:
		setLow(&q.DescTable)
	case RegQueueDescHigh:
		setHigh(&q.DescTable)
	case RegQueueDriverLow:
		setLow(&q.AvailRing)
	case RegQueueDriverHigh:
		setHigh(&q.AvailRing)
	case RegQueueDeviceLow:
		setLow(&q.UsedRing)
	case RegQueueDeviceHigh:
		setHigh(&q.UsedRing)
	}
}

// writeStatus handles a write of the device status, with m.mu held. Zero
// resets; otherwise bits are only added, in the order the spec allows
// (virtio 1.2 section 3.1.1), and FEATURES_OK and DRIVER_OK only stick
// when the device accepts them.
func (m *MMIO) writeStatus(v uint32) {
	if v == 0 {
		m.reset()
		return
	}
	old := m.status.Load()
	set := v &^ old &^ StatusDeviceNeedsReset // NEEDS_RESET is the device's
	if set&StatusFeaturesOK != 0 && !m.featuresAcceptable() {
		set &^= StatusFeaturesOK
	}
	if set&StatusDriverOK != 0 && (old|set)&StatusFeaturesOK == 0 {
		set &^= StatusDriverOK
	}
	m.status.Or(set)
	if set&StatusDriverOK != 0 {
		if err := m.activate(); err != nil {
			m.NeedsReset(err)
		}
	}
}

// featuresAcceptable says whether the driver's features can be accepted:
// a subset of what was offered, including VERSION_1 (no legacy drivers).
func (m *MMIO) featuresAcceptable() bool {
	return m.drvFeatures&^m.offered == 0 && m.drvFeatures&FeatureVersion1 != 0
}

// activate validates the ready queues and starts the device, with m.mu
// held.
func (m *MMIO) activate() error {
	for i, q := range m.queues {
		q.EventIdx = m.drvFeatures&FeatureEventIdx != 0
		q.Indirect = m.drvFeatures&FeatureIndirectDesc != 0
		if !q.Ready {
			continue
		}
		if err := q.Validate(m.mem); err != nil {
			return fmt.Errorf("virtio: queue %d: %w", i, err)
		}
	}
	m.devMu.Lock()
	defer m.devMu.Unlock()
	err := m.dev.Activate(Activation{
		Mem:      m.mem,
		Queues:   append([]*Queue(nil), m.queues...),
		Features: m.drvFeatures,
		Signal:   signaller{m},
	})
	if err != nil {
		return fmt.Errorf("virtio: activating %v device: %w", m.dev.Type(), err)
	}
	m.active = true
	for i, p := range m.pending {
		if p {
			m.pending[i] = false
			m.kick(uint32(i)) // delivered by the queue's reader, as usual
		}
	}
	return nil
}

// reset returns the device and transport to their initial state, with
// m.mu held: the device first (it waits for its goroutines, so nothing
// signals afterwards), then the queues, features, ISR and status.
func (m *MMIO) reset() {
	m.devMu.Lock()
	if m.active {
		m.dev.Reset()
		m.active = false
	}
	clear(m.pending)
	m.devMu.Unlock()
	for _, q := range m.queues {
		q.Reset()
	}
	m.devFeatSel, m.drvFeatSel, m.drvFeatures, m.queueSel = 0, 0, 0, 0
	m.isr.Store(0)
	m.status.Store(0)
	m.configGen.Add(1)
}

// signaller is the transport's Signaller given to the device.
type signaller struct{ m *MMIO }

// Signal sets the ISR bit for kind and raises the interrupt. A
// configuration change also bumps ConfigGeneration.
func (s signaller) Signal(kind InterruptKind) { s.m.signal(kind) }

// NeedsReset marks the device broken and tells the driver with a
// configuration change interrupt. Notifications stop reaching the device.
func (s signaller) NeedsReset(reason error) { s.m.NeedsReset(reason) }

func (m *MMIO) signal(kind InterruptKind) {
	if kind == InterruptConfigChange {
		m.configGen.Add(1)
	}
	m.isr.Or(uint32(kind))
	if err := m.irq.Trigger(); err != nil {
		m.irqErr.CompareAndSwap(nil, &err)
	}
}

// NeedsReset sets DEVICE_NEEDS_RESET and, once DRIVER_OK is set, raises a
// configuration change interrupt (virtio 1.2 section 2.1.2). The reason is
// kept for Err. The device must stop using its queues; the transport stops
// delivering notifications until the driver resets the device.
func (m *MMIO) NeedsReset(reason error) {
	old := m.status.Or(StatusDeviceNeedsReset)
	if m.resetErr.CompareAndSwap(nil, &reason) && m.OnError != nil {
		m.OnError(reason)
	}
	if old&StatusDriverOK == 0 {
		return // the driver is not using the device yet: no interrupt
	}
	m.isr.Or(uint32(InterruptConfigChange))
	if err := m.irq.Trigger(); err != nil {
		m.irqErr.CompareAndSwap(nil, &err)
	}
}

// Err reports the first reason the device needed a reset since it was
// created, and the first interrupt delivery error, if any.
func (m *MMIO) Err() error {
	var errs []error
	if p := m.resetErr.Load(); p != nil {
		errs = append(errs, *p)
	}
	if p := m.irqErr.Load(); p != nil {
		errs = append(errs, fmt.Errorf("virtio: raising interrupt: %w", *p))
	}
	return errors.Join(errs...)
}
