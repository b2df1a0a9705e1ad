package input

import (
	"bytes"
	"testing"

	evt "github.com/govm/govm/devices/input"
)

// FuzzConfig drives the configuration window with arbitrary select and
// subsel values and accesses of any offset and width: nothing panics,
// nothing past the window reads non-zero, size stays within the union and
// the union is zero beyond size, and reads of any width agree with
// byte-by-byte reads.
func FuzzConfig(f *testing.F) {
	f.Add(false, uint8(CfgIDName), uint8(0), uint16(8), uint8(4), uint16(0), []byte{})
	f.Add(true, uint8(CfgAbsInfo), uint8(evt.AbsX), uint16(12), uint8(8), uint16(1), []byte{evt.EvKey})
	f.Add(true, uint8(CfgEvBits), uint8(evt.EvKey), uint16(40), uint8(100), uint16(0), []byte{CfgEvBits, evt.EvRel, 7})
	f.Add(false, uint8(CfgEvBits), uint8(evt.EvKey), uint16(130), uint8(16), uint16(2), []byte{1, 2, 3})
	f.Add(false, uint8(0xff), uint8(0xff), uint16(0xffff), uint8(255), uint16(0xffff), []byte{0xff})
	f.Fuzz(func(t *testing.T, tablet bool, sel, subsel uint8, off uint16, width uint8, wOff uint16, wData []byte) {
		d := NewKeyboard()
		if tablet {
			d = NewTablet()
		}
		d.WriteConfig(cfgSelect, []byte{sel})
		d.WriteConfig(cfgSubsel, []byte{subsel})
		d.WriteConfig(uint64(wOff), wData) // may change select and subsel again

		whole := make([]byte, cfgSize+16)
		for i := range whole {
			whole[i] = cfgRead8(d, uint64(i))
		}
		if !bytes.Equal(whole[cfgSize:], make([]byte, 16)) {
			t.Fatalf("bytes past the window: % x", whole[cfgSize:])
		}
		size := int(whole[cfgSizeOf])
		if size > unionSize {
			t.Fatalf("size %d", size)
		}
		if !bytes.Equal(whole[cfgSizeOf+1:cfgUnion], make([]byte, cfgUnion-cfgSizeOf-1)) {
			t.Fatalf("reserved bytes % x", whole[cfgSizeOf+1:cfgUnion])
		}
		if tail := whole[cfgUnion+size : cfgSize]; !bytes.Equal(tail, make([]byte, len(tail))) {
			t.Fatalf("union not zero past size %d", size)
		}

		p := make([]byte, width)
		for i := range p {
			p[i] = 0xee
		}
		d.ReadConfig(uint64(off), p)
		for i, b := range p {
			want := byte(0)
			if at := int(off) + i; at < len(whole) {
				want = whole[at]
			}
			if b != want {
				t.Fatalf("read %d@%d: byte %d is %#x, want %#x", width, off, i, b, want)
			}
		}
	})
}
