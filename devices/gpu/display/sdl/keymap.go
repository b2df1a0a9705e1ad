//go:build cgo

package sdl

import "github.com/veandco/go-sdl2/sdl"

// linuxKeys maps SDL scancodes to Linux evdev key codes
// (linux/input-event-codes.h). SDL scancodes below 0x100 are USB HID
// keyboard usage ids, so this is also the HID-to-evdev table; the entries
// at 0x100 and above are SDL's own media keys. It covers a 105-key ISO
// keyboard (and the ANSI/JIS extras) plus common media keys; a scancode
// mapped to 0 is ignored.
var linuxKeys = [...]uint16{
	sdl.SCANCODE_A: 30, // KEY_A
	sdl.SCANCODE_B: 48, // KEY_B
	sdl.SCANCODE_C: 46, // KEY_C
	sdl.SCANCODE_D: 32, // KEY_D
	sdl.SCANCODE_E: 18, // KEY_E
	sdl.SCANCODE_F: 33, // KEY_F
	sdl.SCANCODE_G: 34, // KEY_G
	sdl.SCANCODE_H: 35, // KEY_H
	sdl.SCANCODE_I: 23, // KEY_I
	sdl.SCANCODE_J: 36, // KEY_J
	sdl.SCANCODE_K: 37, // KEY_K
	sdl.SCANCODE_L: 38, // KEY_L
	sdl.SCANCODE_M: 50, // KEY_M
	sdl.SCANCODE_N: 49, // KEY_N
	sdl.SCANCODE_O: 24, // KEY_O
	sdl.SCANCODE_P: 25, // KEY_P
	sdl.SCANCODE_Q: 16, // KEY_Q
	sdl.SCANCODE_R: 19, // KEY_R
	sdl.SCANCODE_S: 31, // KEY_S
	sdl.SCANCODE_T: 20, // KEY_T
	sdl.SCANCODE_U: 22, // KEY_U
	sdl.SCANCODE_V: 47, // KEY_V
	sdl.SCANCODE_W: 17, // KEY_W
	sdl.SCANCODE_X: 45, // KEY_X
	sdl.SCANCODE_Y: 21, // KEY_Y
	sdl.SCANCODE_Z: 44, // KEY_Z

	sdl.SCANCODE_1: 2,  // KEY_1
	sdl.SCANCODE_2: 3,  // KEY_2
	sdl.SCANCODE_3: 4,  // KEY_3
	sdl.SCANCODE_4: 5,  // KEY_4
	sdl.SCANCODE_5: 6,  // KEY_5
	sdl.SCANCODE_6: 7,  // KEY_6
	sdl.SCANCODE_7: 8,  // KEY_7
	sdl.SCANCODE_8: 9,  // KEY_8
	sdl.SCANCODE_9: 10, // KEY_9
	sdl.SCANCODE_0: 11, // KEY_0

	sdl.SCANCODE_RETURN:       28, // KEY_ENTER
	sdl.SCANCODE_ESCAPE:       1,  // KEY_ESC
	sdl.SCANCODE_BACKSPACE:    14, // KEY_BACKSPACE
	sdl.SCANCODE_TAB:          15, // KEY_TAB
	sdl.SCANCODE_SPACE:        57, // KEY_SPACE
	sdl.SCANCODE_MINUS:        12, // KEY_MINUS
	sdl.SCANCODE_EQUALS:       13, // KEY_EQUAL
	sdl.SCANCODE_LEFTBRACKET:  26, // KEY_LEFTBRACE
	sdl.SCANCODE_RIGHTBRACKET: 27, // KEY_RIGHTBRACE
	sdl.SCANCODE_BACKSLASH:    43, // KEY_BACKSLASH
	// The ISO key left of Enter. Linux gives it the same code as the ANSI
	// backslash key (they sit in the same place); SDL on X11 never
	// reports it, other platforms may.
	sdl.SCANCODE_NONUSHASH:      43, // KEY_BACKSLASH
	sdl.SCANCODE_SEMICOLON:      39, // KEY_SEMICOLON
	sdl.SCANCODE_APOSTROPHE:     40, // KEY_APOSTROPHE
	sdl.SCANCODE_GRAVE:          41, // KEY_GRAVE
	sdl.SCANCODE_COMMA:          51, // KEY_COMMA
	sdl.SCANCODE_PERIOD:         52, // KEY_DOT
	sdl.SCANCODE_SLASH:          53, // KEY_SLASH
	sdl.SCANCODE_CAPSLOCK:       58, // KEY_CAPSLOCK
	sdl.SCANCODE_NONUSBACKSLASH: 86, // KEY_102ND: the ISO key left of Z

	sdl.SCANCODE_F1:  59,  // KEY_F1
	sdl.SCANCODE_F2:  60,  // KEY_F2
	sdl.SCANCODE_F3:  61,  // KEY_F3
	sdl.SCANCODE_F4:  62,  // KEY_F4
	sdl.SCANCODE_F5:  63,  // KEY_F5
	sdl.SCANCODE_F6:  64,  // KEY_F6
	sdl.SCANCODE_F7:  65,  // KEY_F7
	sdl.SCANCODE_F8:  66,  // KEY_F8
	sdl.SCANCODE_F9:  67,  // KEY_F9
	sdl.SCANCODE_F10: 68,  // KEY_F10
	sdl.SCANCODE_F11: 87,  // KEY_F11
	sdl.SCANCODE_F12: 88,  // KEY_F12
	sdl.SCANCODE_F13: 183, // KEY_F13
	sdl.SCANCODE_F14: 184, // KEY_F14
	sdl.SCANCODE_F15: 185, // KEY_F15
	sdl.SCANCODE_F16: 186, // KEY_F16
	sdl.SCANCODE_F17: 187, // KEY_F17
	sdl.SCANCODE_F18: 188, // KEY_F18
	sdl.SCANCODE_F19: 189, // KEY_F19
	sdl.SCANCODE_F20: 190, // KEY_F20
	sdl.SCANCODE_F21: 191, // KEY_F21
	sdl.SCANCODE_F22: 192, // KEY_F22
	sdl.SCANCODE_F23: 193, // KEY_F23
	sdl.SCANCODE_F24: 194, // KEY_F24

	sdl.SCANCODE_PRINTSCREEN: 99,  // KEY_SYSRQ
	sdl.SCANCODE_SCROLLLOCK:  70,  // KEY_SCROLLLOCK
	sdl.SCANCODE_PAUSE:       119, // KEY_PAUSE
	sdl.SCANCODE_INSERT:      110, // KEY_INSERT
	sdl.SCANCODE_HOME:        102, // KEY_HOME
	sdl.SCANCODE_PAGEUP:      104, // KEY_PAGEUP
	sdl.SCANCODE_DELETE:      111, // KEY_DELETE
	sdl.SCANCODE_END:         107, // KEY_END
	sdl.SCANCODE_PAGEDOWN:    109, // KEY_PAGEDOWN
	sdl.SCANCODE_RIGHT:       106, // KEY_RIGHT
	sdl.SCANCODE_LEFT:        105, // KEY_LEFT
	sdl.SCANCODE_DOWN:        108, // KEY_DOWN
	sdl.SCANCODE_UP:          103, // KEY_UP

	sdl.SCANCODE_NUMLOCKCLEAR: 69,  // KEY_NUMLOCK
	sdl.SCANCODE_KP_DIVIDE:    98,  // KEY_KPSLASH
	sdl.SCANCODE_KP_MULTIPLY:  55,  // KEY_KPASTERISK
	sdl.SCANCODE_KP_MINUS:     74,  // KEY_KPMINUS
	sdl.SCANCODE_KP_PLUS:      78,  // KEY_KPPLUS
	sdl.SCANCODE_KP_ENTER:     96,  // KEY_KPENTER
	sdl.SCANCODE_KP_1:         79,  // KEY_KP1
	sdl.SCANCODE_KP_2:         80,  // KEY_KP2
	sdl.SCANCODE_KP_3:         81,  // KEY_KP3
	sdl.SCANCODE_KP_4:         75,  // KEY_KP4
	sdl.SCANCODE_KP_5:         76,  // KEY_KP5
	sdl.SCANCODE_KP_6:         77,  // KEY_KP6
	sdl.SCANCODE_KP_7:         71,  // KEY_KP7
	sdl.SCANCODE_KP_8:         72,  // KEY_KP8
	sdl.SCANCODE_KP_9:         73,  // KEY_KP9
	sdl.SCANCODE_KP_0:         82,  // KEY_KP0
	sdl.SCANCODE_KP_PERIOD:    83,  // KEY_KPDOT
	sdl.SCANCODE_KP_EQUALS:    117, // KEY_KPEQUAL
	sdl.SCANCODE_KP_COMMA:     121, // KEY_KPCOMMA

	sdl.SCANCODE_APPLICATION: 127, // KEY_COMPOSE: the "menu" key
	sdl.SCANCODE_POWER:       116, // KEY_POWER
	sdl.SCANCODE_EXECUTE:     134, // KEY_OPEN
	sdl.SCANCODE_HELP:        138, // KEY_HELP
	sdl.SCANCODE_MENU:        130, // KEY_PROPS
	sdl.SCANCODE_SELECT:      132, // KEY_FRONT
	sdl.SCANCODE_STOP:        128, // KEY_STOP
	sdl.SCANCODE_AGAIN:       129, // KEY_AGAIN
	sdl.SCANCODE_UNDO:        131, // KEY_UNDO
	sdl.SCANCODE_CUT:         137, // KEY_CUT
	sdl.SCANCODE_COPY:        133, // KEY_COPY
	sdl.SCANCODE_PASTE:       135, // KEY_PASTE
	sdl.SCANCODE_FIND:        136, // KEY_FIND
	sdl.SCANCODE_MUTE:        113, // KEY_MUTE
	sdl.SCANCODE_VOLUMEUP:    115, // KEY_VOLUMEUP
	sdl.SCANCODE_VOLUMEDOWN:  114, // KEY_VOLUMEDOWN

	// Japanese and Korean keys.
	sdl.SCANCODE_INTERNATIONAL1: 89,  // KEY_RO
	sdl.SCANCODE_INTERNATIONAL2: 93,  // KEY_KATAKANAHIRAGANA
	sdl.SCANCODE_INTERNATIONAL3: 124, // KEY_YEN
	sdl.SCANCODE_INTERNATIONAL4: 92,  // KEY_HENKAN
	sdl.SCANCODE_INTERNATIONAL5: 94,  // KEY_MUHENKAN
	sdl.SCANCODE_INTERNATIONAL6: 95,  // KEY_KPJPCOMMA
	sdl.SCANCODE_LANG1:          122, // KEY_HANGEUL
	sdl.SCANCODE_LANG2:          123, // KEY_HANJA
	sdl.SCANCODE_LANG3:          90,  // KEY_KATAKANA
	sdl.SCANCODE_LANG4:          91,  // KEY_HIRAGANA
	sdl.SCANCODE_LANG5:          85,  // KEY_ZENKAKUHANKAKU

	sdl.SCANCODE_LCTRL:  29,  // KEY_LEFTCTRL
	sdl.SCANCODE_LSHIFT: 42,  // KEY_LEFTSHIFT
	sdl.SCANCODE_LALT:   56,  // KEY_LEFTALT
	sdl.SCANCODE_LGUI:   125, // KEY_LEFTMETA
	sdl.SCANCODE_RCTRL:  97,  // KEY_RIGHTCTRL
	sdl.SCANCODE_RSHIFT: 54,  // KEY_RIGHTSHIFT
	sdl.SCANCODE_RALT:   100, // KEY_RIGHTALT
	sdl.SCANCODE_RGUI:   126, // KEY_RIGHTMETA

	// SDL's media and application keys (not HID keyboard usages).
	sdl.SCANCODE_AUDIONEXT:      163, // KEY_NEXTSONG
	sdl.SCANCODE_AUDIOPREV:      165, // KEY_PREVIOUSSONG
	sdl.SCANCODE_AUDIOSTOP:      166, // KEY_STOPCD
	sdl.SCANCODE_AUDIOPLAY:      164, // KEY_PLAYPAUSE
	sdl.SCANCODE_MEDIASELECT:    226, // KEY_MEDIA
	sdl.SCANCODE_WWW:            150, // KEY_WWW
	sdl.SCANCODE_MAIL:           155, // KEY_MAIL
	sdl.SCANCODE_CALCULATOR:     140, // KEY_CALC
	sdl.SCANCODE_COMPUTER:       157, // KEY_COMPUTER
	sdl.SCANCODE_AC_SEARCH:      217, // KEY_SEARCH
	sdl.SCANCODE_AC_HOME:        172, // KEY_HOMEPAGE
	sdl.SCANCODE_AC_BACK:        158, // KEY_BACK
	sdl.SCANCODE_AC_FORWARD:     159, // KEY_FORWARD
	sdl.SCANCODE_AC_REFRESH:     173, // KEY_REFRESH
	sdl.SCANCODE_AC_BOOKMARKS:   156, // KEY_BOOKMARKS
	sdl.SCANCODE_BRIGHTNESSDOWN: 224, // KEY_BRIGHTNESSDOWN
	sdl.SCANCODE_BRIGHTNESSUP:   225, // KEY_BRIGHTNESSUP
	sdl.SCANCODE_DISPLAYSWITCH:  227, // KEY_SWITCHVIDEOMODE
	sdl.SCANCODE_KBDILLUMTOGGLE: 228, // KEY_KBDILLUMTOGGLE
	sdl.SCANCODE_KBDILLUMDOWN:   229, // KEY_KBDILLUMDOWN
	sdl.SCANCODE_KBDILLUMUP:     230, // KEY_KBDILLUMUP
	sdl.SCANCODE_EJECT:          161, // KEY_EJECTCD
	sdl.SCANCODE_SLEEP:          142, // KEY_SLEEP
}

// linuxKey returns the evdev key code for an SDL scancode, or 0 if the key
// has none.
func linuxKey(sc sdl.Scancode) uint16 {
	if int(sc) >= len(linuxKeys) {
		return 0
	}
	return linuxKeys[sc]
}
