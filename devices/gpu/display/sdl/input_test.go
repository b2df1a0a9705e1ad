//go:build cgo

package sdl

import (
	"slices"
	"testing"

	"github.com/govm/govm/devices/input"
	"github.com/veandco/go-sdl2/sdl"
)

func key(typ uint32, repeat uint8, sc sdl.Scancode) *sdl.KeyboardEvent {
	return &sdl.KeyboardEvent{Type: typ, Repeat: repeat, Keysym: sdl.Keysym{Scancode: sc}}
}

func TestKeyEvents(t *testing.T) {
	tests := []struct {
		name string
		ev   *sdl.KeyboardEvent
		want []input.Event
	}{
		{"press", key(sdl.KEYDOWN, 0, sdl.SCANCODE_A), []input.Event{{Type: input.EvKey, Code: 30, Value: 1}, input.Syn}},
		{"repeat", key(sdl.KEYDOWN, 1, sdl.SCANCODE_A), []input.Event{{Type: input.EvKey, Code: 30, Value: 2}, input.Syn}},
		{"release", key(sdl.KEYUP, 0, sdl.SCANCODE_RETURN), []input.Event{{Type: input.EvKey, Code: 28, Value: 0}, input.Syn}},
		{"unmapped", key(sdl.KEYDOWN, 0, sdl.SCANCODE_KP_HEXADECIMAL), nil},
	}
	for _, tt := range tests {
		if got := keyEvents(tt.ev); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPointerEvents(t *testing.T) {
	// A 640x400 frame in a 1000x400 window: bars of 180 on each side.
	view := letterbox(1000, 400, 640, 400)
	abs := func(x, y int32) []input.Event {
		return []input.Event{{Type: input.EvAbs, Code: input.AbsX, Value: x}, {Type: input.EvAbs, Code: input.AbsY, Value: y}}
	}
	tests := []struct {
		name string
		ev   sdl.Event
		want []input.Event
	}{
		{"top left of frame", &sdl.MouseMotionEvent{Type: sdl.MOUSEMOTION, X: 180, Y: 0}, append(abs(0, 0), input.Syn)},
		{"bottom right of frame", &sdl.MouseMotionEvent{Type: sdl.MOUSEMOTION, X: 819, Y: 399}, append(abs(input.AbsMax, input.AbsMax), input.Syn)},
		{"on the left bar", &sdl.MouseMotionEvent{Type: sdl.MOUSEMOTION, X: 5, Y: 399}, append(abs(0, input.AbsMax), input.Syn)},
		{"left press", &sdl.MouseButtonEvent{Type: sdl.MOUSEBUTTONDOWN, Button: sdl.BUTTON_LEFT, State: sdl.PRESSED, X: 180, Y: 0},
			append(abs(0, 0), input.Event{Type: input.EvKey, Code: input.BtnLeft, Value: 1}, input.Syn)},
		{"right release", &sdl.MouseButtonEvent{Type: sdl.MOUSEBUTTONUP, Button: sdl.BUTTON_RIGHT, State: sdl.RELEASED, X: 180, Y: 0},
			append(abs(0, 0), input.Event{Type: input.EvKey, Code: input.BtnRight, Value: 0}, input.Syn)},
		{"middle press", &sdl.MouseButtonEvent{Type: sdl.MOUSEBUTTONDOWN, Button: sdl.BUTTON_MIDDLE, State: sdl.PRESSED, X: 180, Y: 0},
			append(abs(0, 0), input.Event{Type: input.EvKey, Code: input.BtnMiddle, Value: 1}, input.Syn)},
		{"side button", &sdl.MouseButtonEvent{Type: sdl.MOUSEBUTTONDOWN, Button: sdl.BUTTON_X1, State: sdl.PRESSED}, nil},
		{"wheel up", &sdl.MouseWheelEvent{Type: sdl.MOUSEWHEEL, Y: 1}, []input.Event{{Type: input.EvRel, Code: input.RelWheel, Value: 1}, input.Syn}},
		{"wheel flipped", &sdl.MouseWheelEvent{Type: sdl.MOUSEWHEEL, Y: 2, Direction: sdl.MOUSEWHEEL_FLIPPED}, []input.Event{{Type: input.EvRel, Code: input.RelWheel, Value: -2}, input.Syn}},
		{"horizontal wheel", &sdl.MouseWheelEvent{Type: sdl.MOUSEWHEEL, X: 1}, nil},
		{"other event", &sdl.TextInputEvent{Type: sdl.TEXTINPUT}, nil},
	}
	for _, tt := range tests {
		if got := pointerEvents(tt.ev, view); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWindowLoopEvents feeds events to the loop's handler that need no
// display: closing twice, and keys released when the focus goes.
func TestWindowLoopEvents(t *testing.T) {
	w := &Window{events: make(chan input.Event, eventQueueLen), closed: make(chan struct{})}
	closeEv := &sdl.WindowEvent{Type: sdl.WINDOWEVENT, Event: sdl.WINDOWEVENT_CLOSE}
	if err := w.handle(closeEv); err != nil {
		t.Fatalf("first close: %v", err)
	}
	select {
	case <-w.Closed():
	default:
		t.Fatal("Closed() not closed after a close request")
	}
	if err := w.handle(&sdl.QuitEvent{Type: sdl.QUIT}); err != ErrForceQuit {
		t.Fatalf("second close = %v, want ErrForceQuit", err)
	}

	for _, ev := range []sdl.Event{
		key(sdl.KEYDOWN, 0, sdl.SCANCODE_LCTRL),
		key(sdl.KEYDOWN, 0, sdl.SCANCODE_C),
		key(sdl.KEYUP, 0, sdl.SCANCODE_C),
		&sdl.WindowEvent{Type: sdl.WINDOWEVENT, Event: sdl.WINDOWEVENT_FOCUS_LOST},
	} {
		if err := w.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []input.Event
	for len(w.events) > 0 {
		got = append(got, <-w.events)
	}
	want := []input.Event{
		{Type: input.EvKey, Code: 29, Value: 1}, input.Syn,
		{Type: input.EvKey, Code: 46, Value: 1}, input.Syn,
		{Type: input.EvKey, Code: 46, Value: 0}, input.Syn,
		{Type: input.EvKey, Code: 29, Value: 0}, input.Syn, // released on focus loss
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// TestSendDropsWhenFull checks that a full queue drops whole groups and
// never blocks.
func TestSendDropsWhenFull(t *testing.T) {
	w := &Window{events: make(chan input.Event, 3)}
	group := []input.Event{{Type: input.EvKey, Code: 30, Value: 1}, input.Syn}
	w.send(group)
	w.send(group) // only one slot left: dropped
	if len(w.events) != 2 {
		t.Fatalf("queue holds %d events, want 2", len(w.events))
	}
}
