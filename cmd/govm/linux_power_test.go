package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"sync"
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

// lockedBuffer collects the console while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SIGPWR presses the ACPI power button: the guest (GED -> PNP0C0C -> the
// button driver's KEY_POWER -> busybox acpid -> poweroff -f) powers off,
// and govm exits 0.
func TestLinuxPowerButton(t *testing.T) {
	g := needLinuxGuest(t)
	// No govm.test: the guest sits at its shell until the button is pressed.
	cmd := exec.Command(g.govm, "run", "--kernel", g.kernel, "--initrd", g.initrd,
		"--mem", "256M", "--timeout", "300s", "--append", cmdline(false))
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once govm has exited, with its status in waitErr.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()

	// The init prints its uptime right after the marker: acpid is running.
	start := time.Now()
	for !strings.Contains(out.String(), "govm: uptime") {
		select {
		case <-exited:
			t.Fatalf("govm exited (%v) before the guest was ready\nstderr:\n%s\nconsole:\n%s", waitErr, errOut.String(), out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > readyWithin {
			t.Fatalf("no ready marker within %v\nconsole:\n%s", readyWithin, out.String())
		}
	}

	pressed := time.Now()
	deadline := time.After(powerOffWithin)
	presses := 0
	for {
		if err := cmd.Process.Signal(syscall.SIGPWR); err != nil {
			t.Fatalf("SIGPWR: %v", err)
		}
		presses++
		select {
		case <-exited:
			var ee *exec.ExitError
			if waitErr != nil && !errors.As(waitErr, &ee) {
				t.Fatal(waitErr)
			}
			if waitErr != nil {
				t.Fatalf("govm exit status %d after the power button, want 0\nstderr:\n%s\nconsole:\n%s",
					ee.ExitCode(), errOut.String(), out.String())
			}
			t.Logf("powered off %v after the first of %d presses", time.Since(pressed).Round(time.Millisecond), presses)
			// busybox acpid logs the action it ran to the console.
			if !strings.Contains(out.String(), "PWRF/00000080") {
				t.Errorf("the console does not show acpid's PWRF/00000080 action:\n%s", out.String())
			}
			return
		case <-deadline:
			t.Fatalf("the guest did not power off within %v of the first of %d presses\nstderr:\n%s\nconsole:\n%s",
				powerOffWithin, presses, errOut.String(), out.String())
		case <-time.After(pressEvery):
		}
	}
}
