package virtio

import (
	"sync/atomic"
	"unsafe"
)

// word32 returns b's first four bytes as a *uint32 for sync/atomic, or nil
// when b is shorter than four bytes or not 4-byte aligned in host memory.
//
// Why this is sound: the pointer is only formed when len(b) >= 4 and the
// address is a multiple of 4, so it points at four bytes that b owns and is
// aligned as sync/atomic requires; every bit pattern is a valid uint32; and
// the pointer keeps b's backing array alive (Go heap) or points into guest
// RAM, which the machine unmaps only after every device has stopped.
func word32(b []byte) *uint32 {
	if len(b) < 4 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%4 != 0 {
		return nil
	}
	return (*uint32)(p)
}

// atomicLoad32 and atomicCAS32 are the only operations done through word32.
func atomicLoad32(w *uint32) uint32 { return atomic.LoadUint32(w) }

func atomicCAS32(w *uint32, old, new uint32) bool { return atomic.CompareAndSwapUint32(w, old, new) }
