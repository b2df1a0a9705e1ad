// Package rng implements the virtio entropy device (virtio 1.2 section 5.4):
// the driver hands over writable buffers and the device fills them with
// random bytes from the host kernel (getrandom(2)).
package rng

import (
	"errors"
	"fmt"
	"sync"

	"github.com/govm/govm/devices/virtio"
	"golang.org/x/sys/unix"
)

const (
	// QueueSize is the size of the one request queue.
	QueueSize = 64
	// MaxPerRequest bounds the bytes given for one request. Less than the
	// buffer is fine: the used length tells the driver how much it got.
	MaxPerRequest = 64 << 10
)

// Device is a virtio-rng device. It implements virtio.Device.
type Device struct {
	// random fills p completely or fails; tests replace it.
	random func(p []byte) error

	mu     sync.Mutex
	active bool
	broken bool
	mem    virtio.GuestMemory
	queue  *virtio.Queue
	signal virtio.Signaller
}

var _ virtio.Device = (*Device)(nil)

// New returns a device that draws on getrandom(2).
func New() *Device { return &Device{random: getrandom} }

// getrandom fills p from the kernel's CSPRNG, retrying short reads (a
// request over 256 bytes can be cut short by a signal).
func getrandom(p []byte) error {
	for len(p) > 0 {
		n, err := unix.Getrandom(p, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("getrandom: %w", err)
		}
		p = p[n:]
	}
	return nil
}

// Type is virtio.TypeRNG.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeRNG }

// Features: the entropy device defines none.
func (d *Device) Features() uint64 { return 0 }

// QueueSizes is one request queue.
func (d *Device) QueueSizes() []uint16 { return []uint16{QueueSize} }

// ReadConfig: the device has no configuration space; reads give zeroes.
func (d *Device) ReadConfig(off uint64, p []byte) { clear(p) }

// WriteConfig ignores writes.
func (d *Device) WriteConfig(off uint64, p []byte) {}

// Activate starts serving the request queue.
func (d *Device) Activate(a virtio.Activation) error {
	if len(a.Queues) != 1 || a.Queues[0] == nil || !a.Queues[0].Ready {
		return errors.New("virtio-rng: the request queue is not enabled")
	}
	if err := a.Queues[0].Validate(a.Mem); err != nil {
		return fmt.Errorf("virtio-rng: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.broken = true, false
	d.mem, d.queue, d.signal = a.Mem, a.Queues[0], a.Signal
	return nil
}

// Reset forgets the activation. There are no goroutines to stop.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.broken = false, false
	d.mem, d.queue, d.signal = nil, nil, nil
}

// QueueNotify fills every available buffer, then interrupts the driver
// once if the queue asks for it.
func (d *Device) QueueNotify(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i != 0 || !d.active || d.broken {
		return
	}
	if err := virtio.Drain(d.queue, d.mem, d.signal, d.fill); err != nil {
		d.fail(err)
	}
}

// fill writes random bytes straight into the chain's writable buffers, at
// most MaxPerRequest, and returns how many. Readable buffers are ignored.
// If the host cannot supply randomness the buffers go back with what was
// filled so far (the driver just asks again).
func (d *Device) fill(c *virtio.Chain) (uint32, error) {
	var done uint32
	for _, desc := range c.Writable {
		if done == MaxPerRequest {
			break
		}
		n := min(desc.Len, MaxPerRequest-done)
		if n == 0 {
			continue
		}
		b, err := d.mem.Slice(desc.Addr, uint64(n))
		if err != nil {
			return 0, fmt.Errorf("%w: %#x+%#x: %w", virtio.ErrBadDescriptor, desc.Addr, n, err)
		}
		if err := d.random(b); err != nil {
			break
		}
		done += n
	}
	return done, nil
}

func (d *Device) fail(err error) {
	d.broken = true
	d.signal.NeedsReset(fmt.Errorf("virtio-rng: %w", err))
}
