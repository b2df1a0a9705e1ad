package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors a queue reports for a guest's mistakes. Each is wrapped with detail.
var (
	ErrQueueNotReady = errors.New("virtio: queue not ready")
	ErrBadRing       = errors.New("virtio: ring outside guest memory")
	ErrBadAvailIdx   = errors.New("virtio: available index moved more than the queue size")
	ErrBadDescIndex  = errors.New("virtio: descriptor index beyond the queue size")
	ErrChainLoop     = errors.New("virtio: descriptor chain longer than the queue (a loop)")
	ErrBadDescriptor = errors.New("virtio: descriptor outside guest memory or with an overflowing length")
	ErrBadIndirect   = errors.New("virtio: bad indirect descriptor table")
	ErrWriteBeforeRO = errors.New("virtio: device-readable descriptor after a device-writable one")
	ErrChainTooLarge = errors.New("virtio: chain's total length over the limit")
)

// Queue is one split virtqueue (virtio 1.2 section 2.7). The transport
// fills in the addresses and size from the driver's register writes; the
// device pops chains and pushes used entries. A Queue is used by one
// goroutine at a time.
type Queue struct {
	MaxSize uint16 // what the device supports (QueueNumMax)
	Size    uint16 // what the driver chose (QueueNum), a power of two <= MaxSize
	Ready   bool

	DescTable uint64 // guest-physical addresses set by the driver
	AvailRing uint64
	UsedRing  uint64

	// EventIdx is set when VIRTIO_F_EVENT_IDX was negotiated;
	// Indirect when VIRTIO_F_INDIRECT_DESC was.
	EventIdx bool
	Indirect bool

	nextAvail uint16 // next available-ring entry to read
	nextUsed  uint16 // next used-ring entry to write
	// signalledUsed is the used index at the last interrupt (event idx).
	signalledUsed uint16
}

// Descriptor is one validated buffer of a chain: guest-physical address,
// length, and whether the device writes it.
type Descriptor struct {
	Addr     uint64
	Len      uint32
	Writable bool
}

// Chain is a validated descriptor chain: first the device-readable
// buffers, then the device-writable ones.
type Chain struct {
	Head     uint16
	Readable []Descriptor
	Writable []Descriptor
}

// MaxChainBytes bounds the total length of one chain, so no guest can make a
// device allocate or loop without limit.
const MaxChainBytes = 256 << 20

// Split-ring layout (virtio 1.2 section 2.7).
const (
	// MaxQueueSize is the largest split queue the spec allows.
	MaxQueueSize = 32768

	descSize      = 16 // struct virtq_desc: addr u64, len u32, flags u16, next u16
	descAlign     = 16
	availAlign    = 2
	usedAlign     = 4
	ringHeader    = 4 // flags u16, idx u16 (both rings)
	availElemSize = 2 // le16 ring[i]
	usedElemSize  = 8 // struct virtq_used_elem: id u32, len u32
	ringEventSize = 2 // used_event (avail ring) / avail_event (used ring)

	ringIdxOff = 2 // offset of idx in both rings

	descFlagNext     = 1 // VIRTQ_DESC_F_NEXT
	descFlagWrite    = 2 // VIRTQ_DESC_F_WRITE
	descFlagIndirect = 4 // VIRTQ_DESC_F_INDIRECT

	availFlagNoInterrupt = 1 // VIRTQ_AVAIL_F_NO_INTERRUPT
)

func descTableLen(size uint16) uint64 { return descSize * uint64(size) }
func availRingLen(size uint16) uint64 {
	return ringHeader + availElemSize*uint64(size) + ringEventSize
}
func usedRingLen(size uint16) uint64 {
	return ringHeader + usedElemSize*uint64(size) + ringEventSize
}

// usedEventAddr is where the driver asks for an interrupt (in the avail
// ring); availEventAddr is where the device asks for a kick (in the used
// ring).
func (q *Queue) usedEventAddr() uint64 {
	return q.AvailRing + ringHeader + availElemSize*uint64(q.Size)
}
func (q *Queue) availEventAddr() uint64 {
	return q.UsedRing + ringHeader + usedElemSize*uint64(q.Size)
}

