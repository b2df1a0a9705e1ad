// Package input implements the virtio input device (virtio 1.2 section
// 5.8) in two flavours: a keyboard and an absolute pointer (a "tablet",
// so the guest pointer follows the host one without grabbing it).
//
// The device speaks Linux evdev: each eventq buffer the driver posts
// receives one struct virtio_input_event, and the driver hands the stream
// to its input core, which acts on a group when it sees EV_SYN/SYN_REPORT.
// The driver describes the device by asking questions through the
// select/subsel window of the configuration space (see config.go).
//
// Events come from the display (Send, on its own goroutine). They wait in a
// bounded buffer until the guest posts eventq buffers; Send never blocks,
// and when the buffer is full the oldest group goes.
package input

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	evt "github.com/govm/govm/devices/input"
	"github.com/govm/govm/devices/virtio"
)

// Queues (virtio 1.2 section 5.8.2).
const (
	EventQueue  = 0 // device → driver: input events
	StatusQueue = 1 // driver → device: LED state and the like
	QueueSize   = 64

	// EventSize is sizeof(struct virtio_input_event): le16 type, le16
	// code, le32 value. Each eventq buffer carries one.
	EventSize = 8

	// MaxPending bounds the events waiting for eventq buffers.
	MaxPending = 1024
)

// evdev numbers (linux/input-event-codes.h, linux/input.h) that
// devices/input does not define.
const (
	EvLed = 0x11
	EvRep = 0x14

	KeyEsc     = 1   // the first keyboard key code
	KeyMicMute = 248 // the last code of the first block of keyboard keys

	LedNumLock    = 0
	LedCapsLock   = 1
	LedScrollLock = 2

	RepDelay  = 0
	RepPeriod = 1

	// BusVirtual is BUS_VIRTUAL, the bus type of input_id.
	BusVirtual = 0x06
)

// Identity shown to the guest (/proc/bus/input/devices). The vendor id is
// govm's own choice: BUS_VIRTUAL has no registry.
const (
	VendorGovm      = 0x676f // "go"
	ProductKeyboard = 0x0001
	ProductTablet   = 0x0002
	DeviceVersion   = 0x0001

	KeyboardName   = "govm keyboard"
	TabletName     = "govm tablet"
	KeyboardSerial = "govm-kbd-0"
	TabletSerial   = "govm-tablet-0"
)

// Device is a virtio input device. It implements virtio.Device.
type Device struct {
	cfg config

	// cfgMu guards the configuration window: the driver's select and
	// subsel, and the image of the answer (header and union).
	cfgMu sync.Mutex
	image [cfgSize]byte

	// mu guards the rest: the activation, the pending events and what the
	// driver reported. Send and QueueNotify both take it, so delivery is
	// serialised whichever goroutine starts it.
	mu      sync.Mutex
	active  bool
	broken  bool
	mem     virtio.GuestMemory
	eventq  *virtio.Queue
	statusq *virtio.Queue // nil when the driver did not enable it
	signal  virtio.Signaller

	pending [MaxPending]evt.Event // a ring: n events from head
	head, n int
	dropped uint64
	leds    uint32 // bit i: LED i is on, as the driver last said
}

var _ virtio.Device = (*Device)(nil)

// NewKeyboard returns a PC keyboard: every key code from KEY_ESC to
// KEY_MICMUTE, the three lock LEDs, and autorepeat done by the guest
// (EV_REP), so a display should not forward its own key repeats.
func NewKeyboard() *Device {
	return newDevice(config{
		name:   KeyboardName,
		serial: KeyboardSerial,
		ids:    DevIDs{Bustype: BusVirtual, Vendor: VendorGovm, Product: ProductKeyboard, Version: DeviceVersion},
		evBits: map[uint16][]uint16{
			evt.EvSyn: {evt.SynReport},
			evt.EvKey: codeRange(KeyEsc, KeyMicMute),
			EvLed:     {LedNumLock, LedCapsLock, LedScrollLock},
			EvRep:     {RepDelay, RepPeriod},
		},
	})
}

// NewTablet returns an absolute pointer with three buttons and a wheel,
// like QEMU's virtio-tablet. ABS_X and ABS_Y run from 0 to input.AbsMax
// whatever the window size (PointerEvents does the scaling). It has no
// INPUT_PROP_DIRECT: that would make it a touchscreen to some guests,
// whereas axes plus BTN_LEFT is classified as a mouse with absolute
// positioning, which is what it is.
func NewTablet() *Device {
	axis := AbsInfo{Min: 0, Max: evt.AbsMax}
	return newDevice(config{
		name:   TabletName,
		serial: TabletSerial,
		ids:    DevIDs{Bustype: BusVirtual, Vendor: VendorGovm, Product: ProductTablet, Version: DeviceVersion},
		evBits: map[uint16][]uint16{
			evt.EvSyn: {evt.SynReport},
			evt.EvKey: {evt.BtnLeft, evt.BtnRight, evt.BtnMiddle},
			evt.EvRel: {evt.RelWheel},
			evt.EvAbs: {evt.AbsX, evt.AbsY},
		},
		abs: map[uint16]AbsInfo{evt.AbsX: axis, evt.AbsY: axis},
	})
}

