package gpu

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dtdMode decodes the active size and pixel clock of a detailed timing.
func dtdMode(b []byte) (w, h, hblank, vblank, clock10k int) {
	w = int(b[2]) | int(b[4]>>4)<<8
	hblank = int(b[3]) | int(b[4]&0xf)<<8
	h = int(b[5]) | int(b[7]>>4)<<8
	vblank = int(b[6]) | int(b[7]&0xf)<<8
	return w, h, hblank, vblank, int(le.Uint16(b))
}

func TestEDID(t *testing.T) {
	for _, sz := range [][2]int{{1280, 800}, {1024, 768}, {1920, 1080}, {3840, 2160}, {640, 480}, {1, 1}, {4095, 4095}} {
		e, err := EDID(sz[0], sz[1])
		if err != nil {
			t.Fatalf("%v: %v", sz, err)
		}
		if !bytes.Equal(e[:8], []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}) {
			t.Errorf("%v: header % x", sz, e[:8])
		}
		var sum byte
		for _, b := range e {
			sum += b
		}
		if sum != 0 {
			t.Errorf("%v: checksum off by %d", sz, sum)
		}
		if e[edidVersionOff] != 1 || e[edidRevisionOff] != 4 {
			t.Errorf("%v: version %d.%d", sz, e[edidVersionOff], e[edidRevisionOff])
		}
		if v := uint16(e[8])<<8 | uint16(e[9]); v>>15 != 0 || string([]byte{byte(v>>10&31) + 'A' - 1, byte(v>>5&31) + 'A' - 1, byte(v&31) + 'A' - 1}) != edidVendor {
			t.Errorf("%v: vendor %#x", sz, v)
		}
		w, h, hb, vb, clk := dtdMode(e[edidDescOff:])
		if w != sz[0] || h != sz[1] {
			t.Errorf("preferred mode %dx%d, want %v", w, h, sz)
		}
		if refresh := clk * clockUnitHz / ((w + hb) * (h + vb)); clk == 0 || refresh > refreshHz || refresh < 30 {
			t.Errorf("%v: pixel clock %d0 kHz gives %d Hz", sz, clk, refresh)
		}
		name := e[edidDescOff+edidDescSize:]
		if name[3] != edidTagName || !strings.HasPrefix(string(name[5:18]), "GOVM\n") {
			t.Errorf("%v: name descriptor % x", sz, name[:18])
		}
	}
	for _, sz := range [][2]int{{0, 800}, {1280, 0}, {-1, 5}, {4096, 800}, {1280, 65535}} {
		if _, err := EDID(sz[0], sz[1]); !errors.Is(err, ErrEDIDMode) {
			t.Errorf("EDID%v = %v, want ErrEDIDMode", sz, err)
		}
	}
}

// If edid-decode (Debian package edid-decode) is installed, it checks the
// block against the standard.
func TestEDIDConformity(t *testing.T) {
	tool, err := exec.LookPath("edid-decode")
	if err != nil {
		t.Skip("edid-decode not installed")
	}
	for _, sz := range [][2]int{{1280, 800}, {1920, 1080}, {3840, 2160}} {
		e, _ := EDID(sz[0], sz[1])
		path := filepath.Join(t.TempDir(), "edid.bin")
		if err := os.WriteFile(path, e[:], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, "--check", path).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("conformity: PASS")) || bytes.Contains(out, []byte("Warnings:")) {
			t.Errorf("%v: edid-decode: %v\n%s", sz, err, out)
		}
	}
}
