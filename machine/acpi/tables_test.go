package acpi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

const testBase = 0xe0000 // machine.ACPIStart

// govmConfig mirrors the machine's layout (machine/layout.go).
func govmConfig(cpus, virtio int) Config {
	c := Config{
		CPUs:             cpus,
		LAPICAddr:        0xfee00000,
		IOAPICAddr:       0xfec00000,
		SleepControlPort: 0x3c0,
		SleepStatusPort:  0x3c1,
		ResetPort:        0x3c2,
		ResetValue:       1,
		COM1:             true,
	}
	for i := range virtio {
		c.Virtio = append(c.Virtio, MMIODevice{Base: 0xd0000000 + uint64(i)*0x1000, Size: 0x1000, GSI: 5 + uint32(i)})
	}
	return c
}

func sum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return s
}

// parsed is the blob walked the way a guest walks it: from the RSDP.
type parsed struct {
	rsdp                   []byte
	xsdt, fadt, madt, dsdt []byte
}

// table returns the table at guest-physical addr, checking its bounds,
// length and checksum.
func table(t *testing.T, blob []byte, addr uint64, sig string) []byte {
	t.Helper()
	if addr < testBase || addr-testBase+headerLen > uint64(len(blob)) {
		t.Fatalf("%s at %#x is outside the blob", sig, addr)
	}
	off := addr - testBase
	n := uint64(binary.LittleEndian.Uint32(blob[off+hdrOffLength:]))
	if n < headerLen || off+n > uint64(len(blob)) {
		t.Fatalf("%s length %d overruns the blob", sig, n)
	}
	tb := blob[off : off+n]
	if string(tb[:4]) != sig {
		t.Fatalf("table at %#x is %q, want %q", addr, tb[:4], sig)
	}
	if s := sum(tb); s != 0 {
		t.Errorf("%s checksum: bytes sum to %#x, want 0", sig, s)
	}
	if string(tb[hdrOffOEMID:hdrOffOEMID+6]) != "GOVM  " {
		t.Errorf("%s OEM ID %q", sig, tb[hdrOffOEMID:hdrOffOEMID+6])
	}
	return tb
}

func walk(t *testing.T, cfg Config) parsed {
	t.Helper()
	blob, rsdp, err := Build(cfg, testBase)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if rsdp != testBase {
		t.Fatalf("rsdp = %#x, want base %#x", rsdp, testBase)
	}
	if len(blob) > MaxBlobSize {
		t.Fatalf("blob is %d bytes", len(blob))
	}
	var p parsed
	p.rsdp = blob[:rsdpLen]
	if string(p.rsdp[:8]) != "RSD PTR " || p.rsdp[rsdpOffRevision] != 2 {
		t.Fatalf("RSDP header % x", p.rsdp[:16])
	}
	if s := sum(p.rsdp[:20]); s != 0 {
		t.Errorf("RSDP checksum (20 bytes) sums to %#x", s)
	}
	if s := sum(p.rsdp); s != 0 {
		t.Errorf("RSDP extended checksum (36 bytes) sums to %#x", s)
	}
	if n := binary.LittleEndian.Uint32(p.rsdp[rsdpOffLength:]); n != rsdpLen {
		t.Errorf("RSDP length %d", n)
	}
	p.xsdt = table(t, blob, binary.LittleEndian.Uint64(p.rsdp[rsdpOffXSDT:]), "XSDT")
	if len(p.xsdt) != headerLen+2*xsdtEntryLen {
		t.Fatalf("XSDT length %d", len(p.xsdt))
	}
	p.fadt = table(t, blob, binary.LittleEndian.Uint64(p.xsdt[headerLen:]), "FACP")
	p.madt = table(t, blob, binary.LittleEndian.Uint64(p.xsdt[headerLen+8:]), "APIC")
	p.dsdt = table(t, blob, binary.LittleEndian.Uint64(p.fadt[fadtOffXDSDT:]), "DSDT")
	return p
}

