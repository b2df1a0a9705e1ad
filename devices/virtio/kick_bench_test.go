package virtio_test

import (
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// answeringDevice answers each kick by bumping a counter, which the
// benchmark polls like a driver polls its used ring.
type answeringDevice struct {
	fakeDevice
	answers atomic.Uint64
}

func (d *answeringDevice) QueueNotify(int) { d.answers.Add(1) }

// BenchmarkKickRoundTrip is one request's latency through the notify path:
// an eventfd write (what KVM's ioeventfd does), the transport waking up and
// calling QueueNotify, the requester polling for the answer.
func BenchmarkKickRoundTrip(b *testing.B) {
	dev := &answeringDevice{fakeDevice: *newFakeDevice()}
	m, err := virtio.NewMMIO(dev, virtiotest.NewMemory(testMem), &virtiotest.Interrupt{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	probe(b, bus{nil, m}, goodFeatures)
	fd := m.NotifyEventFD(0)
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	runtime.LockOSThread() // the requester is a vCPU thread
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for i := range uint64(b.N) {
		if _, err := writeFD(fd, one[:]); err != nil {
			b.Fatal(err)
		}
		for dev.answers.Load() <= i {
		}
	}
}
