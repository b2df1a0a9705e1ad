package virtio

import (
	"fmt"
	"io"
)

// ReadableLen is the total length of the chain's device-readable buffers.
func (c *Chain) ReadableLen() uint64 { return sumLen(c.Readable) }

// WritableLen is the total length of the chain's device-writable buffers.
func (c *Chain) WritableLen() uint64 { return sumLen(c.Writable) }

func sumLen(ds []Descriptor) uint64 {
	var n uint64
	for _, d := range ds {
		n += uint64(d.Len)
	}
	return n
}

// Reader returns an io.Reader over the chain's readable buffers, in order.
func (c *Chain) Reader(mem GuestMemory) *ChainReader {
	return &ChainReader{cursor: cursor{mem: mem, descs: c.Readable, left: c.ReadableLen()}}
}

// Writer returns an io.Writer over the chain's writable buffers, in order.
func (c *Chain) Writer(mem GuestMemory) *ChainWriter {
	return &ChainWriter{cursor: cursor{mem: mem, descs: c.Writable, left: c.WritableLen()}}
}

// cursor walks a list of guest buffers. The buffers were checked by Pop;
// each access still goes through GuestMemory.Slice, so a failure is an
// error, never a panic.
type cursor struct {
	mem   GuestMemory
	descs []Descriptor
	i     int    // current descriptor
	off   uint32 // offset inside it
	left  uint64 // bytes left in all buffers
	done  uint64 // bytes moved so far
}

// next returns the guest bytes of at most n bytes from the current
// position, and advances past them. It returns nil at the end.
func (c *cursor) next(n int) ([]byte, error) {
	for c.i < len(c.descs) && c.off == c.descs[c.i].Len {
		c.i, c.off = c.i+1, 0
	}
	if c.i == len(c.descs) || n == 0 {
		return nil, nil
	}
	d := c.descs[c.i]
	k := uint64(d.Len - c.off)
	if uint64(n) < k {
		k = uint64(n)
	}
	b, err := c.mem.Slice(d.Addr+uint64(c.off), k)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDescriptor, err)
	}
	c.off += uint32(k)
	c.left -= k
	c.done += k
	return b, nil
}

// ChainReader reads a chain's device-readable buffers. The bytes are
// copied out of guest memory, so the caller may validate what it got.
type ChainReader struct{ cursor }

// Read implements io.Reader; it returns io.EOF after the last buffer.
func (r *ChainReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := r.next(len(p) - n)
		if err != nil {
			return n, err
		}
		if b == nil {
			break
		}
		n += copy(p[n:], b)
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Remaining is the number of readable bytes not read yet.
func (r *ChainReader) Remaining() uint64 { return r.left }

// ChainWriter writes a chain's device-writable buffers.
type ChainWriter struct{ cursor }

// Write implements io.Writer. When the buffers are full it writes what
// fits and returns io.ErrShortWrite.
func (w *ChainWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := w.next(len(p) - n)
		if err != nil {
			return n, err
		}
		if b == nil {
			return n, io.ErrShortWrite
		}
		n += copy(b, p[n:])
	}
	return n, nil
}

// Written is the number of bytes written so far: what PushUsed reports.
func (w *ChainWriter) Written() uint32 { return uint32(w.done) }

// Available is the number of writable bytes not written yet.
func (w *ChainWriter) Available() uint64 { return w.left }
