// Package console is a virtio-console device (virtio 1.2 section 5.3) with
// a single port and no optional features: receiveq (0) carries input to
// the guest, transmitq (1) carries its output. Linux shows the port as
// /dev/hvc0; "console=hvc0" on the kernel command line makes it the kernel
// console.
//
// Input works like a UART's receive FIFO: Enqueue accepts what fits in a
// bounded buffer and the device hands it to the guest whenever the driver
// has posted receive buffers. Output is written to an io.Writer as the
// driver sends it.
package console

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/govm/govm/devices/virtio"
)

// Queue indexes (section 5.3.2, without VIRTIO_CONSOLE_F_MULTIPORT).
const (
	RxQueue = 0 // receiveq: host to guest
	TxQueue = 1 // transmitq: guest to host
)

// QueueSize is the maximum size of each queue.
const QueueSize = 64

// InputBufferSize bounds the input waiting for the guest.
const InputBufferSize = 4096

// copyChunk is the size of the reused buffer output is copied through.
const copyChunk = 4096

// Device is a virtio-console device. Create it with New.
type Device struct {
	out io.Writer

	// room gets a token whenever the guest takes input, so a producer
	// blocked on a full buffer can retry.
	room chan struct{}

	// inMu guards the input buffer and the receive queue, which both
	// Enqueue (any goroutine) and QueueNotify (the transport's worker) use.
	inMu   sync.Mutex
	in     []byte // pending input, at most InputBufferSize bytes
	rx     *virtio.Queue
	rxDead bool

	// mu guards the activation and the transmit queue.
	mu      sync.Mutex
	running bool
	act     virtio.Activation
	txDead  bool
	txBuf   []byte

	outErr error // the last error writing out; guarded by mu
}

// New makes a console whose output goes to out.
func New(out io.Writer) *Device {
	return &Device{
		out:  out,
		room: make(chan struct{}, 1),
		in:   make([]byte, 0, InputBufferSize),
	}
}

// Enqueue queues input for the guest and returns how many bytes of b fit in
// the input buffer; the rest is the caller's to retry after Room fires.
// Input queued before the driver starts waits for it.
func (d *Device) Enqueue(b []byte) int {
	d.inMu.Lock()
	defer d.inMu.Unlock()
	n := min(len(b), InputBufferSize-len(d.in))
	d.in = append(d.in, b[:n]...)
	d.deliverLocked()
	return n
}

// Room returns a channel that receives a value after the guest has taken
// input, that is when Enqueue may accept more.
func (d *Device) Room() <-chan struct{} { return d.room }

// Buffered returns how many input bytes wait for the guest.
func (d *Device) Buffered() int {
	d.inMu.Lock()
	defer d.inMu.Unlock()
	return len(d.in)
}

// OutputError returns the last error from writing guest output, or nil.
func (d *Device) OutputError() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.outErr
}

// Type implements virtio.Device.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeConsole }

// Features implements virtio.Device: none (no SIZE, MULTIPORT or EMERG_WRITE).
func (d *Device) Features() uint64 { return 0 }

// QueueSizes implements virtio.Device.
func (d *Device) QueueSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ReadConfig implements virtio.Device: all zeros.
//
// struct virtio_console_config (cols, rows, max_nr_ports, emerg_wr) only
// means something with features this device does not offer, so it reads as
// zeros.
func (d *Device) ReadConfig(off uint64, p []byte) { clear(p) }

// WriteConfig implements virtio.Device: emerg_wr needs
// VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered, so writes are ignored.
func (d *Device) WriteConfig(off uint64, p []byte) {}

