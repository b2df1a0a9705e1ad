package machine

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrOutOfRange is returned for a guest-physical range that is not all RAM.
var ErrOutOfRange = errors.New("guest memory: address range outside RAM")

// Region is one contiguous piece of guest RAM.
type Region struct {
	GPA  uint64 // guest-physical start
	Host []byte // the host mapping (from mmap)
}

// Memory is the guest's RAM: up to two regions, below the 32-bit MMIO hole
// and above 4 GiB. Every access is bounds-checked; a guest-supplied address
// can never reach outside the mappings.
type Memory struct {
	Regions []Region
	size    uint64
}

// RAMRanges returns the guest-physical RAM layout for size bytes: RAM up to
// MMIOGapStart, and the rest from 4 GiB up.
func RAMRanges(size uint64) [][2]uint64 {
	if size <= MMIOGapStart {
		return [][2]uint64{{0, size}}
	}
	return [][2]uint64{{0, MMIOGapStart}, {MMIOGapEnd, size - MMIOGapStart}}
}

// NewMemory maps size bytes of anonymous memory for the guest. Pages are
// touched lazily, so a large guest costs only what it uses.
func NewMemory(size uint64) (*Memory, error) {
	m := &Memory{size: size}
	for _, r := range RAMRanges(size) {
		b, err := unix.Mmap(-1, 0, int(r[1]), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("guest memory: mmap %d MiB: %w", r[1]>>20, err)
		}
		m.Regions = append(m.Regions, Region{GPA: r[0], Host: b})
	}
	return m, nil
}

// NewMemoryFromSlices builds a Memory over existing buffers (for tests).
func NewMemoryFromSlices(regions ...Region) *Memory {
	m := &Memory{Regions: regions}
	for _, r := range regions {
		m.size += uint64(len(r.Host))
	}
	return m
}

// Size is the total RAM in bytes.
func (m *Memory) Size() uint64 { return m.size }

// Close unmaps the guest RAM.
func (m *Memory) Close() error {
	var err error
	for _, r := range m.Regions {
		if e := unix.Munmap(r.Host); e != nil && err == nil {
			err = e
		}
	}
	m.Regions = nil
	return err
}

// Slice returns the host bytes backing [gpa, gpa+n). The range must lie in
// one region. The slice aliases guest memory: the guest may change it at any
// time, so read what you need once and validate the copy.
func (m *Memory) Slice(gpa, n uint64) ([]byte, error) {
	for _, r := range m.Regions {
		size := uint64(len(r.Host))
		if gpa >= r.GPA && gpa-r.GPA <= size && n <= size-(gpa-r.GPA) {
			off := gpa - r.GPA
			return r.Host[off : off+n : off+n], nil
		}
	}
	return nil, fmt.Errorf("%w: %#x+%#x", ErrOutOfRange, gpa, n)
}

// ReadAt copies guest memory at gpa into p.
func (m *Memory) ReadAt(p []byte, gpa int64) (int, error) {
	if gpa < 0 {
		return 0, fmt.Errorf("%w: negative address", ErrOutOfRange)
	}
	s, err := m.Slice(uint64(gpa), uint64(len(p)))
	if err != nil {
		return 0, err
	}
	return copy(p, s), nil
}

// WriteAt copies p into guest memory at gpa.
func (m *Memory) WriteAt(p []byte, gpa int64) (int, error) {
	if gpa < 0 {
		return 0, fmt.Errorf("%w: negative address", ErrOutOfRange)
	}
	s, err := m.Slice(uint64(gpa), uint64(len(p)))
	if err != nil {
		return 0, err
	}
	return copy(s, p), nil
}
