package kvm

// Go mirrors of the kernel's x86 KVM structures (include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h). Field order and padding match the kernel;
// sizes are pinned in ioctl_test.go.

// Regs is struct kvm_regs: the general-purpose registers.
type Regs struct {
	RAX, RBX, RCX, RDX uint64
	RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11   uint64
	R12, R13, R14, R15 uint64
	RIP, RFLAGS        uint64
}

// Segment is struct kvm_segment.
type Segment struct {
	Base     uint64
	Limit    uint32
	Selector uint16
	Type     uint8
	Present  uint8
	DPL      uint8
	DB       uint8
	S        uint8
	L        uint8
	G        uint8
	AVL      uint8
	Unusable uint8
	_        uint8
}

// DTable is struct kvm_dtable (GDTR/IDTR).
type DTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// Sregs is struct kvm_sregs: segment, control and descriptor-table registers.
type Sregs struct {
	CS, DS, ES, FS, GS, SS Segment
	TR, LDT                Segment
	GDT, IDT               DTable
	CR0, CR2, CR3, CR4     uint64
	CR8                    uint64
	EFER                   uint64
	APICBase               uint64
	InterruptBitmap        [4]uint64
}

// FPU is struct kvm_fpu.
type FPU struct {
	FPR        [8][16]uint8
	FCW        uint16
	FSW        uint16
	FTWX       uint8
	_          uint8
	LastOpcode uint16
	LastIP     uint64
	LastDP     uint64
	XMM        [16][16]uint8
	MXCSR      uint32
	_          uint32
}

// LAPICState is struct kvm_lapic_state: the 1 KiB local APIC register page.
type LAPICState struct {
	Regs [1024]byte
}

// irqchip is struct kvm_irqchip: a chip id and 512 bytes of that chip's
// state.
type irqchip struct {
	ChipID uint32
	_      uint32
	State  [512]byte
}

// IOAPICPins is the number of in-kernel IOAPIC pins (KVM_IOAPIC_NUM_PINS).
const IOAPICPins = 24

// IOAPICState is struct kvm_ioapic_state: the in-kernel IOAPIC's registers.
type IOAPICState struct {
	BaseAddress uint64
	IORegSel    uint32
	ID          uint32
	IRR         uint32 // pins whose line is asserted or latched
	_           uint32
	Redirect    [IOAPICPins]uint64 // redirection table entries
}

// CPUIDEntry is struct kvm_cpuid_entry2.
type CPUIDEntry struct {
	Function uint32
	Index    uint32
	Flags    uint32
	EAX      uint32
	EBX      uint32
	ECX      uint32
	EDX      uint32
	_        [3]uint32
}

// CPUIDFlagSignificantIndex marks a leaf whose sub-leaf (Index) matters.
const CPUIDFlagSignificantIndex = 1

// cpuidHeader is the fixed part of struct kvm_cpuid2; entries follow it.
type cpuidHeader struct {
	NEnt uint32
	_    uint32
}

// MSR is one struct kvm_msr_entry.
type MSR struct {
	Index uint32
	_     uint32
	Data  uint64
}

// msrsHeader is the fixed part of struct kvm_msrs; entries follow it.
type msrsHeader struct {
	NMSRs uint32
	_     uint32
}

// msrList is the fixed part of struct kvm_msr_list.
type msrList struct {
	NMSRs uint32
}

type userspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

type irqLevel struct {
	IRQ   uint32
	Level uint32
}

type pitConfig struct {
	Flags uint32
	_     [15]uint32
}

type irqfd struct {
	FD         uint32
	GSI        uint32
	Flags      uint32
	ResampleFD uint32
	_          [16]uint8
}

type ioeventfd struct {
	Datamatch uint64
	Addr      uint64
	Len       uint32
	FD        int32
	Flags     uint32
	_         [36]uint8
}

// Flags and constants used with the structures above.
const (
	pitSpeakerDummy        = 1 // KVM_PIT_SPEAKER_DUMMY
	ioeventfdFlagDatamatch = 1 << 0
	ioeventfdFlagPIO       = 1 << 1
	ioeventfdFlagDeassign  = 1 << 2
	irqfdFlagDeassign      = 1 << 0

	// vCPU MP states (KVM_MP_STATE_*).
	MPStateRunnable      = 0
	MPStateUninitialized = 1
	MPStateInitReceived  = 2
	MPStateHalted        = 3
	MPStateSIPIReceived  = 4
)
