// Package virtiotest is test support for virtio devices: a fake guest
// memory, a fake driver that lays out one split virtqueue in it and adds
// chains the way a guest would, and fakes for the interrupt line and the
// transport's Signaller.
package virtiotest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio"
)

// ErrOutOfRange is what Memory.Slice returns outside the fake RAM.
var ErrOutOfRange = errors.New("virtiotest: address outside guest memory")

// Memory is fake guest RAM at guest-physical addresses [0, size).
type Memory struct {
	b []byte
}

// NewMemory allocates size bytes of zeroed fake guest RAM. size is rounded
// up to a multiple of 8.
func NewMemory(size uint64) *Memory {
	return &Memory{b: make([]byte, (size+7)&^7)}
}

// Slice implements virtio.GuestMemory.
func (m *Memory) Slice(gpa, n uint64) ([]byte, error) {
	size := uint64(len(m.b))
	if gpa > size || n > size-gpa {
		return nil, fmt.Errorf("%w: %#x+%#x (size %#x)", ErrOutOfRange, gpa, n, size)
	}
	return m.b[gpa : gpa+n : gpa+n], nil
}

// Bytes is the whole backing store.
func (m *Memory) Bytes() []byte { return m.b }

// Size is the RAM size in bytes.
func (m *Memory) Size() uint64 { return uint64(len(m.b)) }

// Write copies p into guest memory at gpa; it panics outside the RAM (a
// bug in the test).
func (m *Memory) Write(gpa uint64, p []byte) {
	s, err := m.Slice(gpa, uint64(len(p)))
	if err != nil {
		panic(err)
	}
	copy(s, p)
}

// Read copies n bytes of guest memory at gpa; it panics outside the RAM.
func (m *Memory) Read(gpa, n uint64) []byte {
	s, err := m.Slice(gpa, n)
	if err != nil {
		panic(err)
	}
	return append([]byte(nil), s...)
}

// Load16 atomically reads the little-endian uint16 at the 2-aligned gpa
// (the way a driver reads used idx or avail_event).
func (m *Memory) Load16(gpa uint64) uint16 {
	base := gpa &^ 3
	var buf [4]byte
	binary.NativeEndian.PutUint32(buf[:], load32(word32(m.b, base)))
	return binary.LittleEndian.Uint16(buf[gpa-base:])
}

// Store16 atomically writes the little-endian uint16 at the 2-aligned gpa
// (the way a driver publishes avail idx or used_event).
func (m *Memory) Store16(gpa uint64, v uint16) {
	base := gpa &^ 3
	w := word32(m.b, base)
	var buf [4]byte
	for {
		old := load32(w)
		binary.NativeEndian.PutUint32(buf[:], old)
		binary.LittleEndian.PutUint16(buf[gpa-base:], v)
		if cas32(w, old, binary.NativeEndian.Uint32(buf[:])) {
			return
		}
	}
}

// Descriptor flags and ring flags as a driver writes them.
const (
	FlagNext        = 1 // VIRTQ_DESC_F_NEXT
	FlagWrite       = 2 // VIRTQ_DESC_F_WRITE
	FlagIndirect    = 4 // VIRTQ_DESC_F_INDIRECT
	FlagNoInterrupt = 1 // VIRTQ_AVAIL_F_NO_INTERRUPT (avail ring flags)
	DescSize        = 16
)

// UsedElem is one entry the device put in the used ring.
type UsedElem struct {
	ID  uint32
	Len uint32
}

type chainInfo struct {
	descs    []uint16 // descriptor indices, to free
	writable []virtio.Descriptor
	usedLen  uint32
	used     bool
}

// Driver plays the guest driver for one split virtqueue. Its rings and
// buffers live in a window of Memory: the descriptor table at the window's
// start, then the available ring, the used ring (4 KiB aligned), then a
// buffer area. Use it from one goroutine (the test's).
type Driver struct {
	t    testing.TB
	mem  *Memory
	q    *virtio.Queue
	size uint16

	DescTable, AvailRing, UsedRing uint64 // ring addresses

	dataStart, dataEnd, dataNext uint64

	free     []uint16 // free descriptor indices
	availIdx uint16
	lastUsed uint16
	chains   map[uint16]*chainInfo
	notify   func()
}

