package machine

// The guest physical memory map and the fixed I/O ports, in one place.
//
//	0x0000_0000  real-mode IVT / BDA (left zero)
//	0x0000_0500  GDT
//	0x0000_0520  IDT (empty: the kernel installs its own)
//	0x0000_6000  PVH start_info (+ memmap table)
//	0x0000_7000  boot_params ("zero page") for the bzImage 64-bit entry
//	0x0000_9000  PML4, 0xa000 PDPT, 0xb000.. PDs (identity map of the first 4 GiB)
//	0x0002_0000  kernel command line
//	0x0009_fc00  EBDA start (top of conventional memory)
//	0x000e_0000  ACPI tables (RSDP first: the kernel scans 0xe0000-0xfffff)
//	0x0010_0000  kernel (protected-mode part of a bzImage, or ELF segments)
//	...          initrd at the top of low RAM, below initrd_addr_max
//	0xd000_0000  virtio-mmio device windows, one 4 KiB page each
//	0xfec0_0000  IOAPIC
//	0xfee0_0000  local APIC
//	0x1_0000_0000 RAM above the 32-bit hole, when the guest has more than MMIOGapStart
const (
	GDTAddr         = 0x500
	IDTAddr         = 0x520
	PVHInfoAddr     = 0x6000
	PVHMemmapAddr   = 0x6040
	ZeroPageAddr    = 0x7000
	PML4Addr        = 0x9000
	PDPTAddr        = 0xa000
	PDAddr          = 0xb000 // four pages: 0xb000-0xefff, 2 MiB pages up to 4 GiB
	CmdlineAddr     = 0x20000
	CmdlineMax      = 0x10000 // 64 KiB, the boot protocol's cmdline_size ceiling we allow
	BootStackAddr   = 0x8ff0  // rsp for the 64-bit entry (boot protocol: kernel sets its own)
	EBDAStart       = 0x9fc00
	ACPIStart       = 0xe0000
	ACPIEnd         = 0x100000
	HighMemStart    = 0x100000 // 1 MiB: where bzImage protected-mode code is loaded
	MMIOGapStart    = 0xc0000000
	MMIOGapEnd      = 0x100000000
	VirtioMMIOBase  = 0xd0000000
	VirtioMMIOSize  = 0x1000
	VirtioIRQBase   = 5 // first GSI handed to virtio-mmio devices
	IOAPICAddr      = 0xfec00000
	LAPICAddr       = 0xfee00000
	TSSAddr         = 0xfffbd000 // three pages KVM needs on Intel (KVM_SET_TSS_ADDR)
	IdentityMapAddr = 0xfffbc000

	// Port I/O.
	COM1Port     = 0x3f8
	COM1IRQ      = 4
	I8042Port    = 0x60 // data; command/status at 0x64
	I8042CmdPort = 0x64
	// ACPI hardware-reduced sleep/reset registers (FADT), one byte each.
	ACPISleepCtlPort = 0x3c0
	ACPISleepStsPort = 0x3c1
	ACPIResetPort    = 0x3c2
	ACPIResetValue   = 0x1 // written to ACPIResetPort to reset
	// The debug-exit port used by the project's test guest: a 32-bit write of
	// status s ends the VM with exit code s.
	DebugExitPort = 0xf4
	// The benchmark marker port used by the test guest (1 = begin, 2 = end).
	DebugMarkPort = 0xf5
	// BenchSinkPort ignores writes: the target of the PIO exit benchmark.
	BenchSinkPort = 0xf6
	// BenchMMIOAddr is unbacked guest-physical memory the test guest writes
	// to for the MMIO exit benchmark.
	BenchMMIOAddr = 0xfe000000
)
