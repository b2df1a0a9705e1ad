package input

import evt "github.com/govm/govm/devices/input"

// PointerEvents turns a pointer position (x, y) in a w×h window into the
// tablet's absolute position: ABS_X and ABS_Y scaled so that the first
// pixel is 0 and the last is input.AbsMax, then SYN_REPORT. Positions
// outside the window (a drag that left it) are clamped to its edge; an
// empty or one-pixel axis gives 0.
func PointerEvents(x, y, w, h int) []evt.Event {
	return []evt.Event{
		{Type: evt.EvAbs, Code: evt.AbsX, Value: scaleAxis(x, w)},
		{Type: evt.EvAbs, Code: evt.AbsY, Value: scaleAxis(y, h)},
		evt.Syn,
	}
}

// maxExactAxis bounds the axis length scaled exactly: p*AbsMax must not
// overflow int64. Longer (absurd) axes lose their low bits first.
const maxExactAxis = 1 << 32

// scaleAxis maps pos in [0, size-1] to [0, AbsMax], rounding to nearest.
func scaleAxis(pos, size int) int32 {
	if size <= 1 {
		return 0
	}
	last := int64(size) - 1
	p := min(max(int64(pos), 0), last)
	for last > maxExactAxis {
		p, last = p>>1, last>>1
	}
	return int32((p*evt.AbsMax + last/2) / last)
}
