// Package net is a virtio-net device (virtio 1.2 section 5.1) backed by a
// Linux tap interface.
//
// It has one receive queue and one transmit queue, offers only
// VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS (no checksum or segmentation
// offloads, no mergeable receive buffers, no control queue), and uses the
// 12-byte virtio_net_hdr_v1 of VIRTIO_F_VERSION_1 on both sides: the tap is
// opened with IFF_VNET_HDR and a header size of 12, so a frame moves
// between a virtqueue and the tap with one copy and a header rewrite.
//
// Transmit runs on the transport's worker goroutine (QueueNotify). Receive
// runs on a goroutine of its own that reads the tap through Go's netpoller.
// While the guest has posted no receive buffer it holds the frame it read
// and waits for a notify on the receive queue, so a frame is never lost to
// the device's own pacing; the tap's kernel queue absorbs the backlog.
package net

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govm/govm/devices/virtio"
)

// Feature bits (virtio 1.2 section 5.1.3).
const (
	FeatureMAC    = 1 << 5  // VIRTIO_NET_F_MAC: config holds the MAC address
	FeatureStatus = 1 << 16 // VIRTIO_NET_F_STATUS: config holds the link status
)

// Queue indexes (section 5.1.2): one receive/transmit pair, no control queue.
const (
	RxQueue = 0
	TxQueue = 1
)

// QueueSize is the maximum size of each queue.
const QueueSize = 256

// Configuration space layout (struct virtio_net_config, section 5.1.4).
const (
	configMAC      = 0  // u8 mac[6]
	configStatus   = 6  // le16 status
	configMaxPairs = 8  // le16 max_virtqueue_pairs
	configLen      = 10 // the fields above; mtu and later need features we do not offer
)

// statusLinkUp is VIRTIO_NET_S_LINK_UP in the status field.
const statusLinkUp = 1

// The virtio_net_hdr_v1 fields (section 5.1.6). With VIRTIO_F_VERSION_1 the
// header always has num_buffers, so it is 12 bytes.
const (
	hdrLen           = 12
	hdrFlags         = 0 // u8; VIRTIO_NET_HDR_F_NEEDS_CSUM = 1, DATA_VALID = 2
	hdrGSOType       = 1 // u8; VIRTIO_NET_HDR_GSO_NONE = 0
	hdrNumBuffers    = 10
	hdrFlagNeedsCsum = 1
	hdrGSONone       = 0
)

// maxFrameLen bounds one Ethernet frame: a 64 KiB IP packet plus the
// Ethernet and VLAN headers. No tap MTU produces more.
const maxFrameLen = 65550

// maxPacketLen is a header plus the largest frame: the size of the reused
// transmit and receive buffers.
const maxPacketLen = hdrLen + maxFrameLen

// macLen is the length of an Ethernet address.
const macLen = 6

// defaultMACPrefix starts the random MAC New picks when given none: 06 is a
// locally administered unicast first octet, 67 76 are "gv" (govm).
var defaultMACPrefix = [3]byte{0x06, 0x67, 0x76}

// Stats counts what the device did. Dropped frames are not errors of the
// device: they are what a real NIC would drop.
type Stats struct {
	TxFrames  uint64 // frames written to the tap
	TxBytes   uint64 // their bytes, without the virtio-net header
	TxDropped uint64 // transmit chains that were too short or too long
	TxErrors  uint64 // tap writes that failed (interface down, bad header)
	RxFrames  uint64 // frames delivered to the guest
	RxBytes   uint64 // their bytes, without the virtio-net header
	RxDropped uint64 // frames larger than the guest's buffer, or with offloads the guest did not ask for
}

type stats struct {
	txFrames, txBytes, txDropped, txErrors atomic.Uint64
	rxFrames, rxBytes, rxDropped           atomic.Uint64
}

