package display

import (
	"errors"
	"sync"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/input"
)

// eventBuffer is the capacity of Multi's merged event channel: enough to
// absorb a burst of pointer motion while the guest's queue drains.
const eventBuffer = 64

// null is the sink for --display none.
type null struct{}

func (null) Present(uint32, gpu.Frame) error { return nil }
func (null) Events() <-chan input.Event      { return nil }
func (null) Close() error                    { return nil }

// Null returns a sink that drops every frame and has no input
// (--display none).
func Null() gpu.Sink { return null{} }

// multi presents to several sinks and merges their input.
type multi struct {
	sinks  []gpu.Sink
	events chan input.Event // nil if no sink has input
	done   chan struct{}    // closed by Close: stops the forwarders
	wg     sync.WaitGroup   // the forwarders
	once   sync.Once
	err    error
}

// Multi returns a sink that presents every frame to each of sinks in
// order (for example an SDL window and a Headless buffer) and merges
// their input events. Nil sinks are skipped; with no sink left
// it is Null, with one it is that sink. Closing it closes them all.
func Multi(sinks ...gpu.Sink) gpu.Sink {
	var kept []gpu.Sink
	for _, s := range sinks {
		if s != nil {
			kept = append(kept, s)
		}
	}
	switch len(kept) {
	case 0:
		return Null()
	case 1:
		return kept[0]
	}
	m := &multi{sinks: kept, done: make(chan struct{})}
	for _, s := range kept {
		src := s.Events()
		if src == nil {
			continue
		}
		if m.events == nil {
			m.events = make(chan input.Event, eventBuffer)
		}
		m.wg.Add(1)
		go m.forward(src)
	}
	return m
}

// forward copies events from src to the merged channel until src is
// closed or the multi sink is.
func (m *multi) forward(src <-chan input.Event) {
	defer m.wg.Done()
	for {
		select {
		case e, ok := <-src:
			if !ok {
				return
			}
			select {
			case m.events <- e:
			case <-m.done:
				return
			}
		case <-m.done:
			return
		}
	}
}

// Present shows f on every sink, even if one fails, and joins the errors.
func (m *multi) Present(n uint32, f gpu.Frame) error {
	var errs []error
	for _, s := range m.sinks {
		if err := s.Present(n, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Events returns the merged input of all sinks, or nil if none has any.
// The channel is closed after Close.
func (m *multi) Events() <-chan input.Event {
	if m.events == nil {
		return nil
	}
	return m.events
}

// Close stops the event forwarding and closes every sink. Calling it again
// returns the first result.
func (m *multi) Close() error {
	m.once.Do(func() {
		close(m.done)
		m.wg.Wait()
		if m.events != nil {
			close(m.events)
		}
		var errs []error
		for _, s := range m.sinks {
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		m.err = errors.Join(errs...)
	})
	return m.err
}
