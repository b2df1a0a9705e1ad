package acpi

import (
	"bytes"
	"errors"
	"testing"
)

// decodePkgLength is the reader's side of PkgLength (ACPI 6.5 20.2.4), used
// to check the encoder: it returns the encoded length and its byte count.
func decodePkgLength(b []byte) (total, n int) {
	extra := int(b[0] >> pkgLenCountShft)
	if extra == 0 {
		return int(b[0] & 0x3f), 1
	}
	total = int(b[0] & 0x0f)
	for i := 1; i <= extra; i++ {
		total |= int(b[i]) << (4 + 8*(i-1))
	}
	return total, 1 + extra
}

// maxPkgTotal is the largest length an n-byte PkgLength can hold.
func maxPkgTotal(n int) int {
	if n == 1 {
		return pkgLenMax1
	}
	return 1<<(4+8*(n-1)) - 1
}

func TestPkgLength(t *testing.T) {
	tests := []struct {
		body int
		want []byte
	}{
		{0, []byte{0x01}},
		{62, []byte{0x3f}},                          // largest one-byte form: 63
		{63, []byte{0x41, 0x04}},                    // 65 = 0x041
		{4093, []byte{0x4f, 0xff}},                  // 4095: largest two-byte form
		{4094, []byte{0x81, 0x00, 0x01}},            // 4097 = 0x01001
		{1<<20 - 4, []byte{0x8f, 0xff, 0xff}},       // 2^20-1: largest three-byte form
		{1<<20 - 3, []byte{0xc1, 0x00, 0x00, 0x01}}, // 2^20+1
		{1<<28 - 5, []byte{0xcf, 0xff, 0xff, 0xff}}, // 2^28-1: the maximum
	}
	for _, tt := range tests {
		got, err := pkgLength(tt.body)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("pkgLength(%d) = % x, %v; want % x", tt.body, got, err, tt.want)
		}
	}
	for _, bad := range []int{-1, 1<<28 - 4, 1 << 30} {
		if _, err := pkgLength(bad); !errors.Is(err, ErrAML) {
			t.Errorf("pkgLength(%d) error = %v, want ErrAML", bad, err)
		}
	}
}

// Every length round-trips and uses the shortest form.
func TestPkgLengthRoundTrip(t *testing.T) {
	for _, body := range []int{0, 1, 61, 62, 63, 64, 100, 4090, 4093, 4094, 4095, 70000, 1<<20 - 4, 1<<20 - 3, 1 << 24} {
		enc, err := pkgLength(body)
		if err != nil {
			t.Fatalf("pkgLength(%d): %v", body, err)
		}
		total, n := decodePkgLength(enc)
		if n != len(enc) || total != body+len(enc) {
			t.Errorf("pkgLength(%d) = % x decodes to %d in %d bytes", body, enc, total, n)
		}
		if k := len(enc); k > 1 && body+k-1 <= maxPkgTotal(k-1) {
			t.Errorf("pkgLength(%d) = % x is not minimal", body, enc)
		}
	}
}

func TestInteger(t *testing.T) {
	tests := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{zeroOp}},
		{1, []byte{oneOp}},
		{5, []byte{bytePrefix, 5}},
		{0xff, []byte{bytePrefix, 0xff}},
		{0x100, []byte{wordPrefix, 0x00, 0x01}},
		{0xd0000000, []byte{dwordPrefix, 0, 0, 0, 0xd0}},
		{1 << 32, []byte{qwordPrefix, 0, 0, 0, 0, 1, 0, 0, 0}},
	}
	for _, tt := range tests {
		if got := integer(tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("integer(%#x) = % x, want % x", tt.v, got, tt.want)
		}
	}
}