// Device is a virtio-net device. Create it with New.
type Device struct {
	tap *Tap

	cfgMu  sync.Mutex
	config [configLen]byte

	// rxKick carries notifies of the receive queue to the receive goroutine;
	// one pending kick is enough, since it re-reads the ring after waking.
	rxKick chan struct{}

	// mu serialises Activate, Reset, transmit and link changes.
	mu      sync.Mutex
	running bool
	act     virtio.Activation
	stop    chan struct{} // closed by Reset
	rxDone  chan struct{} // closed when the receive goroutine returns
	txDead  bool          // the transmit queue is broken until a reset
	txBuf   []byte

	stats  stats
	linkUp bool // guarded by cfgMu

	rxErrMu sync.Mutex
	rxErr   error // why the receive goroutine stopped before a Reset
}

// New makes a virtio-net device on tap. mac is the guest's address; if it
// is nil, or not a 6-byte unicast address, New picks a random locally
// administered one (ParseSpec checks a user's address first).
func New(tap *Tap, mac net.HardwareAddr) *Device {
	if validMAC(mac) != nil {
		mac = randomMAC()
	}
	d := &Device{
		tap:    tap,
		rxKick: make(chan struct{}, 1),
		linkUp: true,
	}
	copy(d.config[configMAC:], mac)
	binary.LittleEndian.PutUint16(d.config[configStatus:], statusLinkUp)
	binary.LittleEndian.PutUint16(d.config[configMaxPairs:], 1)
	return d
}

func randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, macLen)
	copy(mac, defaultMACPrefix[:])
	rand.Read(mac[len(defaultMACPrefix):]) // crypto/rand.Read never fails
	return mac
}

// validMAC accepts a 6-byte unicast address that is not all zeros.
func validMAC(mac net.HardwareAddr) error {
	const multicastBit = 0x01
	switch {
	case len(mac) != macLen:
		return fmt.Errorf("MAC %q: not a 6-byte Ethernet address", mac.String())
	case mac[0]&multicastBit != 0:
		return fmt.Errorf("MAC %s: a multicast address, not a station address", mac)
	case [macLen]byte(mac) == [macLen]byte{}:
		return fmt.Errorf("MAC %s: all zeros", mac)
	}
	return nil
}

// MAC is the guest's address.
func (d *Device) MAC() net.HardwareAddr {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return append(net.HardwareAddr(nil), d.config[configMAC:configMAC+macLen]...)
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	s := &d.stats
	return Stats{
		TxFrames: s.txFrames.Load(), TxBytes: s.txBytes.Load(),
		TxDropped: s.txDropped.Load(), TxErrors: s.txErrors.Load(),
		RxFrames: s.rxFrames.Load(), RxBytes: s.rxBytes.Load(),
		RxDropped: s.rxDropped.Load(),
	}
}

// RxError says why receiving stopped before a Reset (a tap read error, or a
// broken receive ring), or nil.
func (d *Device) RxError() error {
	d.rxErrMu.Lock()
	defer d.rxErrMu.Unlock()
	return d.rxErr
}

func (d *Device) setRxError(err error) {
	d.rxErrMu.Lock()
	defer d.rxErrMu.Unlock()
	d.rxErr = err
}

// Type implements virtio.Device.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeNet }

// Features implements virtio.Device.
func (d *Device) Features() uint64 { return FeatureMAC | FeatureStatus }

// QueueSizes implements virtio.Device.
func (d *Device) QueueSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ReadConfig implements virtio.Device; bytes past the end read as zero.
func (d *Device) ReadConfig(off uint64, p []byte) {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	clear(p)
	if off < configLen {
		copy(p, d.config[off:])
	}
}

// WriteConfig implements virtio.Device. The modern driver writes nothing
// (the MAC is writable only in legacy virtio), so writes are ignored.
func (d *Device) WriteConfig(off uint64, p []byte) {}

// SetLinkUp changes the link status the guest sees and, if the driver is
// running, tells it with a configuration-change interrupt.
func (d *Device) SetLinkUp(up bool) {
	d.cfgMu.Lock()
	changed := d.linkUp != up
	d.linkUp = up
	var status uint16
	if up {
		status = statusLinkUp
	}
	binary.LittleEndian.PutUint16(d.config[configStatus:], status)
	d.cfgMu.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()
	if changed && d.running {
		d.act.Signal.Signal(virtio.InterruptConfigChange)
	}
}

