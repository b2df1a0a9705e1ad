package acpi

import (
	"encoding/binary"
	"fmt"
)

// Identification written into every table.
const (
	OEMID           = "GOVM  " // 6 bytes
	oemTableIDPfx   = "GOVM"   // + the 4-byte signature = OEM Table ID
	oemRevision     = 1
	creatorID       = "GOVM"
	creatorRevision = 1
	hypervisorID    = "GOVM\x00\x00\x00\x00" // FADT Hypervisor Vendor Identity, 8 bytes
)

// The System Description Table Header shared by every table but the RSDP
// (ACPI 6.5 table 5.4).
const (
	headerLen         = 36
	hdrOffLength      = 4
	hdrOffRevision    = 8
	hdrOffChecksum    = 9
	hdrOffOEMID       = 10
	hdrOffOEMTableID  = 16
	hdrOffOEMRevision = 24
	hdrOffCreatorID   = 28
	hdrOffCreatorRev  = 32
)

// Table revisions (ACPI 6.5).
const (
	xsdtRevision      = 1
	fadtRevision      = 6
	fadtMinorRevision = 5
	madtRevision      = 5
	dsdtRevision      = 2 // >= 2: AML integers are 64-bit
)

// checksum returns the byte that makes b sum to zero mod 256.
func checksum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return -s
}

// finishTable fills in the header of t (whose length is final) and its
// checksum.
func finishTable(t []byte, sig string, rev uint8) {
	copy(t, sig)
	binary.LittleEndian.PutUint32(t[hdrOffLength:], uint32(len(t)))
	t[hdrOffRevision] = rev
	copy(t[hdrOffOEMID:], OEMID)
	copy(t[hdrOffOEMTableID:], oemTableIDPfx+sig)
	binary.LittleEndian.PutUint32(t[hdrOffOEMRevision:], oemRevision)
	copy(t[hdrOffCreatorID:], creatorID)
	binary.LittleEndian.PutUint32(t[hdrOffCreatorRev:], creatorRevision)
	t[hdrOffChecksum] = 0
	t[hdrOffChecksum] = checksum(t)
}

// RSDP, revision 2 (ACPI 6.5 table 5.3).
const (
	rsdpSig           = "RSD PTR "
	rsdpLen           = 36
	rsdpRevision      = 2
	rsdpOffChecksum   = 8
	rsdpOffOEMID      = 9
	rsdpOffRevision   = 15
	rsdpOffRSDT       = 16
	rsdpOffLength     = 20
	rsdpOffXSDT       = 24
	rsdpOffXChecksum  = 32
	rsdpChecksumBytes = 20 // the ACPI 1.0 part covered by the first checksum
)

func buildRSDP(xsdt uint64) []byte {
	r := make([]byte, rsdpLen)
	copy(r, rsdpSig)
	copy(r[rsdpOffOEMID:], OEMID)
	r[rsdpOffRevision] = rsdpRevision
	// RsdtAddress stays 0: revision-2 readers use the XSDT.
	binary.LittleEndian.PutUint32(r[rsdpOffLength:], rsdpLen)
	binary.LittleEndian.PutUint64(r[rsdpOffXSDT:], xsdt)
	r[rsdpOffChecksum] = checksum(r[:rsdpChecksumBytes])
	r[rsdpOffXChecksum] = checksum(r)
	return r
}

// XSDT: the header, then 64-bit table addresses.
const xsdtEntryLen = 8

func buildXSDT(tables ...uint64) []byte {
	t := make([]byte, headerLen, headerLen+xsdtEntryLen*len(tables))
	for _, a := range tables {
		t = binary.LittleEndian.AppendUint64(t, a)
	}
	finishTable(t, "XSDT", xsdtRevision)
	return t
}

// Generic Address Structure (ACPI 6.5 section 5.2.3.2), 12 bytes.
const (
	gasLen          = 12
	gasSpaceSysIO   = 1
	gasAccessByte   = 1
	gasOffBitWidth  = 1
	gasOffBitOffset = 2
	gasOffAccess    = 3
	gasOffAddress   = 4
	byteBits        = 8
)

