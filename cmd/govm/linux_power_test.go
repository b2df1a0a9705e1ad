package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timing of TestLinuxPowerButton.
const (
	// powerOffWithin is how long the guest may take to power off after the
	// first press.
	powerOffWithin = 30 * time.Second
	// pressEvery: a press that comes before the guest's acpid has opened
	// the "Power Button" input device is lost, as on real hardware, so the
	// test presses again.
	pressEvery = 5 * time.Second
	// readyWithin bounds the boot to the ready marker under nested KVM.
	readyWithin = 4 * time.Minute
)

// SIGPWR presses the ACPI power button: the guest (GED -> PNP0C0C -> the
// button driver's KEY_POWER -> busybox acpid -> poweroff -f) powers off,
// and govm exits 0.
func TestLinuxPowerButton(t *testing.T) {
	g := needLinuxGuest(t)
	// No govm.test: the guest sits at its shell until the button is pressed.
	// The init prints its uptime right after the marker: acpid is running.
	b := startBooted(t, g.govm, nil, "govm: uptime", readyWithin, "run", "--kernel", g.kernel, "--initrd", g.initrd,
		"--mem", "256M", "--timeout", "300s", "--append", cmdline(false))

	pressed := time.Now()
	deadline := time.After(powerOffWithin)
	presses := 0
	for {
		if err := b.cmd.Process.Signal(syscall.SIGPWR); err != nil {
			t.Fatalf("SIGPWR: %v", err)
		}
		presses++
		select {
		case <-b.exited:
			var ee *exec.ExitError
			if b.err != nil && !errors.As(b.err, &ee) {
				t.Fatal(b.err)
			}
			if b.err != nil {
				t.Fatalf("govm exit status %d after the power button, want 0\n%s", ee.ExitCode(), b.logs())
			}
			t.Logf("powered off %v after the first of %d presses", time.Since(pressed).Round(time.Millisecond), presses)
			// busybox acpid logs the action it ran to the console.
			if !strings.Contains(b.out.String(), "PWRF/00000080") {
				t.Errorf("the console does not show acpid's PWRF/00000080 action:\n%s", b.out.String())
			}
			return
		case <-deadline:
			t.Fatalf("the guest did not power off within %v of the first of %d presses\n%s",
				powerOffWithin, presses, b.logs())
		case <-time.After(pressEvery):
		}
	}
}