// Validate checks the driver's queue configuration: called at activation
// for each ready queue. The size must be a power of two no larger than
// MaxSize, and each ring aligned and inside guest memory.
func (q *Queue) Validate(mem GuestMemory) error {
	if q.MaxSize == 0 || q.MaxSize > MaxQueueSize {
		return fmt.Errorf("%w: maximum size %d", ErrBadRing, q.MaxSize)
	}
	if q.Size == 0 || q.Size&(q.Size-1) != 0 || q.Size > q.MaxSize {
		return fmt.Errorf("%w: size %d (max %d)", ErrBadRing, q.Size, q.MaxSize)
	}
	rings := []struct {
		name       string
		addr, n, a uint64
	}{
		{"descriptor table", q.DescTable, descTableLen(q.Size), descAlign},
		{"available ring", q.AvailRing, availRingLen(q.Size), availAlign},
		{"used ring", q.UsedRing, usedRingLen(q.Size), usedAlign},
	}
	for _, r := range rings {
		if r.addr%r.a != 0 {
			return fmt.Errorf("%w: %s at %#x not %d-byte aligned", ErrBadRing, r.name, r.addr, r.a)
		}
		if r.addr+r.n < r.addr {
			return fmt.Errorf("%w: %s at %#x wraps", ErrBadRing, r.name, r.addr)
		}
		if _, err := mem.Slice(r.addr, r.n); err != nil {
			return fmt.Errorf("%w: %s at %#x+%#x: %w", ErrBadRing, r.name, r.addr, r.n, err)
		}
	}
	return nil
}

// Reset returns the queue to its state before the driver touched it; only
// MaxSize survives.
func (q *Queue) Reset() {
	*q = Queue{MaxSize: q.MaxSize}
}

