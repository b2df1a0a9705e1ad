package bootparam

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"testing"
)

// Synthetic kernel images for tests and fuzz seeds. They contain headers
// only, plus a little payload: enough for the parser, nothing runnable.

type bzOpts struct {
	setupSects    uint8
	version       uint16
	loadflags     uint8
	xloadflags    uint16
	payloadLen    int
	initSize      uint32
	prefAddress   uint64
	cmdlineSize   uint32
	initrdAddrMax uint32
	alignment     uint32
	relocatable   bool
}

func defaultBzOpts() bzOpts {
	return bzOpts{
		setupSects:    4,
		version:       0x020f,
		loadflags:     LoadedHigh,
		xloadflags:    XLFKernel64 | XLFCanBeLoadedAbove4G,
		payloadLen:    3000,
		initSize:      0x400000, // 4 MiB
		prefAddress:   0x1000000,
		cmdlineSize:   2047,
		initrdAddrMax: 0x7fffffff,
		alignment:     0x200000,
		relocatable:   true,
	}
}

// testHeaderEnd is where the synthetic setup header ends (after init_size
// and handover_offset, like a 2.15 kernel: 0x202 + 0x6a = 0x26c).
const testHeaderEnd = 0x26c

func makeBzImage(o bzOpts) []byte {
	sects := int(o.setupSects)
	if sects == 0 {
		sects = defaultSetupSec
	}
	setupLen := (sects + 1) * sectorSize
	b := make([]byte, setupLen+o.payloadLen)
	b[hdrSetupSects] = o.setupSects
	binary.LittleEndian.PutUint32(b[hdrSyssize:], uint32((o.payloadLen+15)/16))
	binary.LittleEndian.PutUint16(b[hdrBootFlag:], bootFlagMagic)
	b[hdrJump], b[hdrJump+1] = 0xeb, testHeaderEnd-hdrMagic
	copy(b[hdrMagic:], "HdrS")
	binary.LittleEndian.PutUint16(b[hdrVersion:], o.version)
	b[hdrLoadflags] = o.loadflags
	binary.LittleEndian.PutUint16(b[hdrHeapEndPtr:], 0x5000) // as real images ship it
	binary.LittleEndian.PutUint32(b[hdrInitrdAddrMax:], o.initrdAddrMax)
	binary.LittleEndian.PutUint32(b[hdrKernelAlignment:], o.alignment)
	if o.relocatable {
		b[hdrRelocatableKernel] = 1
	}
	binary.LittleEndian.PutUint16(b[hdrXLoadflags:], o.xloadflags)
	binary.LittleEndian.PutUint32(b[hdrCmdlineSize:], o.cmdlineSize)
	binary.LittleEndian.PutUint64(b[hdrPrefAddress:], o.prefAddress)
	binary.LittleEndian.PutUint32(b[hdrInitSize:], o.initSize)
	for i := setupLen; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

type elfSeg struct {
	typ    elf.ProgType
	paddr  uint64
	data   []byte
	memsz  uint64 // 0: len(data)
	align  uint64
	offset *uint64 // override p_offset
}

type elfOpts struct {
	class   elf.Class
	machine elf.Machine
	segs    []elfSeg
}

// pvhNote is a "Xen" XEN_ELFNOTE_PHYS32_ENTRY note with a 4- or 8-byte value.
func pvhNote(entry uint64, size int) []byte {
	n := make([]byte, noteHeaderSize+4+size)
	binary.LittleEndian.PutUint32(n[0:], 4) // namesz, "Xen\0"
	binary.LittleEndian.PutUint32(n[4:], uint32(size))
	binary.LittleEndian.PutUint32(n[8:], xenElfnotePhys32Entry)
	copy(n[12:], "Xen\x00")
	if size == 8 {
		binary.LittleEndian.PutUint64(n[16:], entry)
	} else {
		binary.LittleEndian.PutUint32(n[16:], uint32(entry))
	}
	return n
}

// otherNote is an unrelated note that the PVH search must skip.
func otherNote() []byte {
	n := make([]byte, noteHeaderSize+4+8)
	binary.LittleEndian.PutUint32(n[0:], 4)
	binary.LittleEndian.PutUint32(n[4:], 5) // odd size: tests the padding
	binary.LittleEndian.PutUint32(n[8:], 3)
	copy(n[12:], "GNU\x00")
	return n
}

// defaultELF is a tiny guest: 16 bytes of code at 1 MiB with a .bss tail
// and a PVH note pointing at the code.
func defaultELF() elfOpts {
	return elfOpts{
		class:   elf.ELFCLASS64,
		machine: elf.EM_X86_64,
		segs: []elfSeg{
			{typ: elf.PT_LOAD, paddr: 0x100000, data: []byte("\xfa\xf4code-code-code"), memsz: 0x2000},
			{typ: elf.PT_NOTE, data: append(otherNote(), pvhNote(0x100000, 8)...), align: 4},
		},
	}
}

func makeELF(o elfOpts) []byte {
	is64 := o.class == elf.ELFCLASS64
	ehSize, phSize := elf32EhSize, elf32PhdrSize
	if is64 {
		ehSize, phSize = elf64EhSize, elf64PhdrSize
	}
	off := uint64(ehSize + phSize*len(o.segs))
	b := make([]byte, off)
	copy(b, elfMagic)
	b[elfIdentClass] = byte(o.class)
	b[elfIdentData] = byte(elf.ELFDATA2LSB)
	b[elfIdentVersion] = byte(elf.EV_CURRENT)
	le := binary.LittleEndian
	le.PutUint16(b[elfType:], uint16(elf.ET_EXEC))
	le.PutUint16(b[elfMachine:], uint16(o.machine))
	if is64 {
		le.PutUint64(b[elf64Phoff:], uint64(ehSize))
		le.PutUint16(b[elf64Phentsize:], uint16(phSize))
		le.PutUint16(b[elf64Phnum:], uint16(len(o.segs)))
	} else {
		le.PutUint32(b[elf32Phoff:], uint32(ehSize))
		le.PutUint16(b[elf32Phentsize:], uint16(phSize))
		le.PutUint16(b[elf32Phnum:], uint16(len(o.segs)))
	}
	for i, s := range o.segs {
		p := b[ehSize+i*phSize:]
		memsz := s.memsz
		if memsz == 0 {
			memsz = uint64(len(s.data))
		}
		dataOff := uint64(len(b))
		if s.offset != nil {
			dataOff = *s.offset
		}
		if is64 {
			le.PutUint32(p[0:], uint32(s.typ))
			le.PutUint64(p[8:], dataOff)
			le.PutUint64(p[16:], s.paddr)
			le.PutUint64(p[24:], s.paddr)
			le.PutUint64(p[32:], uint64(len(s.data)))
			le.PutUint64(p[40:], memsz)
			le.PutUint64(p[48:], s.align)
		} else {
			le.PutUint32(p[0:], uint32(s.typ))
			le.PutUint32(p[4:], uint32(dataOff))
			le.PutUint32(p[8:], uint32(s.paddr))
			le.PutUint32(p[12:], uint32(s.paddr))
			le.PutUint32(p[16:], uint32(len(s.data)))
			le.PutUint32(p[20:], uint32(memsz))
			le.PutUint32(p[28:], uint32(s.align))
		}
		b = append(b, s.data...)
	}
	return b
}

// testRAM is a small PC-like map: 639 KiB low RAM, the EBDA/BIOS hole, ACPI
// tables, and RAM from 1 MiB up to size.
func testRAM(size uint64) []E820Entry {
	return []E820Entry{
		{Addr: 0, Size: 0x9fc00, Type: E820RAM},
		{Addr: 0x9fc00, Size: 0x400, Type: E820Reserved},
		{Addr: 0xe0000, Size: 0x20000, Type: E820ACPI},
		{Addr: 0x100000, Size: size - 0x100000, Type: E820RAM},
	}
}

// testConfig uses the machine package's layout.
func testConfig(ramSize uint64) Config {
	return Config{
		Cmdline:       "console=ttyS0 panic=-1",
		RAM:           testRAM(ramSize),
		RSDPAddr:      0xe0000,
		ZeroPageAddr:  0x7000,
		CmdlineAddr:   0x20000,
		CmdlineMax:    0x10000,
		PVHInfoAddr:   0x6000,
		PVHMemmapAddr: 0x6040,
		KernelAddr:    0x100000,
	}
}

// section is b as a file section, the form Config.Initrd takes.
func section(b []byte) *io.SectionReader {
	return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
}

// zeros is an n-byte section of zeros that allocates nothing: a big initrd
// for placement tests.
func zeros(n int64) *io.SectionReader { return io.NewSectionReader(zeroReaderAt{}, 0, n) }

type zeroReaderAt struct{}

func (zeroReaderAt) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

// readAll reads a whole section.
func readAll(t *testing.T, s *io.SectionReader) []byte {
	t.Helper()
	b := make([]byte, s.Size())
	if _, err := s.ReadAt(b, 0); err != nil && !(err == io.EOF && len(b) == int(s.Size())) {
		t.Fatalf("reading a section: %v", err)
	}
	return b
}

// content is what the machine copies for s: Data, or its file section.
func content(t *testing.T, s Segment) []byte {
	t.Helper()
	if s.File != nil {
		return readAll(t, s.File)
	}
	return s.Data
}