// putIOPortGAS writes a GAS for an 8-bit System I/O register at port.
func putIOPortGAS(b []byte, port uint16) {
	b[0] = gasSpaceSysIO
	b[gasOffBitWidth] = byteBits
	b[gasOffBitOffset] = 0
	b[gasOffAccess] = gasAccessByte
	binary.LittleEndian.PutUint64(b[gasOffAddress:], uint64(port))
}

// FADT, revision 6 (ACPI 6.5 table 5.9). Only the fields govm sets are
// named; everything else is zero, which is what a hardware-reduced
// platform wants (no PM1/GPE blocks, no SMI, no FACS, no SCI).
const (
	fadtLen                 = 276
	fadtOffDSDT             = 40
	fadtOffIAPCBootArch     = 109
	fadtOffFlags            = 112
	fadtOffResetReg         = 116
	fadtOffResetValue       = 128
	fadtOffMinorVersion     = 131
	fadtOffXDSDT            = 140
	fadtOffSleepControlReg  = 244
	fadtOffSleepStatusReg   = 256
	fadtOffHypervisorVendor = 268

	// FADT Flags.
	fadtFlagPwrButton     = 1 << 4  // no fixed-feature power button
	fadtFlagSlpButton     = 1 << 5  // no fixed-feature sleep button
	fadtFlagResetRegSup   = 1 << 10 // RESET_REG is supported
	fadtFlagHWReducedACPI = 1 << 20

	// IA-PC Boot Architecture Flags. LEGACY_DEVICES (bit 0) and 8042
	// (bit 1) stay clear: Linux then skips PNPBIOS and the i8042 driver
	// (its reboot fallback still pokes port 0x64 directly).
	iapcVGANotPresent = 1 << 2
	iapcNoCMOSRTC     = 1 << 5
)

type fadtParams struct {
	dsdt                       uint64
	sleepCtl, sleepSts, resetP uint16
	resetValue                 uint8
	noRTC                      bool
}

func buildFADT(p fadtParams) []byte {
	t := make([]byte, fadtLen)
	bootArch := uint16(iapcVGANotPresent)
	if p.noRTC {
		bootArch |= iapcNoCMOSRTC
	}
	binary.LittleEndian.PutUint16(t[fadtOffIAPCBootArch:], bootArch)
	binary.LittleEndian.PutUint32(t[fadtOffFlags:],
		fadtFlagHWReducedACPI|fadtFlagResetRegSup|fadtFlagPwrButton|fadtFlagSlpButton)
	putIOPortGAS(t[fadtOffResetReg:], p.resetP)
	t[fadtOffResetValue] = p.resetValue
	t[fadtOffMinorVersion] = fadtMinorRevision
	// The 32-bit DSDT field stays 0: the spec wants it zero when X_DSDT is set.
	binary.LittleEndian.PutUint64(t[fadtOffXDSDT:], p.dsdt)
	putIOPortGAS(t[fadtOffSleepControlReg:], p.sleepCtl)
	putIOPortGAS(t[fadtOffSleepStatusReg:], p.sleepSts)
	copy(t[fadtOffHypervisorVendor:], hypervisorID)
	finishTable(t, "FACP", fadtRevision)
	return t
}

// MADT (ACPI 6.5 section 5.2.12): the header, the local APIC address, flags,
// then interrupt controller structures.
const (
	madtFixedLen = headerLen + 8

	madtTypeLocalAPIC = 0
	madtLocalAPICLen  = 8
	lapicEnabled      = 1 << 0

	madtTypeIOAPIC = 1
	madtIOAPICLen  = 12

	// IOAPICID is the I/O APIC's ID in the MADT; KVM's in-kernel IOAPIC
	// resets its ID register to 0.
	IOAPICID = 0

	// madtFlags is 0: PCAT_COMPAT (dual 8259s) is left clear. x86 Linux
	// does not act on it anyway: in hardware-reduced mode it installs the
	// null legacy PIC and routes every interrupt, ISA ones included,
	// through the IOAPIC. KVM's in-kernel PIC still exists, but its output
	// (LINT0, masked by Linux) reaches no CPU.
	madtFlags = 0
)

