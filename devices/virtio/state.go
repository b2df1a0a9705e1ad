package virtio

import (
	"fmt"
	"io"
	"strings"
)

// QueueState is what one queue's rings say, read from guest memory: enough
// to tell a lost notification (the driver made entries available that the
// device never took) from a lost interrupt (the device used entries and
// raised the interrupt status, but the driver never acknowledged it).
type QueueState struct {
	Ready bool
	Size  uint16
	// EventIdx is set when VIRTIO_F_EVENT_IDX is in use; AvailEvent and
	// UsedEvent mean something only then.
	EventIdx bool
	// AvailIdx is the driver's avail idx: entries it has made available.
	AvailIdx uint16
	// AvailEvent is the device's avail_event: the next entry it will
	// take (with EVENT_IDX the device publishes it after every Pop).
	AvailEvent uint16
	// UsedIdx is the device's used idx: entries it has given back.
	UsedIdx uint16
	// UsedEvent is the driver's used_event: it wants an interrupt when
	// UsedIdx moves past it.
	UsedEvent uint16
	// NoInterrupt is VIRTQ_AVAIL_F_NO_INTERRUPT in the avail flags.
	NoInterrupt bool
	// Err is set when the rings could not be read (a bad address).
	Err error
}

// TransportState is a snapshot of a virtio-mmio device for diagnostics.
type TransportState struct {
	Status          uint32
	InterruptStatus uint32
	Queues          []QueueState
}

// State reads the transport's registers and each ready queue's rings. It
// reads guest memory only (never the device's own bookkeeping), so it is
// safe while the device runs, though the answer may then be a moment old.
func (m *MMIO) State() TransportState {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := TransportState{Status: m.status.Load(), InterruptStatus: m.isr.Load()}
	for _, q := range m.queues {
		qs := QueueState{Ready: q.Ready, Size: q.Size, EventIdx: q.EventIdx}
		if q.Ready && q.Size != 0 {
			qs.Err = q.readState(m.mem, &qs)
		}
		st.Queues = append(st.Queues, qs)
	}
	return st
}

func (q *Queue) readState(mem GuestMemory, qs *QueueState) error {
	for _, r := range []struct {
		addr uint64
		dst  *uint16
	}{
		{q.AvailRing + ringIdxOff, &qs.AvailIdx},
		{q.UsedRing + ringIdxOff, &qs.UsedIdx},
		{q.usedEventAddr(), &qs.UsedEvent},
		{q.availEventAddr(), &qs.AvailEvent},
	} {
		v, err := load16(mem, r.addr)
		if err != nil {
			return err
		}
		*r.dst = v
	}
	flags, err := load16(mem, q.AvailRing)
	qs.NoInterrupt = flags&availFlagNoInterrupt != 0
	return err
}

// Write describes the state in a few lines, each starting with indent,
// in terms of what each side has done and is waiting for.
func (st TransportState) Write(w io.Writer, indent string) {
	fmt.Fprintf(w, "%sstatus %#x (%s), interrupt status %#x%s\n", indent, st.Status, statusNames(st.Status),
		st.InterruptStatus, isrMeaning(st.InterruptStatus))
	for i, q := range st.Queues {
		if !q.Ready {
			continue
		}
		fmt.Fprintf(w, "%squeue %d (size %d): ", indent, i, q.Size)
		if q.Err != nil {
			fmt.Fprintf(w, "rings unreadable: %v\n", q.Err)
			continue
		}
		fmt.Fprintf(w, "driver made %d available", q.AvailIdx)
		if q.EventIdx {
			fmt.Fprintf(w, ", device took %d", q.AvailEvent)
		}
		fmt.Fprintf(w, ", device used %d", q.UsedIdx)
		switch {
		case q.EventIdx:
			fmt.Fprintf(w, ", driver wants an interrupt after used %d", q.UsedEvent)
		case q.NoInterrupt:
			fmt.Fprintf(w, ", driver wants no interrupts")
		}
		if q.EventIdx && q.AvailIdx != q.AvailEvent {
			fmt.Fprintf(w, " (%d not taken by the device)", q.AvailIdx-q.AvailEvent)
		}
		fmt.Fprintln(w)
	}
}

func statusNames(s uint32) string {
	var names []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{
		{StatusAcknowledge, "ACKNOWLEDGE"}, {StatusDriver, "DRIVER"}, {StatusFeaturesOK, "FEATURES_OK"},
		{StatusDriverOK, "DRIVER_OK"}, {StatusDeviceNeedsReset, "DEVICE_NEEDS_RESET"}, {StatusFailed, "FAILED"},
	} {
		if s&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	if len(names) == 0 {
		return "reset"
	}
	return strings.Join(names, "|")
}

func isrMeaning(isr uint32) string {
	switch {
	case isr == 0:
		return ""
	case isr&uint32(InterruptUsedBuffer) != 0:
		return " (a used-buffer interrupt the driver has not acknowledged)"
	default:
		return " (a configuration-change interrupt the driver has not acknowledged)"
	}
}
