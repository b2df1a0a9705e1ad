package virtiotest

import (
	"sync/atomic"
	"unsafe"
)

// word32 returns the 4-byte aligned word of b at off as a *uint32.
//
// Why this is sound: Memory allocates its bytes with make, whose backing
// array is at least 8-byte aligned, and callers pass an off that is a
// multiple of 4; the bounds check below makes sure off+4 <= len(b); every bit pattern is a valid uint32.
func word32(b []byte, off uint64) *uint32 {
	if off > uint64(len(b)) || uint64(len(b))-off < 4 {
		panic("virtiotest: ring word outside memory") // a bug in the test
	}
	return (*uint32)(unsafe.Pointer(&b[off]))
}

func load32(w *uint32) uint32 { return atomic.LoadUint32(w) }

func cas32(w *uint32, old, new uint32) bool { return atomic.CompareAndSwapUint32(w, old, new) }
