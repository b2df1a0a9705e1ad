package net

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

const (
	testMemSize = 4 << 20
	waitLong    = 5 * time.Second
	// smallRxBuf is what Linux posts without mergeable buffers: a header
	// plus an Ethernet frame with a VLAN tag.
	smallRxBuf = hdrLen + 1518
)

var testMAC = net.HardwareAddr{0x06, 0x67, 0x76, 0x01, 0x02, 0x03}

// rig is a device on a fake tap (one end of a SEQPACKET socketpair, which
// keeps frame boundaries like a tap does) driven by fake guest queues.
type rig struct {
	t      *testing.T
	dev    *Device
	peer   *os.File // the host side of the fake tap
	mem    *virtiotest.Memory
	rx, tx *virtiotest.Driver
	sig    *virtiotest.Signaller
}

func newRig(t *testing.T) *rig {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t}
	r.dev = New(newTap("fake0", os.NewFile(uintptr(fds[0]), "fake-tap")), testMAC)
	r.peer = os.NewFile(uintptr(fds[1]), "fake-tap-peer")
	t.Cleanup(func() {
		r.dev.Close()
		r.peer.Close()
	})
	r.activate()
	return r
}

// activate lays out fresh queues and activates the device on them.
func (r *rig) activate() {
	r.t.Helper()
	r.mem = virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(r.t, r.mem, QueueSize, QueueSize)
	r.rx, r.tx = ds[RxQueue], ds[TxQueue]
	r.rx.SetNotify(func() { r.dev.QueueNotify(RxQueue) })
	r.tx.SetNotify(func() { r.dev.QueueNotify(TxQueue) })
	var a virtio.Activation
	a, r.sig = virtiotest.Activation(r.mem, virtio.FeatureVersion1|r.dev.Features(), ds...)
	if err := r.dev.Activate(a); err != nil {
		r.t.Fatal(err)
	}
}

// hostSend writes a frame into the fake tap, as the host kernel would, with
// the header given.
func (r *rig) hostSend(hdr [hdrLen]byte, frame []byte) {
	r.t.Helper()
	if _, err := r.peer.Write(append(hdr[:], frame...)); err != nil {
		r.t.Fatal(err)
	}
}

// hostRecv reads one packet the device wrote to the fake tap.
func (r *rig) hostRecv() []byte {
	r.t.Helper()
	buf := make([]byte, maxPacketLen+1)
	r.peer.SetReadDeadline(time.Now().Add(waitLong))
	n, err := r.peer.Read(buf)
	if err != nil {
		r.t.Fatal(err)
	}
	return buf[:n]
}

// hostNothing checks that the device wrote nothing to the fake tap.
func (r *rig) hostNothing() {
	r.t.Helper()
	r.peer.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := r.peer.Read(make([]byte, maxPacketLen)); !errors.Is(err, os.ErrDeadlineExceeded) {
		r.t.Fatalf("host got %d bytes, %v; want nothing", n, err)
	}
}

// frame makes a recognisable Ethernet frame of n bytes carrying seq.
func frame(n int, seq uint32) []byte {
	f := make([]byte, n)
	copy(f[0:], testMAC)
	copy(f[6:], []byte{0x06, 0, 0, 0, 0, 9})
	binary.BigEndian.PutUint16(f[12:], 0x88b5) // IEEE local experimental ethertype
	for i := 14; i < n; i++ {
		f[i] = byte(i)
	}
	if n >= 18 {
		binary.BigEndian.PutUint32(f[14:], seq)
	}
	return f
}

// wantRxHeader is the header the guest must see without offloads or
// mergeable buffers: all zero but num_buffers = 1.
var wantRxHeader = func() []byte {
	h := make([]byte, hdrLen)
	h[hdrNumBuffers] = 1
	return h
}()

