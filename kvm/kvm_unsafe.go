package kvm

// This file holds every use of package unsafe in kvm. Each ioctl below passes
// the address of a Go value whose layout mirrors the kernel's structure (the
// sizes are pinned by ioctl_test.go). The kernel reads or writes exactly
// sizeof(struct) bytes (or the header plus n entries for the variable-length
// kvm_cpuid2/kvm_msrs, which we allocate to that size) during the syscall and
// keeps no reference afterwards, so the Go values may move or be collected
// once the call returns. The pointer is converted to uintptr inside the
// Syscall argument list, which the Go compiler keeps alive for the call.

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

func sizeOf[T any]() uintptr { var v T; return unsafe.Sizeof(v) }

func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return &IoctlError{Op: ioctlName(req), Err: errno}
		}
		return nil
	}
}

// getCPUID runs KVM_GET_SUPPORTED_CPUID (on the system fd) into a buffer of
// max entries. The buffer is a []uint32 so it is 4-byte aligned, as the
// kernel's struct is.
func getCPUID(fd int, max int) ([]CPUIDEntry, error) {
	entSize := int(sizeOf[CPUIDEntry]())
	hdr := int(sizeOf[cpuidHeader]())
	buf := make([]uint32, (hdr+max*entSize)/4)
	buf[0] = uint32(max)
	if err := ioctlPtr(fd, kvmGetSupportedCPUID, unsafe.Pointer(&buf[0])); err != nil {
		return nil, err
	}
	n := int(buf[0])
	if n > max {
		return nil, fmt.Errorf("kvm: KVM_GET_SUPPORTED_CPUID returned %d entries, max %d", n, max)
	}
	out := make([]CPUIDEntry, n)
	words := hdr / 4
	for i := range out {
		w := buf[words+i*entSize/4:]
		out[i] = CPUIDEntry{Function: w[0], Index: w[1], Flags: w[2], EAX: w[3], EBX: w[4], ECX: w[5], EDX: w[6]}
	}
	return out, nil
}

func setCPUID(fd int, entries []CPUIDEntry) error {
	entSize := int(sizeOf[CPUIDEntry]())
	hdr := int(sizeOf[cpuidHeader]())
	buf := make([]uint32, (hdr+len(entries)*entSize)/4)
	buf[0] = uint32(len(entries))
	words := hdr / 4
	for i, e := range entries {
		w := buf[words+i*entSize/4:]
		w[0], w[1], w[2], w[3], w[4], w[5], w[6] = e.Function, e.Index, e.Flags, e.EAX, e.EBX, e.ECX, e.EDX
	}
	return ioctlPtr(fd, kvmSetCPUID2, unsafe.Pointer(&buf[0]))
}

// msrs runs KVM_GET_MSRS or KVM_SET_MSRS; the buffer is []uint64 so the
// 8-byte data fields are aligned. It returns how many entries the kernel
// processed (both calls stop at the first MSR they cannot handle).
func msrs(fd int, req uintptr, m []MSR) (int, error) {
	buf := make([]uint64, 1+2*len(m))
	buf[0] = uint64(len(m)) // nmsrs (u32) + pad (u32), little endian
	for i, e := range m {
		buf[1+2*i] = uint64(e.Index)
		buf[2+2*i] = e.Data
	}
	n, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return 0, &IoctlError{Op: ioctlName(req), Err: errno}
	}
	for i := range m {
		m[i].Data = buf[2+2*i]
	}
	return int(n), nil
}

func setUserMemoryRegion(fd int, slot uint32, gpa uint64, mem []byte) error {
	r := userspaceMemoryRegion{Slot: slot, GuestPhysAddr: gpa, MemorySize: uint64(len(mem))}
	if len(mem) > 0 {
		// The mapping comes from unix.Mmap and is never moved by the Go
		// runtime; the guest keeps using it after the call by design.
		r.UserspaceAddr = uint64(uintptr(unsafe.Pointer(&mem[0])))
	}
	return ioctlPtr(fd, kvmSetUserMemoryRegion, unsafe.Pointer(&r))
}

// setImmediateExit stores kvm_run.immediate_exit (byte 1) atomically. The
// run area is page-aligned (it comes from mmap), so its first 4 bytes form an
// aligned uint32: request_interrupt_window, immediate_exit and padding.
// Another thread may store while the vCPU thread is inside KVM_RUN; the
// kernel reads the byte on entry, so an atomic store is what is needed.
func setImmediateExit(run []byte, v bool) {
	p := (*uint32)(unsafe.Pointer(&run[0]))
	for {
		old := atomic.LoadUint32(p)
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], old)
		b[1] = 0
		if v {
			b[1] = 1
		}
		if atomic.CompareAndSwapUint32(p, old, binary.LittleEndian.Uint32(b[:])) {
			return
		}
	}
}

// ioctlArg passes a pointer to one fixed-size mirror structure.
func ioctlArg[T any](fd int, req uintptr, v *T) error {
	return ioctlPtr(fd, req, unsafe.Pointer(v))
}
