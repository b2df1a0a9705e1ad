// Package input carries keyboard and pointer events from a display window
// to the guest, in Linux evdev terms (linux/input-event-codes.h), which is
// also what virtio-input speaks.
package input

// Event is one evdev event: EV_KEY with a KEY_*/BTN_* code and value 1
// (press), 0 (release) or 2 (repeat); EV_ABS with ABS_X/ABS_Y in
// [0, AbsMax]; EV_REL; and EV_SYN/SYN_REPORT closing a group.
type Event struct {
	Type  uint16
	Code  uint16
	Value int32
}

// Event types and the codes govm uses.
const (
	EvSyn = 0x00
	EvKey = 0x01
	EvRel = 0x02
	EvAbs = 0x03

	SynReport = 0

	AbsX = 0x00
	AbsY = 0x01

	RelWheel = 0x08

	BtnLeft   = 0x110
	BtnRight  = 0x111
	BtnMiddle = 0x112

	KeyPower = 116

	// AbsMax is the top of the tablet's coordinate range: a window
	// position is scaled to [0, AbsMax] on each axis, so the guest pointer
	// follows the host pointer at any window size.
	AbsMax = 32767
)

// Syn is the event that ends a group.
var Syn = Event{Type: EvSyn, Code: SynReport}
