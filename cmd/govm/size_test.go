package main

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"512": 512 << 20, "1": 1 << 20, "2G": 2 << 30, "64M": 64 << 20, "1GiB": 1 << 30, "4096k": 4 << 20, "1t": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "x", "1Q", "99999999999999999999", "9999999999T"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}
