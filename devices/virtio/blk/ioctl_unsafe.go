package blk

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockRangeIoctl runs BLKDISCARD or BLKZEROOUT on [off, off+n) of a block
// device.
//
// Both ioctls read a struct of two u64 (start, length) from the pointer
// argument. The pointer is to a Go array that lives on this goroutine's
// stack for the whole call: unsafe.Pointer converted to uintptr inside the
// Syscall argument list keeps it alive and unmoved (unsafe rule 4), and the
// kernel only reads the 16 bytes.
func blockRangeIoctl(fd int, req uintptr, off, n uint64) error {
	r := [2]uint64{off, n}
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&r)))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return errno
		}
	}
}
