package blk

import (
	"fmt"

	"github.com/govm/govm/devices/virtio"
)

// iovec is a chain's buffers as host slices aliasing guest memory, in
// order. The guest can change the bytes at any time: anything the device
// decides on is copied out first (gather).
type iovec [][]byte

// mapBuffers appends the host slices of descs to v. Empty buffers are
// left out.
func mapBuffers(mem virtio.GuestMemory, v iovec, descs []virtio.Descriptor) (iovec, error) {
	for _, desc := range descs {
		if desc.Len == 0 {
			continue
		}
		b, err := mem.Slice(desc.Addr, uint64(desc.Len))
		if err != nil {
			return v, fmt.Errorf("%w: %#x+%#x: %w", virtio.ErrBadDescriptor, desc.Addr, desc.Len, err)
		}
		v = append(v, b)
	}
	return v, nil
}

func (v iovec) size() uint64 {
	var n uint64
	for _, b := range v {
		n += uint64(len(b))
	}
	return n
}

// gather copies the first bytes of v into p and returns how many.
func (v iovec) gather(p []byte) int {
	n := 0
	for _, b := range v {
		if n == len(p) {
			break
		}
		n += copy(p[n:], b)
	}
	return n
}

// scatter copies p into the start of v and returns how many bytes fit.
func (v iovec) scatter(p []byte) int {
	n := 0
	for _, b := range v {
		if n == len(p) {
			break
		}
		n += copy(b, p[n:])
	}
	return n
}

// drop returns v without its first n bytes. It reslices v's elements in
// place, so v is not to be used afterwards.
func (v iovec) drop(n uint64) iovec {
	for len(v) > 0 && n >= uint64(len(v[0])) {
		n -= uint64(len(v[0]))
		v = v[1:]
	}
	if len(v) > 0 {
		v[0] = v[0][n:]
	}
	return v
}

// splitLast splits off the last byte of v (a request's status byte): it
// returns the rest and a one-byte slice, or a nil slice if v is empty. It
// reslices v's elements in place.
func (v iovec) splitLast() (iovec, []byte) {
	if len(v) == 0 {
		return v, nil // mapBuffers leaves out empty buffers
	}
	last := v[len(v)-1]
	status := last[len(last)-1:]
	if len(last) == 1 {
		return v[:len(v)-1], status
	}
	v[len(v)-1] = last[:len(last)-1]
	return v, status
}
