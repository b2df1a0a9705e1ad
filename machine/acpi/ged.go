package acpi

// The power button of a hardware-reduced platform.
//
// A PC's power button is a "fixed feature": a bit in the PM1 event block
// that raises the SCI. Hardware-reduced ACPI has neither, so the button is
// a control-method device instead (ACPI 6.5 section 4.8.2.2.1.2): a
// PNP0C0C device that AML notifies. What runs that AML is the Generic Event
// Device (section 5.6.9), an ACPI0013 device whose _CRS lists interrupts;
// when one fires, the OS calls the GED's _EVT method with the interrupt's
// GSI. govm's DSDT says
//
//	Device (\_SB.GED_) {
//	    Name (_HID, "ACPI0013")
//	    Name (_CRS, ResourceTemplate () {
//	        Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {GSI}
//	    })
//	    Method (_EVT, 1) {
//	        If (Arg0 == GSI) { Notify (\_SB.PWRB, 0x80) }
//	    }
//	}
//	Device (\_SB.PWRB) { Name (_HID, EisaId ("PNP0C0C")) }
//
// In Linux, drivers/acpi/evged.c (always built in with ACPI) binds the GED
// and runs _EVT from a threaded interrupt handler; drivers/acpi/button.c
// (the "button" module) binds PNP0C0C and turns notification 0x80 into a
// KEY_POWER press and release on an input device named "Power Button".
//
// The interrupt is edge triggered: the VMM pulses the line (high, then low)
// and the IOAPIC latches the rising edge, so the VMM keeps no state and
// needs no acknowledgement from the guest. A level-triggered line would have
// to stay high until the guest said it had seen the event, which takes a
// status register the AML reads and clears; with one event source there is
// nothing such a register could tell the guest.
const (
	gedHID            = "ACPI0013" // Generic Event Device
	gedName           = "GED_"
	gedEventMethod    = "_EVT"
	gedEventArgs      = 1 // _EVT(GSI)
	powerButtonEISAID = "PNP0C0C"
	powerButtonPath   = `\_SB_.PWRB`
	powerButtonName   = "PWRB"

	// notifyButtonPressed is the device-specific notification a PNP0C0C
	// device gets when its button is pressed (ACPI 6.5 section 5.6.6,
	// "Device Object Notification Values": 0x80 for a power button).
	notifyButtonPressed = 0x80
)

// powerButtonDevices returns the GED and the power button for \_SB_, the
// GED wired to gsi.
func (e *encoder) powerButtonDevices(gsi uint32) [][]byte {
	ged := e.device(gedName,
		e.name("_HID", e.str(gedHID)),
		e.name("_CRS", e.resourceTemplate(extendedInterrupt(intEdge, gsi))),
		e.method(gedEventMethod, gedEventArgs,
			e.ifThen(lEqual(arg0(), integer(uint64(gsi))),
				e.notify(powerButtonPath, notifyButtonPressed),
			),
		),
	)
	pwrb := e.device(powerButtonName,
		e.name("_HID", e.eisaID(powerButtonEISAID)),
	)
	return [][]byte{ged, pwrb}
}
