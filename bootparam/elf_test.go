package bootparam

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestParseELF(t *testing.T) {
	for _, class := range []elf.Class{elf.ELFCLASS64, elf.ELFCLASS32} {
		for _, noteSize := range []int{4, 8} {
			o := defaultELF()
			o.class = class
			if class == elf.ELFCLASS32 {
				o.machine = elf.EM_386
			}
			o.segs[1].data = append(otherNote(), pvhNote(0x100001, noteSize)...)
			k, err := ParseKernel(makeELF(o))
			if err != nil {
				t.Fatalf("%v note %d: %v", class, noteSize, err)
			}
			if k.Format != FormatELF || k.PVHEntry != 0x100001 || len(k.LoadSegments) != 1 {
				t.Errorf("%v note %d: %+v", class, noteSize, k)
			}
			s := k.LoadSegments[0]
			if s.Addr != 0x100000 || s.MemSize != 0x2000 || string(readAll(t, s.File)) != "\xfa\xf4code-code-code" {
				t.Errorf("%v: segment %+v", class, s)
			}
		}
	}
}

// TestPVHNote8Aligned: in an 8-aligned PT_NOTE, name and value are padded
// to 8 bytes.
func TestPVHNote8Aligned(t *testing.T) {
	// Note 1: name "Xen1\0" (5 bytes) at 12, padded to 24; 8-byte value at 24.
	n := make([]byte, 32)
	binary.LittleEndian.PutUint32(n[0:], 5)
	binary.LittleEndian.PutUint32(n[4:], 8)
	binary.LittleEndian.PutUint32(n[8:], 1)
	copy(n[12:], "Xen1\x00")
	// Note 2: the PVH note; name ends at 16, already aligned; value at 16.
	n = append(n, pvhNote(0x100004, 8)...)
	entry, found, err := findPVHEntry(n, 8)
	if err != nil || !found || entry != 0x100004 {
		t.Errorf("findPVHEntry = %#x, %v, %v", entry, found, err)
	}
	// Read with 4-byte padding the same bytes go wrong, showing the
	// alignment matters: the first value would start at 20.
	if entry, found, _ := findPVHEntry(n, 4); found && entry == 0x100004 {
		t.Errorf("4-byte padding should not find the note at the same place")
	}
}

