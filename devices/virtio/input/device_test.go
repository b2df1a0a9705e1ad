package input

import (
	"bytes"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	evt "github.com/govm/govm/devices/input"
	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/virtiotest"
)

func TestIdentity(t *testing.T) {
	d := NewKeyboard()
	if d.Type() != virtio.TypeInput || d.Type() != 18 {
		t.Errorf("type %d", d.Type())
	}
	if d.Features() != 0 {
		t.Errorf("features %#x", d.Features())
	}
	if !reflect.DeepEqual(d.QueueSizes(), []uint16{QueueSize, QueueSize}) {
		t.Errorf("queues %v", d.QueueSizes())
	}
}

// The wire layout of struct virtio_input_event.
func TestEventLayout(t *testing.T) {
	for _, tc := range []struct {
		e    evt.Event
		want []byte
	}{
		{key(30, 1), []byte{1, 0, 30, 0, 1, 0, 0, 0}},
		{evt.Event{Type: evt.EvRel, Code: evt.RelWheel, Value: -1}, []byte{2, 0, 8, 0, 0xff, 0xff, 0xff, 0xff}},
		{evt.Event{Type: evt.EvAbs, Code: evt.AbsY, Value: evt.AbsMax}, []byte{3, 0, 1, 0, 0xff, 0x7f, 0, 0}},
		{evt.Syn, make([]byte, 8)},
	} {
		b := encodeEvent(tc.e)
		if !bytes.Equal(b[:], tc.want) {
			t.Errorf("%+v: % x, want % x", tc.e, b, tc.want)
		}
		if back := decodeEvent(b); back != tc.e {
			t.Errorf("round trip %+v → %+v", tc.e, back)
		}
	}
}