func TestTables(t *testing.T) {
	for _, c := range []struct{ cpus, virtio int }{{1, 0}, {2, 3}, {MaxCPUs, 19}} {
		t.Run(fmt.Sprintf("%dcpu_%dvirtio", c.cpus, c.virtio), func(t *testing.T) {
			cfg := govmConfig(c.cpus, c.virtio)
			p := walk(t, cfg)
			if len(p.fadt) != 276 || p.fadt[hdrOffRevision] != 6 {
				t.Errorf("FADT length %d revision %d, want 276, 6", len(p.fadt), p.fadt[hdrOffRevision])
			}
			if want := 44 + 8*c.cpus + 12; len(p.madt) != want {
				t.Errorf("MADT length %d, want %d", len(p.madt), want)
			}
			if cnt := bytes.Count(p.dsdt, []byte("LNRO0005")); cnt != c.virtio {
				t.Errorf("DSDT has %d LNRO0005 devices, want %d", cnt, c.virtio)
			}
		})
	}
}

// The FADT field offsets, pinned against ACPI 6.5 table 5.9 (and iasl's
// FADT disassembly, which prints each field's offset).
func TestFADTLayout(t *testing.T) {
	offsets := []struct {
		name      string
		got, want int
	}{
		{"DSDT", fadtOffDSDT, 40},
		{"IAPC_BOOT_ARCH", fadtOffIAPCBootArch, 109},
		{"Flags", fadtOffFlags, 112},
		{"RESET_REG", fadtOffResetReg, 116},
		{"RESET_VALUE", fadtOffResetValue, 128},
		{"FADT Minor Version", fadtOffMinorVersion, 131},
		{"X_DSDT", fadtOffXDSDT, 140},
		{"SLEEP_CONTROL_REG", fadtOffSleepControlReg, 244},
		{"SLEEP_STATUS_REG", fadtOffSleepStatusReg, 256},
		{"HYPERVISOR_VENDOR", fadtOffHypervisorVendor, 268},
		{"length", fadtLen, 276},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("FADT %s at %d, want %d", o.name, o.got, o.want)
		}
	}

	cfg := govmConfig(2, 1)
	cfg.ResetValue = 0x6
	p := walk(t, cfg)
	f := p.fadt
	if got := binary.LittleEndian.Uint32(f[fadtOffFlags:]); got&(1<<20) == 0 || got&(1<<10) == 0 {
		t.Errorf("FADT flags %#x lack HW_REDUCED_ACPI (bit 20) or RESET_REG_SUP (bit 10)", got)
	}
	gas := func(off int, port uint16) {
		t.Helper()
		want := []byte{1, 8, 0, 1, byte(port), byte(port >> 8), 0, 0, 0, 0, 0, 0} // SystemIO, 8 bits, byte access
		if !bytes.Equal(f[off:off+gasLen], want) {
			t.Errorf("GAS at %d = % x, want % x", off, f[off:off+gasLen], want)
		}
	}
	gas(fadtOffResetReg, 0x3c2)
	gas(fadtOffSleepControlReg, 0x3c0)
	gas(fadtOffSleepStatusReg, 0x3c1)
	if f[fadtOffResetValue] != 0x6 {
		t.Errorf("RESET_VALUE %#x", f[fadtOffResetValue])
	}
	if got := binary.LittleEndian.Uint16(f[fadtOffIAPCBootArch:]); got != 1<<2 {
		t.Errorf("IAPC_BOOT_ARCH %#x, want VGA not present only", got)
	}
	cfg.NoCMOSRTC = true
	if got := binary.LittleEndian.Uint16(walk(t, cfg).fadt[fadtOffIAPCBootArch:]); got != 1<<2|1<<5 {
		t.Errorf("IAPC_BOOT_ARCH with NoCMOSRTC %#x, want VGA and CMOS RTC not present", got)
	}
	if got := string(f[fadtOffHypervisorVendor:]); got != "GOVM\x00\x00\x00\x00" {
		t.Errorf("hypervisor vendor %q", got)
	}
	if got := binary.LittleEndian.Uint32(f[fadtOffDSDT:]); got != 0 {
		t.Errorf("32-bit DSDT = %#x, want 0 with X_DSDT set", got)
	}
	// No FACS, no PM blocks, no SCI on a hardware-reduced platform.
	if !bytes.Equal(f[36:40], make([]byte, 4)) || !bytes.Equal(f[44:88], make([]byte, 44)) {
		t.Errorf("FADT legacy fields are not zero")
	}
}

