package virtio_test

import (
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

// State tells a request the device has not taken from one it has used,
// and shows an interrupt the driver has not acknowledged.
func TestState(t *testing.T) {
	mem := virtiotest.NewMemory(testMem)
	dev := &popDevice{}
	m, err := virtio.NewMMIO(dev, mem, &virtiotest.Interrupt{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := bus{t, m}
	drv := virtiotest.NewDriver(t, mem, 0, testMem/2, dev.QueueSizes()[0])
	probeLayout(t, b, virtio.FeatureVersion1|virtio.FeatureEventIdx, func(i int) (uint64, uint64, uint64, bool) {
		return drv.DescTable, drv.AvailRing, drv.UsedRing, i == 0
	}, nil)
	describe := func() (virtio.TransportState, string) {
		st := m.State()
		var s strings.Builder
		st.Write(&s, "> ")
		return st, s.String()
	}

	// Two requests made available, no kick: the device has taken none.
	drv.AddChain([][]byte{{1}}, []uint32{4})
	drv.AddChain([][]byte{{2}}, []uint32{4})
	st, text := describe()
	q := st.Queues[0]
	if !q.Ready || !q.EventIdx || q.AvailIdx != 2 || q.AvailEvent != 0 || q.UsedIdx != 0 || q.Err != nil {
		t.Fatalf("before the kick: %+v", q)
	}
	if !strings.Contains(text, "driver made 2 available, device took 0, device used 0") ||
		!strings.Contains(text, "(2 not taken by the device)") || !strings.Contains(text, "DRIVER_OK") {
		t.Fatalf("before the kick:\n%s", text)
	}

	// After the kick both are used and the interrupt waits for its ACK.
	drv.SetUsedEvent(0)
	drv.Kick()
	b.w(virtio.RegQueueNotify, 0)
	drv.WaitUsed(2, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for m.State().InterruptStatus == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st, text = describe()
	q = st.Queues[0]
	if q.AvailEvent != 2 || q.UsedIdx != 2 || st.InterruptStatus != uint32(virtio.InterruptUsedBuffer) {
		t.Fatalf("after the kick: %+v, interrupt status %#x", q, st.InterruptStatus)
	}
	if !strings.Contains(text, "device took 2, device used 2") || strings.Contains(text, "not taken") ||
		!strings.Contains(text, "not acknowledged") {
		t.Fatalf("after the kick:\n%s", text)
	}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "> ") {
			t.Errorf("line without the indent: %q", line)
		}
	}
}

// Rings the driver placed outside guest memory (possible before
// DRIVER_OK, which checks them) are reported as unreadable, not read.
func TestStateRingsOutsideMemory(t *testing.T) {
	mem := virtiotest.NewMemory(testMem)
	m, err := virtio.NewMMIO(&popDevice{}, mem, &virtiotest.Interrupt{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := bus{t, m}
	const far = 0xffff_ffff_0000_0000 // far beyond testMem
	var st virtio.TransportState
	probeLayout(t, b, virtio.FeatureVersion1, func(i int) (uint64, uint64, uint64, bool) {
		return far, far + 0x1000, far + 0x2000, i == 0
	}, func() { st = m.State() })
	if len(st.Queues) == 0 || !st.Queues[0].Ready {
		t.Fatalf("queue 0 not ready: %+v", st.Queues)
	}
	if st.Queues[0].Err == nil {
		t.Fatalf("rings outside memory read without error: %+v", st.Queues[0])
	}
	var s strings.Builder
	st.Write(&s, "")
	if !strings.Contains(s.String(), "queue 0 (size 8): rings unreadable") {
		t.Fatalf("report:\n%s", s.String())
	}
}
