package net

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// TestThroughMMIO brings the device up through the real transport's
// registers the way Linux's virtio_mmio and virtio_net do (with EVENT_IDX),
// exchanges a frame each way, and resets it through the status register
// while the receive goroutine is blocked.
func TestThroughMMIO(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "fake-tap-peer")
	defer peer.Close()
	dev := New(newTap("fake0", os.NewFile(uintptr(fds[0]), "fake-tap")), testMAC)
	mem := virtiotest.NewMemory(testMemSize)
	irq := &virtiotest.Interrupt{}
	m, err := virtio.NewMMIO(dev, mem, irq)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer dev.Close()

	w32 := func(off uint64, v uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		m.Write(off, b[:])
	}
	r32 := func(off uint64) uint32 {
		var b [4]byte
		m.Read(off, b[:])
		return binary.LittleEndian.Uint32(b[:])
	}
	if r32(virtio.RegDeviceID) != uint32(virtio.TypeNet) {
		t.Fatalf("device id %d", r32(virtio.RegDeviceID))
	}
	w32(virtio.RegStatus, 0)
	w32(virtio.RegStatus, virtio.StatusAcknowledge)
	w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	w32(virtio.RegDeviceFeaturesSel, 0)
	lo := r32(virtio.RegDeviceFeatures)
	w32(virtio.RegDeviceFeaturesSel, 1)
	hi := r32(virtio.RegDeviceFeatures)
	offered := uint64(hi)<<32 | uint64(lo)
	want := uint64(FeatureMAC | FeatureStatus | virtio.FeatureVersion1 | virtio.FeatureEventIdx)
	if offered&want != want {
		t.Fatalf("offered %#x, want at least %#x", offered, want)
	}
	w32(virtio.RegDriverFeaturesSel, 0)
	w32(virtio.RegDriverFeatures, uint32(want))
	w32(virtio.RegDriverFeaturesSel, 1)
	w32(virtio.RegDriverFeatures, uint32(want>>32))
	w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	if r32(virtio.RegStatus)&virtio.StatusFeaturesOK == 0 {
		t.Fatal("FEATURES_OK not accepted")
	}
	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	for i, d := range ds {
		w32(virtio.RegQueueSel, uint32(i))
		if r32(virtio.RegQueueNumMax) != QueueSize {
			t.Fatalf("queue %d max %d", i, r32(virtio.RegQueueNumMax))
		}
		w32(virtio.RegQueueNum, QueueSize)
		w32(virtio.RegQueueDescLow, uint32(d.DescTable))
		w32(virtio.RegQueueDriverLow, uint32(d.AvailRing))
		w32(virtio.RegQueueDeviceLow, uint32(d.UsedRing))
		w32(virtio.RegQueueReady, 1)
		d.SetNotify(func() { w32(virtio.RegQueueNotify, uint32(i)) })
	}
	mac := make([]byte, macLen)
	m.Read(virtio.RegConfig+configMAC, mac)
	if !bytes.Equal(mac, testMAC) {
		t.Errorf("config MAC % x", mac)
	}
	w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK)
	if st := r32(virtio.RegStatus); st&virtio.StatusDriverOK == 0 || st&virtio.StatusFailed != 0 {
		t.Fatalf("status %#x after DRIVER_OK; transport error %v", st, m.Err())
	}

	rx, tx := ds[RxQueue], ds[TxQueue]
	h := rx.AddChain(nil, []uint32{smallRxBuf})
	rx.Kick()
	f := frame(60, 42)
	if _, err := peer.Write(append(make([]byte, hdrLen), f...)); err != nil {
		t.Fatal(err)
	}
	if used := rx.WaitUsed(1, waitLong); len(used) != 1 || !bytes.Equal(rx.ReadWritable(h)[hdrLen:], f) {
		t.Fatalf("rx used %v", used)
	}
	tx.AddChain([][]byte{make([]byte, hdrLen), f}, nil)
	tx.Kick()
	buf := make([]byte, maxPacketLen)
	peer.SetReadDeadline(time.Now().Add(waitLong))
	if n, err := peer.Read(buf); err != nil || !bytes.Equal(buf[hdrLen:n], f) {
		t.Fatalf("tx: %d bytes, %v", n, err)
	}
	if tx.WaitUsed(1, waitLong) == nil {
		t.Fatal("tx chain not returned")
	}
	if irq.Count() == 0 {
		t.Error("no interrupt")
	}

	time.Sleep(20 * time.Millisecond) // the receive goroutine blocks on the tap
	start := time.Now()
	w32(virtio.RegStatus, 0)
	if el := time.Since(start); el > time.Second {
		t.Errorf("reset through the status register took %v", el)
	}
	if err := m.Err(); err != nil {
		t.Errorf("transport error %v", err)
	}
}