// Pop returns the next available chain, validated, or nil, nil when the
// driver has made nothing new available. Any error means the driver broke
// the ring: the device should call NeedsReset and stop using the queue.
func (q *Queue) Pop(mem GuestMemory) (*Chain, error) {
	if !q.Ready || q.Size == 0 {
		return nil, ErrQueueNotReady
	}
	availIdx, err := load16(mem, q.AvailRing+ringIdxOff)
	if err != nil {
		return nil, fmt.Errorf("reading avail idx: %w", err)
	}
	if availIdx == q.nextAvail && q.EventIdx {
		// Ask for a kick when the driver adds the next entry, then look
		// again: the driver may have added one just before seeing our
		// avail_event. store16 is a full barrier (see ring.go).
		if err := q.setAvailEvent(mem); err != nil {
			return nil, err
		}
		if availIdx, err = load16(mem, q.AvailRing+ringIdxOff); err != nil {
			return nil, fmt.Errorf("reading avail idx: %w", err)
		}
	}
	pending := availIdx - q.nextAvail // wraps like the ring indices
	if pending == 0 {
		return nil, nil
	}
	if pending > q.Size {
		return nil, fmt.Errorf("%w: avail idx %d, next %d, size %d", ErrBadAvailIdx, availIdx, q.nextAvail, q.Size)
	}
	slot := uint64(q.nextAvail % q.Size)
	b, err := mem.Slice(q.AvailRing+ringHeader+availElemSize*slot, availElemSize)
	if err != nil {
		return nil, fmt.Errorf("%w: avail ring entry %d: %w", ErrBadRing, slot, err)
	}
	head := binary.LittleEndian.Uint16(b)
	if head >= q.Size {
		return nil, fmt.Errorf("%w: head %d, size %d", ErrBadDescIndex, head, q.Size)
	}
	c, err := q.walk(mem, head)
	if err != nil {
		return nil, fmt.Errorf("chain at head %d: %w", head, err)
	}
	q.nextAvail++
	if q.EventIdx {
		if err := q.setAvailEvent(mem); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// setAvailEvent publishes avail_event = nextAvail: "kick me when you make
// entry nextAvail available".
func (q *Queue) setAvailEvent(mem GuestMemory) error {
	if err := store16(mem, q.availEventAddr(), q.nextAvail); err != nil {
		return fmt.Errorf("writing avail_event: %w", err)
	}
	return nil
}

// rawDesc is a descriptor as copied out of guest memory.
type rawDesc struct {
	addr  uint64
	len   uint32
	flags uint16
	next  uint16
}

// readDesc copies descriptor i of the table at base out of guest memory.
func readDesc(mem GuestMemory, base uint64, i uint16) (rawDesc, error) {
	b, err := mem.Slice(base+descSize*uint64(i), descSize)
	if err != nil {
		return rawDesc{}, fmt.Errorf("%w: descriptor %d of table %#x: %w", ErrBadRing, i, base, err)
	}
	return rawDesc{
		addr:  binary.LittleEndian.Uint64(b[0:]),
		len:   binary.LittleEndian.Uint32(b[8:]),
		flags: binary.LittleEndian.Uint16(b[12:]),
		next:  binary.LittleEndian.Uint16(b[14:]),
	}, nil
}

// walk follows the chain starting at head: zero or more descriptors in the
// queue's table, possibly ending in one indirect descriptor whose table
// holds the rest (virtio 1.2 section 2.7.5.3). Each table is walked at most
// its length steps, so a loop ends in ErrChainLoop.
func (q *Queue) walk(mem GuestMemory, head uint16) (*Chain, error) {
	c := &Chain{Head: head}
	table, count := q.DescTable, uint32(q.Size)
	indirect := false
	var total uint64
	i := head
	for steps := uint32(1); ; steps++ {
		if steps > count {
			return nil, fmt.Errorf("%w: more than %d descriptors", ErrChainLoop, count)
		}
		d, err := readDesc(mem, table, i)
		if err != nil {
			return nil, err
		}
		if d.flags&descFlagIndirect != 0 {
			if err := q.checkIndirect(mem, d, indirect); err != nil {
				return nil, err
			}
			table, count, indirect = d.addr, d.len/descSize, true
			i, steps = 0, 0
			continue
		}
		if d.len > 0 {
			if d.addr+uint64(d.len) < d.addr {
				return nil, fmt.Errorf("%w: %#x+%#x wraps", ErrBadDescriptor, d.addr, d.len)
			}
			if _, err := mem.Slice(d.addr, uint64(d.len)); err != nil {
				return nil, fmt.Errorf("%w: %#x+%#x: %w", ErrBadDescriptor, d.addr, d.len, err)
			}
		}
		total += uint64(d.len)
		if total > MaxChainBytes {
			return nil, fmt.Errorf("%w: %d bytes", ErrChainTooLarge, total)
		}
		desc := Descriptor{Addr: d.addr, Len: d.len, Writable: d.flags&descFlagWrite != 0}
		switch {
		case desc.Writable:
			c.Writable = append(c.Writable, desc)
		case len(c.Writable) > 0:
			return nil, fmt.Errorf("%w: descriptor %d", ErrWriteBeforeRO, i)
		default:
			c.Readable = append(c.Readable, desc)
		}
		if d.flags&descFlagNext == 0 {
			return c, nil
		}
		if uint32(d.next) >= count {
			return nil, fmt.Errorf("%w: next %d, table of %d", ErrBadDescIndex, d.next, count)
		}
		i = d.next
	}
}

// checkIndirect validates a descriptor that points at an indirect table
// (virtio 1.2 section 2.7.5.3.1): only with the feature, never inside an
// indirect table, never with NEXT, a whole number of descriptors, at most
// the queue size of them (no chain may be longer than the queue), and the
// table inside guest memory.
func (q *Queue) checkIndirect(mem GuestMemory, d rawDesc, inIndirect bool) error {
	switch {
	case !q.Indirect:
		return fmt.Errorf("%w: VIRTIO_F_INDIRECT_DESC not negotiated", ErrBadIndirect)
	case inIndirect:
		return fmt.Errorf("%w: nested indirect table", ErrBadIndirect)
	case d.flags&descFlagNext != 0:
		return fmt.Errorf("%w: indirect descriptor with NEXT", ErrBadIndirect)
	case d.len == 0 || d.len%descSize != 0:
		return fmt.Errorf("%w: table length %d", ErrBadIndirect, d.len)
	case d.len/descSize > uint32(q.Size):
		return fmt.Errorf("%w: %d descriptors, queue size %d", ErrBadIndirect, d.len/descSize, q.Size)
	case d.addr+uint64(d.len) < d.addr:
		return fmt.Errorf("%w: table %#x+%#x wraps", ErrBadIndirect, d.addr, d.len)
	}
	if _, err := mem.Slice(d.addr, uint64(d.len)); err != nil {
		return fmt.Errorf("%w: table %#x+%#x: %w", ErrBadIndirect, d.addr, d.len, err)
	}
	return nil
}

// PushUsed returns the chain at head to the driver with the number of bytes
// the device wrote into it. The used element is written before the used
// index that publishes it (see ring.go for the ordering).
func (q *Queue) PushUsed(mem GuestMemory, head uint16, written uint32) error {
	if !q.Ready || q.Size == 0 {
		return ErrQueueNotReady
	}
	if head >= q.Size {
		return fmt.Errorf("%w: used head %d, size %d", ErrBadDescIndex, head, q.Size)
	}
	slot := uint64(q.nextUsed % q.Size)
	b, err := mem.Slice(q.UsedRing+ringHeader+usedElemSize*slot, usedElemSize)
	if err != nil {
		return fmt.Errorf("%w: used ring entry %d: %w", ErrBadRing, slot, err)
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(head))
	binary.LittleEndian.PutUint32(b[4:], written)
	if err := store16(mem, q.UsedRing+ringIdxOff, q.nextUsed+1); err != nil {
		return fmt.Errorf("writing used idx: %w", err)
	}
	q.nextUsed++
	return nil
}

// NeedsInterrupt says whether the driver wants an interrupt for the used
// entries pushed since the last call that returned true. With EVENT_IDX it
// compares used_event with the entries pushed since then (the wrap-safe
// vring_need_event test of virtio 1.2 section 2.7.10); without, it honours
// VIRTQ_AVAIL_F_NO_INTERRUPT.
func (q *Queue) NeedsInterrupt(mem GuestMemory) (bool, error) {
	if !q.Ready || q.Size == 0 {
		return false, ErrQueueNotReady
	}
	newIdx, oldIdx := q.nextUsed, q.signalledUsed
	if newIdx == oldIdx {
		return false, nil
	}
	var need bool
	if q.EventIdx {
		ev, err := load16(mem, q.usedEventAddr())
		if err != nil {
			return false, fmt.Errorf("reading used_event: %w", err)
		}
		need = needEvent(ev, newIdx, oldIdx)
	} else {
		flags, err := load16(mem, q.AvailRing)
		if err != nil {
			return false, fmt.Errorf("reading avail flags: %w", err)
		}
		need = flags&availFlagNoInterrupt == 0
	}
	// The entries up to newIdx have been considered, whether or not the
	// driver wanted to hear about them.
	q.signalledUsed = newIdx
	return need, nil
}

// needEvent reports whether moving an index from old to new crossed event:
// true when event is in [old, new), computed modulo 2^16.
func needEvent(event, newIdx, oldIdx uint16) bool {
	return newIdx-event-1 < newIdx-oldIdx
}

// NextAvail is the index of the next available-ring entry Pop will read
// (for tests and diagnostics).
func (q *Queue) NextAvail() uint16 { return q.nextAvail }

// NextUsed is the used index the device has published.
func (q *Queue) NextUsed() uint16 { return q.nextUsed }