const pageSize = 4096

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

// NewDriver lays out a queue of size entries in mem's window [base,
// base+window). base must be 16-byte aligned and the window large enough
// for the rings plus the buffers the test uses.
func NewDriver(t testing.TB, mem *Memory, base, window uint64, size uint16) *Driver {
	t.Helper()
	d := &Driver{t: t, mem: mem, size: size, chains: map[uint16]*chainInfo{}}
	d.DescTable = base
	d.AvailRing = d.DescTable + DescSize*uint64(size)
	d.UsedRing = alignUp(d.AvailRing+6+2*uint64(size), pageSize)
	d.dataStart = alignUp(d.UsedRing+6+8*uint64(size), pageSize)
	d.dataEnd = base + window
	d.dataNext = d.dataStart
	if base%16 != 0 || d.dataStart >= d.dataEnd || d.dataEnd > mem.Size() {
		t.Fatalf("virtiotest: window %#x+%#x too small or misplaced for a queue of %d", base, window, size)
	}
	for i := range size {
		d.free = append(d.free, i)
	}
	d.q = &virtio.Queue{MaxSize: size, Size: size, Ready: true, DescTable: d.DescTable, AvailRing: d.AvailRing, UsedRing: d.UsedRing}
	return d
}

// NewDrivers splits mem evenly into one window per queue size.
func NewDrivers(t testing.TB, mem *Memory, sizes ...uint16) []*Driver {
	t.Helper()
	window := (mem.Size() / uint64(len(sizes))) &^ (pageSize - 1)
	ds := make([]*Driver, len(sizes))
	for i, s := range sizes {
		ds[i] = NewDriver(t, mem, uint64(i)*window, window, s)
	}
	return ds
}

// Queue is the device-side view of this driver's queue, ready to use: put
// it in an Activation. Set its EventIdx or Indirect before activating to
// test those features.
func (d *Driver) Queue() *virtio.Queue { return d.q }

// SetNotify sets what Kick calls (for example the device's QueueNotify, or
// the transport's QueueNotify register write).
func (d *Driver) SetNotify(f func()) { d.notify = f }

// Kick notifies the device, if SetNotify gave a way to.
func (d *Driver) Kick() {
	if d.notify != nil {
		d.notify()
	}
}

// alloc reserves n bytes (8-byte aligned) of buffer space, wrapping to the
// start of the area when the end is reached. Buffers of chains still in
// flight may be reused after a wrap: keep the window large enough.
func (d *Driver) alloc(n uint64) uint64 {
	n = alignUp(n, 8)
	if n > d.dataEnd-d.dataStart {
		d.t.Fatalf("virtiotest: buffer of %d bytes larger than the data area", n)
	}
	if d.dataNext+n > d.dataEnd {
		d.dataNext = d.dataStart
	}
	a := d.dataNext
	d.dataNext += n
	return a
}

func (d *Driver) takeDesc() uint16 {
	if len(d.free) == 0 {
		d.t.Fatalf("virtiotest: queue full (%d descriptors in flight)", d.size)
	}
	i := d.free[0]
	d.free = d.free[1:]
	return i
}

// WriteDesc writes descriptor i of the table at table (the queue's own
// table, or an indirect one); tests use it to build hostile chains.
func (d *Driver) WriteDesc(table uint64, i uint16, addr uint64, length uint32, flags, next uint16) {
	var b [DescSize]byte
	binary.LittleEndian.PutUint64(b[0:], addr)
	binary.LittleEndian.PutUint32(b[8:], length)
	binary.LittleEndian.PutUint16(b[12:], flags)
	binary.LittleEndian.PutUint16(b[14:], next)
	d.mem.Write(table+DescSize*uint64(i), b[:])
}