func TestMADT(t *testing.T) {
	cfg := govmConfig(3, 0)
	cfg.IOAPICGSIBase = 0
	m := walk(t, cfg).madt
	if got := binary.LittleEndian.Uint32(m[36:]); got != 0xfee00000 {
		t.Errorf("LAPIC address %#x", got)
	}
	if got := binary.LittleEndian.Uint32(m[40:]); got != 0 {
		t.Errorf("MADT flags %#x, want 0 (no PCAT_COMPAT)", got)
	}
	for i := range 3 {
		e := m[44+8*i : 52+8*i]
		want := []byte{0, 8, byte(i), byte(i), 1, 0, 0, 0}
		if !bytes.Equal(e, want) {
			t.Errorf("LAPIC entry %d = % x, want % x", i, e, want)
		}
	}
	io := m[44+24:]
	want := []byte{1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0}
	if !bytes.Equal(io, want) {
		t.Errorf("IOAPIC entry = % x, want % x", io, want)
	}
}

func TestBuildRejects(t *testing.T) {
	mod := func(f func(*Config)) Config {
		c := govmConfig(2, 2)
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		base uint64
		want error
	}{
		{"no CPUs", mod(func(c *Config) { c.CPUs = 0 }), testBase, ErrConfig},
		{"negative CPUs", mod(func(c *Config) { c.CPUs = -1 }), testBase, ErrConfig},
		{"256 CPUs", mod(func(c *Config) { c.CPUs = 256 }), testBase, ErrConfig},
		{"no LAPIC", mod(func(c *Config) { c.LAPICAddr = 0 }), testBase, ErrConfig},
		{"ports apart", mod(func(c *Config) { c.ResetPort = 0xcf9 }), testBase, ErrConfig},
		{"no ports", mod(func(c *Config) { c.SleepControlPort, c.SleepStatusPort, c.ResetPort = 0, 1, 2 }), testBase, ErrConfig},
		{"status port wraps", mod(func(c *Config) { c.SleepControlPort, c.SleepStatusPort, c.ResetPort = 0xffff, 0, 1 }), testBase, ErrConfig},
		{"empty window", mod(func(c *Config) { c.Virtio[0].Size = 0 }), testBase, ErrConfig},
		{"window above 4G", mod(func(c *Config) { c.Virtio[0].Base = 1 << 32 }), testBase, ErrConfig},
		{"window crosses 4G", mod(func(c *Config) { c.Virtio[0].Base = 1<<32 - 0x800 }), testBase, ErrConfig},
		{"windows overlap", mod(func(c *Config) { c.Virtio[1].Base = c.Virtio[0].Base + 0x800 }), testBase, ErrConfig},
		{"GSI shared", mod(func(c *Config) { c.Virtio[1].GSI = c.Virtio[0].GSI }), testBase, ErrConfig},
		{"GSI of COM1", mod(func(c *Config) { c.Virtio[0].GSI = 4 }), testBase, ErrConfig},
		{"GSI below IOAPIC", mod(func(c *Config) { c.IOAPICGSIBase = 6; c.COM1 = false }), testBase, ErrConfig},
		{"power button on COM1's GSI", mod(func(c *Config) { c.PowerButtonGSI = 4 }), testBase, ErrConfig},
		{"power button on a virtio GSI", mod(func(c *Config) { c.PowerButtonGSI = c.Virtio[1].GSI }), testBase, ErrConfig},
		{"power button below IOAPIC", mod(func(c *Config) { c.IOAPICGSIBase = 8; c.COM1 = false; c.PowerButtonGSI = 7 }), testBase, ErrConfig},
		{"too many names", govmConfig(1, maxDevNames+1), testBase, ErrConfig},
		{"blob too large", govmConfig(MaxCPUs, 2000), testBase, ErrTooLarge},
		{"base unaligned", govmConfig(1, 0), testBase + 8, ErrConfig},
		{"base wraps", govmConfig(1, 0), ^uint64(0) &^ 15, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob, _, err := Build(tt.cfg, tt.base)
			if !errors.Is(err, tt.want) || blob != nil {
				t.Errorf("Build error = %v (blob %d bytes), want %v", err, len(blob), tt.want)
			}
		})
	}
	// A GSI sharing is fine once COM1 is gone.
	if _, _, err := Build(mod(func(c *Config) { c.Virtio[0].GSI = 4; c.COM1 = false }), testBase); err != nil {
		t.Errorf("GSI 4 without COM1: %v", err)
	}
}

