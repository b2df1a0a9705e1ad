package virtio_test

import (
	"testing"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

func TestNeedEvent(t *testing.T) {
	tests := []struct {
		event, newIdx, oldIdx uint16
		want                  bool
	}{
		{0, 1, 0, true},           // event == old
		{0, 2, 1, false},          // event before old: already signalled
		{5, 5, 0, false},          // event not reached
		{5, 6, 0, true},           // event crossed
		{5, 6, 5, true},           // exactly the event entry
		{0xfffe, 2, 0xfffd, true}, // crossed across the wrap
		{1, 2, 0xffff, true},      // wrap, event after wrap
		{3, 2, 0xffff, false},     // wrap, event not reached
		{7, 7, 7, false},          // nothing new
	}
	for _, tt := range tests {
		if got := virtio.NeedEvent(tt.event, tt.newIdx, tt.oldIdx); got != tt.want {
			t.Errorf("NeedEvent(%d, %d, %d) = %v, want %v", tt.event, tt.newIdx, tt.oldIdx, got, tt.want)
		}
	}
}

func TestEventIdxAvailEvent(t *testing.T) {
	mem, d := newQueue(t)
	q := d.Queue()
	q.EventIdx = true
	// Empty ring: the device still asks for a kick at the next entry.
	if c, err := q.Pop(mem); c != nil || err != nil {
		t.Fatalf("Pop: %v, %v", c, err)
	}
	if got := d.AvailEvent(); got != 0 {
		t.Fatalf("avail_event %d, want 0", got)
	}
	d.AddChain([][]byte{{1}}, nil)
	d.AddChain([][]byte{{2}}, nil)
	for want := uint16(1); want <= 2; want++ {
		if c, err := q.Pop(mem); c == nil || err != nil {
			t.Fatalf("Pop: %v, %v", c, err)
		}
		if got := d.AvailEvent(); got != want {
			t.Fatalf("avail_event %d, want %d", got, want)
		}
	}
}

func TestEventIdxUsedEvent(t *testing.T) {
	mem, d := newQueue(t)
	q := d.Queue()
	q.EventIdx = true
	push := func() {
		t.Helper()
		h := d.AddChain([][]byte{{0}}, nil)
		if _, err := q.Pop(mem); err != nil {
			t.Fatal(err)
		}
		if err := q.PushUsed(mem, h, 0); err != nil {
			t.Fatal(err)
		}
		d.Used()
	}
	need := func(want bool) {
		t.Helper()
		got, err := q.NeedsInterrupt(mem)
		if err != nil || got != want {
			t.Fatalf("NeedsInterrupt = %v, %v; want %v", got, err, want)
		}
	}
	d.SetUsedEvent(0)
	need(false) // nothing pushed
	push()      // used idx 0 -> 1 crosses event 0
	need(true)
	push() // 1 -> 2, event 0 already passed
	need(false)
	d.SetUsedEvent(3)
	push() // 2 -> 3: event 3 not reached
	need(false)
	push() // 3 -> 4
	push() // 4 -> 5: both since the last check, event 3 inside
	need(true)
	// The flag is ignored with EVENT_IDX.
	d.SetAvailFlags(virtiotest.FlagNoInterrupt)
	d.SetUsedEvent(5)
	push()
	need(true)
}

func TestNoInterruptFlag(t *testing.T) {
	mem, d := newQueue(t)
	q := d.Queue()
	for _, flags := range []uint16{0, virtiotest.FlagNoInterrupt} {
		d.SetAvailFlags(flags)
		h := d.AddChain([][]byte{{0}}, nil)
		if _, err := q.Pop(mem); err != nil {
			t.Fatal(err)
		}
		if err := q.PushUsed(mem, h, 0); err != nil {
			t.Fatal(err)
		}
		d.Used()
		got, err := q.NeedsInterrupt(mem)
		if err != nil || got != (flags == 0) {
			t.Fatalf("flags %d: NeedsInterrupt = %v, %v", flags, got, err)
		}
	}
}
