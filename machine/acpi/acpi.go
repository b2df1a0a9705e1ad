// Package acpi builds the ACPI tables govm hands an x86-64 Linux guest, and
// the small device behind the FADT's sleep and reset registers.
//
// The platform is hardware-reduced ACPI (like Firecracker and QEMU microvm):
// no PM1/GPE register blocks, no SCI, no FACS. The guest learns
//   - its CPUs and interrupt controllers from the MADT,
//   - its virtio-mmio devices (and optionally COM1) from the DSDT,
//   - how to power off from \_S5_ and the FADT SLEEP_CONTROL_REG,
//   - how to reboot from the FADT RESET_REG,
//   - optionally, a power button: a Generic Event Device whose interrupt
//     notifies a PNP0C0C device (ged.go).
//
// The blob Build returns is laid out as
//
//	RSDP | XSDT -> {FADT, MADT} | FADT -> DSDT | MADT | DSDT
//
// with the RSDP first, at the 16-byte aligned base the kernel scans.
package acpi

import (
	"errors"
	"fmt"
	"slices"
)

// Limits.
const (
	// MaxBlobSize is the room for the tables: 0xe0000-0xfffff.
	MaxBlobSize = 128 << 10
	// MaxCPUs is the most CPUs xAPIC MADT entries can describe: APIC IDs
	// are one byte and 0xff is the broadcast ID.
	MaxCPUs = 255
	// RSDPAlign is the alignment the kernel's RSDP scan expects.
	RSDPAlign  = 16
	tableAlign = 8 // tables after the RSDP start on 8-byte boundaries
	addr32Top  = 1 << 32
)

// Errors returned by Build.
var (
	ErrConfig   = errors.New("acpi: invalid config")
	ErrTooLarge = errors.New("acpi: tables do not fit")
)

// MMIODevice is one virtio-mmio window and its interrupt.
type MMIODevice struct {
	Base, Size uint64 // guest-physical window, below 4 GiB
	GSI        uint32 // IOAPIC input (global system interrupt)
}

// Config describes the machine the tables advertise.
type Config struct {
	CPUs                  int // 1..MaxCPUs; APIC IDs and ACPI UIDs are 0..CPUs-1
	LAPICAddr, IOAPICAddr uint32
	IOAPICGSIBase         uint32
	Virtio                []MMIODevice
	// VirtioEdgeTriggered describes the virtio interrupts as edge
	// triggered instead of level. Level (the default) is what virtio-mmio
	// means, but it is only right if the line stays asserted until the
	// guest acknowledges it (KVM irqfd with a resample fd, or KVM_IRQ_LINE
	// held high). A plain irqfd only pulses the pin; with a level-triggered
	// pin a pulse that arrives before the guest's EOI is lost, while an
	// edge-triggered one is latched by the LAPIC.
	VirtioEdgeTriggered bool

	// The hardware-reduced sleep and reset registers, 8-bit System I/O.
	// They must be contiguous: control, control+1 (status), control+2
	// (reset), which is how PowerDevice decodes them.
	SleepControlPort, SleepStatusPort uint16
	ResetPort                         uint16
	ResetValue                        uint8

	COM1 bool // describe a PNP0501 UART at 0x3f8, IRQ 4

	// PowerButtonGSI, when not 0, adds a power button: a Generic Event
	// Device with this edge-triggered, active-high GSI, and a PNP0C0C
	// device it notifies. Pulse the GSI to press the button.
	PowerButtonGSI uint32

	// NoCMOSRTC sets the FADT's "CMOS RTC not present" boot flag, so Linux
	// does not probe an MC146818 at ports 0x70/0x71. Set it when the
	// machine has none (the guest then takes wall-clock time from kvmclock).
	NoCMOSRTC bool
}

