package virtio

import (
	"encoding/binary"
	"fmt"
)

// Ring indices shared with the driver (avail idx, used idx, used_event,
// avail_event, avail flags) are 16-bit fields that the guest reads or
// writes concurrently with the device. Go has no 16-bit atomics, so they
// are accessed through the naturally aligned 32-bit word that contains
// them: an atomic load for reads, a compare-and-swap loop for writes (the
// CAS writes the neighbouring 16 bits back unchanged, and retries if the
// guest changed them in between).
//
// Ordering: Go's atomics are sequentially consistent. A load of avail idx
// therefore happens before the plain reads of the ring entries and
// descriptors it publishes (acquire), and the plain writes of a used
// element happen before the CAS that publishes used idx (release). On x86
// the CAS is a LOCK CMPXCHG, a full barrier, so it also orders the used idx
// store before the following load of used_event or avail flags, which is
// what the event-index protocol needs (virtio 1.2 section 2.7.10). Plain
// x86 stores are not reordered with other stores, and the compiler does not
// move memory accesses across an atomic operation.

// ringWord returns the aligned 32-bit word of guest memory containing the
// 2-aligned address gpa, and the byte offset (0 or 2) of gpa inside it.
func ringWord(mem GuestMemory, gpa uint64) (*uint32, []byte, int, error) {
	if gpa%2 != 0 {
		return nil, nil, 0, fmt.Errorf("%w: unaligned ring field at %#x", ErrBadRing, gpa)
	}
	base := gpa &^ 3
	if b, err := mem.Slice(base, 4); err == nil {
		if w := word32(b); w != nil {
			return w, nil, int(gpa - base), nil
		}
	}
	// Fallback (a region that is not 4-byte aligned in host memory):
	// plain 16-bit access.
	b, err := mem.Slice(gpa, 2)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrBadRing, err)
	}
	return nil, b, 0, nil
}

// load16 reads the little-endian 16-bit ring field at gpa atomically.
func load16(mem GuestMemory, gpa uint64) (uint16, error) {
	w, b, off, err := ringWord(mem, gpa)
	if err != nil {
		return 0, err
	}
	if w == nil {
		return binary.LittleEndian.Uint16(b), nil
	}
	var buf [4]byte
	binary.NativeEndian.PutUint32(buf[:], atomicLoad32(w))
	return binary.LittleEndian.Uint16(buf[off:]), nil
}

// store16 writes the little-endian 16-bit ring field at gpa atomically.
func store16(mem GuestMemory, gpa uint64, v uint16) error {
	w, b, off, err := ringWord(mem, gpa)
	if err != nil {
		return err
	}
	if w == nil {
		binary.LittleEndian.PutUint16(b, v)
		return nil
	}
	var buf [4]byte
	for range maxCASTries {
		old := atomicLoad32(w)
		binary.NativeEndian.PutUint32(buf[:], old)
		binary.LittleEndian.PutUint16(buf[off:], v)
		if atomicCAS32(w, old, binary.NativeEndian.Uint32(buf[:])) {
			return nil
		}
	}
	// A guest hammering the neighbouring field cannot stall the device:
	// after a few lost races, store the 16 bits directly (a single aligned
	// MOV on x86, which is atomic there).
	b, err = mem.Slice(gpa, 2)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRing, err)
	}
	binary.LittleEndian.PutUint16(b, v)
	return nil
}

// maxCASTries bounds store16's compare-and-swap loop.
const maxCASTries = 64
