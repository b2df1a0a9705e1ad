package net

import (
	"bytes"
	"encoding/binary"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// Addresses of the end-to-end test, in a network namespace of its own.
var (
	hostIP  = net.IPv4(10, 99, 0, 1).To4()
	guestIP = net.IPv4(10, 99, 0, 2).To4()
)

const (
	etherTypeARP  = 0x0806
	etherTypeIPv4 = 0x0800
	ethHdrLen     = 14
)

// TestTapEndToEnd runs the device on a real tap in a fresh network
// namespace: the fake guest resolves the host's address with ARP and pings
// it, and the host kernel's replies come back through the receive queue.
func TestTapEndToEnd(t *testing.T) {
	if !inChild(t, "unshare", "-n") {
		return
	}
	tap, err := OpenTap("govmt3")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"link", "set", "govmt3", "up"},
		{"addr", "add", "10.99.0.1/24", "dev", "govmt3"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	dev := New(tap, testMAC)
	defer dev.Close()
	mem := virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	rx, tx := ds[RxQueue], ds[TxQueue]
	rx.SetNotify(func() { dev.QueueNotify(RxQueue) })
	tx.SetNotify(func() { dev.QueueNotify(TxQueue) })
	a, _ := virtiotest.Activation(mem, virtio.FeatureVersion1|dev.Features(), ds...)
	if err := dev.Activate(a); err != nil {
		t.Fatal(err)
	}
	for range 32 {
		rx.AddChain(nil, []uint32{smallRxBuf})
	}
	rx.Kick()

	send := func(f []byte) {
		tx.AddChain([][]byte{make([]byte, hdrLen), f}, nil)
		tx.Kick()
	}
	// recv returns the first received frame match accepts, skipping others
	// (the kernel also sends IPv6 router solicitations and the like).
	recv := func(what string, match func([]byte) bool) []byte {
		deadline := time.Now().Add(waitLong)
		for time.Now().Before(deadline) {
			for _, u := range rx.Used() {
				got := rx.ReadWritable(uint16(u.ID))
				rx.AddChain(nil, []uint32{smallRxBuf})
				rx.Kick()
				if len(got) >= hdrLen && !bytes.Equal(got[:hdrLen], wantRxHeader) {
					t.Errorf("rx header % x", got[:hdrLen])
				}
				if len(got) >= hdrLen+ethHdrLen && match(got[hdrLen:]) {
					return got[hdrLen:]
				}
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("no %s within %v; stats %+v, rx error %v", what, waitLong, dev.Stats(), dev.RxError())
		return nil
	}

	send(arpRequest())
	reply := recv("ARP reply", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeARP && len(f) >= ethHdrLen+28 &&
			binary.BigEndian.Uint16(f[ethHdrLen+6:]) == 2 && bytes.Equal(f[ethHdrLen+14:ethHdrLen+18], hostIP)
	})
	hostMAC := net.HardwareAddr(reply[ethHdrLen+8 : ethHdrLen+14])
	t.Logf("host MAC %s", hostMAC)

	const id, seq = 0x4711, 1
	send(icmpEcho(hostMAC, id, seq))
	pong := recv("echo reply", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeIPv4 && len(f) >= ethHdrLen+28 && f[ethHdrLen+9] == 1 &&
			f[ethHdrLen+20] == 0 && binary.BigEndian.Uint16(f[ethHdrLen+24:]) == id
	})
	ip := pong[ethHdrLen:]
	if inetChecksum(ip[:20]) != 0 {
		t.Error("bad IP checksum on the echo reply")
	}
	icmpLen := int(binary.BigEndian.Uint16(ip[2:])) - 20
	if inetChecksum(ip[20:20+icmpLen]) != 0 {
		t.Error("bad ICMP checksum on the echo reply")
	}
	if s := dev.Stats(); s.TxFrames != 2 || s.TxErrors != 0 || s.RxDropped != 0 {
		t.Errorf("stats %+v", s)
	}

	// The receive goroutine is now blocked reading the real tap; a reset
	// must wake it through the netpoller at once.
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	dev.Reset()
	if el := time.Since(start); el > time.Second {
		t.Errorf("Reset took %v", el)
	}
}

func ethHeader(dst, src net.HardwareAddr, etherType uint16) []byte {
	h := make([]byte, ethHdrLen)
	copy(h, dst)
	copy(h[6:], src)
	binary.BigEndian.PutUint16(h[12:], etherType)
	return h
}

func arpRequest() []byte {
	f := ethHeader(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, testMAC, etherTypeARP)
	arp := make([]byte, 28)
	binary.BigEndian.PutUint16(arp[0:], 1)             // Ethernet
	binary.BigEndian.PutUint16(arp[2:], etherTypeIPv4) // IPv4
	arp[4], arp[5] = 6, 4
	binary.BigEndian.PutUint16(arp[6:], 1) // request
	copy(arp[8:], testMAC)
	copy(arp[14:], guestIP)
	copy(arp[24:], hostIP)
	return append(f, arp...)
}

func icmpEcho(dst net.HardwareAddr, id, seq uint16) []byte {
	payload := []byte("govm virtio-net end-to-end test payload")
	icmp := make([]byte, 8, 8+len(payload))
	icmp[0] = 8 // echo request
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	icmp = append(icmp, payload...)
	binary.BigEndian.PutUint16(icmp[2:], inetChecksum(icmp))
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(icmp)))
	ip[8] = 64 // TTL
	ip[9] = 1  // ICMP
	copy(ip[12:], guestIP)
	copy(ip[16:], hostIP)
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(ip))
	return append(append(ethHeader(dst, testMAC, etherTypeIPv4), ip...), icmp...)
}

// inetChecksum is the RFC 1071 checksum; over data that includes a correct
// checksum it is zero.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