func TestParseELFErrors(t *testing.T) {
	good := makeELF(defaultELF())
	with := func(f func(o *elfOpts)) []byte {
		o := defaultELF()
		f(&o)
		return makeELF(o)
	}
	patch := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	huge := uint64(1 << 40)
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"truncated header", good[:20], ErrNotKernel, "ELF header truncated"},
		{"truncated ELF64 header", good[:60], ErrTruncated, "ELF64 header"},
		{"phdrs past end", good[:100], ErrTruncated, "program headers"},
		{"big endian", patch(elfIdentData, byte(elf.ELFDATA2MSB)), ErrUnsupportedKernel, "little-endian"},
		{"bad class", patch(elfIdentClass, 7), ErrUnsupportedKernel, "class"},
		{"arm64", with(func(o *elfOpts) { o.machine = elf.EM_AARCH64 }), ErrUnsupportedKernel, "EM_AARCH64"},
		{"shared object", patch(elfType, byte(elf.ET_DYN)), ErrUnsupportedKernel, "ET_DYN"},
		{"PN_XNUM", patch(elf64Phnum, 0xff, 0xff), ErrUnsupportedKernel, "PN_XNUM"},
		{"no phdrs", patch(elf64Phnum, 0, 0), ErrMalformed, "no program headers"},
		{"small phentsize", patch(elf64Phentsize, 8, 0), ErrMalformed, "e_phentsize"},
		{"phoff huge", patch(elf64Phoff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ErrTruncated, "program headers"},
		{"p_offset past end", with(func(o *elfOpts) { o.segs[0].offset = &huge }), ErrTruncated, "program header 0"},
		{"filesz past end", good[:len(good)-40], ErrTruncated, "beyond the"},
		{"filesz > memsz", with(func(o *elfOpts) { o.segs[0].memsz = 4 }), ErrMalformed, "p_filesz"},
		{"paddr+memsz overflows", with(func(o *elfOpts) { o.segs[0].paddr = 1<<64 - 0x1000 }), ErrMalformed, "overflows"},
		{"no PVH note", with(func(o *elfOpts) { o.segs[1].data = otherNote() }), ErrNoPVHNote, "ELF kernel has no PVH entry note"},
		{"no PT_NOTE", with(func(o *elfOpts) { o.segs = o.segs[:1] }), ErrNoPVHNote, "no PVH entry note"},
		{"no PT_LOAD", with(func(o *elfOpts) { o.segs = o.segs[1:] }), ErrMalformed, "no loadable segment"},
		{"entry outside segments", with(func(o *elfOpts) { o.segs[1].data = pvhNote(0x5000, 4) }), ErrMalformed, "outside every loadable segment"},
		{"entry above 4 GiB", with(func(o *elfOpts) { o.segs[1].data = pvhNote(1<<32, 8) }), ErrMalformed, "32-bit"},
		{"entry zero", with(func(o *elfOpts) { o.segs[1].data = pvhNote(0, 4) }), ErrMalformed, "32-bit"},
		{"note value 2 bytes", with(func(o *elfOpts) {
			n := pvhNote(0x100000, 4)
			binary.LittleEndian.PutUint32(n[4:], 2)
			o.segs[1].data = n
		}), ErrMalformed, "2-byte value"},
		{"note runs past segment", with(func(o *elfOpts) {
			n := pvhNote(0x100000, 4)
			binary.LittleEndian.PutUint32(n[4:], 0xffffffff)
			o.segs[1].data = n
		}), ErrMalformed, "runs past"},
		{"note header cut", with(func(o *elfOpts) { o.segs[1].data = pvhNote(0x100000, 4)[:8] }), ErrMalformed, "note header truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKernel(tt.data)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v (kernel %+v), want %v containing %q", err, k, tt.want, tt.msg)
			}
		})
	}
}