func (c *Config) validate() error {
	if c.CPUs < 1 || c.CPUs > MaxCPUs {
		return fmt.Errorf("%w: %d CPUs, want 1..%d", ErrConfig, c.CPUs, MaxCPUs)
	}
	if c.LAPICAddr == 0 || c.IOAPICAddr == 0 {
		return fmt.Errorf("%w: LAPIC/IOAPIC address not set", ErrConfig)
	}
	if c.SleepControlPort == 0 ||
		uint32(c.SleepStatusPort) != uint32(c.SleepControlPort)+SleepStatusOffset ||
		uint32(c.ResetPort) != uint32(c.SleepControlPort)+ResetOffset {
		return fmt.Errorf("%w: sleep control/status/reset ports %#x/%#x/%#x are not contiguous",
			ErrConfig, c.SleepControlPort, c.SleepStatusPort, c.ResetPort)
	}
	if len(c.Virtio) > maxDevNames {
		return fmt.Errorf("%w: %d virtio devices, at most %d", ErrConfig, len(c.Virtio), maxDevNames)
	}
	gsiUsed := map[uint32]bool{}
	if c.COM1 {
		if c.IOAPICGSIBase > com1IRQ {
			return fmt.Errorf("%w: COM1's IRQ %d is below IOAPIC GSI base %d", ErrConfig, com1IRQ, c.IOAPICGSIBase)
		}
		gsiUsed[com1IRQ] = true // ISA IRQs map 1:1 to GSIs: no overrides
	}
	if g := c.PowerButtonGSI; g != 0 {
		if g < c.IOAPICGSIBase {
			return fmt.Errorf("%w: power button GSI %d below IOAPIC GSI base %d", ErrConfig, g, c.IOAPICGSIBase)
		}
		if gsiUsed[g] {
			return fmt.Errorf("%w: power button GSI %d already used", ErrConfig, g)
		}
		gsiUsed[g] = true
	}
	windows := make([]MMIODevice, 0, len(c.Virtio))
	for i, d := range c.Virtio {
		if d.Size == 0 || d.Base >= addr32Top || d.Size > addr32Top-d.Base {
			return fmt.Errorf("%w: virtio %d window %#x+%#x is empty or not below 4 GiB", ErrConfig, i, d.Base, d.Size)
		}
		if d.GSI < c.IOAPICGSIBase {
			return fmt.Errorf("%w: virtio %d GSI %d below IOAPIC GSI base %d", ErrConfig, i, d.GSI, c.IOAPICGSIBase)
		}
		if gsiUsed[d.GSI] {
			return fmt.Errorf("%w: virtio %d GSI %d already used", ErrConfig, i, d.GSI)
		}
		gsiUsed[d.GSI] = true
		windows = append(windows, d)
	}
	slices.SortFunc(windows, func(a, b MMIODevice) int {
		switch {
		case a.Base < b.Base:
			return -1
		case a.Base > b.Base:
			return 1
		}
		return 0
	})
	for i := 1; i < len(windows); i++ {
		if p := windows[i-1]; p.Base+p.Size > windows[i].Base {
			return fmt.Errorf("%w: virtio windows at %#x and %#x overlap", ErrConfig, p.Base, windows[i].Base)
		}
	}
	return nil
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// Build returns the ACPI tables for cfg, packed to be copied to
// guest-physical address base, and the RSDP's address (== base).
func Build(cfg Config, base uint64) (blob []byte, rsdp uint64, err error) {
	if err := cfg.validate(); err != nil {
		return nil, 0, err
	}
	if base%RSDPAlign != 0 {
		return nil, 0, fmt.Errorf("%w: base %#x is not %d-byte aligned", ErrConfig, base, RSDPAlign)
	}
	dsdt, err := buildDSDT(&cfg)
	if err != nil {
		return nil, 0, err
	}
	madt := buildMADT(&cfg)

	const nXSDTEntries = 2 // FADT, MADT
	xsdtOff := alignUp(rsdpLen, tableAlign)
	fadtOff := alignUp(xsdtOff+headerLen+nXSDTEntries*xsdtEntryLen, tableAlign)
	madtOff := alignUp(fadtOff+fadtLen, tableAlign)
	dsdtOff := alignUp(madtOff+len(madt), tableAlign)
	end := dsdtOff + len(dsdt)
	if end > MaxBlobSize {
		return nil, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, end, MaxBlobSize)
	}
	if base > ^uint64(0)-uint64(end) {
		return nil, 0, fmt.Errorf("%w: base %#x + %d bytes wraps", ErrConfig, base, end)
	}
	at := func(off int) uint64 { return base + uint64(off) }

	blob = make([]byte, end)
	copy(blob, buildRSDP(at(xsdtOff)))
	copy(blob[xsdtOff:], buildXSDT(at(fadtOff), at(madtOff)))
	copy(blob[fadtOff:], buildFADT(fadtParams{
		dsdt:       at(dsdtOff),
		sleepCtl:   cfg.SleepControlPort,
		sleepSts:   cfg.SleepStatusPort,
		resetP:     cfg.ResetPort,
		resetValue: cfg.ResetValue,
		noRTC:      cfg.NoCMOSRTC,
	}))
	copy(blob[madtOff:], madt)
	copy(blob[dsdtOff:], dsdt)
	return blob, base, nil
}
