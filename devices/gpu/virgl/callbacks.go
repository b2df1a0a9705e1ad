//go:build cgo

package virgl

// #include <stdint.h>
import "C"

// The callbacks virglrenderer makes, always on the renderer's thread
// (inside virgl_renderer_poll or another call made there). They only
// record the fence; the device hears of it from the delivery goroutine.

//export govmVirglFence
func govmVirglFence(fence C.uint32_t) {
	if r := active.Load(); r != nil {
		r.onFence(uint32(fence))
	}
}

//export govmVirglContextFence
func govmVirglContextFence(ctx, ring C.uint32_t, fence C.uint64_t) {
	if r := active.Load(); r != nil {
		r.onContextFence(uint32(ctx), uint32(ring), uint64(fence))
	}
}