// Activate implements virtio.Device.
func (d *Device) Activate(a virtio.Activation) error {
	if len(a.Queues) != 2 {
		return fmt.Errorf("virtio-console: %d queues, want 2", len(a.Queues))
	}
	for i, q := range a.Queues {
		if !q.Ready {
			return fmt.Errorf("virtio-console: queue %d: %w", i, virtio.ErrQueueNotReady)
		}
		if err := q.Validate(a.Mem); err != nil {
			return fmt.Errorf("virtio-console: queue %d: %w", i, err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return errors.New("virtio-console: activated twice without a reset")
	}
	if d.txBuf == nil {
		d.txBuf = make([]byte, copyChunk)
	}
	d.act = a
	d.running = true
	d.txDead = false

	d.inMu.Lock()
	defer d.inMu.Unlock()
	d.rx = a.Queues[RxQueue]
	d.rxDead = false
	d.deliverLocked() // the guest may have posted buffers already
	return nil
}

// Reset implements virtio.Device. Input not yet delivered stays buffered
// for the next driver.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inMu.Lock()
	defer d.inMu.Unlock()
	d.running = false
	d.act = virtio.Activation{}
	d.rx = nil
}

// QueueNotify implements virtio.Device.
func (d *Device) QueueNotify(i int) {
	switch i {
	case RxQueue:
		d.inMu.Lock()
		defer d.inMu.Unlock()
		d.deliverLocked()
	case TxQueue:
		d.transmit()
	}
}

// deliverLocked copies pending input into the receive buffers the driver
// has posted. d.inMu is held.
func (d *Device) deliverLocked() {
	if d.rx == nil || d.rxDead || len(d.in) == 0 {
		return
	}
	mem, sig := d.act.Mem, d.act.Signal
	taken := 0
	pushed := false
	for taken < len(d.in) {
		c, err := d.rx.Pop(mem)
		if err != nil {
			d.rxBroken(sig, err)
			break
		}
		if c == nil {
			break
		}
		w := c.Writer(mem)
		// A short write means the buffer is full: the rest goes into the
		// next one. A buffer with no writable bytes takes nothing.
		n, _ := w.Write(d.in[taken:])
		taken += n
		if err := d.rx.PushUsed(mem, c.Head, w.Written()); err != nil {
			d.rxBroken(sig, err)
			break
		}
		pushed = true
	}
	if taken > 0 {
		d.in = append(d.in[:0], d.in[taken:]...)
		select {
		case d.room <- struct{}{}:
		default:
		}
	}
	if pushed && !d.rxDead {
		signalIfNeeded(mem, d.rx, sig)
	}
}

func (d *Device) rxBroken(sig virtio.Signaller, err error) {
	d.rxDead = true
	sig.NeedsReset(fmt.Errorf("virtio-console: receive queue: %w", err))
}

// transmit writes every chain on the transmit queue to out.
func (d *Device) transmit() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running || d.txDead {
		return
	}
	mem, q, sig := d.act.Mem, d.act.Queues[TxQueue], d.act.Signal
	pushed := false
	for {
		c, err := q.Pop(mem)
		if err != nil {
			d.txBroken(sig, err)
			break
		}
		if c == nil {
			break
		}
		// The chain's length is bounded by virtio.MaxChainBytes; it is
		// streamed through a small buffer, never allocated whole. An
		// output error loses the data, as a disconnected UART would.
		if _, err := io.CopyBuffer(onlyWriter{d.out}, c.Reader(mem), d.txBuf); err != nil {
			d.outErr = err
		}
		if err := q.PushUsed(mem, c.Head, 0); err != nil {
			d.txBroken(sig, err)
			break
		}
		pushed = true
	}
	if pushed && !d.txDead {
		signalIfNeeded(mem, q, sig)
	}
}

func (d *Device) txBroken(sig virtio.Signaller, err error) {
	d.txDead = true
	sig.NeedsReset(fmt.Errorf("virtio-console: transmit queue: %w", err))
}

// onlyWriter hides any ReadFrom method of the output, so io.CopyBuffer
// uses the device's reused buffer.
type onlyWriter struct{ io.Writer }

// signalIfNeeded interrupts the driver if the queue's event suppression
// asks for it. An error reading the ring errs on the side of an interrupt.
func signalIfNeeded(mem virtio.GuestMemory, q *virtio.Queue, sig virtio.Signaller) {
	need, err := q.NeedsInterrupt(mem)
	if need || err != nil {
		sig.Signal(virtio.InterruptUsedBuffer)
	}
}