// Publish puts head in the next available-ring slot and publishes the new
// avail idx (the descriptors must be written already).
func (d *Driver) Publish(head uint16) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], head)
	d.mem.Write(d.AvailRing+4+2*uint64(d.availIdx%d.size), b[:])
	d.availIdx++
	d.mem.Store16(d.AvailRing+2, d.availIdx)
}

// SetAvailIdx publishes an arbitrary avail idx (hostile tests).
func (d *Driver) SetAvailIdx(idx uint16) {
	d.availIdx = idx
	d.mem.Store16(d.AvailRing+2, idx)
}

// AddChain adds a chain made of one readable descriptor per readable slice
// (holding a copy of it) followed by one writable descriptor per writable
// length, publishes it and returns its head. It does not kick.
func (d *Driver) AddChain(readable [][]byte, writable []uint32) uint16 {
	d.t.Helper()
	n := len(readable) + len(writable)
	if n == 0 || n > len(d.free) {
		d.t.Fatalf("virtiotest: chain of %d descriptors, %d free", n, len(d.free))
	}
	info := &chainInfo{}
	idx := make([]uint16, n)
	for k := range idx {
		idx[k] = d.takeDesc()
	}
	info.descs = idx
	for k := range n {
		var addr uint64
		var length uint32
		var flags uint16
		if k < len(readable) {
			length = uint32(len(readable[k]))
			addr = d.alloc(uint64(length))
			d.mem.Write(addr, readable[k])
		} else {
			length = writable[k-len(readable)]
			addr = d.alloc(uint64(length))
			clear(d.mustSlice(addr, uint64(length)))
			flags = FlagWrite
			info.writable = append(info.writable, virtio.Descriptor{Addr: addr, Len: length, Writable: true})
		}
		var next uint16
		if k+1 < n {
			flags |= FlagNext
			next = idx[k+1]
		}
		d.WriteDesc(d.DescTable, idx[k], addr, length, flags, next)
	}
	d.chains[idx[0]] = info
	d.Publish(idx[0])
	return idx[0]
}

// AddIndirectChain is AddChain with the buffers described by an indirect
// table (one descriptor in the queue's table). The queue must have
// Indirect set for the device to accept it.
func (d *Driver) AddIndirectChain(readable [][]byte, writable []uint32) uint16 {
	d.t.Helper()
	n := len(readable) + len(writable)
	if n == 0 {
		d.t.Fatalf("virtiotest: empty chain")
	}
	head := d.takeDesc()
	table := d.alloc(DescSize * uint64(n))
	info := &chainInfo{descs: []uint16{head}}
	for k := range n {
		var addr uint64
		var length uint32
		var flags uint16
		if k < len(readable) {
			length = uint32(len(readable[k]))
			addr = d.alloc(uint64(length))
			d.mem.Write(addr, readable[k])
		} else {
			length = writable[k-len(readable)]
			addr = d.alloc(uint64(length))
			clear(d.mustSlice(addr, uint64(length)))
			flags = FlagWrite
			info.writable = append(info.writable, virtio.Descriptor{Addr: addr, Len: length, Writable: true})
		}
		var next uint16
		if k+1 < n {
			flags |= FlagNext
			next = uint16(k + 1)
		}
		d.WriteDesc(table, uint16(k), addr, length, flags, next)
	}
	d.WriteDesc(d.DescTable, head, table, uint32(DescSize*n), FlagIndirect, 0)
	d.chains[head] = info
	d.Publish(head)
	return head
}

func (d *Driver) mustSlice(addr, n uint64) []byte {
	s, err := d.mem.Slice(addr, n)
	if err != nil {
		d.t.Fatalf("virtiotest: %v", err)
	}
	return s
}

// UsedIdx is the used idx the device has published.
func (d *Driver) UsedIdx() uint16 { return d.mem.Load16(d.UsedRing + 2) }

