//go:build cgo

package sdl

import (
	"testing"

	"github.com/veandco/go-sdl2/sdl"
)

func TestLinuxKeySamples(t *testing.T) {
	tests := []struct {
		sc   sdl.Scancode
		want uint16
	}{
		{sdl.SCANCODE_A, 30},        // KEY_A
		{sdl.SCANCODE_Z, 44},        // KEY_Z
		{sdl.SCANCODE_RETURN, 28},   // KEY_ENTER
		{sdl.SCANCODE_ESCAPE, 1},    // KEY_ESC
		{sdl.SCANCODE_LCTRL, 29},    // KEY_LEFTCTRL
		{sdl.SCANCODE_RALT, 100},    // KEY_RIGHTALT
		{sdl.SCANCODE_LGUI, 125},    // KEY_LEFTMETA
		{sdl.SCANCODE_F1, 59},       // KEY_F1
		{sdl.SCANCODE_F10, 68},      // KEY_F10
		{sdl.SCANCODE_F11, 87},      // KEY_F11
		{sdl.SCANCODE_F12, 88},      // KEY_F12
		{sdl.SCANCODE_UP, 103},      // KEY_UP
		{sdl.SCANCODE_LEFT, 105},    // KEY_LEFT
		{sdl.SCANCODE_KP_ENTER, 96}, // KEY_KPENTER
		{sdl.SCANCODE_KP_0, 82},     // KEY_KP0
		{sdl.SCANCODE_NONUSBACKSLASH, 86},
		{sdl.SCANCODE_PRINTSCREEN, 99}, // KEY_SYSRQ
		{sdl.SCANCODE_POWER, 116},      // KEY_POWER
		{sdl.SCANCODE_UNKNOWN, 0},
		{sdl.Scancode(len(linuxKeys)), 0},
		{sdl.Scancode(^uint32(0)), 0},
	}
	for _, tt := range tests {
		if got := linuxKey(tt.sc); got != tt.want {
			t.Errorf("linuxKey(%d) = %d, want %d", tt.sc, got, tt.want)
		}
	}
}

// TestLinuxKeysUnique checks that no two keys give the guest the same code,
// apart from the documented alias.
func TestLinuxKeysUnique(t *testing.T) {
	aliases := map[sdl.Scancode]bool{sdl.SCANCODE_NONUSHASH: true}
	seen := map[uint16]int{}
	for sc, code := range linuxKeys {
		if code == 0 || aliases[sdl.Scancode(sc)] {
			continue
		}
		if prev, dup := seen[code]; dup {
			t.Errorf("scancodes %d and %d both map to Linux key %d", prev, sc, code)
		}
		seen[code] = sc
	}
	// Linux keyboard codes are below BTN_MISC (0x100).
	for code := range seen {
		if code >= 0x100 {
			t.Errorf("Linux key %d is not a keyboard key", code)
		}
	}
}

// TestLinuxKeysComplete checks every key of a 105-key ISO keyboard.
func TestLinuxKeysComplete(t *testing.T) {
	var keys []sdl.Scancode
	for sc := sdl.Scancode(sdl.SCANCODE_A); sc <= sdl.SCANCODE_KP_PERIOD; sc++ {
		keys = append(keys, sc) // letters to keypad, HID 0x04-0x63
	}
	keys = append(keys, sdl.SCANCODE_NONUSBACKSLASH, sdl.SCANCODE_APPLICATION)
	for sc := sdl.Scancode(sdl.SCANCODE_LCTRL); sc <= sdl.SCANCODE_RGUI; sc++ {
		keys = append(keys, sc)
	}
	for _, sc := range keys {
		if linuxKey(sc) == 0 {
			t.Errorf("scancode %d (%s) has no Linux key", sc, sdl.GetScancodeName(sc))
		}
	}
}
