package bootparam

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Setup header field offsets. The setup header sits at the same offset (0x1f1)
// in the bzImage file and in boot_params, so these are offsets in both.
// Names follow struct setup_header in arch/x86/include/uapi/asm/bootparam.h.
const (
	hdrSetupSects        = 0x1f1 // u8: setup sectors after the boot sector; 0 means 4
	hdrSyssize           = 0x1f4 // u32: protected-mode size in 16-byte paragraphs
	hdrBootFlag          = 0x1fe // u16: 0xAA55
	hdrJump              = 0x200 // u16: short jump; its second byte gives the header end
	hdrMagic             = 0x202 // u32: "HdrS"
	hdrVersion           = 0x206 // u16: boot protocol version, e.g. 0x020f
	hdrTypeOfLoader      = 0x210 // u8
	hdrLoadflags         = 0x211 // u8
	hdrRamdiskImage      = 0x218 // u32
	hdrRamdiskSize       = 0x21c // u32
	hdrHeapEndPtr        = 0x224 // u16
	hdrCmdLinePtr        = 0x228 // u32
	hdrInitrdAddrMax     = 0x22c // u32: highest address the initrd may occupy
	hdrKernelAlignment   = 0x230 // u32
	hdrRelocatableKernel = 0x234 // u8
	hdrXLoadflags        = 0x236 // u16
	hdrCmdlineSize       = 0x238 // u32: max command line length without the NUL
	hdrSetupData         = 0x250 // u64: linked list of setup_data, loader-owned
	hdrPrefAddress       = 0x258 // u64
	hdrInitSize          = 0x260 // u32

	// hdrEndMax is where the room for the header in boot_params ends
	// (edd_mbr_sig_buffer starts there).
	hdrEndMax = 0x290
)

// Values in the setup header.
const (
	bootFlagMagic   = 0xaa55
	hdrSMagic       = 0x53726448 // "HdrS" read as a little-endian u32
	sectorSize      = 512
	defaultSetupSec = 4 // setup_sects == 0 means 4

	minVersion         = 0x0206 // cmdline_size appears in 2.06
	versionPrefAddress = 0x020a // pref_address and init_size
	versionXLoadflags  = 0x020c // xloadflags

	// loadflags bits.
	LoadedHigh = 0x01 // protected-mode code is loaded at 0x100000
	CanUseHeap = 0x80 // heap_end_ptr is valid

	// xloadflags bits.
	XLFKernel64           = 0x01 // has the 64-bit entry at load address + 0x200
	XLFCanBeLoadedAbove4G = 0x02

	entry64Offset           = 0x200    // startup_64, relative to the load address
	typeOfLoaderUndefined   = 0xff     // "boot loader with no assigned ID"
	defaultPrefAddress      = 0x100000 // protocols before 2.10 load at 1 MiB
	maxKernelAlignmentShift = 30       // refuse absurd alignments (above 1 GiB)
)

// SetupHeader holds the fields of the bzImage setup header the loader uses.
// Fields newer than the image's protocol version are zero.
type SetupHeader struct {
	SetupSects        int    // setup sectors after the boot sector, 0 already mapped to 4
	Syssize           uint32 // protected-mode size in 16-byte paragraphs
	Version           uint16 // boot protocol, e.g. 0x020f for 2.15
	Loadflags         uint8
	InitrdAddrMax     uint32 // highest byte address the initrd may occupy
	KernelAlignment   uint32
	RelocatableKernel bool
	XLoadflags        uint16
	CmdlineSize       uint32 // max command line length, NUL excluded
	PrefAddress       uint64
	InitSize          uint32 // memory needed from the runtime start before the kernel reads e820
}

// ParseBzImage parses an in-memory bzImage (see readBzImage).
func ParseBzImage(data []byte) (*Kernel, error) {
	return readBzImage(bytes.NewReader(data), int64(len(data)))
}