func newDevice(c config) *Device {
	d := &Device{cfg: c}
	d.selectLocked(CfgUnset, 0)
	return d
}

// Type is virtio.TypeInput.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeInput }

// Features: virtio-input defines none.
func (d *Device) Features() uint64 { return 0 }

// QueueSizes is the event queue and the status queue.
func (d *Device) QueueSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ReadConfig reads the configuration window at any offset and width;
// bytes beyond it read as zero.
func (d *Device) ReadConfig(off uint64, p []byte) {
	clear(p)
	if off >= cfgSize {
		return
	}
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	copy(p, d.image[off:])
}

// WriteConfig takes the driver's select and subsel bytes (a wider write
// may set both); every other byte is read-only.
func (d *Device) WriteConfig(off uint64, p []byte) {
	if off >= cfgSize {
		return
	}
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	sel, subsel := d.image[cfgSelect], d.image[cfgSubsel]
	for i, b := range p {
		switch off + uint64(i) {
		case cfgSelect:
			sel = b
		case cfgSubsel:
			subsel = b
		}
	}
	d.selectLocked(sel, subsel)
}

// selectLocked records select and subsel and prepares the answer, with
// cfgMu held (or before the device is shared).
func (d *Device) selectLocked(sel, subsel uint8) {
	var u [unionSize]byte
	size := d.cfg.answer(sel, subsel, &u)
	clear(d.image[:])
	d.image[cfgSelect], d.image[cfgSubsel], d.image[cfgSizeOf] = sel, subsel, size
	copy(d.image[cfgUnion:], u[:])
}

