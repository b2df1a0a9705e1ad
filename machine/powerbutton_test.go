package machine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

// The machine's ACPI tables describe the power button on PowerButtonGSI, and
// pressing it works on a live VM and fails cleanly on a closed one. (That a
// Linux guest powers off is cmd/govm's TestLinuxPowerButton.)
func TestPressPowerButton(t *testing.T) {
	testenv.RequireKVM(t)
	m, err := New(Config{Kernel: testenv.TestGuest(t), Cmdline: "hello", Memory: 64 * MiB, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	tables := make([]byte, ACPIEnd-ACPIStart)
	if _, err := m.Memory().ReadAt(tables, ACPIStart); err != nil {
		t.Fatal(err)
	}
	// Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {PowerButtonGSI}
	const extIRQ, extIRQLen, consumerEdge, oneIRQ = 0x89, 6, 0x03, 1
	irq := []byte{extIRQ, extIRQLen, 0, consumerEdge, oneIRQ, PowerButtonGSI, 0, 0, 0}
	for _, want := range [][]byte{[]byte("ACPI0013"), []byte("_EVT"), []byte("PWRB"), irq} {
		if !bytes.Contains(tables, want) {
			t.Errorf("guest ACPI tables lack % x (%q)", want, want)
		}
	}

	for range 2 { // a second press needs the falling edge of the first
		if err := m.PressPowerButton(); err != nil {
			t.Fatalf("PressPowerButton: %v", err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.PressPowerButton(); !errors.Is(err, ErrNoVM) {
		t.Errorf("PressPowerButton after Close: %v, want ErrNoVM", err)
	}
}
