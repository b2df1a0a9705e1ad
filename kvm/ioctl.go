package kvm

import (
	"fmt"
)

// The Linux _IOC encoding (include/uapi/asm-generic/ioctl.h).
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2

	iocNRShift   = 0
	iocTypeShift = 8
	iocSizeShift = 16
	iocDirShift  = 30

	kvmio = 0xAE // the KVM ioctl "type" byte
)

func ioc(dir, nr, size uintptr) uintptr {
	return dir<<iocDirShift | kvmio<<iocTypeShift | nr<<iocNRShift | size<<iocSizeShift
}
func io(nr uintptr) uintptr         { return ioc(iocNone, nr, 0) }
func iow(nr, size uintptr) uintptr  { return ioc(iocWrite, nr, size) }
func ior(nr, size uintptr) uintptr  { return ioc(iocRead, nr, size) }
func iowr(nr, size uintptr) uintptr { return ioc(iocRead|iocWrite, nr, size) }
func ioctlName(req uintptr) string {
	if n, ok := ioctlNames[req]; ok {
		return n
	}
	return fmt.Sprintf("ioctl %#x", req)
}

// Ioctl request numbers. Each is built from the size of the Go mirror of the
// kernel structure, so a wrong struct layout shows up in ioctl_test.go.
var (
	kvmGetAPIVersion       = io(0x00)
	kvmCreateVM            = io(0x01)
	kvmGetMSRIndexList     = iowr(0x02, sizeOf[msrList]())
	kvmCheckExtension      = io(0x03)
	kvmGetVCPUMmapSize     = io(0x04)
	kvmGetSupportedCPUID   = iowr(0x05, sizeOf[cpuidHeader]())
	kvmCreateVCPU          = io(0x41)
	kvmSetUserMemoryRegion = iow(0x46, sizeOf[userspaceMemoryRegion]())
	kvmSetTSSAddr          = io(0x47)
	kvmSetIdentityMapAddr  = iow(0x48, sizeOf[uint64]())
	kvmCreateIRQChip       = io(0x60)
	kvmIRQLine             = iow(0x61, sizeOf[irqLevel]())
	kvmGetIRQChip          = iowr(0x62, sizeOf[irqchip]())
	kvmIRQFD               = iow(0x76, sizeOf[irqfd]())
	kvmCreatePIT2          = iow(0x77, sizeOf[pitConfig]())
	kvmIOEventFD           = iow(0x79, sizeOf[ioeventfd]())
	kvmRun                 = io(0x80)
	kvmGetRegs             = ior(0x81, sizeOf[Regs]())
	kvmSetRegs             = iow(0x82, sizeOf[Regs]())
	kvmGetSregs            = ior(0x83, sizeOf[Sregs]())
	kvmSetSregs            = iow(0x84, sizeOf[Sregs]())
	kvmGetMSRs             = iowr(0x88, sizeOf[msrsHeader]())
	kvmSetMSRs             = iow(0x89, sizeOf[msrsHeader]())
	kvmGetFPU              = ior(0x8c, sizeOf[FPU]())
	kvmSetFPU              = iow(0x8d, sizeOf[FPU]())
	kvmGetLAPIC            = ior(0x8e, sizeOf[LAPICState]())
	kvmSetLAPIC            = iow(0x8f, sizeOf[LAPICState]())
	kvmSetCPUID2           = iow(0x90, sizeOf[cpuidHeader]())
	kvmGetMPState          = ior(0x98, sizeOf[uint32]())
	kvmSetMPState          = iow(0x99, sizeOf[uint32]())
)

var ioctlNames = map[uintptr]string{
	kvmGetAPIVersion: "KVM_GET_API_VERSION", kvmCreateVM: "KVM_CREATE_VM",
	kvmGetMSRIndexList: "KVM_GET_MSR_INDEX_LIST", kvmCheckExtension: "KVM_CHECK_EXTENSION",
	kvmGetVCPUMmapSize: "KVM_GET_VCPU_MMAP_SIZE", kvmGetSupportedCPUID: "KVM_GET_SUPPORTED_CPUID",
	kvmCreateVCPU: "KVM_CREATE_VCPU", kvmSetUserMemoryRegion: "KVM_SET_USER_MEMORY_REGION",
	kvmSetTSSAddr: "KVM_SET_TSS_ADDR", kvmSetIdentityMapAddr: "KVM_SET_IDENTITY_MAP_ADDR",
	kvmCreateIRQChip: "KVM_CREATE_IRQCHIP", kvmIRQLine: "KVM_IRQ_LINE", kvmGetIRQChip: "KVM_GET_IRQCHIP", kvmIRQFD: "KVM_IRQFD",
	kvmCreatePIT2: "KVM_CREATE_PIT2", kvmIOEventFD: "KVM_IOEVENTFD", kvmRun: "KVM_RUN",
	kvmGetRegs: "KVM_GET_REGS", kvmSetRegs: "KVM_SET_REGS", kvmGetSregs: "KVM_GET_SREGS",
	kvmSetSregs: "KVM_SET_SREGS", kvmGetMSRs: "KVM_GET_MSRS", kvmSetMSRs: "KVM_SET_MSRS",
	kvmGetFPU: "KVM_GET_FPU", kvmSetFPU: "KVM_SET_FPU", kvmGetLAPIC: "KVM_GET_LAPIC",
	kvmSetLAPIC: "KVM_SET_LAPIC", kvmSetCPUID2: "KVM_SET_CPUID2",
	kvmGetMPState: "KVM_GET_MP_STATE", kvmSetMPState: "KVM_SET_MP_STATE",
}