// readBzImage parses the size-byte bzImage in r, reading only its setup
// header. It accepts only images this package can start: boot protocol 2.06
// or later, LOADED_HIGH, with a 64-bit entry point.
func readBzImage(r io.ReaderAt, size int64) (*Kernel, error) {
	// The header lies in the first hdrEndMax bytes.
	data, err := readHead(r, size, hdrEndMax)
	if err != nil {
		return nil, err
	}
	if len(data) < hdrVersion+2 {
		return nil, fmt.Errorf("%w (%d bytes, too short for a setup header)", ErrNotKernel, size)
	}
	if m := le32(data, hdrMagic); m != hdrSMagic {
		return nil, fmt.Errorf("%w (no \"HdrS\" magic at %#x)", ErrNotKernel, hdrMagic)
	}
	if f := le16(data, hdrBootFlag); f != bootFlagMagic {
		return nil, fmt.Errorf("%w (boot_flag is %#04x, want %#04x)", ErrNotKernel, f, bootFlagMagic)
	}
	h := &SetupHeader{Version: le16(data, hdrVersion)}
	if h.Version < minVersion {
		return nil, fmt.Errorf("%w: boot protocol %d.%02d, need %d.%02d or later",
			ErrUnsupportedVersion, h.Version>>8, h.Version&0xff, minVersion>>8, minVersion&0xff)
	}
	h.SetupSects = int(data[hdrSetupSects])
	if h.SetupSects == 0 {
		h.SetupSects = defaultSetupSec
	}
	setupLen := int64(h.SetupSects+1) * sectorSize
	if size <= setupLen {
		return nil, fmt.Errorf("%w: %d bytes, but the setup code alone is %d bytes", ErrTruncated, size, setupLen)
	}
	// The header is fully inside the setup sectors (at least 5*512 bytes,
	// more than hdrEndMax), so data holds it and every read below is in
	// bounds.
	h.Syssize = le32(data, hdrSyssize)
	h.Loadflags = data[hdrLoadflags]
	h.InitrdAddrMax = le32(data, hdrInitrdAddrMax)
	h.KernelAlignment = le32(data, hdrKernelAlignment)
	h.RelocatableKernel = data[hdrRelocatableKernel] != 0
	h.CmdlineSize = le32(data, hdrCmdlineSize)
	if h.Version >= versionPrefAddress {
		h.PrefAddress = le64(data, hdrPrefAddress)
		h.InitSize = le32(data, hdrInitSize)
	} else {
		h.PrefAddress = defaultPrefAddress
	}
	if h.Version >= versionXLoadflags {
		h.XLoadflags = le16(data, hdrXLoadflags)
	}

	payload := io.NewSectionReader(r, setupLen, size-setupLen)
	if paragraphs := (uint64(payload.Size()) + 15) / 16; paragraphs < uint64(h.Syssize) {
		return nil, fmt.Errorf("%w: protected-mode kernel is %d bytes, header says %d",
			ErrTruncated, payload.Size(), uint64(h.Syssize)*16)
	}
	if h.Loadflags&LoadedHigh == 0 {
		return nil, fmt.Errorf("%w: zImage (loadflags lacks LOADED_HIGH): only bzImage is supported", ErrUnsupportedKernel)
	}
	if h.XLoadflags&XLFKernel64 == 0 {
		return nil, fmt.Errorf("%w: no 64-bit entry point (xloadflags lacks XLF_KERNEL_64; boot protocol %d.%02d)",
			ErrUnsupportedKernel, h.Version>>8, h.Version&0xff)
	}
	if h.RelocatableKernel && (!isPowerOfTwo(uint64(h.KernelAlignment)) || h.KernelAlignment > 1<<maxKernelAlignmentShift) {
		return nil, fmt.Errorf("%w: kernel_alignment %#x is not a power of two up to 1 GiB", ErrMalformed, h.KernelAlignment)
	}

	// The header ends where its leading short jump lands: 0x202 + rel8.
	hdrEnd := hdrMagic + int(data[hdrJump+1])
	hdrEnd = max(hdrEnd, hdrVersion+2)
	hdrEnd = min(hdrEnd, hdrEndMax)
	return &Kernel{
		Format:  FormatBzImage,
		Header:  h,
		hdrRaw:  data[hdrSetupSects:hdrEnd],
		Payload: payload,
	}, nil
}

// runtimeStart is where the 64-bit decompressor will place the kernel: a
// relocatable kernel loaded at addr moves to addr aligned up to
// kernel_alignment, but never below pref_address (LOAD_PHYSICAL_ADDR); a
// fixed one always goes to pref_address.
func (h *SetupHeader) runtimeStart(addr uint64) (uint64, bool) {
	if !h.RelocatableKernel {
		return h.PrefAddress, true
	}
	a, ok := alignUp(addr, uint64(h.KernelAlignment))
	return max(a, h.PrefAddress), ok
}

func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