// Used returns the used entries published since the last call, and frees
// their descriptors.
func (d *Driver) Used() []UsedElem {
	end := d.UsedIdx()
	var out []UsedElem
	for ; d.lastUsed != end; d.lastUsed++ {
		b := d.mem.Read(d.UsedRing+4+8*uint64(d.lastUsed%d.size), 8)
		e := UsedElem{ID: binary.LittleEndian.Uint32(b[0:]), Len: binary.LittleEndian.Uint32(b[4:])}
		out = append(out, e)
		if info, ok := d.chains[uint16(e.ID)]; ok && !info.used && e.ID < uint32(d.size) {
			info.used, info.usedLen = true, e.Len
			d.free = append(d.free, info.descs...)
		}
	}
	return out
}

// WaitUsed polls Used until it returns at least n entries in total or the
// timeout passes, for devices that complete requests on their own
// goroutines. It returns what it collected.
func (d *Driver) WaitUsed(n int, timeout time.Duration) []UsedElem {
	deadline := time.Now().Add(timeout)
	var out []UsedElem
	for {
		out = append(out, d.Used()...)
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(time.Millisecond)
	}
}

// ReadWritable returns the contents of the writable buffers of the chain at
// head, concatenated; once Used has seen the chain, only the first Len
// bytes the device reported (at most the buffers' size).
func (d *Driver) ReadWritable(head uint16) []byte {
	info, ok := d.chains[head]
	if !ok {
		d.t.Fatalf("virtiotest: no chain at head %d", head)
		return nil
	}
	var out []byte
	for _, w := range info.writable {
		out = append(out, d.mem.Read(w.Addr, uint64(w.Len))...)
	}
	if info.used && uint64(info.usedLen) < uint64(len(out)) {
		out = out[:info.usedLen]
	}
	return out
}

// SetUsedEvent writes used_event (EVENT_IDX: interrupt me when the used idx
// passes this).
func (d *Driver) SetUsedEvent(v uint16) { d.mem.Store16(d.AvailRing+4+2*uint64(d.size), v) }

// AvailEvent reads avail_event (EVENT_IDX: the device wants a kick when the
// avail idx passes this).
func (d *Driver) AvailEvent() uint16 { return d.mem.Load16(d.UsedRing + 4 + 8*uint64(d.size)) }

// SetAvailFlags writes the available ring's flags (FlagNoInterrupt).
func (d *Driver) SetAvailFlags(f uint16) { d.mem.Store16(d.AvailRing, f) }

// Interrupt is a fake interrupt line that counts triggers.
type Interrupt struct {
	n   atomic.Int64
	Err error // returned by Trigger when set before use
}

// Trigger implements virtio.Interrupt.
func (i *Interrupt) Trigger() error {
	i.n.Add(1)
	return i.Err
}

// Count is the number of triggers so far.
func (i *Interrupt) Count() int { return int(i.n.Load()) }

// Signaller is a fake transport Signaller that records what the device
// said. Safe for concurrent use.
type Signaller struct {
	mu     sync.Mutex
	used   int
	config int
	resets []error
}

// Signal implements virtio.Signaller.
func (s *Signaller) Signal(kind virtio.InterruptKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case virtio.InterruptUsedBuffer:
		s.used++
	case virtio.InterruptConfigChange:
		s.config++
	}
}

// NeedsReset implements virtio.Signaller.
func (s *Signaller) NeedsReset(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets = append(s.resets, reason)
}

// UsedSignals is the number of InterruptUsedBuffer signals.
func (s *Signaller) UsedSignals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// ConfigSignals is the number of InterruptConfigChange signals.
func (s *Signaller) ConfigSignals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.config
}

// Resets returns the reasons given to NeedsReset so far.
func (s *Signaller) Resets() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.resets...)
}

// Activation builds the Activation a transport would pass for these
// drivers' queues, with a fresh recording Signaller.
func Activation(mem *Memory, features uint64, drivers ...*Driver) (virtio.Activation, *Signaller) {
	qs := make([]*virtio.Queue, len(drivers))
	for i, d := range drivers {
		qs[i] = d.Queue()
		qs[i].EventIdx = features&virtio.FeatureEventIdx != 0
		qs[i].Indirect = features&virtio.FeatureIndirectDesc != 0
	}
	s := &Signaller{}
	return virtio.Activation{Mem: mem, Queues: qs, Features: features, Signal: s}, s
}
