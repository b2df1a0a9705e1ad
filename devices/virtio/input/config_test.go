package input

import (
	"bytes"
	"reflect"
	"testing"

	evt "github.com/govm/govm/devices/input"
)

// Linux's sizes (linux/input.h, linux/input-event-codes.h) for what its
// virtio-input driver reads.
const (
	linuxNameLen = 64 // struct virtio_input: char name[64], serial[64]

	evMsc = 0x04
	evSw  = 0x05
	evSnd = 0x12

	keyCnt  = 0x300
	relCnt  = 0x10
	absCnt  = 0x40
	mscCnt  = 0x08
	swCnt   = 0x11
	ledCnt  = 0x10
	sndCnt  = 0x08
	propCnt = 0x20
)

// probed is what Linux's virtinput_probe learns about a device.
type probed struct {
	name, serial string
	ids          DevIDs
	props        []uint16
	evTypes      []uint16            // types the input core gets in evbit
	codes        map[uint16][]uint16 // per type
	abs          map[uint16]AbsInfo
}

// cfgSelectSize writes select and subsel and reads size, like
// virtinput_cfg_select.
func cfgSelectSize(d *Device, sel, subsel uint8) uint8 {
	cfgWrite8(d, cfgSelect, sel)
	cfgWrite8(d, cfgSubsel, subsel)
	return cfgRead8(d, cfgSizeOf)
}

// cfgBits is virtinput_cfg_bits: the codes set in the bitmap below
// bitcount. It fails the test if the device sets any bit Linux would drop.
func cfgBits(t *testing.T, d *Device, sel, subsel uint8, bitcount int) ([]uint16, bool) {
	t.Helper()
	size := cfgSelectSize(d, sel, subsel)
	if size == 0 {
		return nil, false
	}
	if size > unionSize {
		t.Fatalf("select %#x/%d: size %d beyond the union", sel, subsel, size)
	}
	bitmap := cfgReadBytes(d, cfgUnion, int(size))
	var codes []uint16
	for bit := range int(size) * 8 {
		if bitmap[bit/8]&(1<<(bit%8)) == 0 {
			continue
		}
		if bit >= bitcount {
			t.Errorf("select %#x/%d: bit %d beyond Linux's %d", sel, subsel, bit, bitcount)
			continue
		}
		codes = append(codes, uint16(bit))
	}
	return codes, true
}

// linuxProbe replays virtinput_probe's configuration reads.
func linuxProbe(t *testing.T, d *Device) probed {
	t.Helper()
	var p probed
	readString := func(sel uint8) string {
		size := cfgSelectSize(d, sel, 0)
		b := cfgReadBytes(d, cfgUnion, min(int(size), linuxNameLen))
		if len(b) == linuxNameLen {
			t.Errorf("select %#x: string of %d bytes leaves Linux's buffer unterminated", sel, size)
		}
		return string(bytes.TrimRight(b, "\x00"))
	}
	p.name = readString(CfgIDName)
	p.serial = readString(CfgIDSerial)

	if size := cfgSelectSize(d, CfgIDDevids, 0); size >= devidsSize {
		p.ids = DevIDs{
			Bustype: cfgRead16(d, cfgUnion+0),
			Vendor:  cfgRead16(d, cfgUnion+2),
			Product: cfgRead16(d, cfgUnion+4),
			Version: cfgRead16(d, cfgUnion+6),
		}
	} else {
		p.ids.Bustype = BusVirtual
	}
	p.props, _ = cfgBits(t, d, CfgPropBits, 0, propCnt)
	p.codes = map[uint16][]uint16{}
	if cfgSelectSize(d, CfgEvBits, EvRep) != 0 {
		p.evTypes = append(p.evTypes, EvRep)
	}
	for _, q := range []struct {
		typ   uint16
		count int
	}{
		{evt.EvKey, keyCnt}, {evt.EvRel, relCnt}, {evt.EvAbs, absCnt}, {evMsc, mscCnt},
		{evSw, swCnt}, {EvLed, ledCnt}, {evSnd, sndCnt},
	} {
		if codes, ok := cfgBits(t, d, CfgEvBits, uint8(q.typ), q.count); ok {
			p.evTypes = append(p.evTypes, q.typ)
			p.codes[q.typ] = codes
		}
	}
	p.abs = map[uint16]AbsInfo{}
	for _, axis := range p.codes[evt.EvAbs] {
		cfgSelectSize(d, CfgAbsInfo, uint8(axis))
		p.abs[axis] = AbsInfo{
			Min:  cfgRead32(d, cfgUnion+0),
			Max:  cfgRead32(d, cfgUnion+4),
			Fuzz: cfgRead32(d, cfgUnion+8),
			Flat: cfgRead32(d, cfgUnion+12),
			Res:  cfgRead32(d, cfgUnion+16),
		}
	}
	return p
}

