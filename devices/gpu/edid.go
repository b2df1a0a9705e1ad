package gpu

import (
	"errors"
	"fmt"
)

// An EDID 1.4 base block (VESA E-EDID release A, revision 2) describing a
// virtual monitor named "GOVM" whose preferred (and only detailed) mode is
// the configured resolution at up to 60 Hz. Linux's GET_EDID path reads it
// into the connector: the mode list and the monitor name come from here.

// EDIDBlockSize is the size of one EDID block.
const EDIDBlockSize = 128

// MaxEDIDDim is the largest width or height a detailed timing descriptor
// holds (12 bits).
const MaxEDIDDim = 1<<12 - 1

// ErrEDIDMode is returned for a mode an EDID detailed timing cannot hold.
var ErrEDIDMode = errors.New("virtio-gpu: mode does not fit an EDID detailed timing")

// Byte offsets and values of the base block.
const (
	edidHeaderOff     = 0  // 00 FF FF FF FF FF FF 00
	edidVendorOff     = 8  // three 5-bit letters, big-endian
	edidProductOff    = 10 // little-endian product code
	edidYearOff       = 17 // year of manufacture - 1990
	edidVersionOff    = 18 // 1
	edidRevisionOff   = 19 // 4
	edidInputOff      = 20 // video input definition
	edidSizeCMOff     = 21 // horizontal, then vertical, screen size in cm
	edidGammaOff      = 23 // (gamma*100) - 100
	edidFeaturesOff   = 24 // feature support
	edidChromaOff     = 25 // 10 bytes of colour characteristics
	edidStdTimingsOff = 38 // 8 standard timings of 2 bytes
	edidDescOff       = 54 // four 18-byte descriptors
	edidDescSize      = 18
	edidExtCountOff   = 126
	edidChecksumOff   = 127

	edidVendor   = "GVM"
	edidName     = "GOVM"
	edidProduct  = 0x0001
	edidYear     = 2025
	edidBaseYear = 1990

	edidInputDigital8bpc = 0x80 | 0x20 // digital, 8 bits per colour, interface undefined
	edidGamma22          = 220 - 100
	// Feature support: sRGB is the default colour space (bit 2) and the
	// first detailed timing is the preferred, native mode (bit 1).
	edidFeatures       = 0x04 | 0x02
	edidStdTimingEmpty = 0x01 // both bytes of an unused standard timing

	edidTagName  = 0xfc // display product name descriptor
	edidTagDummy = 0x10 // dummy descriptor
	edidTextLen  = 13   // text bytes of a string descriptor

	// dtdSyncDigitalSeparate: digital separate sync (bits 4:3 = 11),
	// +hsync (bit 1), -vsync (bit 2 clear): the reduced-blanking style.
	dtdSyncDigitalSeparate = 0x18 | 0x02

	// Blanking in the style of CVT reduced blanking.
	hFrontPorch  = 48
	hSyncWidth   = 32
	hBackPorch   = 80
	vFrontPorch  = 3
	vSyncWidth   = 6
	vMinBack     = 6
	minVBlankUS  = 460 // minimum vertical blanking time, µs
	refreshHz    = 60
	frameUS      = 1_000_000 / refreshHz
	clockUnitHz  = 10_000 // a DTD gives the pixel clock in 10 kHz units
	maxClock10k  = 1<<16 - 1
	mmPerInchX10 = 254 // the physical size assumes 96 dots per inch
	dpi          = 96
)

// sRGB primaries and white point (x, y), in 1/1024 as EDID stores them.
var srgbChroma = [8]uint16{
	655, 338, // red 0.640, 0.330
	307, 614, // green 0.300, 0.600
	154, 61, // blue 0.150, 0.060
	320, 337, // white 0.3127, 0.3290
}

