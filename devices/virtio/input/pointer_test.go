package input

import (
	"math"
	"testing"

	evt "github.com/govm/govm/devices/input"
)

func TestPointerEvents(t *testing.T) {
	for _, tc := range []struct {
		x, y, w, h int
		wantX      int32
		wantY      int32
	}{
		{0, 0, 1280, 800, 0, 0},
		{1279, 799, 1280, 800, evt.AbsMax, evt.AbsMax},
		{640, 400, 1281, 801, (evt.AbsMax + 1) / 2, (evt.AbsMax + 1) / 2}, // 16383.5 rounds up
		{-5, -1, 100, 100, 0, 0},
		{5000, 101, 100, 100, evt.AbsMax, evt.AbsMax},
		{3, 3, 0, 1, 0, 0},
		{3, 3, -7, 2, 0, evt.AbsMax},
		{math.MaxInt, math.MinInt, math.MaxInt, math.MaxInt, evt.AbsMax, 0},
		{math.MaxInt / 2, 0, math.MaxInt, 2, evt.AbsMax / 2, 0},
	} {
		got := PointerEvents(tc.x, tc.y, tc.w, tc.h)
		want := []evt.Event{
			{Type: evt.EvAbs, Code: evt.AbsX, Value: tc.wantX},
			{Type: evt.EvAbs, Code: evt.AbsY, Value: tc.wantY},
			evt.Syn,
		}
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("PointerEvents(%d, %d, %d, %d) = %v, want %v", tc.x, tc.y, tc.w, tc.h, got, want)
		}
	}
}

// Every pixel of a window maps into range, in order, and distinct pixels
// stay distinct while the window is narrower than the axis.
func TestScaleAxisMonotonic(t *testing.T) {
	for _, size := range []int{2, 3, 640, 1920, 3840, evt.AbsMax + 1} {
		prev := int32(-1)
		for p := range size {
			v := scaleAxis(p, size)
			if v <= prev || v < 0 || v > evt.AbsMax {
				t.Fatalf("size %d: pixel %d → %d after %d", size, p, v, prev)
			}
			prev = v
		}
		if prev != evt.AbsMax {
			t.Fatalf("size %d: last pixel → %d", size, prev)
		}
	}
}
