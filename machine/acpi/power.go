package acpi

// Offsets of the hardware-reduced ACPI registers inside PowerDevice's port
// range, which starts at Config.SleepControlPort.
const (
	SleepControlOffset = 0
	SleepStatusOffset  = 1
	ResetOffset        = 2
	PowerPortsSize     = 3 // bytes of port space PowerDevice covers
)

// SLEEP_CONTROL_REG and SLEEP_STATUS_REG bits (ACPI 6.5 sections 4.8.3.7-8).
const (
	slpTypShift = 2
	slpTypMask  = 0x7 << slpTypShift
	slpEn       = 1 << 5
	wakSts      = 1 << 7 // SLEEP_STATUS: set on wake; write 1 to clear
)

// PowerDevice sits on the FADT's sleep control, sleep status and reset
// registers, three consecutive 8-bit I/O ports. It implements the machine
// bus's Device interface.
//
// Linux powers off (acpi_hw_extended_sleep) by writing WAK_STS to
// SLEEP_STATUS, then (SLP_TYP<<2)|SLP_EN to SLEEP_CONTROL, then polling
// SLEEP_STATUS for WAK_STS; it reboots (acpi_reset) by writing RESET_VALUE to
// RESET_REG.
//
// The callbacks run on the vCPU thread that made the access and may run more
// than once (a guest can write the registers again); they should only signal
// the VM loop. PowerDevice holds no state, so it is safe for concurrent use.
type PowerDevice struct {
	OnPowerOff func()
	OnReset    func()
	// ResetValue must equal the Config.ResetValue the FADT advertises.
	ResetValue uint8
}

// Read returns zero for every register: SLP_EN reads as 0, and WAK_STS is
// never set because the machine never wakes from a sleep state.
func (d *PowerDevice) Read(off uint64, p []byte) {
	clear(p)
}

// Write handles each byte as a write to the register at its offset, so a
// wider access that spans several registers still means something.
func (d *PowerDevice) Write(off uint64, p []byte) {
	for i, v := range p {
		reg := off + uint64(i)
		if reg < off {
			return // the access wrapped around: nothing up there
		}
		d.writeReg(reg, v)
	}
}

func (d *PowerDevice) writeReg(off uint64, v byte) {
	switch off {
	case SleepControlOffset:
		// Only S5 is offered (\_S5_); other sleep types are ignored.
		if v&slpEn != 0 && (v&slpTypMask)>>slpTypShift == S5SleepType && d.OnPowerOff != nil {
			d.OnPowerOff()
		}
	case SleepStatusOffset:
		// WAK_STS is write-1-to-clear and never set: nothing to do.
	case ResetOffset:
		if v == d.ResetValue && d.OnReset != nil {
			d.OnReset()
		}
	}
}
