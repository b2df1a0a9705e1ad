package machine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio/rng"
	"github.com/govm/govm/internal/testenv"
)

// runTestGuest boots the project's test guest on the host's /dev/kvm with
// cmdline and returns how it ended and what it printed.
func runTestGuest(t *testing.T, cmdline string, cpus int) (Result, string, *Machine) {
	t.Helper()
	testenv.RequireKVM(t)
	elf := testenv.TestGuest(t)
	var out bytes.Buffer
	m, err := New(Config{Kernel: elf, Cmdline: cmdline, Memory: 64 * MiB, CPUs: cpus, Console: &syncBuffer{b: &out}, Stats: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	done := make(chan Result, 1)
	go func() { done <- m.Run() }()
	select {
	case r := <-done:
		return r, out.String(), m
	case <-time.After(2 * time.Minute):
		m.Stop(99, "test timeout")
		<-done
		t.Fatalf("test guest %q did not finish; console so far:\n%s", cmdline, out.String())
	}
	return Result{}, "", nil
}

func TestTestGuestHello(t *testing.T) {
	r, out, m := runTestGuest(t, "hello", 1)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
	if !strings.Contains(out, "testguest: hello from ring 3") {
		t.Fatalf("console lacks the hello line:\n%s", out)
	}
	st := m.Stats()
	if st.Ports[COM1Port] == 0 || st.Ports[DebugExitPort] != 1 {
		t.Errorf("stats do not show the serial and debug-exit exits: %+v", st.Ports)
	}
}

func TestTestGuestExitStatus(t *testing.T) {
	r, out, _ := runTestGuest(t, "exit 42", 1)
	if r.Reason != StopDebugExit || r.Code != 42 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
}

func TestTestGuestPIOMarks(t *testing.T) {
	const n = 2000
	r, out, m := runTestGuest(t, "pio 2000", 1)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
	if got := m.Stats().Ports[BenchSinkPort]; got != n {
		t.Errorf("%d sink exits, want %d", got, n)
	}
	tm := m.Timing()
	if tm.MarkBegin == 0 || tm.MarkEnd <= tm.MarkBegin {
		t.Errorf("marks not recorded: %+v", tm)
	}
}

func TestTestGuestMMIO(t *testing.T) {
	r, out, m := runTestGuest(t, "mmio 500", 1)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
	if got := m.Stats().MMIO[BenchMMIOAddr]; got != 500 {
		t.Errorf("%d MMIO exits at %#x, want 500 (all: %v)", got, BenchMMIOAddr, m.Stats().MMIO)
	}
}

func TestTestGuestTwoCPUs(t *testing.T) {
	// The second vCPU waits for a SIPI that never comes; the machine must
	// still stop cleanly when the boot CPU exits.
	r, out, _ := runTestGuest(t, "hello", 2)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
}

// startBusyGuest boots the test guest on cpus vCPUs spinning in a port
// I/O loop of n exits, with the virtio devices devs, and runs it; the
// machine's Result comes on the channel.
func startBusyGuest(t *testing.T, n, cpus int, devs ...VirtioDevice) (*Machine, <-chan Result) {
	t.Helper()
	testenv.RequireKVM(t)
	elf := testenv.TestGuest(t)
	m, err := New(Config{Kernel: elf, Cmdline: fmt.Sprintf("pio %d", n), Memory: 64 * MiB, CPUs: cpus, Virtio: devs})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- m.Run() }()
	t.Cleanup(func() {
		m.Stop(0, "the test is over") // the first stop wins: a no-op if the test stopped it
		<-m.Done()
		m.Close()
	})
	return m, done
}

func TestStopInterruptsRunningGuest(t *testing.T) {
	m, done := startBusyGuest(t, 100000000, 1)
	time.Sleep(200 * time.Millisecond)
	stopAndWait(t, m, done, "Stop did not stop a busy guest")
}

// stopAndWait stops m with code 7 and checks that Run returns that stop,
// or fails with msg if it does not return within 30 s.
func stopAndWait(t *testing.T, m *Machine, done <-chan Result, msg string) {
	t.Helper()
	m.Stop(7, "stopped by test")
	select {
	case r := <-done:
		if r.Reason != StopRequested || r.Code != 7 {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal(msg)
	}
}

// WriteState after a stop describes the vCPU, the interrupt controllers
// and each virtio device.
func TestWriteState(t *testing.T) {
	m, done := startBusyGuest(t, 100000000, 1, VirtioDevice{Name: "virtio-rng", Dev: rng.New()})
	time.Sleep(200 * time.Millisecond)
	m.Stop(3, "timeout")
	<-done
	var b strings.Builder
	m.WriteState(&b)
	out := b.String()
	t.Log(out)
	for _, want := range []string{
		"vcpu 0: running, rip 0x", "ring 3", "code at rip: ", "(guest-physical 0x", "local APIC: pending vectors none",
		"IOAPIC", "virtio-rng (virtio-mmio at 0xd0000000, GSI 5):", "status 0x0 (reset)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("state lacks %q:\n%s", want, out)
		}
	}
}

// LiveState looks at a running guest and lets it go on; a pause that
// races with Stop neither hangs nor keeps the guest from stopping.
func TestLiveState(t *testing.T) {
	m, done := startBusyGuest(t, 1000000000, 2)
	exits := func() uint64 {
		var n uint64
		for _, c := range m.LiveExits() {
			n += c
		}
		return n
	}
	var last uint64
	for i := range 5 {
		time.Sleep(50 * time.Millisecond)
		var b strings.Builder
		if err := m.LiveState(&b); err != nil {
			t.Fatalf("pause %d: %v", i, err)
		}
		out := b.String()
		for _, want := range []string{"of uptime (vCPUs paused for this look)", "vcpu 0: ", "vcpu 1: ", "code at rip: "} {
			if !strings.Contains(out, want) {
				t.Fatalf("pause %d: state lacks %q:\n%s", i, want, out)
			}
		}
		// The guest went on running between the looks.
		n := exits()
		if i > 0 && n <= last {
			t.Fatalf("pause %d: exits %d, not more than %d at the pause before", i, n, last)
		}
		last = n
	}
	// A pause racing with Stop.
	errs := make(chan error, 1)
	go func() { errs <- m.LiveState(io.Discard) }()
	stopAndWait(t, m, done, "the machine did not stop while a pause was under way")
	if err := <-errs; err != nil && !errors.Is(err, ErrStopped) {
		t.Fatalf("LiveState racing Stop: %v", err)
	}
	if err := m.LiveState(io.Discard); !errors.Is(err, ErrStopped) {
		t.Fatalf("LiveState after the stop: %v, want ErrStopped", err)
	}
}
