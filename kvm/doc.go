// Package kvm is a thin, typed layer over the /dev/kvm ioctl API.
//
// There is one type per file-descriptor level of the API:
//
//	System  /dev/kvm itself: API version, capabilities, supported CPUID
//	VM      a virtual machine: memory slots, irqchip, PIT, irqfd, ioeventfd
//	VCPU    a virtual CPU: registers, CPUID, MSRs, and Run
//
// VCPU.Run returns a typed Exit; the layout of the shared kvm_run page never
// leaves this package. Ioctl numbers are computed from the structure sizes
// the kernel uses and pinned by a table test against the kernel's values.
package kvm