// Activate implements virtio.Device: it checks both queues and starts the
// receive goroutine.
func (d *Device) Activate(a virtio.Activation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return errors.New("virtio-net: activated twice without a reset")
	}
	if len(a.Queues) != 2 {
		return fmt.Errorf("virtio-net: %d queues, want 2", len(a.Queues))
	}
	for i, q := range a.Queues {
		if !q.Ready {
			return fmt.Errorf("virtio-net: queue %d: %w", i, virtio.ErrQueueNotReady)
		}
		if err := q.Validate(a.Mem); err != nil {
			return fmt.Errorf("virtio-net: queue %d: %w", i, err)
		}
	}
	if d.txBuf == nil {
		d.txBuf = make([]byte, maxPacketLen)
	}
	d.act = a
	d.running = true
	d.txDead = false
	d.stop = make(chan struct{})
	d.rxDone = make(chan struct{})
	d.setRxError(nil)
	go d.receive(a.Mem, a.Queues[RxQueue], a.Signal, d.stop, d.rxDone)
	return nil
}

// Reset implements virtio.Device: it stops the receive goroutine, even one
// blocked reading the tap or waiting for buffers, and waits for it.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running {
		return
	}
	close(d.stop)
	// A deadline in the past wakes a Read blocked in the netpoller, and
	// makes the next one return at once.
	_ = d.tap.setReadDeadline(time.Now()) // fails only on a closed tap, whose Read returns anyway
	<-d.rxDone
	_ = d.tap.setReadDeadline(time.Time{})
	d.running = false
	d.act = virtio.Activation{}
	// A kick left over from before the reset would only cause one extra
	// look at the ring; drain it anyway to start clean.
	select {
	case <-d.rxKick:
	default:
	}
}

// Close resets the device and closes its tap.
func (d *Device) Close() error {
	d.Reset()
	return d.tap.Close()
}

// QueueNotify implements virtio.Device.
func (d *Device) QueueNotify(i int) {
	switch i {
	case RxQueue:
		select {
		case d.rxKick <- struct{}{}:
		default: // a kick is already pending
		}
	case TxQueue:
		d.transmit()
	}
}

// transmit drains the transmit queue into the tap.
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
			d.txDead = true
			sig.NeedsReset(fmt.Errorf("virtio-net: transmit queue: %w", err))
			break
		}
		if c == nil {
			break
		}
		d.transmitChain(mem, c)
		if err := q.PushUsed(mem, c.Head, 0); err != nil {
			d.txDead = true
			sig.NeedsReset(fmt.Errorf("virtio-net: transmit queue: %w", err))
			break
		}
		pushed = true
	}
	if pushed {
		signalIfNeeded(mem, q, sig)
	}
}

// transmitChain sends one frame: a header then the frame, in any layout of
// readable buffers.
func (d *Device) transmitChain(mem virtio.GuestMemory, c *virtio.Chain) {
	n := c.ReadableLen()
	if n < hdrLen || n > maxPacketLen {
		d.stats.txDropped.Add(1)
		return
	}
	pkt := d.txBuf[:n]
	if _, err := io.ReadFull(c.Reader(mem), pkt); err != nil {
		d.stats.txDropped.Add(1)
		return
	}
	// We offered no offloads, so a correct driver sends an all-zero header.
	// Zero it regardless, so the host kernel never acts on a checksum or
	// segmentation request from the guest.
	clear(pkt[:hdrLen])
	if _, err := d.tap.Write(pkt); err != nil {
		d.stats.txErrors.Add(1)
		return
	}
	d.stats.txFrames.Add(1)
	d.stats.txBytes.Add(n - hdrLen)
}

