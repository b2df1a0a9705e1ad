package legacy

import "sync"

// I8042Size is the range an I8042 occupies: insert it once at port 0x60 with
// this size. Offset 0 is the data port (0x60), offset 4 the status/command
// port (0x64). Offsets 1-3 (0x61-0x63) belong to other chips; they read as
// all ones and drop writes. With KVM's in-kernel PIT, KVM handles port 0x61
// itself and such accesses never reach this device.
const I8042Size = 5

// Port offsets inside the I8042 range.
const (
	i8042DataOff   = 0
	i8042StatusOff = 4
)

// Status register bits.
const (
	i8042StatusOBF    = 0x01 // output buffer full: data for the guest
	i8042StatusSys    = 0x04 // system flag: self test passed
	i8042StatusCmd    = 0x08 // last write was to the command port
	i8042StatusUnlock = 0x10 // keyboard not locked (Linux warns otherwise)
)

// Controller command bytes (written to port 0x64).
const (
	i8042CmdReadCTR     = 0x20
	i8042CmdWriteCTR    = 0x60
	i8042CmdAuxDisable  = 0xa7
	i8042CmdAuxEnable   = 0xa8
	i8042CmdAuxTest     = 0xa9
	i8042CmdSelfTest    = 0xaa
	i8042CmdKbdTest     = 0xab
	i8042CmdKbdDisable  = 0xad
	i8042CmdKbdEnable   = 0xae
	i8042CmdReadOutput  = 0xd0
	i8042CmdWriteOutput = 0xd1
	i8042CmdKbdLoop     = 0xd2
	i8042CmdAuxLoop     = 0xd3
	i8042CmdAuxSend     = 0xd4
	i8042CmdPulseFirst  = 0xf0 // 0xf0-0xff pulse output port bits 0-3 low
	i8042CmdPulseReset  = 0xfe // pulse bit 0 only: the CPU reset line
)

// Controller configuration byte (CTR) bits.
const (
	i8042CtrKbdInt = 0x01
	i8042CtrSys    = 0x04
	i8042CtrKbdDis = 0x10
	i8042CtrAuxDis = 0x20
	i8042CtrXlate  = 0x40
)

// Replies.
const (
	i8042SelfTestOK  = 0x55
	i8042PortTestOK  = 0x00
	i8042AuxTestFail = 0x01 // "clock line stuck low": tells Linux there is no AUX port
	i8042AuxLoopNone = 0x00 // what the AUX loop returns: never the echoed byte
	i8042OutResetBit = 0x01 // output port bit 0: CPU reset, active low
	i8042OutA20      = 0x02
	i8042OutputReset = i8042OutResetBit | i8042OutA20 // output port at power-on
	i8042CtrReset    = i8042CtrKbdInt | i8042CtrSys | i8042CtrXlate
	i8042OutQueueMax = 16 // the controller's buffer, as Linux's flush assumes
)

// I8042 is the smallest keyboard controller Linux is happy with. It has no
// keyboard and no mouse; it answers the controller commands Linux's i8042
// driver sends at probe time at once (no timeouts), reports the AUX port
// absent, and swallows bytes meant for the keyboard. Its one real job is the
// reset line: command 0xfe, or clearing output-port bit 0 with command 0xd1,
// calls OnReset.
//
// The device raises no interrupts: a keyboard driver that waits for an ACK
// (atkbd) times out in the background and gives up quietly.
type I8042 struct {
	// OnReset is called when the guest pulses the CPU reset line. It may be
	// nil. It is called without the device lock held.
	OnReset func()

	mu      sync.Mutex
	ctr     byte
	outPort byte
	pending byte   // command waiting for its data byte, 0 if none
	out     []byte // replies waiting to be read from port 0x60
	lastOut byte   // what port 0x60 reads when nothing is queued
	lastCmd bool   // status bit 3
}

// NewI8042 returns a controller in its power-on state.
func NewI8042(onReset func()) *I8042 {
	return &I8042{OnReset: onReset, ctr: i8042CtrReset, outPort: i8042OutputReset}
}

// Read implements machine.Device. Only single bytes at offsets 0 and 4 mean
// anything; a wider access reads each covered port in turn.
func (k *I8042) Read(off uint64, p []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range p {
		p[i] = k.readPort(off + uint64(i))
	}
}

func (k *I8042) readPort(off uint64) byte {
	switch off {
	case i8042DataOff:
		if len(k.out) > 0 {
			k.lastOut = k.out[0]
			k.out = k.out[1:]
		}
		return k.lastOut
	case i8042StatusOff:
		v := byte(i8042StatusSys | i8042StatusUnlock)
		if len(k.out) > 0 {
			v |= i8042StatusOBF
		}
		if k.lastCmd {
			v |= i8042StatusCmd
		}
		return v
	}
	return 0xff
}

// Write implements machine.Device.
func (k *I8042) Write(off uint64, p []byte) {
	k.mu.Lock()
	reset := false
	for i, b := range p {
		switch off + uint64(i) {
		case i8042DataOff:
			reset = k.writeData(b) || reset
		case i8042StatusOff:
			reset = k.command(b) || reset
		}
	}
	k.mu.Unlock()
	if reset && k.OnReset != nil {
		k.OnReset()
	}
}

// command runs a controller command; it reports whether the CPU was reset.
func (k *I8042) command(c byte) bool {
	k.lastCmd = true
	k.pending = 0
	switch c {
	case i8042CmdReadCTR:
		k.reply(k.ctr)
	case i8042CmdWriteCTR, i8042CmdWriteOutput, i8042CmdKbdLoop, i8042CmdAuxLoop, i8042CmdAuxSend:
		k.pending = c
	case i8042CmdAuxDisable:
		k.ctr |= i8042CtrAuxDis
	case i8042CmdAuxEnable:
		k.ctr &^= i8042CtrAuxDis
	case i8042CmdAuxTest:
		k.reply(i8042AuxTestFail)
	case i8042CmdSelfTest:
		k.reply(i8042SelfTestOK)
	case i8042CmdKbdTest:
		k.reply(i8042PortTestOK)
	case i8042CmdKbdDisable:
		k.ctr |= i8042CtrKbdDis
	case i8042CmdKbdEnable:
		k.ctr &^= i8042CtrKbdDis
	case i8042CmdReadOutput:
		k.reply(k.outPort)
	default:
		if c >= i8042CmdPulseFirst {
			// Bits 0-3 of the command that are clear are pulsed low;
			// bit 0 is the reset line.
			return c&i8042OutResetBit == 0
		}
	}
	return false
}

// writeData takes a byte written to port 0x60; it reports a CPU reset.
func (k *I8042) writeData(b byte) bool {
	k.lastCmd = false
	cmd := k.pending
	k.pending = 0
	switch cmd {
	case i8042CmdWriteCTR:
		k.ctr = b
	case i8042CmdWriteOutput:
		k.outPort = b
		return b&i8042OutResetBit == 0
	case i8042CmdKbdLoop:
		k.reply(b)
	case i8042CmdAuxLoop:
		k.reply(i8042AuxLoopNone)
	}
	// i8042CmdAuxSend and plain keyboard bytes: no device is attached.
	return false
}

func (k *I8042) reply(b byte) {
	if len(k.out) < i8042OutQueueMax {
		k.out = append(k.out, b)
	}
}