func TestLinuxProbe(t *testing.T) {
	var keys []uint16
	for c := uint16(KeyEsc); c <= KeyMicMute; c++ {
		keys = append(keys, c)
	}
	axis := AbsInfo{Min: 0, Max: evt.AbsMax}
	for _, tc := range []struct {
		name string
		dev  *Device
		want probed
	}{
		{"keyboard", NewKeyboard(), probed{
			name:    "govm keyboard",
			serial:  KeyboardSerial,
			ids:     DevIDs{Bustype: 0x06, Vendor: VendorGovm, Product: ProductKeyboard, Version: DeviceVersion},
			evTypes: []uint16{EvRep, evt.EvKey, EvLed},
			codes: map[uint16][]uint16{
				evt.EvKey: keys,
				EvLed:     {LedNumLock, LedCapsLock, LedScrollLock},
			},
			abs: map[uint16]AbsInfo{},
		}},
		{"tablet", NewTablet(), probed{
			name:    "govm tablet",
			serial:  TabletSerial,
			ids:     DevIDs{Bustype: 0x06, Vendor: VendorGovm, Product: ProductTablet, Version: DeviceVersion},
			evTypes: []uint16{evt.EvKey, evt.EvRel, evt.EvAbs},
			codes: map[uint16][]uint16{
				evt.EvKey: {evt.BtnLeft, evt.BtnRight, evt.BtnMiddle},
				evt.EvRel: {evt.RelWheel},
				evt.EvAbs: {evt.AbsX, evt.AbsY},
			},
			abs: map[uint16]AbsInfo{evt.AbsX: axis, evt.AbsY: axis},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := linuxProbe(t, tc.dev)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("probe:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// The keyboard's first 32 key codes make udev call it a keyboard
// (ID_INPUT_KEY and ID_INPUT_KEYBOARD need KEY_ESC..KEY_D, bits 1-31),
// and it must declare no BTN_* code, or it would pass for a mouse.
func TestKeyboardLooksLikeAKeyboard(t *testing.T) {
	d := NewKeyboard()
	size := cfgSelectSize(d, CfgEvBits, evt.EvKey)
	bm := cfgReadBytes(d, cfgUnion, int(size))
	if bm[0] != 0xfe || bm[1] != 0xff || bm[2] != 0xff || bm[3] != 0xff {
		t.Errorf("first key bits % x", bm[:4])
	}
	if int(size)*8 > 0x100 { // BTN_MISC, the first button
		t.Errorf("bitmap of %d bytes reaches the button codes", size)
	}
}

func TestConfigAnswers(t *testing.T) {
	kbd := NewKeyboard()
	for _, tc := range []struct {
		name        string
		sel, subsel uint8
		wantSize    uint8
		wantUnion   []byte
	}{
		{"unset", CfgUnset, 0, 0, nil},
		{"unknown select", 0x42, 0, 0, nil},
		{"name", CfgIDName, 0, uint8(len(KeyboardName)), []byte(KeyboardName)},
		{"name subsel 1", CfgIDName, 1, 0, nil},
		{"serial", CfgIDSerial, 0, uint8(len(KeyboardSerial)), []byte(KeyboardSerial)},
		{"devids", CfgIDDevids, 0, devidsSize, []byte{0x06, 0, 0x6f, 0x67, 1, 0, 1, 0}},
		{"devids subsel 1", CfgIDDevids, 1, 0, nil},
		{"no props", CfgPropBits, 0, 0, nil},
		{"ev syn", CfgEvBits, evt.EvSyn, 1, []byte{0x01}},
		{"ev rep", CfgEvBits, EvRep, 1, []byte{0x03}},
		{"ev led", CfgEvBits, EvLed, 1, []byte{0x07}},
		{"ev abs unsupported", CfgEvBits, evt.EvAbs, 0, nil},
		{"ev 0xff", CfgEvBits, 0xff, 0, nil},
		{"abs on a keyboard", CfgAbsInfo, evt.AbsX, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if size := cfgSelectSize(kbd, tc.sel, tc.subsel); size != tc.wantSize {
				t.Errorf("size %d, want %d", size, tc.wantSize)
			}
			want := make([]byte, unionSize)
			copy(want, tc.wantUnion)
			if got := cfgReadBytes(kbd, cfgUnion, unionSize); !bytes.Equal(got, want) {
				t.Errorf("union % x\nwant % x", got, want)
			}
			if s, ss := cfgRead8(kbd, cfgSelect), cfgRead8(kbd, cfgSubsel); s != tc.sel || ss != tc.subsel {
				t.Errorf("select/subsel read back %#x/%d", s, ss)
			}
		})
	}

	tab := NewTablet()
	cfgSelectSize(tab, CfgAbsInfo, evt.AbsY)
	want := []byte{0, 0, 0, 0, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := cfgReadBytes(tab, cfgUnion, absinfoSize); !bytes.Equal(got, want) {
		t.Errorf("ABS_Y info % x", got)
	}
	if size := cfgSelectSize(tab, CfgAbsInfo, 0x2f); size != 0 {
		t.Errorf("unknown axis size %d", size)
	}
}

// Accesses of any width and offset: a 16-bit write sets select and
// subsel together, writes elsewhere change nothing, reads past the end
// give zeroes, a read straddling the end gives the tail then zeroes.
func TestConfigAccessWidths(t *testing.T) {
	d := NewTablet()
	d.WriteConfig(cfgSelect, []byte{CfgEvBits, evt.EvRel})
	if size := cfgRead8(d, cfgSizeOf); size != 2 {
		t.Fatalf("EV_REL bitmap size %d", size)
	}
	before := cfgReadBytes(d, 0, cfgSize)
	d.WriteConfig(cfgSizeOf, []byte{0x55, 0x55})
	d.WriteConfig(cfgUnion, bytes.Repeat([]byte{0xaa}, unionSize))
	d.WriteConfig(cfgSize, []byte{1})
	d.WriteConfig(^uint64(0), []byte{1, 2, 3})
	if after := cfgReadBytes(d, 0, cfgSize); !bytes.Equal(before, after) {
		t.Fatalf("read-only bytes changed:\n% x\n% x", before, after)
	}
	// A 4-byte write at offset 0 sets select and subsel, ignores the rest.
	d.WriteConfig(0, []byte{CfgIDName, 0, 9, 9})
	if got := cfgRead32(d, 0); got != uint32(CfgIDName)|uint32(len(TabletName))<<16 {
		t.Fatalf("header %#x", got)
	}
	p := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	d.ReadConfig(cfgSize-4, p)
	if !bytes.Equal(p, make([]byte, 8)) {
		t.Fatalf("tail read % x", p)
	}
	d.ReadConfig(cfgUnion+8, p)
	if string(p[:3]) != "let" || p[3] != 0 {
		t.Fatalf("name read at +8: %q", p)
	}
	for _, off := range []uint64{cfgSize, 1 << 20, ^uint64(0)} {
		p := []byte{1, 2, 3, 4}
		d.ReadConfig(off, p)
		if !bytes.Equal(p, make([]byte, 4)) {
			t.Errorf("read at %#x: % x", off, p)
		}
	}
	d.ReadConfig(0, nil)
	d.WriteConfig(0, nil)
}

func TestResetClearsSelection(t *testing.T) {
	d := NewKeyboard()
	cfgSelectSize(d, CfgIDName, 0)
	d.Reset()
	if got := cfgReadBytes(d, 0, cfgSize); !bytes.Equal(got, make([]byte, cfgSize)) {
		t.Fatalf("after reset % x", got)
	}
}