// Activate starts the device. The event queue is required; the status
// queue is optional.
func (d *Device) Activate(a virtio.Activation) error {
	if len(a.Queues) != 2 || a.Queues[EventQueue] == nil || !a.Queues[EventQueue].Ready {
		return errors.New("virtio-input: the event queue is not enabled")
	}
	var statusq *virtio.Queue
	for i, q := range a.Queues {
		if q == nil || !q.Ready {
			continue
		}
		if err := q.Validate(a.Mem); err != nil {
			return fmt.Errorf("virtio-input: queue %d: %w", i, err)
		}
		if i == StatusQueue {
			statusq = q
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.broken = true, false
	d.mem, d.eventq, d.statusq, d.signal = a.Mem, a.Queues[EventQueue], statusq, a.Signal
	d.head, d.n, d.leds = 0, 0, 0
	return nil
}

// Reset forgets the activation, the pending events (the new driver must
// not see input typed at the old one) and the selection. There are no
// goroutines to stop.
func (d *Device) Reset() {
	d.mu.Lock()
	d.active, d.broken = false, false
	d.mem, d.eventq, d.statusq, d.signal = nil, nil, nil, nil
	d.dropped += uint64(d.n)
	d.head, d.n, d.leds = 0, 0, 0
	d.mu.Unlock()

	d.cfgMu.Lock()
	d.selectLocked(CfgUnset, 0)
	d.cfgMu.Unlock()
}

// QueueNotify delivers pending events into newly posted eventq buffers, or
// takes the status buffers the driver sent.
func (d *Device) QueueNotify(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.active || d.broken {
		return
	}
	switch i {
	case EventQueue:
		d.deliverLocked()
	case StatusQueue:
		if d.statusq != nil {
			d.readStatusLocked()
		}
	}
}

// Send queues events for the guest and delivers what the posted buffers
// can take at once, interrupting the driver if it asks for it; the rest
// waits for the next eventq notification. It never blocks on the guest and
// is safe to call from any goroutine. Events sent while the driver is not
// running, and the oldest groups when MaxPending events already wait, are
// dropped (and counted by Dropped). Callers end each group with input.Syn.
func (d *Device) Send(events []evt.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.active || d.broken {
		d.dropped += uint64(len(events))
		return
	}
	for _, e := range events {
		if d.n == MaxPending {
			d.dropOldestGroupLocked()
		}
		d.pending[(d.head+d.n)%MaxPending] = e
		d.n++
	}
	d.deliverLocked()
}

// dropOldestGroupLocked discards the oldest pending events up to and
// including the first SYN_REPORT (all of them if there is none). If the
// guest already got the start of that group, it sees the rest of the
// next group joined to it, which the input core handles like any report.
func (d *Device) dropOldestGroupLocked() {
	k := 0
	for k < d.n {
		e := d.pending[(d.head+k)%MaxPending]
		k++
		if e == evt.Syn {
			break
		}
	}
	d.head = (d.head + k) % MaxPending
	d.n -= k
	d.dropped += uint64(k)
}

// Dropped is the number of events discarded since the device was made:
// sent while the driver was not running, pushed out of a full buffer, or
// still pending at a reset.
func (d *Device) Dropped() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// Pending is the number of events waiting for eventq buffers.
func (d *Device) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// LEDs is the LED state the driver last reported through the status
// queue: bit LedNumLock, LedCapsLock, LedScrollLock set when lit.
func (d *Device) LEDs() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.leds
}

// deliverLocked puts pending events into eventq buffers, one per buffer,
// in order, until either runs out. It pops a buffer only when it has an
// event for it.
func (d *Device) deliverLocked() {
	if !d.active || d.broken {
		return
	}
	pushed := false
	for d.n > 0 {
		c, err := d.eventq.Pop(d.mem)
		if err != nil {
			d.fail(fmt.Errorf("eventq: %w", err))
			return
		}
		if c == nil {
			break
		}
		var written uint32
		// A buffer too small for an event (the driver broke the spec's
		// MUST) goes back unused; the event waits for the next one.
		if c.WritableLen() >= EventSize {
			w := c.Writer(d.mem)
			b := encodeEvent(d.pending[d.head])
			if _, err := w.Write(b[:]); err != nil {
				d.fail(fmt.Errorf("eventq: writing an event: %w", err))
				return
			}
			written = w.Written()
			d.head = (d.head + 1) % MaxPending
			d.n--
		}
		if err := d.eventq.PushUsed(d.mem, c.Head, written); err != nil {
			d.fail(fmt.Errorf("eventq: %w", err))
			return
		}
		pushed = true
	}
	if pushed {
		d.interruptLocked(d.eventq)
	}
}

// readStatusLocked returns every status buffer, noting LED changes. Each
// buffer holds one event; a short one is ignored.
func (d *Device) readStatusLocked() {
	pushed := false
	for {
		c, err := d.statusq.Pop(d.mem)
		if err != nil {
			d.fail(fmt.Errorf("statusq: %w", err))
			return
		}
		if c == nil {
			break
		}
		var b [EventSize]byte
		_, err = io.ReadFull(c.Reader(d.mem), b[:])
		switch {
		case err == nil:
			d.applyStatus(decodeEvent(b))
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		default:
			d.fail(fmt.Errorf("statusq: reading an event: %w", err))
			return
		}
		if err := d.statusq.PushUsed(d.mem, c.Head, 0); err != nil {
			d.fail(fmt.Errorf("statusq: %w", err))
			return
		}
		pushed = true
	}
	if pushed {
		d.interruptLocked(d.statusq)
	}
}

// ledBits is the number of LEDs LEDs() can report.
const ledBits = 32

// applyStatus records what a status event says; only LEDs matter here.
func (d *Device) applyStatus(e evt.Event) {
	if e.Type != EvLed || e.Code >= ledBits {
		return
	}
	if e.Value != 0 {
		d.leds |= 1 << e.Code
	} else {
		d.leds &^= 1 << e.Code
	}
}

func (d *Device) interruptLocked(q *virtio.Queue) {
	need, err := q.NeedsInterrupt(d.mem)
	if err != nil {
		d.fail(err)
		return
	}
	if need {
		d.signal.Signal(virtio.InterruptUsedBuffer)
	}
}

// fail stops the device after the driver broke a ring; pending events go.
func (d *Device) fail(err error) {
	d.broken = true
	d.dropped += uint64(d.n)
	d.head, d.n = 0, 0
	d.signal.NeedsReset(fmt.Errorf("virtio-input: %w", err))
}

// encodeEvent lays e out as struct virtio_input_event.
func encodeEvent(e evt.Event) [EventSize]byte {
	var b [EventSize]byte
	binary.LittleEndian.PutUint16(b[0:], e.Type)
	binary.LittleEndian.PutUint16(b[2:], e.Code)
	binary.LittleEndian.PutUint32(b[4:], uint32(e.Value))
	return b
}

// decodeEvent reads a struct virtio_input_event.
func decodeEvent(b [EventSize]byte) evt.Event {
	return evt.Event{
		Type:  binary.LittleEndian.Uint16(b[0:]),
		Code:  binary.LittleEndian.Uint16(b[2:]),
		Value: int32(binary.LittleEndian.Uint32(b[4:])),
	}
}
