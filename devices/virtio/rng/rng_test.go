package rng

import (
	"bytes"
	"errors"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

type rig struct {
	d   *Device
	drv *virtiotest.Driver
	sig *virtiotest.Signaller
}

func activate(t *testing.T, d *Device) *rig {
	t.Helper()
	mem := virtiotest.NewMemory(1 << 20)
	drv := virtiotest.NewDriver(t, mem, 0, mem.Size(), QueueSize)
	a, sig := virtiotest.Activation(mem, d.Features(), drv)
	if err := d.Activate(a); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	drv.SetNotify(func() { d.QueueNotify(0) })
	return &rig{d: d, drv: drv, sig: sig}
}

func TestFillsBuffers(t *testing.T) {
	r := activate(t, New())
	a := r.drv.AddChain(nil, []uint32{4096})
	b := r.drv.AddChain(nil, []uint32{100, 28, 1})
	r.drv.Kick()
	used := r.drv.Used()
	if len(used) != 2 || used[0].Len != 4096 || used[1].Len != 129 {
		t.Fatalf("used %+v", used)
	}
	// 4 KiB of getrandom output with a run of 64 zero bytes: practically
	// impossible.
	if bytes.Contains(r.drv.ReadWritable(a), make([]byte, 64)) {
		t.Fatal("buffer not filled")
	}
	if len(r.drv.ReadWritable(b)) != 129 {
		t.Fatal("short chain")
	}
	if r.sig.UsedSignals() != 1 {
		t.Fatalf("%d signals, want 1", r.sig.UsedSignals())
	}
}

func TestBoundedPerRequest(t *testing.T) {
	d := New()
	var asked int
	d.random = func(p []byte) error { asked += len(p); return getrandom(p) }
	r := activate(t, d)
	h := r.drv.AddChain(nil, []uint32{40 << 10, 40 << 10, 4096})
	r.drv.Kick()
	used := r.drv.Used()
	if len(used) != 1 || used[0].Len != MaxPerRequest || asked != MaxPerRequest {
		t.Fatalf("used %+v, asked getrandom for %d bytes, want %d", used, asked, MaxPerRequest)
	}
	out := r.drv.ReadWritable(h)
	if len(out) != MaxPerRequest {
		t.Fatalf("read back %d bytes", len(out))
	}
}

func TestReadableOnlyChainGetsNothing(t *testing.T) {
	d := New()
	d.random = func(p []byte) error { t.Fatal("random asked for a readable-only chain"); return nil }
	r := activate(t, d)
	r.drv.AddChain([][]byte{make([]byte, 64)}, nil)
	r.drv.Kick()
	if used := r.drv.Used(); len(used) != 1 || used[0].Len != 0 {
		t.Fatalf("used %+v", used)
	}
}

func TestRandomFailureReturnsWhatWasFilled(t *testing.T) {
	d := New()
	calls := 0
	d.random = func(p []byte) error {
		calls++
		if calls > 1 {
			return errors.New("no entropy")
		}
		return nil
	}
	r := activate(t, d)
	r.drv.AddChain(nil, []uint32{10, 20})
	r.drv.Kick()
	if used := r.drv.Used(); len(used) != 1 || used[0].Len != 10 {
		t.Fatalf("used %+v", used)
	}
	if len(r.sig.Resets()) != 0 {
		t.Fatal("a host failure reset the device")
	}
}

func TestBrokenRingNeedsReset(t *testing.T) {
	d := New()
	r := activate(t, d)
	r.drv.SetAvailIdx(QueueSize + 1)
	r.drv.Kick()
	r.drv.Kick()
	if len(r.sig.Resets()) != 1 {
		t.Fatalf("resets %v, want one", r.sig.Resets())
	}
	d.Reset()
	r = activate(t, d)
	r.drv.AddChain(nil, []uint32{8})
	r.drv.Kick()
	if len(r.drv.Used()) != 1 {
		t.Fatal("no service after Reset")
	}
}

func TestDevice(t *testing.T) {
	d := New()
	if d.Type() != virtio.TypeRNG || d.Features() != 0 || len(d.QueueSizes()) != 1 {
		t.Fatal("identity")
	}
	p := []byte{1, 2, 3}
	d.ReadConfig(0, p)
	if !bytes.Equal(p, []byte{0, 0, 0}) {
		t.Fatal("config not zero")
	}
	d.WriteConfig(0, p)
	d.QueueNotify(0) // not active
	if err := d.Activate(virtio.Activation{}); err == nil {
		t.Fatal("Activate without a queue")
	}
}

func TestGetrandom(t *testing.T) {
	b := make([]byte, 1<<20) // over 256 bytes: may come back in pieces
	if err := getrandom(b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, make([]byte, 64)) {
		t.Fatal("not filled")
	}
}