// receive moves frames from the tap into the receive queue until stop is
// closed, the tap fails, or the ring turns out broken.
func (d *Device) receive(mem virtio.GuestMemory, q *virtio.Queue, sig virtio.Signaller, stop, done chan struct{}) {
	defer close(done)
	buf := make([]byte, maxPacketLen)
	for {
		n, err := d.tap.Read(buf)
		select {
		case <-stop:
			return
		default:
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue // a deadline from a Reset that has not closed stop yet
			}
			d.setRxError(fmt.Errorf("virtio-net: reading tap %s: %w", d.tap.Name(), err))
			return
		}
		if n == 0 { // end of file: only a socketpair test peer does this
			d.setRxError(fmt.Errorf("virtio-net: tap %s: %w", d.tap.Name(), io.EOF))
			return
		}
		if !prepareRxHeader(buf[:n]) {
			d.stats.rxDropped.Add(1)
			continue
		}
		c, ok := d.waitRxBuffer(mem, q, sig, stop)
		if !ok {
			return
		}
		written := uint32(0)
		if c.WritableLen() < uint64(n) {
			// It cannot fit any later buffer either (the driver posts
			// buffers of one size): drop the frame and give the buffer
			// back empty, which Linux counts as a length error.
			d.stats.rxDropped.Add(1)
		} else {
			w := c.Writer(mem)
			if _, err := w.Write(buf[:n]); err != nil {
				d.stats.rxDropped.Add(1) // only if the guest changed the ring under us
			} else {
				d.stats.rxFrames.Add(1)
				d.stats.rxBytes.Add(uint64(n - hdrLen))
			}
			written = w.Written()
		}
		if err := q.PushUsed(mem, c.Head, written); err != nil {
			d.rxBroken(sig, err)
			return
		}
		signalIfNeeded(mem, q, sig)
	}
}

// waitRxBuffer pops the next receive chain, waiting for the driver to post
// one. It returns false when stop is closed or the ring is broken.
func (d *Device) waitRxBuffer(mem virtio.GuestMemory, q *virtio.Queue, sig virtio.Signaller, stop chan struct{}) (*virtio.Chain, bool) {
	for {
		c, err := q.Pop(mem)
		if err != nil {
			d.rxBroken(sig, err)
			return nil, false
		}
		if c != nil {
			return c, true
		}
		select {
		case <-d.rxKick:
		case <-stop:
			return nil, false
		}
	}
}

func (d *Device) rxBroken(sig virtio.Signaller, err error) {
	err = fmt.Errorf("virtio-net: receive queue: %w", err)
	d.setRxError(err)
	sig.NeedsReset(err)
}

// prepareRxHeader turns the tap's header on pkt into the one the guest
// expects, or reports that the frame cannot be delivered. pkt holds at
// least the header (the tap always writes it).
func prepareRxHeader(pkt []byte) bool {
	if len(pkt) < hdrLen {
		return false
	}
	// The tap never has checksum or segmentation offloads turned on
	// (no TUNSETOFFLOAD), so the kernel completes checksums and segments
	// before handing us a frame. Should it not, the frame is unusable by a
	// guest that did not negotiate those features.
	if pkt[hdrFlags]&hdrFlagNeedsCsum != 0 || pkt[hdrGSOType] != hdrGSONone {
		return false
	}
	// Without VIRTIO_NET_F_GUEST_CSUM the device must set flags to zero
	// (the tap may set DATA_VALID); without VIRTIO_NET_F_MRG_RXBUF it must
	// set num_buffers to 1 (the tap leaves those two bytes untouched).
	clear(pkt[:hdrLen])
	binary.LittleEndian.PutUint16(pkt[hdrNumBuffers:], 1)
	return true
}

// signalIfNeeded interrupts the driver if the queue's event suppression
// asks for it. An error reading the ring's flags errs on the side of an
// interrupt too many.
func signalIfNeeded(mem virtio.GuestMemory, q *virtio.Queue, sig virtio.Signaller) {
	need, err := q.NeedsInterrupt(mem)
	if need || err != nil {
		sig.Signal(virtio.InterruptUsedBuffer)
	}
}
