package acpi

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// iasl runs the ACPICA compiler/disassembler (Debian: acpica-tools) in dir.
func iasl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("iasl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iasl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func needIASL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("iasl"); err != nil {
		t.Skip("iasl not installed (apt-get install acpica-tools)")
	}
}

// disassemble writes tbl to dir/name.dat and returns iasl's disassembly.
func disassemble(t *testing.T, dir, name string, tbl []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".dat"), tbl, 0o644); err != nil {
		t.Fatal(err)
	}
	iasl(t, dir, "-d", name+".dat")
	dsl, err := os.ReadFile(filepath.Join(dir, name+".dsl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(dsl)
}

// The DSDT disassembles to the devices we meant, and compiling that source
// back with iasl gives the very same AML.
func TestDSDTWithIASL(t *testing.T) {
	needIASL(t)
	for _, tc := range []struct {
		name         string
		cpus, virtio int
		powerButton  uint32
	}{
		{"small", 2, 3, 23},       // one-byte and two-byte PkgLengths
		{"large", MaxCPUs, 19, 0}, // a Scope over 4 KiB: three-byte PkgLength
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := govmConfig(tc.cpus, tc.virtio)
			cfg.PowerButtonGSI = tc.powerButton
			dsdt := walk(t, cfg).dsdt
			dsl := disassemble(t, dir, "dsdt", dsdt)
			if tc.powerButton != 0 {
				for _, want := range []string{
					`Name (_HID, "ACPI0013" /* Generic Event Device */)`,
					"Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n                {\n                    0x00000017,",
					"Method (_EVT, 1, NotSerialized)",
					"If ((Arg0 == 0x17))",
					`Notify (\_SB.PWRB, 0x80)`,
					`Device (PWRB)`,
					`Name (_HID, EisaId ("PNP0C0C") /* Power Button Device */)`,
				} {
					if !strings.Contains(dsl, want) {
						t.Errorf("disassembly lacks %q", want)
					}
				}
			} else if strings.Contains(dsl, "ACPI0013") || strings.Contains(dsl, "PNP0C0C") {
				t.Errorf("power button described though PowerButtonGSI is 0")
			}
			for _, want := range []string{
				`Name (_HID, "LNRO0005")`,
				"Memory32Fixed (ReadWrite,\n                    0xD0000000,",
				"Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )",
				`Name (_HID, EisaId ("PNP0501")`,
				"IRQNoFlags ()\n                    {4}",
				"IO (Decode16,\n                    0x03F8,",
				`Name (_HID, "ACPI0007"`,
				"Name (_S5, Package (0x02)  // _S5_: S5 System State\n    {\n        0x05, \n        Zero\n    })",
			} {
				if !strings.Contains(dsl, want) {
					t.Errorf("disassembly lacks %q", want)
				}
			}
			if n := strings.Count(dsl, `"LNRO0005"`); n != tc.virtio {
				t.Errorf("%d LNRO0005 devices, want %d", n, tc.virtio)
			}
			if n := strings.Count(dsl, `"ACPI0007"`); n != tc.cpus {
				t.Errorf("%d processor devices, want %d", n, tc.cpus)
			}
			// -on: keep name paths as written (iasl would shorten
			// Notify's \_SB.PWRB to PWRB, which resolves the same).
			out := iasl(t, dir, "-on", "-p", "re", "dsdt.dsl")
			if !strings.Contains(out, "0 Errors, 0 Warnings") {
				t.Errorf("recompiling the disassembly:\n%s", out)
			}
			re, err := os.ReadFile(filepath.Join(dir, "re.aml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(re[headerLen:], dsdt[headerLen:]) {
				t.Errorf("iasl recompiles the DSDT body differently:\nours % x\niasl % x", dsdt[headerLen:], re[headerLen:])
			}
		})
	}
}

