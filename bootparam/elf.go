package bootparam

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"math"
)

// ELF layout. The structures are decoded by hand, rather than through
// debug/elf.NewFile, so that every offset and size is checked here against
// the file before use; debug/elf supplies the constant names.
const (
	elfMagic = "\x7fELF"

	elfIdentClass   = 4  // EI_CLASS
	elfIdentData    = 5  // EI_DATA
	elfIdentVersion = 6  // EI_VERSION
	elfType         = 16 // e_type, u16, same in both classes
	elfMachine      = 18 // e_machine, u16

	elf64Phoff     = 32 // e_phoff, u64
	elf64Phentsize = 54 // u16
	elf64Phnum     = 56 // u16
	elf64EhSize    = 64
	elf64PhdrSize  = 56

	elf32Phoff     = 28 // e_phoff, u32
	elf32Phentsize = 42
	elf32Phnum     = 44
	elf32EhSize    = 52
	elf32PhdrSize  = 32

	// PN_XNUM in e_phnum means the real count is elsewhere; we refuse it.
	elfPNXNum = 0xffff

	// Xen's ELF note for the PVH 32-bit entry point
	// (xen/include/public/elfnote.h).
	xenNoteName           = "Xen"
	xenElfnotePhys32Entry = 18
	noteHeaderSize        = 12 // namesz, descsz, type: u32 each
)

// progHeader is a program header in class-neutral form.
type progHeader struct {
	typ    elf.ProgType
	off    uint64
	paddr  uint64
	filesz uint64
	memsz  uint64
	align  uint64
}

// ParseELF parses an in-memory ELF image (see readELF).
func ParseELF(data []byte) (*Kernel, error) {
	return readELF(bytes.NewReader(data), int64(len(data)))
}

// readELF parses the size-byte little-endian ELF32 or ELF64 executable for
// i386 or x86-64 in r, collects its PT_LOAD segments (by physical address)
// and finds its PVH entry note. It reads the headers and notes only.
func readELF(r io.ReaderAt, size int64) (*Kernel, error) {
	phdrs, err := elfProgHeaders(r, size)
	if err != nil {
		return nil, err
	}
	k := &Kernel{Format: FormatELF}
	for i, ph := range phdrs {
		if ph.typ != elf.PT_LOAD && ph.typ != elf.PT_NOTE {
			continue
		}
		if ph.off > uint64(size) || ph.filesz > uint64(size)-ph.off {
			return nil, fmt.Errorf("%w: program header %d: file bytes [%#x, +%#x) beyond the %d-byte file",
				ErrTruncated, i, ph.off, ph.filesz, size)
		}
		if ph.typ == elf.PT_NOTE {
			notes, err := readSection(r, size, ph.off, ph.filesz)
			if err != nil {
				return nil, fmt.Errorf("program header %d: %w", i, err)
			}
			entry, found, err := findPVHEntry(notes, ph.align)
			if err != nil {
				return nil, fmt.Errorf("program header %d: %w", i, err)
			}
			if found {
				k.PVHEntry = entry
			}
			continue
		}
		if ph.filesz > ph.memsz {
			return nil, fmt.Errorf("%w: program header %d: p_filesz %#x > p_memsz %#x", ErrMalformed, i, ph.filesz, ph.memsz)
		}
		if ph.memsz > math.MaxUint64-ph.paddr {
			return nil, fmt.Errorf("%w: program header %d: p_paddr %#x + p_memsz %#x overflows", ErrMalformed, i, ph.paddr, ph.memsz)
		}
		if ph.memsz == 0 {
			continue
		}
		file := io.NewSectionReader(r, int64(ph.off), int64(ph.filesz)) // in the file: checked above
		k.LoadSegments = append(k.LoadSegments, LoadSegment{Addr: ph.paddr, File: file, MemSize: ph.memsz})
	}
	if len(k.LoadSegments) == 0 {
		return nil, fmt.Errorf("%w: ELF image has no loadable segment", ErrMalformed)
	}
	if k.PVHEntry == 0 {
		return nil, ErrNoPVHNote
	}
	if !k.containsEntry() {
		return nil, fmt.Errorf("%w: PVH entry %#x is outside every loadable segment", ErrMalformed, k.PVHEntry)
	}
	return k, nil
}

func (k *Kernel) containsEntry() bool {
	e := uint64(k.PVHEntry)
	for _, s := range k.LoadSegments {
		if e >= s.Addr && e-s.Addr < s.MemSize {
			return true
		}
	}
	return false
}

