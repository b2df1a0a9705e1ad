package machine

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Device is something that sits on a bus (port I/O or MMIO). The bus hands it
// only the offset from the base it was inserted at and the bytes of the access.
type Device interface {
	// Read fills p with the value at off. It must not retain p.
	Read(off uint64, p []byte)
	// Write stores p at off. Guest mistakes are the device's business: it
	// ignores or reports them, it never panics.
	Write(off uint64, p []byte)
}

// Errors returned by Bus.Insert.
var (
	ErrOverlap  = errors.New("bus: range overlaps an existing device")
	ErrZeroSize = errors.New("bus: zero-sized range")
)

type busRange struct {
	base, size uint64
	name       string
	dev        Device
}

// Bus maps address ranges to devices. Lookups are safe from many vCPU threads;
// inserts normally happen before the vCPUs start.
type Bus struct {
	mu     sync.RWMutex
	ranges []busRange // sorted by base, non-overlapping
}

// Insert places d at [base, base+size).
func (b *Bus) Insert(d Device, name string, base, size uint64) error {
	if size == 0 {
		return ErrZeroSize
	}
	if base+size < base {
		return fmt.Errorf("%w: %s at %#x+%#x wraps", ErrOverlap, name, base, size)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].base >= base })
	if i > 0 {
		p := b.ranges[i-1]
		if p.base+p.size > base {
			return fmt.Errorf("%w: %s at %#x overlaps %s", ErrOverlap, name, base, p.name)
		}
	}
	if i < len(b.ranges) && base+size > b.ranges[i].base {
		return fmt.Errorf("%w: %s at %#x overlaps %s", ErrOverlap, name, base, b.ranges[i].name)
	}
	b.ranges = append(b.ranges, busRange{})
	copy(b.ranges[i+1:], b.ranges[i:])
	b.ranges[i] = busRange{base: base, size: size, name: name, dev: d}
	return nil
}

// Lookup returns the device covering addr and the offset of addr inside it.
func (b *Bus) Lookup(addr uint64) (Device, uint64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].base > addr })
	if i == 0 {
		return nil, 0, false
	}
	r := b.ranges[i-1]
	if addr-r.base >= r.size {
		return nil, 0, false
	}
	return r.dev, addr - r.base, true
}

// Read dispatches a read; an access to no device reads as all ones, like an
// unpopulated ISA or PCI bus. It reports whether a device answered.
func (b *Bus) Read(addr uint64, p []byte) bool {
	d, off, ok := b.Lookup(addr)
	if !ok {
		for i := range p {
			p[i] = 0xff
		}
		return false
	}
	d.Read(off, p)
	return true
}

// Write dispatches a write; a write to no device is dropped. It reports
// whether a device took it.
func (b *Bus) Write(addr uint64, p []byte) bool {
	d, off, ok := b.Lookup(addr)
	if !ok {
		return false
	}
	d.Write(off, p)
	return true
}
