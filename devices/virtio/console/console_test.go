package console

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
	"github.com/govm/govm/internal/testenv"
)

const testMemSize = 1 << 20

type rig struct {
	t      *testing.T
	dev    *Device
	out    *testenv.Buffer
	rx, tx *virtiotest.Driver
	sig    *virtiotest.Signaller
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, out: &testenv.Buffer{}}
	r.dev = New(r.out)
	return r
}

func (r *rig) activate() {
	r.t.Helper()
	mem := virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(r.t, mem, QueueSize, QueueSize)
	r.rx, r.tx = ds[RxQueue], ds[TxQueue]
	r.rx.SetNotify(func() { r.dev.QueueNotify(RxQueue) })
	r.tx.SetNotify(func() { r.dev.QueueNotify(TxQueue) })
	var a virtio.Activation
	a, r.sig = virtiotest.Activation(mem, virtio.FeatureVersion1, ds...)
	if err := r.dev.Activate(a); err != nil {
		r.t.Fatal(err)
	}
}

// received concatenates what the used receive buffers hold.
func (r *rig) received() string {
	var s strings.Builder
	for _, u := range r.rx.Used() {
		s.Write(r.rx.ReadWritable(uint16(u.ID)))
	}
	return s.String()
}

func TestDeviceBasics(t *testing.T) {
	d := New(nil)
	if d.Type() != virtio.TypeConsole || d.Features() != 0 || len(d.QueueSizes()) != 2 {
		t.Errorf("type %d features %#x queues %v", d.Type(), d.Features(), d.QueueSizes())
	}
	cfg := []byte{1, 2, 3, 4}
	d.ReadConfig(0, cfg)
	if !bytes.Equal(cfg, make([]byte, 4)) {
		t.Errorf("config = % x", cfg)
	}
	d.WriteConfig(8, []byte{'x', 0, 0, 0}) // emerg_wr without the feature: ignored
	d.QueueNotify(TxQueue)                 // not active: nothing happens
	d.QueueNotify(RxQueue)
	d.QueueNotify(5)
	d.Reset()
}

func TestTransmit(t *testing.T) {
	r := newRig(t)
	r.activate()
	r.tx.AddChain([][]byte{[]byte("hello, "), []byte("world\n")}, nil)
	r.tx.AddChain([][]byte{[]byte("second\n")}, []uint32{16}) // a writable buffer is ignored
	r.tx.Kick()
	if got := r.out.String(); got != "hello, world\nsecond\n" {
		t.Errorf("out = %q", got)
	}
	used := r.tx.Used()
	if len(used) != 2 || used[0].Len != 0 || used[1].Len != 0 {
		t.Errorf("used = %+v", used)
	}
	if r.sig.UsedSignals() != 1 {
		t.Errorf("used signals = %d, want 1", r.sig.UsedSignals())
	}
}

func TestTransmitLarge(t *testing.T) {
	r := newRig(t)
	r.activate()
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000) // far more than the copy buffer
	r.tx.AddChain([][]byte{big}, nil)
	r.tx.Kick()
	if r.out.String() != string(big) {
		t.Errorf("out has %d bytes, want %d", len(r.out.String()), len(big))
	}
}

type failWriter struct{}

var errOut = errors.New("output gone")

func (failWriter) Write(p []byte) (int, error) { return 0, errOut }

func TestTransmitOutputError(t *testing.T) {
	r := &rig{t: t, dev: New(failWriter{})}
	r.activate()
	r.tx.AddChain([][]byte{[]byte("lost")}, nil)
	r.tx.Kick()
	if used := r.tx.Used(); len(used) != 1 {
		t.Errorf("used = %+v: the chain must come back even when output fails", used)
	}
	if err := r.dev.OutputError(); !errors.Is(err, errOut) {
		t.Errorf("OutputError = %v", err)
	}
}

func TestReceive(t *testing.T) {
	r := newRig(t)
	// Input before the driver is there waits for it.
	if n := r.dev.Enqueue([]byte("early ")); n != 6 {
		t.Fatalf("Enqueue = %d", n)
	}
	r.activate()
	if got := r.received(); got != "" {
		t.Fatalf("received %q with no buffers posted", got)
	}
	r.rx.AddChain(nil, []uint32{64})
	r.rx.Kick()
	if got := r.received(); got != "early " {
		t.Errorf("received %q", got)
	}
	// Input larger than one buffer spreads over several, in order.
	for range 3 {
		r.rx.AddChain(nil, []uint32{4})
	}
	r.rx.Kick()
	r.dev.Enqueue([]byte("0123456789"))
	if got := r.received(); got != "0123456789" {
		t.Errorf("received %q", got)
	}
	if r.dev.Buffered() != 0 {
		t.Errorf("Buffered = %d", r.dev.Buffered())
	}
	// No buffer left: input waits until the guest posts one.
	r.dev.Enqueue([]byte("later"))
	if got := r.received(); got != "" {
		t.Errorf("received %q with no buffers posted", got)
	}
	r.rx.AddChain(nil, []uint32{2, 2, 2})
	r.rx.Kick()
	if got := r.received(); got != "later" {
		t.Errorf("received %q", got)
	}
	if r.sig.UsedSignals() == 0 {
		t.Error("no interrupt")
	}
}

