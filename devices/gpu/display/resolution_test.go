package display

import (
	"strings"
	"testing"
)

func TestParseResolution(t *testing.T) {
	good := []struct {
		in   string
		w, h int
	}{
		{"1280x800", 1280, 800},
		{"1920X1080", 1920, 1080},
		{"64x64", 64, 64},
		{"16384x16384", 16384, 16384},
		{"0640x0480", 640, 480},
	}
	for _, tt := range good {
		w, h, err := ParseResolution(tt.in)
		if err != nil || w != tt.w || h != tt.h {
			t.Errorf("ParseResolution(%q) = %d, %d, %v; want %d, %d", tt.in, w, h, err, tt.w, tt.h)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "want WIDTHxHEIGHT"},
		{"1280", "want WIDTHxHEIGHT"},
		{"x800", "width is missing"},
		{"1280x", "height is missing"},
		{"63x800", "width 63 is out of range [64, 16384]"},
		{"1280x16385", "height 16385 is out of range"},
		{"-1280x800", "not a number"},
		{"+1280x800", "not a number"},
		{" 1280x800", "not a number"},
		{"1280x800x2", "not a number"},
		{"99999999999999999999x800", "not a number"},
		{"1e3x800", "not a number"},
	}
	for _, tt := range bad {
		_, _, err := ParseResolution(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseResolution(%q) error = %v, want one containing %q", tt.in, err, tt.msg)
		}
	}
}

func FuzzParseResolution(f *testing.F) {
	for _, s := range []string{"1280x800", "64X64", "x", "0x0", "16385x1", "-1x-1", "１２８０x800"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, h, err := ParseResolution(s)
		if err != nil {
			return
		}
		if w < MinDimension || w > MaxDimension || h < MinDimension || h > MaxDimension {
			t.Fatalf("ParseResolution(%q) = %d, %d out of range", s, w, h)
		}
	})
}