func TestPrepareELFStartInfo(t *testing.T) {
	k, err := ParseELF(makeELF(defaultELF()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(32 * mib)
	cfg.Initrd = section(bytes.Repeat([]byte{0xab}, 100*kib))
	p, err := Prepare(k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != EntryPVH || p.Entry != 0x100000 || p.BootInfo != 0x6000 || p.KernelEnd != 0x102000 {
		t.Errorf("plan %v entry %#x bootinfo %#x kernel end %#x", p.Mode, p.Entry, p.BootInfo, p.KernelEnd)
	}
	wantInitrd := uint64(32*mib - 100*kib)
	if p.InitrdAddr != wantInitrd || p.InitrdSize != 100*kib {
		t.Errorf("initrd at %#x size %#x, want %#x", p.InitrdAddr, p.InitrdSize, wantInitrd)
	}
	segs := map[string]Segment{}
	for _, s := range p.Segments {
		segs[s.Name] = s
	}
	code := segs["ELF segment 0"]
	// The .bss tail is not in the content: guest RAM starts zero.
	if code.Addr != 0x100000 || code.Size != 0x2000 || string(content(t, code)) != "\xfa\xf4code-code-code" {
		t.Errorf("ELF segment at %#x, %d bytes, not code + zero tail", code.Addr, code.Size)
	}

	si := segs["hvm_start_info"]
	if si.Addr != 0x6000 || len(si.Data) != StartInfoSize {
		t.Fatalf("start_info at %#x, %d bytes", si.Addr, len(si.Data))
	}
	wantModlist := uint64(0x6040 + len(cfg.RAM)*MemmapEntrySize)
	u32 := func(b []byte, off int) uint64 { return uint64(binary.LittleEndian.Uint32(b[off:])) }
	u64 := func(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	fields := []struct {
		name      string
		got, want uint64
	}{
		{"magic", u32(si.Data, siMagic), 0x336ec578},
		{"version", u32(si.Data, siVersion), 1},
		{"flags", u32(si.Data, siFlags), 0},
		{"nr_modules", u32(si.Data, siNrModules), 1},
		{"modlist_paddr", u64(si.Data, siModlistPaddr), wantModlist},
		{"cmdline_paddr", u64(si.Data, siCmdlinePaddr), 0x20000},
		{"rsdp_paddr", u64(si.Data, siRsdpPaddr), 0xe0000},
		{"memmap_paddr", u64(si.Data, siMemmapPaddr), 0x6040},
		{"memmap_entries", u32(si.Data, siMemmapEntries), uint64(len(cfg.RAM))},
		{"Plan.ModlistAddr", p.ModlistAddr, wantModlist},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s = %#x, want %#x", f.name, f.got, f.want)
		}
	}

	tab := segs["PVH memmap+modlist"]
	if tab.Addr != 0x6040 || len(tab.Data) != len(cfg.RAM)*MemmapEntrySize+ModlistEntrySize {
		t.Fatalf("tables at %#x, %d bytes", tab.Addr, len(tab.Data))
	}
	for i, e := range cfg.RAM {
		b := tab.Data[i*MemmapEntrySize:]
		got := E820Entry{Addr: u64(b, mmAddr), Size: u64(b, mmSize), Type: E820Type(u32(b, mmType))}
		if got != e || u32(b, mmReserved) != 0 {
			t.Errorf("memmap[%d] = %+v, want %+v", i, got, e)
		}
	}
	m := tab.Data[len(cfg.RAM)*MemmapEntrySize:]
	if u64(m, modPaddr) != wantInitrd || u64(m, modSize) != 100*kib || u64(m, modCmdlinePaddr) != 0 || u64(m, modReserved) != 0 {
		t.Errorf("modlist entry % x", m)
	}
	if s := segs["cmdline"]; string(s.Data) != cfg.Cmdline+"\x00" {
		t.Errorf("cmdline %q", s.Data)
	}

	// Without an initrd: no module and no modlist.
	cfg.Initrd = nil
	p, err = Prepare(k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Segments {
		if s.Name == "hvm_start_info" && (u32(s.Data, siNrModules) != 0 || u64(s.Data, siModlistPaddr) != 0) {
			t.Errorf("modules without initrd")
		}
		if s.Name == "initrd" {
			t.Errorf("initrd segment without initrd")
		}
	}
}

func TestPrepareELFErrors(t *testing.T) {
	tests := []struct {
		name string
		elf  func(*elfOpts)
		cfg  func(*Config)
		want error
		msg  string
	}{
		{"segment beyond RAM", func(o *elfOpts) { o.segs[0].memsz = 64 * mib }, nil, ErrDoesNotFit, "ELF segment 0"},
		{"segment in the hole", func(o *elfOpts) {
			o.segs[0].paddr = 0xa0000
			o.segs[1].data = pvhNote(0xa0000, 4)
		}, nil, ErrDoesNotFit, "ELF segment 0"},
		{"segment over start_info", func(o *elfOpts) {
			o.segs[0].paddr = 0x5000
			o.segs[1].data = pvhNote(0x5000, 4)
		}, nil, ErrOverlap, "hvm_start_info"},
		{"initrd larger than RAM", nil, func(c *Config) { c.Initrd = zeros(40 * mib) },
			ErrDoesNotFit, "initrd (40 MiB) does not fit in guest memory (31.6 MiB)"},
		{"cmdline over machine area", nil, func(c *Config) { c.CmdlineMax = 4 }, ErrCmdlineTooLong, "machine reserves 4"},
		{"memmap crosses its page", nil, func(c *Config) { c.PVHMemmapAddr = 0x6fe0 }, ErrBadConfig, "crosses its page"},
		{"memmap overlaps start_info", nil, func(c *Config) { c.PVHMemmapAddr = 0x6010 }, ErrOverlap, "hvm_start_info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultELF()
			if tt.elf != nil {
				tt.elf(&o)
			}
			k, err := ParseELF(makeELF(o))
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(32 * mib)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err = Prepare(k, cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}