func TestEnqueueBounded(t *testing.T) {
	r := newRig(t)
	big := bytes.Repeat([]byte{'x'}, InputBufferSize+100)
	if n := r.dev.Enqueue(big); n != InputBufferSize {
		t.Fatalf("Enqueue = %d, want %d", n, InputBufferSize)
	}
	if n := r.dev.Enqueue([]byte("y")); n != 0 {
		t.Fatalf("Enqueue on a full buffer = %d", n)
	}
	select {
	case <-r.dev.Room():
		t.Fatal("Room fired before the guest took anything")
	default:
	}
	r.activate()
	r.rx.AddChain(nil, []uint32{1000})
	r.rx.Kick()
	select {
	case <-r.dev.Room():
	case <-time.After(time.Second):
		t.Fatal("Room did not fire after the guest took input")
	}
	if n := r.dev.Enqueue(big); n != 1000 {
		t.Errorf("Enqueue after the guest took 1000 bytes = %d", n)
	}
}

// TestReceiveConcurrent feeds input from another goroutine, retrying on
// Room, while the guest posts buffers: every byte arrives once, in order.
func TestReceiveConcurrent(t *testing.T) {
	r := newRig(t)
	r.activate()
	var want strings.Builder
	for i := range 5000 {
		want.WriteString(string(rune('a' + i%26)))
	}
	go func() {
		rest := []byte(want.String())
		for len(rest) > 0 {
			n := r.dev.Enqueue(rest[:min(len(rest), 300)])
			rest = rest[n:]
			if n == 0 {
				<-r.dev.Room()
			}
		}
	}()
	var got strings.Builder
	deadline := time.Now().Add(10 * time.Second)
	posted := 0
	for got.Len() < want.Len() && time.Now().Before(deadline) {
		for ; posted < QueueSize/2; posted++ {
			r.rx.AddChain(nil, []uint32{128})
		}
		r.rx.Kick()
		for _, u := range r.rx.Used() {
			got.Write(r.rx.ReadWritable(uint16(u.ID)))
			posted--
		}
		time.Sleep(50 * time.Microsecond)
	}
	if got.String() != want.String() {
		t.Fatalf("received %d bytes, want %d; equal prefix %v", got.Len(), want.Len(), strings.HasPrefix(want.String(), got.String()))
	}
}

func TestResetKeepsInput(t *testing.T) {
	r := newRig(t)
	r.activate()
	r.dev.Enqueue([]byte("kept"))
	r.dev.Reset()
	r.dev.Reset()
	r.activate()
	r.rx.AddChain(nil, []uint32{16})
	r.rx.Kick()
	if got := r.received(); got != "kept" {
		t.Errorf("received %q after reset", got)
	}
}

func TestBrokenRings(t *testing.T) {
	r := newRig(t)
	r.activate()
	r.tx.SetAvailIdx(QueueSize + 1)
	r.tx.Kick()
	r.tx.Kick()
	r.rx.SetAvailIdx(QueueSize + 1)
	r.dev.Enqueue([]byte("x"))
	r.rx.Kick()
	resets := r.sig.Resets()
	if len(resets) != 2 || !errors.Is(resets[0], virtio.ErrBadAvailIdx) || !errors.Is(resets[1], virtio.ErrBadAvailIdx) {
		t.Fatalf("resets = %v, want two ErrBadAvailIdx (one per queue)", resets)
	}
	r.dev.Reset()
	r.activate()
	r.tx.AddChain([][]byte{[]byte("ok")}, nil)
	r.tx.Kick()
	if r.out.String() != "ok" {
		t.Errorf("out after reset = %q", r.out.String())
	}
}

func TestActivateErrors(t *testing.T) {
	d := New(nil)
	mem := virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	a, _ := virtiotest.Activation(mem, virtio.FeatureVersion1, ds[0])
	if err := d.Activate(a); err == nil {
		t.Error("Activate with one queue succeeded")
	}
	a, _ = virtiotest.Activation(mem, virtio.FeatureVersion1, ds...)
	a.Queues[RxQueue].Ready = false
	if err := d.Activate(a); !errors.Is(err, virtio.ErrQueueNotReady) {
		t.Errorf("Activate with a queue not ready: %v", err)
	}
	a.Queues[RxQueue].Ready = true
	if err := d.Activate(a); err != nil {
		t.Fatal(err)
	}
	if err := d.Activate(a); err == nil {
		t.Error("second Activate succeeded")
	}
}