// elfProgHeaders checks the ELF header and decodes the program header table.
func elfProgHeaders(r io.ReaderAt, size int64) ([]progHeader, error) {
	data, err := readHead(r, size, elf64EhSize)
	if err != nil {
		return nil, err
	}
	if len(data) < elf32EhSize || string(data[:len(elfMagic)]) != elfMagic {
		return nil, fmt.Errorf("%w (ELF header truncated)", ErrNotKernel)
	}
	class := elf.Class(data[elfIdentClass])
	if class != elf.ELFCLASS32 && class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%w: ELF class %d", ErrUnsupportedKernel, class)
	}
	if d := elf.Data(data[elfIdentData]); d != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("%w: ELF data encoding %v, want little-endian", ErrUnsupportedKernel, d)
	}
	if v := elf.Version(data[elfIdentVersion]); v != elf.EV_CURRENT {
		return nil, fmt.Errorf("%w: ELF version %d", ErrMalformed, v)
	}
	if class == elf.ELFCLASS64 && len(data) < elf64EhSize {
		return nil, fmt.Errorf("%w: ELF64 header needs %d bytes, file has %d", ErrTruncated, elf64EhSize, size)
	}
	if t := elf.Type(le16(data, elfType)); t != elf.ET_EXEC {
		return nil, fmt.Errorf("%w: ELF type %v, want ET_EXEC", ErrUnsupportedKernel, t)
	}
	if m := elf.Machine(le16(data, elfMachine)); m != elf.EM_X86_64 && m != elf.EM_386 {
		return nil, fmt.Errorf("%w: ELF machine %v, want x86-64 or i386", ErrUnsupportedKernel, m)
	}

	var phoff uint64
	var phentsize, phnum, minEnt int
	if class == elf.ELFCLASS64 {
		phoff = le64(data, elf64Phoff)
		phentsize, phnum, minEnt = int(le16(data, elf64Phentsize)), int(le16(data, elf64Phnum)), elf64PhdrSize
	} else {
		phoff = uint64(le32(data, elf32Phoff))
		phentsize, phnum, minEnt = int(le16(data, elf32Phentsize)), int(le16(data, elf32Phnum)), elf32PhdrSize
	}
	if phnum == elfPNXNum {
		return nil, fmt.Errorf("%w: extended program header count (PN_XNUM)", ErrUnsupportedKernel)
	}
	if phnum == 0 {
		return nil, fmt.Errorf("%w: ELF image has no program headers", ErrMalformed)
	}
	if phentsize < minEnt {
		return nil, fmt.Errorf("%w: e_phentsize %d, want at least %d", ErrMalformed, phentsize, minEnt)
	}
	// phnum and phentsize are 16-bit, so the product cannot overflow.
	tableSize := uint64(phnum) * uint64(phentsize)
	if phoff > uint64(size) || tableSize > uint64(size)-phoff {
		return nil, fmt.Errorf("%w: program headers [%#x, +%#x) beyond the %d-byte file", ErrTruncated, phoff, tableSize, size)
	}
	table, err := readSection(r, size, phoff, tableSize)
	if err != nil {
		return nil, err
	}

	phdrs := make([]progHeader, phnum)
	for i := range phdrs {
		b := table[i*phentsize:]
		if class == elf.ELFCLASS64 {
			phdrs[i] = progHeader{
				typ:    elf.ProgType(le32(b, 0)),
				off:    le64(b, 8),
				paddr:  le64(b, 24),
				filesz: le64(b, 32),
				memsz:  le64(b, 40),
				align:  le64(b, 48),
			}
		} else {
			phdrs[i] = progHeader{
				typ:    elf.ProgType(le32(b, 0)),
				off:    uint64(le32(b, 4)),
				paddr:  uint64(le32(b, 12)),
				filesz: uint64(le32(b, 16)),
				memsz:  uint64(le32(b, 20)),
				align:  uint64(le32(b, 28)),
			}
		}
	}
	return phdrs, nil
}

// findPVHEntry walks the notes of one PT_NOTE segment looking for
// ("Xen", XEN_ELFNOTE_PHYS32_ENTRY). Note fields are padded to 4 bytes, or 8
// when the segment is 8-byte aligned.
func findPVHEntry(notes []byte, segAlign uint64) (entry uint32, found bool, err error) {
	align := uint64(4)
	if segAlign == 8 {
		align = 8
	}
	rest := notes
	for len(rest) > 0 {
		if len(rest) < noteHeaderSize {
			return 0, false, fmt.Errorf("%w: note header truncated (%d bytes left)", ErrMalformed, len(rest))
		}
		namesz, descsz, typ := uint64(le32(rest, 0)), uint64(le32(rest, 4)), le32(rest, 8)
		nameStart := uint64(noteHeaderSize)
		descStart, _ := alignUp(nameStart+namesz, align) // no overflow: namesz < 2^32
		descEnd := descStart + descsz
		next, _ := alignUp(descEnd, align)
		if descEnd > uint64(len(rest)) {
			return 0, false, fmt.Errorf("%w: note (name %d bytes, desc %d bytes) runs past its segment", ErrMalformed, namesz, descsz)
		}
		name := rest[nameStart : nameStart+namesz]
		desc := rest[descStart:descEnd]
		if typ == xenElfnotePhys32Entry && string(name) == xenNoteName+"\x00" {
			var v uint64
			switch len(desc) {
			case 4:
				v = uint64(le32(desc, 0))
			case 8:
				v = le64(desc, 0)
			default:
				return 0, false, fmt.Errorf("%w: PVH entry note has a %d-byte value, want 4 or 8", ErrMalformed, len(desc))
			}
			if v == 0 || v > math.MaxUint32 {
				return 0, false, fmt.Errorf("%w: PVH entry %#x is not a non-zero 32-bit address", ErrMalformed, v)
			}
			return uint32(v), true, nil
		}
		if next >= uint64(len(rest)) {
			break
		}
		rest = rest[next:]
	}
	return 0, false, nil
}