// EDID returns a base block for a width×height monitor named "GOVM".
func EDID(width, height int) ([EDIDBlockSize]byte, error) {
	var e [EDIDBlockSize]byte
	if width <= 0 || height <= 0 || width > MaxEDIDDim || height > MaxEDIDDim {
		return e, fmt.Errorf("%w: %dx%d (max %d)", ErrEDIDMode, width, height, MaxEDIDDim)
	}
	copy(e[edidHeaderOff:], []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00})
	var vendor uint16
	for _, c := range edidVendor {
		vendor = vendor<<5 | uint16(c-'A'+1)
	}
	e[edidVendorOff], e[edidVendorOff+1] = byte(vendor>>8), byte(vendor)
	le.PutUint16(e[edidProductOff:], edidProduct)
	e[edidYearOff] = edidYear - edidBaseYear
	e[edidVersionOff], e[edidRevisionOff] = 1, 4
	e[edidInputOff] = edidInputDigital8bpc
	wmm, hmm := width*mmPerInchX10/(dpi*10), height*mmPerInchX10/(dpi*10)
	e[edidSizeCMOff], e[edidSizeCMOff+1] = sizeCM(wmm), sizeCM(hmm)
	e[edidGammaOff] = edidGamma22
	e[edidFeaturesOff] = edidFeatures
	putChroma(e[edidChromaOff:edidStdTimingsOff])
	for i := edidStdTimingsOff; i < edidDescOff; i++ {
		e[i] = edidStdTimingEmpty
	}
	putDTD(e[edidDescOff:edidDescOff+edidDescSize], width, height, wmm, hmm)
	putText(e[edidDescOff+edidDescSize:edidDescOff+2*edidDescSize], edidTagName, edidName)
	e[edidDescOff+2*edidDescSize+3] = edidTagDummy
	e[edidDescOff+3*edidDescSize+3] = edidTagDummy
	e[edidExtCountOff] = 0
	var sum byte
	for _, b := range e[:edidChecksumOff] {
		sum += b
	}
	e[edidChecksumOff] = -sum
	return e, nil
}

// sizeCM converts millimetres to the 1..255 cm of the basic parameters.
func sizeCM(mm int) byte {
	return byte(min(max(mm/10, 1), 255))
}

// putChroma packs the ten 10-bit chromaticity values: two bytes of low
// bits, then the high eight bits of each.
func putChroma(b []byte) {
	c := srgbChroma
	b[0] = byte((c[0]&3)<<6 | (c[1]&3)<<4 | (c[2]&3)<<2 | c[3]&3)
	b[1] = byte((c[4]&3)<<6 | (c[5]&3)<<4 | (c[6]&3)<<2 | c[7]&3)
	for i, v := range c {
		b[2+i] = byte(v >> 2)
	}
}

// putDTD writes an 18-byte detailed timing descriptor for w×h. The pixel
// clock aims at 60 Hz (rounded down, so a little under) and is capped at what 16 bits of 10 kHz hold (the
// refresh rate then drops for the largest modes).
func putDTD(b []byte, w, h, wmm, hmm int) {
	hblank := hFrontPorch + hSyncWidth + hBackPorch
	vblank := max(vFrontPorch+vSyncWidth+vMinBack, ceilDiv(h*minVBlankUS, frameUS-minVBlankUS)+1)
	clock := min(max((w+hblank)*(h+vblank)*refreshHz/clockUnitHz, 1), maxClock10k)
	le.PutUint16(b[0:], uint16(clock))
	b[2], b[3], b[4] = byte(w), byte(hblank), byte(w>>8<<4|hblank>>8)
	b[5], b[6], b[7] = byte(h), byte(vblank), byte(h>>8<<4|vblank>>8)
	b[8], b[9] = byte(hFrontPorch), byte(hSyncWidth)
	b[10] = byte(vFrontPorch<<4 | vSyncWidth)
	b[11] = byte(hFrontPorch>>8<<6 | hSyncWidth>>8<<4 | vFrontPorch>>4<<2 | vSyncWidth>>4)
	b[12], b[13], b[14] = byte(wmm), byte(hmm), byte(wmm>>8<<4|hmm>>8)
	b[15], b[16] = 0, 0 // no borders
	b[17] = dtdSyncDigitalSeparate
}

// putText writes a display descriptor holding up to 13 characters of text:
// the text, a newline, then spaces.
func putText(b []byte, tag byte, s string) {
	b[3] = tag
	text := b[5 : 5+edidTextLen]
	n := copy(text, s)
	if n < len(text) {
		text[n] = '\n'
		n++
	}
	for ; n < len(text); n++ {
		text[n] = ' '
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
