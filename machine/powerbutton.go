package machine

import (
	"errors"
	"fmt"
)

// PowerButtonGSI is the IOAPIC input of the ACPI power button: the
// interrupt of the DSDT's Generic Event Device (see machine/acpi/ged.go).
// It is the IOAPIC's last pin, above the virtio devices' GSIs.
const PowerButtonGSI = 23

// ErrNoVM is returned by PressPowerButton on a machine that has been closed.
var ErrNoVM = errors.New("machine: the VM is closed")

// PressPowerButton presses and releases the guest's ACPI power button, as a
// user would press a PC's: it pulses the Generic Event Device's
// edge-triggered interrupt line. The guest then decides what to do; a Linux
// guest with the "button" driver sees KEY_POWER on its "Power Button" input
// device, and its acpid (or logind) usually powers off, which ends Run with
// StopPowerOff.
//
// It may be called from any goroutine while the machine runs, but not
// concurrently with Close. A press before the guest has bound its GED
// driver is lost, as on real hardware: press again.
func (m *Machine) PressPowerButton() error {
	if m.vm == nil {
		return fmt.Errorf("power button: %w", ErrNoVM)
	}
	// The IOAPIC latches the rising edge; the falling edge re-arms the pin
	// for the next press.
	for _, level := range []bool{true, false} {
		if err := m.vm.IRQLine(PowerButtonGSI, level); err != nil {
			return fmt.Errorf("power button: GSI %d: %w", PowerButtonGSI, err)
		}
	}
	return nil
}
