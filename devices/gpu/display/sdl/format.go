//go:build cgo

package sdl

import (
	"encoding/binary"
	"fmt"

	"github.com/govm/govm/devices/gpu"
	"github.com/veandco/go-sdl2/sdl"
)

// virtio-gpu names a format by its bytes in memory (B8G8R8X8: byte 0 is
// blue). SDL's packed formats name the bits of a native uint32 from the
// most significant down (XRGB8888: blue in the low byte). On a
// little-endian host the low byte comes first in memory, so each virtio-gpu
// format is the SDL format with the channels in reverse order; on a
// big-endian host the orders are the same. Every virtio-gpu 2D format has
// an SDL twin, so frames are never converted.
var (
	sdlFormatLE = map[gpu.Format]uint32{
		gpu.FormatB8G8R8A8: sdl.PIXELFORMAT_ARGB8888,
		gpu.FormatB8G8R8X8: sdl.PIXELFORMAT_RGB888, // XRGB8888
		gpu.FormatA8R8G8B8: sdl.PIXELFORMAT_BGRA8888,
		gpu.FormatX8R8G8B8: sdl.PIXELFORMAT_BGRX8888,
		gpu.FormatR8G8B8A8: sdl.PIXELFORMAT_ABGR8888,
		gpu.FormatX8B8G8R8: sdl.PIXELFORMAT_RGBX8888,
		gpu.FormatA8B8G8R8: sdl.PIXELFORMAT_RGBA8888,
		gpu.FormatR8G8B8X8: sdl.PIXELFORMAT_BGR888, // XBGR8888
	}
	sdlFormatBE = map[gpu.Format]uint32{
		gpu.FormatB8G8R8A8: sdl.PIXELFORMAT_BGRA8888,
		gpu.FormatB8G8R8X8: sdl.PIXELFORMAT_BGRX8888,
		gpu.FormatA8R8G8B8: sdl.PIXELFORMAT_ARGB8888,
		gpu.FormatX8R8G8B8: sdl.PIXELFORMAT_RGB888,
		gpu.FormatR8G8B8A8: sdl.PIXELFORMAT_RGBA8888,
		gpu.FormatX8B8G8R8: sdl.PIXELFORMAT_BGR888,
		gpu.FormatA8B8G8R8: sdl.PIXELFORMAT_ABGR8888,
		gpu.FormatR8G8B8X8: sdl.PIXELFORMAT_RGBX8888,
	}
)

// littleEndian reports whether this host stores the low byte first.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// sdlFormat returns the SDL pixel format with the same memory layout as f.
func sdlFormat(f gpu.Format) (uint32, error) {
	table := sdlFormatBE
	if littleEndian {
		table = sdlFormatLE
	}
	sf, ok := table[f]
	if !ok {
		return 0, fmt.Errorf("sdl: unsupported pixel format %d", f)
	}
	return sf, nil
}
