//go:build cgo

package sdl

import (
	"unsafe"

	"github.com/veandco/go-sdl2/sdl"
)

// updateTexture copies pix (rows of pitch bytes) into tex.
//
// Sound because SDL_UpdateTexture only reads tex's size worth of pix during
// the call and keeps no pointer to it; pix is non-empty (checked) and holds
// at least height*pitch bytes (the caller packs exactly that many); and a
// []byte holds no Go pointers, so cgo's pointer-passing rules allow it.
func updateTexture(tex *sdl.Texture, pix []byte, pitch int) error {
	if len(pix) == 0 {
		return nil
	}
	return tex.Update(nil, unsafe.Pointer(&pix[0]), pitch)
}

// wakeEvent is an SDL user event padded to the size of an SDL_Event.
// go-sdl2's PushEvent passes SDL a pointer to the Go event value, and
// SDL_PushEvent copies a whole SDL_Event (56 bytes on 64-bit hosts) from
// it: more than sdl.UserEvent's 32 bytes, so without the padding SDL would
// read past the end of the Go allocation (go test -race's checkptr
// reports it).
type wakeEvent struct {
	sdl.UserEvent
	_ [unsafe.Sizeof(sdl.CEvent{}) - unsafe.Sizeof(sdl.UserEvent{})]byte
}

// pushWake queues a user event of type typ; any thread may call it.
func pushWake(typ uint32) error {
	_, err := sdl.PushEvent(&wakeEvent{UserEvent: sdl.UserEvent{Type: typ}})
	return err
}
