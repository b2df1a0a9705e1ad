package bootparam

import "fmt"

// PVH boot structures (xen/include/public/arch-x86/hvm/start_info.h).
// pvh_test.go pins these offsets.
const (
	StartInfoMagic   = 0x336ec578 // hvm_start_info.magic: "xEn3" with the 0x80 bit of the "E" set
	StartInfoVersion = 1          // version 1 adds memmap_paddr and memmap_entries

	// struct hvm_start_info
	siMagic         = 0x00 // u32
	siVersion       = 0x04 // u32
	siFlags         = 0x08 // u32
	siNrModules     = 0x0c // u32
	siModlistPaddr  = 0x10 // u64
	siCmdlinePaddr  = 0x18 // u64
	siRsdpPaddr     = 0x20 // u64
	siMemmapPaddr   = 0x28 // u64
	siMemmapEntries = 0x30 // u32
	siReserved      = 0x34 // u32
	StartInfoSize   = 0x38

	// struct hvm_modlist_entry
	modPaddr         = 0x00 // u64
	modSize          = 0x08 // u64
	modCmdlinePaddr  = 0x10 // u64
	modReserved      = 0x18 // u64
	ModlistEntrySize = 0x20

	// struct hvm_memmap_table_entry
	mmAddr          = 0x00 // u64
	mmSize          = 0x08 // u64
	mmType          = 0x10 // u32
	mmReserved      = 0x14 // u32
	MemmapEntrySize = 0x18
)

// pvhParams are the values Prepare puts into hvm_start_info.
type pvhParams struct {
	infoAddr   uint64
	memmapAddr uint64
	cmdline    uint64
	rsdp       uint64
	initrdAddr uint64
	initrdSize uint64 // 0: no module
	memmap     []E820Entry
}

// buildStartInfo returns two segments: hvm_start_info at infoAddr, and the
// memory map table at memmapAddr followed directly by the module list (one
// hvm_modlist_entry for the initrd, if any). Memory map and module list must
// fit in the 4 KiB page that holds memmapAddr.
func buildStartInfo(p pvhParams) (info, tables Segment, modlistAddr uint64, err error) {
	if len(p.memmap) > E820Max {
		return Segment{}, Segment{}, 0, fmt.Errorf("%w: memory map has %d entries, at most %d", ErrBadConfig, len(p.memmap), E820Max)
	}
	nmod := 0
	if p.initrdSize > 0 {
		nmod = 1
	}
	tablesLen := uint64(len(p.memmap)*MemmapEntrySize + nmod*ModlistEntrySize)
	if p.memmapAddr%8 != 0 || alignDown(p.memmapAddr, pageSize)+pageSize-p.memmapAddr < tablesLen {
		return Segment{}, Segment{}, 0, fmt.Errorf("%w: PVH memory map (%d bytes) at %#x is misaligned or crosses its page",
			ErrBadConfig, tablesLen, p.memmapAddr)
	}

	t := make([]byte, tablesLen)
	for i, e := range p.memmap {
		off := i * MemmapEntrySize
		put64(t, off+mmAddr, e.Addr)
		put64(t, off+mmSize, e.Size)
		put32(t, off+mmType, uint32(e.Type))
	}
	if nmod > 0 {
		// The module list sits right after the memory map table.
		modlistAddr = p.memmapAddr + uint64(len(p.memmap)*MemmapEntrySize)
		m := t[len(p.memmap)*MemmapEntrySize:]
		put64(m, modPaddr, p.initrdAddr)
		put64(m, modSize, p.initrdSize)
	}

	si := make([]byte, StartInfoSize)
	put32(si, siMagic, StartInfoMagic)
	put32(si, siVersion, StartInfoVersion)
	put32(si, siNrModules, uint32(nmod))
	put64(si, siModlistPaddr, modlistAddr)
	put64(si, siCmdlinePaddr, p.cmdline)
	put64(si, siRsdpPaddr, p.rsdp)
	put64(si, siMemmapPaddr, p.memmapAddr)
	put32(si, siMemmapEntries, uint32(len(p.memmap)))
	return dataSegment("hvm_start_info", p.infoAddr, si),
		dataSegment("PVH memmap+modlist", p.memmapAddr, t), modlistAddr, nil
}