func buildMADT(cfg *Config) []byte {
	t := make([]byte, madtFixedLen, madtFixedLen+cfg.CPUs*madtLocalAPICLen+madtIOAPICLen)
	binary.LittleEndian.PutUint32(t[headerLen:], cfg.LAPICAddr)
	binary.LittleEndian.PutUint32(t[headerLen+4:], madtFlags)
	for i := range cfg.CPUs {
		// ACPI processor UID i (matches the C%03X devices' _UID), APIC ID i
		// (KVM's default: the vCPU index).
		t = append(t, madtTypeLocalAPIC, madtLocalAPICLen, byte(i), byte(i))
		t = binary.LittleEndian.AppendUint32(t, lapicEnabled)
	}
	t = append(t, madtTypeIOAPIC, madtIOAPICLen, IOAPICID, 0)
	t = binary.LittleEndian.AppendUint32(t, cfg.IOAPICAddr)
	t = binary.LittleEndian.AppendUint32(t, cfg.IOAPICGSIBase)
	finishTable(t, "APIC", madtRevision)
	return t
}

// DSDT contents.
const (
	virtioHID     = "LNRO0005" // Linux's virtio_mmio ACPI match id
	cpuHID        = "ACPI0007" // processor device
	com1EISAID    = "PNP0501"  // 16550A-compatible UART
	com1Port      = 0x3f8
	com1PortCount = 8
	com1IRQ       = 4
	com1UID       = 1
	maxDevNames   = 1 << 12 // "V" or "C" plus 3 hex digits
)

// S5SleepType is the SLP_TYP value \_S5_ hands the guest. Linux in
// hardware-reduced mode powers off by writing
// (S5SleepType<<2)|SLP_EN (0x34) to SLEEP_CONTROL_REG; PowerDevice decodes it.
// SLP_TYP is a 3-bit field.
const S5SleepType = 5

func buildDSDT(cfg *Config) ([]byte, error) {
	var e encoder
	intFlags := byte(0) // level, active high, exclusive
	if cfg.VirtioEdgeTriggered {
		intFlags = intEdge
	}
	var sb [][]byte
	for i := range cfg.CPUs {
		sb = append(sb, e.device(fmt.Sprintf("C%03X", i),
			e.name("_HID", e.str(cpuHID)),
			e.name("_UID", integer(uint64(i))),
		))
	}
	if cfg.COM1 {
		sb = append(sb, e.device("COM1",
			e.name("_HID", e.eisaID(com1EISAID)),
			e.name("_UID", integer(com1UID)),
			e.name("_CRS", e.resourceTemplate(
				ioPort(com1Port, 1, com1PortCount),
				e.irqNoFlags(com1IRQ),
			)),
		))
	}
	if cfg.PowerButtonGSI != 0 {
		sb = append(sb, e.powerButtonDevices(cfg.PowerButtonGSI)...)
	}
	for i, d := range cfg.Virtio {
		sb = append(sb, e.device(fmt.Sprintf("V%03X", i),
			e.name("_HID", e.str(virtioHID)),
			e.name("_UID", integer(uint64(i))),
			e.name("_CRS", e.resourceTemplate(
				memory32Fixed(uint32(d.Base), uint32(d.Size)),
				extendedInterrupt(intFlags, d.GSI),
			)),
		))
	}
	// The DSDT's top level is the root scope, so "_SB_" means "\_SB_"
	// (iasl drops the backslash the same way). \_S5_ is {SLP_TYPa, SLP_TYPb};
	// a hardware-reduced platform uses only SLP_TYPa.
	body := concat(
		e.scope("_SB_", sb...),
		e.name("_S5_", e.pkgOf(integer(S5SleepType), integer(0))),
	)
	if e.err != nil {
		return nil, fmt.Errorf("acpi: DSDT: %w", e.err)
	}
	t := make([]byte, headerLen+len(body))
	copy(t[headerLen:], body)
	finishTable(t, "DSDT", dsdtRevision)
	return t, nil
}