func TestNameString(t *testing.T) {
	tests := []struct {
		path string
		want []byte
	}{
		{"_HID", []byte("_HID")},
		{`\_S5_`, []byte(`\_S5_`)},
		{"_SB_.COM1", append([]byte{dualNamePrefix}, "_SB_COM1"...)},
		{`\_SB_.PCI0.V000`, append([]byte{'\\', multiNamePfx, 3}, "_SB_PCI0V000"...)},
	}
	for _, tt := range tests {
		var e encoder
		if got := e.nameString(tt.path); e.err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("nameString(%q) = % x, %v; want % x", tt.path, got, e.err, tt.want)
		}
	}
	for _, bad := range []string{"", "_S5", "_S5__", "0ABC", "abcd", "_SB_.", `\`, "_SB_..COM1"} {
		var e encoder
		if e.nameString(bad); !errors.Is(e.err, ErrAML) {
			t.Errorf("nameString(%q) error = %v, want ErrAML", bad, e.err)
		}
	}
}

func TestStringAndEISAID(t *testing.T) {
	var e encoder
	if got, want := e.str("LNRO0005"), append(append([]byte{stringPrefix}, "LNRO0005"...), 0); !bytes.Equal(got, want) {
		t.Errorf("str = % x, want % x", got, want)
	}
	// iasl: EisaId("PNP0501") == 0x0105D041.
	if got, want := e.eisaID("PNP0501"), []byte{dwordPrefix, 0x41, 0xd0, 0x05, 0x01}; !bytes.Equal(got, want) {
		t.Errorf("eisaID = % x, want % x", got, want)
	}
	if e.err != nil {
		t.Fatal(e.err)
	}
	for _, bad := range []string{"PNP050", "pnp0501", "PNP050G", "PNP05011"} {
		var e encoder
		if e.eisaID(bad); !errors.Is(e.err, ErrAML) {
			t.Errorf("eisaID(%q) error = %v, want ErrAML", bad, e.err)
		}
	}
	for _, bad := range []string{"a\x00b", "é"} {
		var e encoder
		if e.str(bad); !errors.Is(e.err, ErrAML) {
			t.Errorf("str(%q) error = %v, want ErrAML", bad, e.err)
		}
	}
}

func TestObjects(t *testing.T) {
	var e encoder
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"Name(_UID, 1)", e.name("_UID", integer(1)), []byte{nameOp, '_', 'U', 'I', 'D', oneOp}},
		{"Package(){5, 0}", e.pkgOf(integer(5), integer(0)), []byte{packageOp, 5, 2, bytePrefix, 5, zeroOp}},
		{"Buffer(){1, 2}", e.buffer([]byte{1, 2}), []byte{bufferOp, 5, bytePrefix, 2, 1, 2}},
		{"Device(COM1){}", e.device("COM1"), []byte{extOpPrefix, deviceOp, 5, 'C', 'O', 'M', '1'}},
		{"Scope(_SB_){}", e.scope("_SB_"), []byte{scopeOp, 5, '_', 'S', 'B', '_'}},
	}
	if e.err != nil {
		t.Fatal(e.err)
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = % x, want % x", tt.name, tt.got, tt.want)
		}
	}
	// A body of 63 bytes moves the device's PkgLength to two bytes.
	body := bytes.Repeat([]byte{zeroOp}, 63-nameSegLen)
	d := e.device("V000", body)
	if e.err != nil || !bytes.Equal(d[:4], []byte{extOpPrefix, deviceOp, 0x41, 0x04}) || len(d) != 2+2+63 {
		t.Errorf("device with 63-byte body = % x..., len %d", d[:6], len(d))
	}
	if e.pkgOf(make([][]byte, 256)...); !errors.Is(e.err, ErrAML) {
		t.Errorf("256-element package error = %v, want ErrAML", e.err)
	}
}

func TestResourceDescriptors(t *testing.T) {
	var e encoder
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"Memory32Fixed(ReadWrite, 0xd0000000, 0x1000)", memory32Fixed(0xd0000000, 0x1000),
			[]byte{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}},
		{"Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive){5}", extendedInterrupt(0, 5),
			[]byte{0x89, 0x06, 0x00, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00}},
		{"Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){6}", extendedInterrupt(intEdge, 6),
			[]byte{0x89, 0x06, 0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00}},
		{"IO(Decode16, 0x3f8, 0x3f8, 1, 8)", ioPort(0x3f8, 1, 8),
			[]byte{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}},
		{"IRQNoFlags(){4}", e.irqNoFlags(4), []byte{0x22, 0x10, 0x00}},
		{"ResourceTemplate(){}", e.resourceTemplate(), []byte{bufferOp, 0x05, bytePrefix, 0x02, 0x79, 0x00}},
	}
	if e.err != nil {
		t.Fatal(e.err)
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = % x, want % x", tt.name, tt.got, tt.want)
		}
	}
	if e.irqNoFlags(16); !errors.Is(e.err, ErrAML) {
		t.Errorf("irqNoFlags(16) error = %v, want ErrAML", e.err)
	}
}

func TestMethodTerms(t *testing.T) {
	var e encoder
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"Arg0 == 0x17", lEqual(arg0(), integer(0x17)), []byte{lEqualOp, arg0Op, bytePrefix, 0x17}},
		{`Notify(\_SB_.PWRB, 0x80)`, e.notify(`\_SB_.PWRB`, 0x80),
			[]byte{notifyOp, '\\', dualNamePrefix, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', bytePrefix, 0x80}},
		{"If (One) {}", e.ifThen(integer(1)), []byte{ifOp, 2, oneOp}},
		{"Method(_EVT, 1) {}", e.method("_EVT", 1), []byte{methodOp, 6, '_', 'E', 'V', 'T', 1}},
		{"Method(_EVT, 1) { If (Arg0 == Zero) {} }", e.method("_EVT", 1, e.ifThen(lEqual(arg0(), integer(0)))),
			[]byte{methodOp, 11, '_', 'E', 'V', 'T', 1, ifOp, 4, lEqualOp, arg0Op, zeroOp}},
	}
	if e.err != nil {
		t.Fatal(e.err)
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = % x, want % x", tt.name, tt.got, tt.want)
		}
	}
	for _, n := range []int{-1, 8} {
		var e encoder
		if e.method("_EVT", n); !errors.Is(e.err, ErrAML) {
			t.Errorf("method with %d arguments: error %v, want ErrAML", n, e.err)
		}
	}
	var bad encoder
	if bad.notify("pwrb", 0x80); !errors.Is(bad.err, ErrAML) {
		t.Errorf("notify of a bad name: error %v, want ErrAML", bad.err)
	}
}