func TestFeaturesAndConfig(t *testing.T) {
	d := New(nil, testMAC)
	if d.Type() != virtio.TypeNet {
		t.Errorf("Type = %d", d.Type())
	}
	if f := d.Features(); f != FeatureMAC|FeatureStatus {
		t.Errorf("Features = %#x", f)
	}
	if qs := d.QueueSizes(); len(qs) != 2 {
		t.Errorf("QueueSizes = %v", qs)
	}
	want := []byte{0x06, 0x67, 0x76, 0x01, 0x02, 0x03, statusLinkUp, 0, 1, 0, 0, 0}
	got := make([]byte, len(want))
	d.ReadConfig(0, got)
	if !bytes.Equal(got, want) {
		t.Errorf("config = % x, want % x", got, want)
	}
	for off := range uint64(len(want)) {
		var b [1]byte
		d.ReadConfig(off, b[:])
		if b[0] != want[off] {
			t.Errorf("config byte %d = %#x, want %#x", off, b[0], want[off])
		}
	}
	var st [2]byte
	d.ReadConfig(configStatus, st[:])
	if binary.LittleEndian.Uint16(st[:]) != statusLinkUp {
		t.Errorf("status = % x", st)
	}
	far := []byte{0xff, 0xff}
	d.ReadConfig(1<<40, far)
	if far[0] != 0 || far[1] != 0 {
		t.Errorf("read past the end = % x", far)
	}
	d.WriteConfig(0, []byte{1, 2, 3}) // ignored
	if !bytes.Equal(d.MAC(), testMAC) {
		t.Errorf("MAC after a config write = %s", d.MAC())
	}
}

func TestRandomMAC(t *testing.T) {
	for _, in := range []net.HardwareAddr{nil, {1, 2, 3}, {0x01, 0, 0, 0, 0, 1}, make(net.HardwareAddr, 6)} {
		mac := New(nil, in).MAC()
		if err := validMAC(mac); err != nil {
			t.Errorf("New(%v): %v", in, err)
		}
		if !bytes.HasPrefix(mac, defaultMACPrefix[:]) {
			t.Errorf("New(%v) MAC = %s, want the %x prefix", in, mac, defaultMACPrefix)
		}
		if mac[0]&2 == 0 {
			t.Errorf("MAC %s not locally administered", mac)
		}
	}
}

func TestLinkStatus(t *testing.T) {
	r := newRig(t)
	r.dev.SetLinkUp(false)
	var st [2]byte
	r.dev.ReadConfig(configStatus, st[:])
	if st != [2]byte{} {
		t.Errorf("status after link down = % x", st)
	}
	if n := r.sig.ConfigSignals(); n != 1 {
		t.Errorf("config signals = %d, want 1", n)
	}
	r.dev.SetLinkUp(false) // no change, no interrupt
	r.dev.SetLinkUp(true)
	if n := r.sig.ConfigSignals(); n != 2 {
		t.Errorf("config signals = %d, want 2", n)
	}
}

func TestTransmit(t *testing.T) {
	r := newRig(t)
	f := frame(100, 7)
	// A driver that ignores "no offloads": its header must not reach the tap.
	hdr := []byte{hdrFlagNeedsCsum, 3, 14, 0, 0x40, 5, 34, 0, 16, 0, 9, 9}
	layouts := map[string][][]byte{
		"one buffer":       {append(append([]byte{}, hdr...), f...)},
		"header, frame":    {hdr, f},
		"split everywhere": {hdr[:3], hdr[3:], f[:1], f[1:50], f[50:]},
	}
	for name, bufs := range layouts {
		r.tx.AddChain(bufs, nil)
		r.tx.Kick()
		got := r.hostRecv()
		if !bytes.Equal(got[:hdrLen], make([]byte, hdrLen)) {
			t.Errorf("%s: header to the tap = % x, want zeros", name, got[:hdrLen])
		}
		if !bytes.Equal(got[hdrLen:], f) {
			t.Errorf("%s: frame differs", name)
		}
		used := r.tx.Used()
		if len(used) != 1 || used[0].Len != 0 {
			t.Errorf("%s: used = %v, want one entry of length 0", name, used)
		}
	}
	if s := r.dev.Stats(); s.TxFrames != 3 || s.TxBytes != 300 || s.TxDropped != 0 {
		t.Errorf("stats = %+v", s)
	}
	if r.sig.UsedSignals() != 3 {
		t.Errorf("used signals = %d, want 3", r.sig.UsedSignals())
	}
}