// Events go into the posted buffers one each, in order, with an
// interrupt, straight from Send.
func TestSendDeliversInOrder(t *testing.T) {
	r := newRig(t, NewKeyboard())
	r.post(QueueSize)
	var want []evt.Event
	for i := range 10 {
		g := press(uint16(KeyEsc+i), int32(i%2))
		want = append(want, g...)
		r.dev.Send(g)
	}
	if got := r.received(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if r.sig.UsedSignals() != 10 {
		t.Errorf("%d interrupts, want one per Send", r.sig.UsedSignals())
	}
	if r.dev.Pending() != 0 || r.dev.Dropped() != 0 {
		t.Errorf("pending %d dropped %d", r.dev.Pending(), r.dev.Dropped())
	}
	if len(r.sig.Resets()) != 0 {
		t.Errorf("resets %v", r.sig.Resets())
	}
}

// Events sent before the driver posts buffers (or after it ran out) wait
// and go on the next eventq notification; a notification with nothing
// pending consumes no buffer.
func TestSendBeforeBuffers(t *testing.T) {
	r := newRig(t, NewTablet())
	first := PointerEvents(10, 20, 100, 100)
	r.dev.Send(first)
	if r.dev.Pending() != len(first) || r.sig.UsedSignals() != 0 {
		t.Fatalf("pending %d, interrupts %d", r.dev.Pending(), r.sig.UsedSignals())
	}
	r.post(2) // fewer than the group: the rest must wait
	r.evq.Kick()
	got := r.received(t)
	r.refill()
	got = append(got, r.received(t)...)
	if !reflect.DeepEqual(got, first) {
		t.Fatalf("got %v, want %v", got, first)
	}
	// Nothing pending: the buffers stay with the device, unused.
	r.evq.Kick()
	if used := r.evq.Used(); len(used) != 0 {
		t.Fatalf("%d buffers used with nothing to send", len(used))
	}
	wheel := []evt.Event{{Type: evt.EvRel, Code: evt.RelWheel, Value: -1}, evt.Syn}
	r.dev.Send(wheel)
	if got := r.received(t); !reflect.DeepEqual(got, wheel) {
		t.Fatalf("got %v, want %v", got, wheel)
	}
}

// A full buffer loses its oldest whole groups, counts them, and Send
// never waits for the guest.
func TestOverflowDropsOldestGroups(t *testing.T) {
	r := newRig(t, NewKeyboard())
	const groups = MaxPending/2 + 10 // 2 events each: 10 groups too many
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range groups {
			r.dev.Send([]evt.Event{key(KeyEsc, int32(i)), evt.Syn})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked")
	}
	if r.dev.Pending() != MaxPending || r.dev.Dropped() != 20 {
		t.Fatalf("pending %d dropped %d", r.dev.Pending(), r.dev.Dropped())
	}
	got := r.drain(t)
	if len(got) != MaxPending {
		t.Fatalf("%d events delivered", len(got))
	}
	for i := 0; i < len(got); i += 2 {
		if want := key(KeyEsc, int32(10+i/2)); got[i] != want || got[i+1] != evt.Syn {
			t.Fatalf("event %d: %v %v, want %v SYN", i, got[i], got[i+1], want)
		}
	}
}

// Groups of uneven length: what survives starts at a group boundary, and
// delivered plus dropped is everything sent.
func TestOverflowUnevenGroups(t *testing.T) {
	r := newRig(t, NewTablet())
	sent := 0
	for i := range 700 {
		g := PointerEvents(i, i, 1000, 1000)
		if i%2 == 1 {
			g = append([]evt.Event{{Type: evt.EvKey, Code: evt.BtnLeft, Value: int32(i % 4 / 2)}}, g...)
		}
		sent += len(g)
		r.dev.Send(g)
	}
	got := r.drain(t)
	if uint64(len(got))+r.dev.Dropped() != uint64(sent) {
		t.Fatalf("delivered %d + dropped %d != sent %d", len(got), r.dev.Dropped(), sent)
	}
	if got[len(got)-1] != evt.Syn {
		t.Fatalf("last event %v", got[len(got)-1])
	}
	first := got[0]
	if first.Type == evt.EvSyn || (first.Type == evt.EvAbs && first.Code != evt.AbsX) {
		t.Fatalf("delivery starts mid-group: %v", first)
	}
	if last := got[len(got)-3]; last.Value != scaleAxis(699, 1000) {
		t.Fatalf("newest position lost: %v", last)
	}
}

// A caller that never sends SYN still cannot grow the buffer: with no
// group boundary, everything pending goes.
func TestOverflowWithoutSyn(t *testing.T) {
	r := newRig(t, NewKeyboard())
	many := make([]evt.Event, 3000)
	for i := range many {
		many[i] = key(KeyEsc, int32(i))
	}
	r.dev.Send(many)
	if r.dev.Pending() != 3000-2*MaxPending || r.dev.Dropped() != 2*MaxPending {
		t.Fatalf("pending %d dropped %d", r.dev.Pending(), r.dev.Dropped())
	}
	got := r.drain(t)
	if got[0].Value != 2*MaxPending || got[len(got)-1].Value != 2999 {
		t.Fatalf("kept %v .. %v", got[0], got[len(got)-1])
	}
}

// Reset discards what was pending; the next driver starts clean, and
// events sent while no driver runs are dropped.
func TestResetWithPendingEvents(t *testing.T) {
	d := NewKeyboard()
	r := newRig(t, d)
	d.Send(press(KeyEsc, 1))
	d.Send(press(KeyEsc+1, 1))
	d.Reset()
	if d.Pending() != 0 || d.Dropped() != 4 {
		t.Fatalf("after reset: pending %d dropped %d", d.Pending(), d.Dropped())
	}
	d.Send(press(KeyEsc, 0))  // no driver
	d.QueueNotify(EventQueue) // a stray notification
	r.refill()                // the old rings are no longer the device's
	if used := r.evq.Used(); len(used) != 0 {
		t.Fatalf("reset device used %d buffers", len(used))
	}
	if d.Dropped() != 6 {
		t.Fatalf("dropped %d", d.Dropped())
	}
	r2 := newRig(t, d)
	r2.refill()
	if got := r2.received(t); len(got) != 0 {
		t.Fatalf("new driver got stale events %v", got)
	}
	d.Send(press(KeyEsc+2, 1))
	if got := r2.received(t); !reflect.DeepEqual(got, press(KeyEsc+2, 1)) {
		t.Fatalf("got %v", got)
	}
}

// The driver's LED reports come back used (length 0) and are recorded;
// other and short status buffers are returned and ignored.
func TestStatusQueue(t *testing.T) {
	r := newRig(t, NewKeyboard())
	for _, tc := range []struct {
		buf  []byte
		want uint32
	}{
		{encodeStatus(EvLed, LedCapsLock, 1), 1 << LedCapsLock},
		{encodeStatus(EvLed, LedNumLock, 1), 1<<LedCapsLock | 1<<LedNumLock},
		{encodeStatus(EvLed, LedCapsLock, 0), 1 << LedNumLock},
		{encodeStatus(EvLed, 200, 1), 1 << LedNumLock},    // no such LED
		{encodeStatus(evt.EvKey, 30, 1), 1 << LedNumLock}, // not a status
		{[]byte{EvLed, 0, LedScrollLock, 0}, 1 << LedNumLock},
	} {
		r.stq.AddChain([][]byte{tc.buf}, nil)
		r.stq.Kick()
		used := r.stq.Used()
		if len(used) != 1 || used[0].Len != 0 {
			t.Fatalf("%x: used %v", tc.buf, used)
		}
		if got := r.dev.LEDs(); got != tc.want {
			t.Errorf("%x: LEDs %#b, want %#b", tc.buf, got, tc.want)
		}
	}
	// Several at once, one interrupt.
	before := r.sig.UsedSignals()
	r.stq.AddChain([][]byte{encodeStatus(EvLed, LedScrollLock, 1)}, nil)
	r.stq.AddChain([][]byte{encodeStatus(EvLed, LedNumLock, 0)}, nil)
	r.stq.Kick()
	if n := len(r.stq.Used()); n != 2 || r.sig.UsedSignals() != before+1 {
		t.Fatalf("used %d, interrupts %d", n, r.sig.UsedSignals()-before)
	}
	if r.dev.LEDs() != 1<<LedScrollLock {
		t.Fatalf("LEDs %#b", r.dev.LEDs())
	}
}

// A buffer too small for an event goes back unused; the event takes the
// next one.
func TestShortEventBuffer(t *testing.T) {
	r := newRig(t, NewKeyboard())
	small := r.evq.AddChain(nil, []uint32{4})
	big := r.evq.AddChain(nil, []uint32{EventSize})
	r.dev.Send([]evt.Event{key(KeyEsc, 1)})
	used := r.evq.Used()
	if len(used) != 2 || used[0] != (virtiotest.UsedElem{ID: uint32(small), Len: 0}) || used[1] != (virtiotest.UsedElem{ID: uint32(big), Len: EventSize}) {
		t.Fatalf("used %v", used)
	}
	if got := decodeEvent([EventSize]byte(r.evq.ReadWritable(big))); got != key(KeyEsc, 1) {
		t.Fatalf("event %v", got)
	}
}

// A broken ring makes the device ask for a reset and stop; Send keeps
// not blocking and counts what it drops.
func TestBrokenRing(t *testing.T) {
	r := newRig(t, NewKeyboard())
	r.evq.SetAvailIdx(QueueSize + 5) // more entries than the ring holds
	r.dev.Send(press(KeyEsc, 1))
	if len(r.sig.Resets()) != 1 {
		t.Fatalf("resets %v", r.sig.Resets())
	}
	r.dev.Send(press(KeyEsc, 0))
	r.dev.QueueNotify(EventQueue)
	if len(r.sig.Resets()) != 1 || r.dev.Pending() != 0 || r.dev.Dropped() != 4 {
		t.Fatalf("resets %d pending %d dropped %d", len(r.sig.Resets()), r.dev.Pending(), r.dev.Dropped())
	}
}

// The driver can turn interrupts off (VIRTQ_AVAIL_F_NO_INTERRUPT); with
// EVENT_IDX it asks for one when the used index passes used_event.
func TestInterruptSuppression(t *testing.T) {
	r := newRig(t, NewKeyboard())
	r.evq.SetAvailFlags(virtiotest.FlagNoInterrupt)
	r.post(4)
	r.dev.Send(press(KeyEsc, 1))
	if len(r.received(t)) != 2 || r.sig.UsedSignals() != 0 {
		t.Fatalf("interrupts %d with NO_INTERRUPT", r.sig.UsedSignals())
	}

	r = activate(t, NewKeyboard(), virtio.FeatureEventIdx)
	r.evq.SetUsedEvent(2) // interrupt once used idx passes 2
	r.post(8)
	r.dev.Send(press(KeyEsc, 1)) // used idx 0 → 2
	if r.sig.UsedSignals() != 0 {
		t.Fatalf("interrupt before used_event")
	}
	r.dev.Send(press(KeyEsc, 0)) // 2 → 4
	if r.sig.UsedSignals() != 1 {
		t.Fatalf("interrupts %d", r.sig.UsedSignals())
	}
	if got := r.received(t); len(got) != 4 {
		t.Fatalf("got %v", got)
	}
}

func TestActivateNeedsEventQueue(t *testing.T) {
	mem := virtiotest.NewMemory(testMemSize)
	ds := virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	ds[EventQueue].Queue().Ready = false
	a, _ := virtiotest.Activation(mem, 0, ds...)
	if err := NewKeyboard().Activate(a); err == nil {
		t.Fatal("activated without an event queue")
	}
	a.Queues = a.Queues[:1]
	if err := NewKeyboard().Activate(a); err == nil {
		t.Fatal("activated with one queue")
	}
	// Without a status queue the device works, and ignores its kicks.
	ds = virtiotest.NewDrivers(t, mem, QueueSize, QueueSize)
	ds[StatusQueue].Queue().Ready = false
	a, _ = virtiotest.Activation(mem, 0, ds...)
	d := NewKeyboard()
	if err := d.Activate(a); err != nil {
		t.Fatal(err)
	}
	d.QueueNotify(StatusQueue)
	d.QueueNotify(7)
}

// Send from several goroutines while the driver posts buffers and kicks
// from another: run with -race. Each sender's events arrive in its own
// order, and delivered plus dropped is everything sent.
func TestConcurrentSend(t *testing.T) {
	r := newRig(t, NewKeyboard())
	const senders, groups = 4, 400
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range groups {
				r.dev.Send(press(uint16(KeyEsc+s), int32(i)))
				if i%50 == 0 {
					r.dev.LEDs()
					r.dev.Dropped()
				}
				if s%2 == 0 {
					time.Sleep(20 * time.Microsecond) // half the senders keep pace
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	// Meanwhile, poke the configuration window as a vCPU would.
	stop := make(chan struct{})
	var cfgWG sync.WaitGroup
	cfgWG.Add(1)
	go func() {
		defer cfgWG.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cfgSelectSize(r.dev, CfgEvBits, uint8(i))
			runtime.Gosched()
		}
	}()

	var got []evt.Event
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.refill()
		more := r.received(t)
		got = append(got, more...)
		if len(more) == 0 {
			runtime.Gosched() // two cores: let the senders run
		}
		select {
		case <-finished:
			if r.dev.Pending() == 0 {
				got = append(got, r.received(t)...)
				goto done
			}
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
done:
	close(stop)
	cfgWG.Wait()
	if uint64(len(got))+r.dev.Dropped() != senders*groups*2 {
		t.Fatalf("delivered %d + dropped %d != %d", len(got), r.dev.Dropped(), senders*groups*2)
	}
	last := make([]int32, senders)
	for i := range last {
		last[i] = -1
	}
	for _, e := range got {
		if e.Type != evt.EvKey {
			continue
		}
		s := int(e.Code) - KeyEsc
		if s < 0 || s >= senders || e.Value <= last[s] {
			t.Fatalf("event %v out of order (last %v)", e, last)
		}
		last[s] = e.Value
	}
	t.Logf("delivered %d, dropped %d", len(got), r.dev.Dropped())
}