// iasl's FADT and MADT disassembly prints each field with its offset: check
// the fields govm relies on.
func TestFADTAndMADTWithIASL(t *testing.T) {
	needIASL(t)
	dir := t.TempDir()
	p := walk(t, govmConfig(2, 1))
	fadt := disassemble(t, dir, "facp", p.fadt)
	for _, want := range []string{
		"[08Ch 0140   8]                 DSDT Address : 00000000000E",
		"[0F4h 0244  12]       Sleep Control Register : [Generic Address Structure]",
		"[0F8h 0248   8]                      Address : 00000000000003C0",
		"[100h 0256  12]        Sleep Status Register : [Generic Address Structure]",
		"[104h 0260   8]                      Address : 00000000000003C1",
		"[078h 0120   8]                      Address : 00000000000003C2",
		"[080h 0128   1]         Value to cause reset : 01",
		"[10Ch 0268   8]                Hypervisor ID : 000000004D564F47", // "GOVM"
		"Hardware Reduced (V5) : 1",
		"Reset Register Supported (V2) : 1",
	} {
		if !strings.Contains(fadt, want) {
			t.Errorf("FADT disassembly lacks %q", want)
		}
	}
	madt := disassemble(t, dir, "apic", p.madt)
	for _, want := range []string{
		"Local Apic Address : FEE00000",
		"PC-AT Compatibility : 0",
		"Local Apic ID : 01",
		"Processor Enabled : 1",
		"[I/O APIC]",
		"Address : FEC00000",
	} {
		if !strings.Contains(madt, want) {
			t.Errorf("MADT disassembly lacks %q", want)
		}
	}
	for name, dsl := range map[string]string{"FADT": fadt, "MADT": madt} {
		if strings.Contains(strings.ToLower(dsl), "invalid") || strings.Contains(dsl, "Error") {
			t.Errorf("%s disassembly reports a problem:\n%s", name, dsl)
		}
	}
}

// acpiexec runs ACPICA, the interpreter Linux uses, over the tables: it must
// load them, read SLP_TYP 5 from \_S5_, take the hardware-reduced (extended
// sleep register) path, and parse the virtio _CRS.
func TestTablesWithACPIExec(t *testing.T) {
	if _, err := exec.LookPath("acpiexec"); err != nil {
		t.Skip("acpiexec not installed (apt-get install acpica-tools)")
	}
	dir := t.TempDir()
	p := walk(t, govmConfig(2, 2))
	for name, tbl := range map[string][]byte{"facp": p.fadt, "dsdt": p.dsdt, "apic": p.madt} {
		if err := os.WriteFile(filepath.Join(dir, name+".dat"), tbl, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("acpiexec", "-b", `sleep 5; resources \_SB_.V001`, "facp.dat", "dsdt.dat", "apic.dat")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("acpiexec: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Sleep-A: 05",
		"HwExtendedSleep",
		"Entering sleep state [S5]",
		"Address : D0001000",
		"Triggering : Level",
		"Dword00 : 00000006",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("acpiexec output lacks %q:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte("ACPI Error")) || bytes.Contains(out, []byte("ACPI Warning")) {
		t.Errorf("acpiexec reports a problem:\n%s", out)
	}
}

// ACPICA runs the GED's _EVT the way Linux's evged driver does, with the GSI
// as argument: the power button's GSI notifies PWRB with 0x80, any other
// GSI does nothing.
func TestPowerButtonWithACPIExec(t *testing.T) {
	if _, err := exec.LookPath("acpiexec"); err != nil {
		t.Skip("acpiexec not installed (apt-get install acpica-tools)")
	}
	const gsi = 23
	dir := t.TempDir()
	cfg := govmConfig(1, 2)
	cfg.PowerButtonGSI = gsi
	p := walk(t, cfg)
	for name, tbl := range map[string][]byte{"facp": p.fadt, "dsdt": p.dsdt, "apic": p.madt} {
		if err := os.WriteFile(filepath.Join(dir, name+".dat"), tbl, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const notified = "Received a Device Notify on [PWRB]"
	for _, tc := range []struct {
		arg    int
		notify bool
	}{{gsi, true}, {5, false}, {0, false}} {
		cmd := exec.Command("acpiexec", "-b", fmt.Sprintf(`evaluate \_SB_.GED_._EVT %d`, tc.arg), "facp.dat", "dsdt.dat", "apic.dat")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("acpiexec: %v\n%s", err, out)
		}
		if got := bytes.Contains(out, []byte(notified)); got != tc.notify {
			t.Errorf("_EVT(%d): notified PWRB = %v, want %v:\n%s", tc.arg, got, tc.notify, out)
		}
		if tc.notify && !bytes.Contains(out, []byte("Value 0x80")) {
			t.Errorf("_EVT(%d): notification is not 0x80:\n%s", tc.arg, out)
		}
		if bytes.Contains(out, []byte("ACPI Error")) || bytes.Contains(out, []byte("ACPI Warning")) {
			t.Errorf("_EVT(%d): acpiexec reports a problem:\n%s", tc.arg, out)
		}
	}
}
