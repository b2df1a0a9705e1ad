// Package virtio implements the modern virtio-mmio transport (version 2) and
// split virtqueues, for devices that treat the guest as hostile: every
// address, index and length read from guest memory is checked before use.
//
// A device implements Device. The transport (MMIO) presents it to the guest
// at one MMIO window, negotiates features, sets up its queues and calls
// Activate when the driver sets DRIVER_OK. Queue notifications reach the
// device through QueueNotify, called by the transport's reader of that
// queue's eventfd (fed by an ioeventfd, or by MMIO writes when there is
// none), one call at a time. Interrupts go
// out through the Interrupt the machine gives the transport (an irqfd).
package virtio

// GuestMemory is guest RAM as devices see it. machine.Memory implements it.
type GuestMemory interface {
	// Slice returns the host bytes backing [gpa, gpa+n), which must lie in
	// one RAM region, or an error. The bytes alias guest memory: the guest
	// can change them at any time, so copy before validating.
	Slice(gpa, n uint64) ([]byte, error)
}

// DeviceType is the virtio device id (virtio 1.2 section 5).
type DeviceType uint32

// Device types govm implements.
const (
	TypeNet     DeviceType = 1
	TypeBlock   DeviceType = 2
	TypeConsole DeviceType = 3
	TypeRNG     DeviceType = 4
	TypeGPU     DeviceType = 16
	TypeInput   DeviceType = 18
)

// Reserved (device-independent) feature bits (virtio 1.2 section 6).
const (
	FeatureIndirectDesc   = 1 << 28 // VIRTIO_F_INDIRECT_DESC
	FeatureEventIdx       = 1 << 29 // VIRTIO_F_EVENT_IDX
	FeatureVersion1       = 1 << 32 // VIRTIO_F_VERSION_1
	FeatureAccessPlatform = 1 << 33 // VIRTIO_F_ACCESS_PLATFORM (not offered)
)

// Device status bits (virtio 1.2 section 2.1).
const (
	StatusAcknowledge      = 1
	StatusDriver           = 2
	StatusDriverOK         = 4
	StatusFeaturesOK       = 8
	StatusDeviceNeedsReset = 64
	StatusFailed           = 128
)

// InterruptKind is the reason for an interrupt, as the ISR register shows it.
type InterruptKind uint32

// The two interrupt reasons of virtio-mmio's InterruptStatus register.
const (
	InterruptUsedBuffer   InterruptKind = 1
	InterruptConfigChange InterruptKind = 2
)

// Interrupt raises the device's interrupt line (an irqfd, in govm).
type Interrupt interface {
	Trigger() error
}

// Signaller is what a device uses to tell the driver something: the
// transport implements it by setting the ISR bit and triggering the
// Interrupt.
type Signaller interface {
	Signal(kind InterruptKind)
	// NeedsReset marks the device broken (DEVICE_NEEDS_RESET) after the
	// guest handed it something unrecoverable, and tells the driver.
	NeedsReset(reason error)
}

// Activation is what a device gets when the driver sets DRIVER_OK.
type Activation struct {
	Mem      GuestMemory
	Queues   []*Queue // one per QueueSizes entry; a queue the driver did not enable has Ready false
	Features uint64   // the negotiated features
	Signal   Signaller
}

// Device is one virtio device behind a transport.
type Device interface {
	Type() DeviceType
	// Features is what the device offers; the transport adds
	// FeatureVersion1 and the ring features it supports.
	Features() uint64
	// QueueSizes gives the maximum size of each queue (powers of two).
	QueueSizes() []uint16
	// ReadConfig and WriteConfig access the device-specific configuration
	// space; off is relative to its start, and may be out of range.
	ReadConfig(off uint64, p []byte)
	WriteConfig(off uint64, p []byte)
	// Activate starts the device. An error marks it DEVICE_NEEDS_RESET and
	// raises a config interrupt (FAILED is the driver's bit to set).
	Activate(a Activation) error
	// QueueNotify says the driver kicked queue i; it runs on the transport's
	// reader goroutine for queue i, never concurrently with itself (or
	// Activate and Reset) for one device.
	QueueNotify(i int)
	// Reset stops the device and returns it to its pre-Activate state. It
	// waits for any goroutines the device started.
	Reset()
}
