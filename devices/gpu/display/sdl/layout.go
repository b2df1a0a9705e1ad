package sdl

import "github.com/govm/govm/devices/input"

// rect is an area of the window, in window pixels.
type rect struct{ X, Y, W, H int }

// letterbox returns where a fw x fh frame is drawn in a ww x wh window: as
// large as fits with its aspect ratio kept, centred, with black bars on the
// two other sides. It returns an empty rect if either size is empty.
func letterbox(ww, wh, fw, fh int) rect {
	if ww <= 0 || wh <= 0 || fw <= 0 || fh <= 0 {
		return rect{}
	}
	// Fit the width; if the frame is then too tall, fit the height.
	w, h := ww, ww*fh/fw
	if h > wh {
		w, h = wh*fw/fh, wh
	}
	w, h = max(w, 1), max(h, 1)
	return rect{X: (ww - w) / 2, Y: (wh - h) / 2, W: w, H: h}
}

// absPos scales a window coordinate p to the tablet's range: origin (the
// first pixel of the shown frame) becomes 0 and its last pixel,
// origin+size-1, becomes input.AbsMax. Positions on the letterbox bars are
// clamped to the frame's edge.
func absPos(p, origin, size int) int32 {
	if size <= 1 {
		return 0
	}
	span := size - 1
	v := ((p-origin)*input.AbsMax + span/2) / span // rounded
	return int32(min(max(v, 0), input.AbsMax))
}
