//go:build cgo

package sdl

import (
	"github.com/govm/govm/devices/input"
	"github.com/veandco/go-sdl2/sdl"
)

// Key event values (linux/input.h).
const (
	keyUp     = 0
	keyDown   = 1
	keyRepeat = 2
)

// keyEvents turns an SDL key event into an evdev key event and a SYN, or
// nothing for a key with no Linux code.
func keyEvents(e *sdl.KeyboardEvent) []input.Event {
	code := linuxKey(e.Keysym.Scancode)
	if code == 0 {
		return nil
	}
	value := int32(keyUp)
	if e.Type == sdl.KEYDOWN {
		value = keyDown
		if e.Repeat != 0 {
			value = keyRepeat
		}
	}
	return []input.Event{{Type: input.EvKey, Code: code, Value: value}, input.Syn}
}

// mouseButtons maps SDL buttons to evdev codes; others are ignored.
var mouseButtons = map[uint8]uint16{
	sdl.BUTTON_LEFT:   input.BtnLeft,
	sdl.BUTTON_RIGHT:  input.BtnRight,
	sdl.BUTTON_MIDDLE: input.BtnMiddle,
}

// pointerEvents turns SDL mouse events into absolute tablet events, with
// view the window area where the frame is shown (so the guest pointer is
// where the host pointer is on the frame). Other events give nothing.
func pointerEvents(ev sdl.Event, view rect) []input.Event {
	abs := func(x, y int32) []input.Event {
		return []input.Event{
			{Type: input.EvAbs, Code: input.AbsX, Value: absPos(int(x), view.X, view.W)},
			{Type: input.EvAbs, Code: input.AbsY, Value: absPos(int(y), view.Y, view.H)},
		}
	}
	switch e := ev.(type) {
	case *sdl.MouseMotionEvent:
		return append(abs(e.X, e.Y), input.Syn)
	case *sdl.MouseButtonEvent:
		code, ok := mouseButtons[e.Button]
		if !ok {
			return nil
		}
		value := int32(keyUp)
		if e.State == sdl.PRESSED {
			value = keyDown
		}
		// Send the position too, in case no motion came before the click.
		return append(abs(e.X, e.Y), input.Event{Type: input.EvKey, Code: code, Value: value}, input.Syn)
	case *sdl.MouseWheelEvent:
		y := e.Y
		if e.Direction == sdl.MOUSEWHEEL_FLIPPED {
			y = -y
		}
		if y == 0 {
			return nil
		}
		return []input.Event{{Type: input.EvRel, Code: input.RelWheel, Value: y}, input.Syn}
	}
	return nil
}