func TestTransmitMalformed(t *testing.T) {
	r := newRig(t)
	r.tx.AddChain([][]byte{make([]byte, hdrLen-1)}, nil)              // no room for the header
	r.tx.AddChain(nil, []uint32{64})                                  // nothing readable
	r.tx.AddChain([][]byte{make([]byte, maxPacketLen), {1}}, nil)     // one byte too long
	r.tx.AddChain([][]byte{make([]byte, hdrLen), frame(60, 1)}, nil)  // fine
	r.tx.AddChain([][]byte{make([]byte, maxPacketLen)}, []uint32{10}) // the largest, plus a writable buffer to ignore
	r.tx.Kick()
	if got := r.hostRecv(); len(got) != hdrLen+60 {
		t.Errorf("first packet on the tap is %d bytes, want %d", len(got), hdrLen+60)
	}
	if got := r.hostRecv(); len(got) != maxPacketLen {
		t.Errorf("second packet on the tap is %d bytes, want %d", len(got), maxPacketLen)
	}
	r.hostNothing()
	if used := r.tx.Used(); len(used) != 5 {
		t.Errorf("used = %v, want all 5 chains back", used)
	}
	if s := r.dev.Stats(); s.TxDropped != 3 || s.TxFrames != 2 {
		t.Errorf("stats = %+v", s)
	}
	if resets := r.sig.Resets(); len(resets) != 0 {
		t.Errorf("NeedsReset(%v) for malformed but valid chains", resets)
	}
}

func TestTransmitBrokenRing(t *testing.T) {
	r := newRig(t)
	r.tx.SetAvailIdx(QueueSize + 1)
	r.tx.Kick()
	resets := r.sig.Resets()
	if len(resets) != 1 || !errors.Is(resets[0], virtio.ErrBadAvailIdx) {
		t.Fatalf("resets = %v, want one ErrBadAvailIdx", resets)
	}
	r.tx.Kick() // the queue is dead until a reset: no second report
	if n := len(r.sig.Resets()); n != 1 {
		t.Errorf("%d NeedsReset calls, want 1", n)
	}
	r.dev.Reset()
	r.activate()
	r.tx.AddChain([][]byte{make([]byte, hdrLen), frame(60, 1)}, nil)
	r.tx.Kick()
	r.hostRecv()
}

func TestReceive(t *testing.T) {
	r := newRig(t)
	heads := []uint16{r.rx.AddChain(nil, []uint32{smallRxBuf}), r.rx.AddChain(nil, []uint32{hdrLen, 40, 2000})}
	r.rx.Kick()
	var tapHdr [hdrLen]byte
	tapHdr[hdrFlags] = 2 // DATA_VALID: must not reach a guest without GUEST_CSUM
	f1, f2 := frame(1514, 1), frame(60, 2)
	r.hostSend(tapHdr, f1)
	r.hostSend(tapHdr, f2)
	used := r.rx.WaitUsed(2, waitLong)
	if len(used) != 2 {
		t.Fatalf("used = %v", used)
	}
	for i, f := range [][]byte{f1, f2} {
		if used[i].ID != uint32(heads[i]) || used[i].Len != uint32(hdrLen+len(f)) {
			t.Errorf("used[%d] = %+v, want head %d len %d", i, used[i], heads[i], hdrLen+len(f))
		}
		got := r.rx.ReadWritable(heads[i])
		if !bytes.Equal(got[:hdrLen], wantRxHeader) || !bytes.Equal(got[hdrLen:], f) {
			t.Errorf("frame %d: header % x, frame equal %v", i, got[:hdrLen], bytes.Equal(got[hdrLen:], f))
		}
	}
	if s := r.dev.Stats(); s.RxFrames != 2 || s.RxBytes != uint64(len(f1)+len(f2)) {
		t.Errorf("stats = %+v", s)
	}
	if r.sig.UsedSignals() < 1 {
		t.Error("no interrupt")
	}
}

