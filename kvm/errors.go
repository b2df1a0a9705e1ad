package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// IoctlError is a failed ioctl, named.
type IoctlError struct {
	Op  string
	Err unix.Errno
}

func (e *IoctlError) Error() string { return fmt.Sprintf("kvm: %s: %v", e.Op, e.Err) }
func (e *IoctlError) Unwrap() error { return e.Err }

// ioctl issues a request with a plain integer argument, retrying on EINTR
// (KVM_RUN is the only call where EINTR means something; it does not use this).
func ioctl(fd int, req, arg uintptr) (uintptr, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, &IoctlError{Op: ioctlName(req), Err: errno}
		}
		return r, nil
	}
}
