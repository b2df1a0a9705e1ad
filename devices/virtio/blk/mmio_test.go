package blk

import (
	"encoding/binary"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// The device behind the real transport: id, offered features, and the
// capacity through the MMIO configuration window.
func TestBehindMMIO(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize)), ReadOnly: true})
	m, err := virtio.NewMMIO(d, virtiotest.NewMemory(1<<16), &virtiotest.Interrupt{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	reg := func(off uint64) uint32 {
		var b [4]byte
		m.Read(off, b[:])
		return binary.LittleEndian.Uint32(b[:])
	}
	if id := reg(virtio.RegDeviceID); id != uint32(virtio.TypeBlock) {
		t.Fatalf("device id %d", id)
	}
	if f := reg(virtio.RegDeviceFeatures); f&FeatureRO == 0 || f&FeatureFlush == 0 {
		t.Fatalf("features %#x", f)
	}
	var c [8]byte
	m.Read(virtio.RegConfig+cfgCapacity, c[:])
	if got := binary.LittleEndian.Uint64(c[:]); got != imgSize/SectorSize {
		t.Fatalf("capacity %d", got)
	}
}
