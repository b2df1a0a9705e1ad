package net

import (
	"errors"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		mac  string // "" for none
		ok   bool
	}{
		{"tap=tap0", "tap0", "", true},
		{"tap=tap0,mac=06:67:76:00:00:01", "tap0", "06:67:76:00:00:01", true},
		{"mac=06-67-76-00-00-01,tap=t", "t", "06:67:76:00:00:01", true},
		{"tap=abcdefghijklmno", "abcdefghijklmno", "", true},
		{"", "", "", false},
		{"tap", "", "", false},
		{"tap=", "", "", false},
		{"tap=abcdefghijklmnop", "", "", false},
		{"tap=a/b", "", "", false},
		{"tap=a,tap=b", "", "", false},
		{"tap=a,", "", "", false},
		{"mac=06:67:76:00:00:01", "", "", false},
		{"tap=a,mac=zz", "", "", false},
		{"tap=a,mac=01:00:5e:00:00:01", "", "", false},       // multicast
		{"tap=a,mac=00:00:00:00:00:00", "", "", false},       // zero
		{"tap=a,mac=00:00:5e:00:53:01:02:03", "", "", false}, // EUI-64
		{"tap=a,model=e1000", "", "", false},
	} {
		name, mac, err := ParseSpec(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSpec(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Errorf("ParseSpec(%q) error %v does not wrap ErrSpec", tc.in, err)
			}
			continue
		}
		if name != tc.name {
			t.Errorf("ParseSpec(%q) name = %q, want %q", tc.in, name, tc.name)
		}
		if (tc.mac == "" && mac != nil) || (tc.mac != "" && mac.String() != tc.mac) {
			t.Errorf("ParseSpec(%q) mac = %v, want %q", tc.in, mac, tc.mac)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"tap=tap0", "tap=t,mac=06:67:76:00:00:01", "tap=a,mac=0000.5e00.5301", ",,=", "tap=%d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, mac, err := ParseSpec(s)
		if err != nil {
			return
		}
		if name == "" || checkIfName(name) != nil {
			t.Errorf("ParseSpec(%q) accepted name %q", s, name)
		}
		if mac != nil && validMAC(mac) != nil {
			t.Errorf("ParseSpec(%q) accepted MAC %v", s, mac)
		}
	})
}
