package display

import (
	"fmt"
	"strconv"
	"strings"
)

// The accepted range of each side of a --resolution. 16384 is also the
// largest frame side the display package converts.
const (
	MinDimension = 64
	MaxDimension = 16384
)

// maxDigits bounds the length of a number in a resolution, so that a
// silly argument gets a clear error instead of an overflow message.
const maxDigits = 6

// ParseResolution parses a --resolution value such as "1280x800" (an
// upper-case X is accepted too). Each side must be in
// [MinDimension, MaxDimension].
func ParseResolution(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		return 0, 0, fmt.Errorf("resolution %q: want WIDTHxHEIGHT, for example 1280x800", s)
	}
	if w, err = parseSide(ws, "width"); err != nil {
		return 0, 0, fmt.Errorf("resolution %q: %w", s, err)
	}
	if h, err = parseSide(hs, "height"); err != nil {
		return 0, 0, fmt.Errorf("resolution %q: %w", s, err)
	}
	return w, h, nil
}

// parseSide parses one side: decimal digits only (no sign, no spaces).
func parseSide(s, name string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is missing", name)
	}
	if len(s) > maxDigits || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%s %q is not a number between %d and %d", name, s, MinDimension, MaxDimension)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", name, s, err)
	}
	if n < MinDimension || n > MaxDimension {
		return 0, fmt.Errorf("%s %d is out of range [%d, %d]", name, n, MinDimension, MaxDimension)
	}
	return n, nil
}
