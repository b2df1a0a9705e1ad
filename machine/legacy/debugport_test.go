package legacy

import (
	"bytes"
	"testing"
)

func TestDebugPorts(t *testing.T) {
	tests := []struct {
		name   string
		off    uint64
		p      []byte
		want   uint32
		called bool
	}{
		{"byte", 0, []byte{7}, 7, true},
		{"word", 0, []byte{0x34, 0x12}, 0x1234, true},
		{"dword", 0, []byte{0x78, 0x56, 0x34, 0x12}, 0x12345678, true},
		{"three bytes", 0, []byte{1, 2, 3}, 0x030201, true},
		{"empty", 0, nil, 0, false},
		{"too wide", 0, make([]byte, 8), 0, false},
		{"other offset", 1, []byte{1}, 0, false},
	}
	for _, tt := range tests {
		var got []uint32
		record := func(v uint32) { got = append(got, v) }
		devs := map[string]interface{ Write(uint64, []byte) }{
			"exit": &DebugExit{OnExit: record},
			"mark": &DebugMark{OnMark: record},
		}
		for dn, d := range devs {
			got = nil
			d.Write(tt.off, tt.p)
			if tt.called != (len(got) == 1) || (tt.called && got[0] != tt.want) {
				t.Errorf("%s/%s: callback got %v, want %#x (called %v)", dn, tt.name, got, tt.want, tt.called)
			}
		}
	}
}

func TestDebugPortsNilAndReads(t *testing.T) {
	devs := []interface {
		Read(uint64, []byte)
		Write(uint64, []byte)
	}{&DebugExit{}, &DebugMark{}, Sink{}}
	for _, d := range devs {
		d.Write(0, []byte{1, 0, 0, 0}) // nil callbacks: no panic
		p := []byte{0xaa, 0xbb, 0xcc}
		d.Read(5, p)
		if !bytes.Equal(p, []byte{0, 0, 0}) {
			t.Errorf("%T reads %x, want zeros", d, p)
		}
	}
}