// The edge option changes only the Extended Interrupt flags.
func TestVirtioEdgeTriggered(t *testing.T) {
	cfg := govmConfig(1, 1)
	level := walk(t, cfg).dsdt
	cfg.VirtioEdgeTriggered = true
	edge := walk(t, cfg).dsdt
	lv := []byte{tagExtInterrupt, 6, 0, intConsumer, 1, 5}
	ed := []byte{tagExtInterrupt, 6, 0, intConsumer | intEdge, 1, 5}
	if !bytes.Contains(level, lv) || !bytes.Contains(edge, ed) {
		t.Errorf("interrupt descriptors: level %v, edge %v", bytes.Contains(level, lv), bytes.Contains(edge, ed))
	}
}

// PowerButtonGSI adds exactly the GED and the PNP0C0C device, and only
// them: the rest of the DSDT is unchanged.
func TestPowerButtonDevices(t *testing.T) {
	cfg := govmConfig(2, 2)
	without := walk(t, cfg).dsdt
	cfg.PowerButtonGSI = 23
	with := walk(t, cfg).dsdt
	var e encoder
	devs := concat(e.powerButtonDevices(23)...)
	if e.err != nil {
		t.Fatal(e.err)
	}
	if !bytes.Contains(with, devs) || bytes.Contains(without, []byte(gedHID)) {
		t.Fatalf("power button devices: in DSDT with GSI %v, in DSDT without %v",
			bytes.Contains(with, devs), bytes.Contains(without, []byte(gedHID)))
	}
	// The Scope's PkgLength grows by up to one byte; so does the table.
	if d := len(with) - len(without); d < len(devs) || d > len(devs)+1 {
		t.Errorf("DSDT grew by %d bytes for %d bytes of devices", d, len(devs))
	}
	edge := []byte{tagExtInterrupt, 6, 0, intConsumer | intEdge, 1, 23, 0, 0, 0}
	if !bytes.Contains(devs, edge) {
		t.Errorf("GED interrupt is not Edge/ActiveHigh/Exclusive GSI 23: % x", devs)
	}
}

func FuzzBuild(f *testing.F) {
	f.Add(uint8(1), uint8(0), false, uint16(0x3c0), uint32(0))
	f.Add(uint8(2), uint8(3), true, uint16(0x3c0), uint32(0))
	f.Add(uint8(255), uint8(24), true, uint16(0xfffe), uint32(4))
	f.Fuzz(func(t *testing.T, cpus, virtio uint8, com1 bool, port uint16, gsiBase uint32) {
		cfg := govmConfig(int(cpus), int(virtio))
		cfg.COM1 = com1
		cfg.SleepControlPort, cfg.SleepStatusPort, cfg.ResetPort = port, port+1, port+2
		cfg.IOAPICGSIBase = gsiBase % 8
		cfg.PowerButtonGSI = (gsiBase >> 8) % 32
		blob, rsdp, err := Build(cfg, testBase)
		if err != nil {
			if !errors.Is(err, ErrConfig) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if rsdp != testBase || len(blob) > MaxBlobSize {
			t.Fatalf("rsdp %#x, %d bytes", rsdp, len(blob))
		}
		walk(t, cfg)
	})
}
