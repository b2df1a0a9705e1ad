package display

import (
	"errors"
	"testing"
	"time"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/input"
)

// fakeSink records frames and offers an event channel.
type fakeSink struct {
	presented []uint32
	events    chan input.Event
	err       error
	closed    int
}

func (f *fakeSink) Present(n uint32, _ gpu.Frame) error {
	f.presented = append(f.presented, n)
	return f.err
}

func (f *fakeSink) Events() <-chan input.Event {
	if f.events == nil {
		return nil
	}
	return f.events
}

func (f *fakeSink) Close() error { f.closed++; return f.err }

func TestNull(t *testing.T) {
	s := Null()
	if s.Present(0, gpu.Frame{}) != nil || s.Events() != nil || s.Close() != nil {
		t.Error("Null is not silent")
	}
}

func TestMultiSmallCases(t *testing.T) {
	if _, ok := Multi().(null); !ok {
		t.Error("Multi() is not Null")
	}
	h := NewHeadless()
	if Multi(nil, h) != gpu.Sink(h) {
		t.Error("Multi of one sink is not that sink")
	}
}

func TestMultiPresentsToAll(t *testing.T) {
	errBoom := errors.New("boom")
	a, b := &fakeSink{err: errBoom}, &fakeSink{}
	m := Multi(a, b)
	if m.Events() != nil {
		t.Error("Events not nil without inputs")
	}
	err := m.Present(3, gpu.Frame{})
	if !errors.Is(err, errBoom) {
		t.Errorf("Present: %v", err)
	}
	if len(a.presented) != 1 || len(b.presented) != 1 || b.presented[0] != 3 {
		t.Errorf("presented: %v %v", a.presented, b.presented)
	}
	if err := m.Close(); !errors.Is(err, errBoom) {
		t.Errorf("Close: %v", err)
	}
	m.Close()
	if a.closed != 1 || b.closed != 1 {
		t.Errorf("closed %d, %d times", a.closed, b.closed)
	}
}

func TestMultiMergesEvents(t *testing.T) {
	a := &fakeSink{events: make(chan input.Event)}
	b := &fakeSink{events: make(chan input.Event)}
	m := Multi(a, NewHeadless(), b)
	ev := m.Events()
	if ev == nil {
		t.Fatal("no merged events")
	}
	a.events <- input.Event{Type: input.EvKey, Code: 1, Value: 1}
	b.events <- input.Event{Type: input.EvKey, Code: 2, Value: 1}
	got := map[uint16]bool{}
	for range 2 {
		select {
		case e := <-ev:
			got[e.Code] = true
		case <-time.After(5 * time.Second):
			t.Fatal("event not forwarded")
		}
	}
	if !got[1] || !got[2] {
		t.Errorf("got %v", got)
	}
	// A source closing early does not stop the others.
	close(a.events)
	b.events <- input.Syn
	if e := <-ev; e != input.Syn {
		t.Errorf("got %v", e)
	}
	// Close stops the forwarders even while b still has events to send,
	// and closes the merged channel.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for range ev {
	}
}