func TestReceiveWaitsForBuffers(t *testing.T) {
	r := newRig(t)
	const n = 5
	for i := range n {
		r.hostSend([hdrLen]byte{}, frame(200, uint32(i)))
	}
	time.Sleep(50 * time.Millisecond)
	if used := r.rx.Used(); len(used) != 0 {
		t.Fatalf("used %v with no buffers posted", used)
	}
	for i := range n {
		h := r.rx.AddChain(nil, []uint32{smallRxBuf})
		r.rx.Kick()
		used := r.rx.WaitUsed(1, waitLong)
		if len(used) != 1 {
			t.Fatalf("frame %d: used = %v", i, used)
		}
		got := r.rx.ReadWritable(h)
		if seq := binary.BigEndian.Uint32(got[hdrLen+14:]); seq != uint32(i) {
			t.Errorf("got frame %d, want %d", seq, i)
		}
	}
}

func TestReceiveTooBig(t *testing.T) {
	r := newRig(t)
	small := r.rx.AddChain(nil, []uint32{100})
	next := r.rx.AddChain(nil, []uint32{smallRxBuf})
	r.rx.Kick()
	r.hostSend([hdrLen]byte{}, frame(200, 1))
	r.hostSend([hdrLen]byte{}, frame(60, 2))
	used := r.rx.WaitUsed(2, waitLong)
	if len(used) != 2 || used[0].ID != uint32(small) || used[0].Len != 0 || used[1].ID != uint32(next) || used[1].Len != hdrLen+60 {
		t.Fatalf("used = %+v, want the small buffer back empty, then the second frame", used)
	}
	if s := r.dev.Stats(); s.RxDropped != 1 || s.RxFrames != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestReceiveOffloadedFrame drops a frame the tap should never produce
// without offloads, instead of handing the guest a bad checksum.
func TestReceiveOffloadedFrame(t *testing.T) {
	r := newRig(t)
	r.rx.AddChain(nil, []uint32{smallRxBuf})
	r.rx.Kick()
	r.hostSend([hdrLen]byte{hdrFlagNeedsCsum}, frame(60, 1))
	r.hostSend([hdrLen]byte{0, 1}, frame(60, 2)) // GSO TCPv4
	r.hostSend([hdrLen]byte{}, frame(60, 3))
	used := r.rx.WaitUsed(1, waitLong)
	if len(used) != 1 || used[0].Len != hdrLen+60 {
		t.Fatalf("used = %+v", used)
	}
	if s := r.dev.Stats(); s.RxDropped != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestReceiveBrokenRing(t *testing.T) {
	r := newRig(t)
	r.rx.SetAvailIdx(QueueSize + 1)
	r.hostSend([hdrLen]byte{}, frame(60, 1))
	deadline := time.Now().Add(waitLong)
	for r.dev.RxError() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := r.dev.RxError(); !errors.Is(err, virtio.ErrBadAvailIdx) {
		t.Fatalf("RxError = %v", err)
	}
	if resets := r.sig.Resets(); len(resets) != 1 {
		t.Fatalf("resets = %v", resets)
	}
	r.dev.Reset()
	r.activate()
	if err := r.dev.RxError(); err != nil {
		t.Errorf("RxError after reset = %v", err)
	}
}

// TestResetPromptly resets a device whose receive goroutine is blocked in
// each of its two waits: reading the tap, and waiting for guest buffers.
func TestResetPromptly(t *testing.T) {
	r := newRig(t)
	reset := func(what string) {
		t.Helper()
		time.Sleep(20 * time.Millisecond) // let the goroutine block
		done := make(chan struct{})
		go func() { r.dev.Reset(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Fatalf("Reset while %s did not return", what)
		}
	}
	reset("reading the tap")
	r.activate()
	r.hostSend([hdrLen]byte{}, frame(60, 1))
	reset("waiting for buffers")
	r.dev.Reset() // twice is fine

	// The device works after the resets: the read deadline was cleared.
	r.activate()
	h := r.rx.AddChain(nil, []uint32{smallRxBuf})
	r.rx.Kick()
	r.hostSend([hdrLen]byte{}, frame(60, 2))
	if used := r.rx.WaitUsed(1, waitLong); len(used) != 1 {
		t.Fatalf("used after reset = %v", used)
	}
	if seq := binary.BigEndian.Uint32(r.rx.ReadWritable(h)[hdrLen+14:]); seq != 2 {
		t.Errorf("got frame %d, want 2 (1 was pending at the reset)", seq)
	}
}

// TestFlood sends many frames faster than the guest takes them; the guest
// keeps reposting buffers, and must see every frame, in order.
func TestFlood(t *testing.T) {
	r := newRig(t)
	const frames = 20000
	const posted = 64
	errc := make(chan error, 1)
	go func() {
		for i := range frames {
			pkt := append(make([]byte, hdrLen), frame(98, uint32(i))...)
			if _, err := r.peer.Write(pkt); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range posted {
		r.rx.AddChain(nil, []uint32{smallRxBuf})
	}
	r.rx.Kick()
	next := uint32(0)
	deadline := time.Now().Add(30 * time.Second)
	for next < frames {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d frames after 30s; stats %+v", next, frames, r.dev.Stats())
		}
		used := r.rx.Used()
		if len(used) == 0 {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		for _, u := range used {
			got := r.rx.ReadWritable(uint16(u.ID))
			if len(got) < hdrLen+18 {
				t.Fatalf("frame %d: short used entry %+v", next, u)
			}
			if seq := binary.BigEndian.Uint32(got[hdrLen+14:]); seq != next {
				t.Fatalf("got frame %d, want %d", seq, next)
			}
			next++
			r.rx.AddChain(nil, []uint32{smallRxBuf})
		}
		r.rx.Kick()
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if s := r.dev.Stats(); s.RxFrames != frames || s.RxDropped != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestRxEOF stops receiving, without a hang or a spin, when the fake tap's
// other end goes away.
func TestRxEOF(t *testing.T) {
	r := newRig(t)
	r.peer.Close()
	deadline := time.Now().Add(waitLong)
	for r.dev.RxError() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := r.dev.RxError(); !errors.Is(err, io.EOF) {
		t.Fatalf("RxError = %v, want EOF", err)
	}
}

func TestActivateErrors(t *testing.T) {
	d := New(nil, testMAC)
	mem := virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	a, _ := virtiotest.Activation(mem, virtio.FeatureVersion1, ds[0])
	if err := d.Activate(a); err == nil {
		t.Error("Activate with one queue succeeded")
	}
	a, _ = virtiotest.Activation(mem, virtio.FeatureVersion1, ds...)
	a.Queues[TxQueue].Ready = false
	if err := d.Activate(a); !errors.Is(err, virtio.ErrQueueNotReady) {
		t.Errorf("Activate with a queue not ready: %v", err)
	}
	a.Queues[TxQueue].Ready = true
	a.Queues[TxQueue].UsedRing = testMemSize - 2
	if err := d.Activate(a); err == nil {
		t.Error("Activate with a ring outside memory succeeded")
	}
	d.QueueNotify(TxQueue) // not running: nothing happens
	d.QueueNotify(RxQueue)
	d.QueueNotify(7)
	d.Reset()
}

func ExampleParseSpec() {
	name, mac, err := ParseSpec("tap=tap0,mac=06:67:76:00:00:01")
	fmt.Println(name, mac, err)
	// Output: tap0 06:67:76:00:00:01 <nil>
}
