// Package bootparam prepares a Linux kernel for an x86-64 guest.
//
// It knows two ways into a kernel:
//
//   - bzImage, through the Linux x86 boot protocol: the protected-mode part of
//     the image is loaded at Config.KernelAddr and entered in 64-bit mode at
//     KernelAddr+0x200 with RSI pointing at a 4 KiB boot_params ("zero page")
//     that carries the setup header, the command line, the initrd and the
//     e820 memory map (Documentation/arch/x86/boot.rst in the kernel tree).
//   - an ELF image (vmlinux, or a freestanding test guest) with a Xen PVH
//     entry note: its PT_LOAD segments are loaded at their physical addresses
//     and it is entered in 32-bit protected mode, paging off, with EBX
//     pointing at an hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h).
//
// The package needs no KVM: it reads a kernel's headers and returns a Plan,
// the boot structures it built plus the sections of the kernel and initrd
// files the machine reads straight into guest RAM. It never panics on a
// corrupt file; every field read from an image is bounds-checked.
package bootparam

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of these,
// so callers can test with errors.Is.
var (
	// ErrNotKernel: the file is neither a bzImage nor an ELF image.
	ErrNotKernel = errors.New("not a bzImage or ELF vmlinux")
	// ErrTruncated: the file is shorter than its own headers say.
	ErrTruncated = errors.New("truncated kernel image")
	// ErrUnsupportedVersion: the bzImage boot protocol is older than 2.06.
	ErrUnsupportedVersion = errors.New("unsupported boot protocol version")
	// ErrUnsupportedKernel: a well-formed image this loader cannot start
	// (no 64-bit entry, not LOADED_HIGH, wrong ELF machine, ...).
	ErrUnsupportedKernel = errors.New("unsupported kernel")
	// ErrMalformed: the image's headers contradict themselves.
	ErrMalformed = errors.New("malformed kernel image")
	// ErrNoPVHNote: an ELF image without a XEN_ELFNOTE_PHYS32_ENTRY note.
	ErrNoPVHNote = errors.New("ELF kernel has no PVH entry note")
	// ErrCmdlineTooLong: the command line exceeds the kernel's or the
	// machine's limit.
	ErrCmdlineTooLong = errors.New("kernel command line too long")
	// ErrDoesNotFit: the kernel, the initrd or a boot structure does not fit
	// in the guest's RAM.
	ErrDoesNotFit = errors.New("does not fit in guest memory")
	// ErrOverlap: two pieces of the plan would be written to the same guest
	// memory.
	ErrOverlap = errors.New("overlapping boot segments")
	// ErrBadConfig: the Config itself is unusable (bad memory map, ...).
	ErrBadConfig = errors.New("bad boot configuration")
)

// Sizes used throughout.
const (
	pageSize = 0x1000
	kib      = 1 << 10
	mib      = 1 << 20
	fourGiB  = 1 << 32
)

// fmtSize prints a byte count in MiB, with one decimal when it is not whole.
func fmtSize(n uint64) string {
	if n%mib == 0 {
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/mib)
}

func alignUp(x, a uint64) (uint64, bool) {
	r := (x + a - 1) &^ (a - 1)
	return r, r >= x
}

func alignDown(x, a uint64) uint64 { return x &^ (a - 1) }

func isPowerOfTwo(x uint64) bool { return x != 0 && x&(x-1) == 0 }
