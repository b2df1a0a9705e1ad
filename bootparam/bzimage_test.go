package bootparam

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBzImage(t *testing.T) {
	k, err := ParseKernel(makeBzImage(defaultBzOpts()))
	if err != nil {
		t.Fatal(err)
	}
	h := k.Header
	if k.Format != FormatBzImage || h.Version != 0x020f || h.SetupSects != 4 || h.CmdlineSize != 2047 ||
		h.InitSize != 0x400000 || h.PrefAddress != 0x1000000 || !h.RelocatableKernel || h.KernelAlignment != 0x200000 {
		t.Errorf("header = %+v", h)
	}
	if payload := readAll(t, k.Payload); len(payload) != 3000 || payload[0] != byte(5*512%256) {
		t.Errorf("payload: %d bytes starting %#x, want 3000 starting at file offset 0xa00", len(payload), payload[0])
	}
	if len(k.hdrRaw) != testHeaderEnd-hdrSetupSects {
		t.Errorf("raw header is %d bytes, want %d", len(k.hdrRaw), testHeaderEnd-hdrSetupSects)
	}

	// setup_sects == 0 means 4.
	o := defaultBzOpts()
	o.setupSects = 0
	k, err = ParseBzImage(makeBzImage(o))
	if err != nil || k.Header.SetupSects != 4 || k.Payload.Size() != 3000 {
		t.Errorf("setup_sects 0: %v, %+v", err, k)
	}
}

func TestParseBzImageErrors(t *testing.T) {
	good := makeBzImage(defaultBzOpts())
	with := func(f func(o *bzOpts)) []byte {
		o := defaultBzOpts()
		f(&o)
		return makeBzImage(o)
	}
	patch := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotKernel, "too short"},
		{"text file", []byte(strings.Repeat("#!/bin/sh\necho hello\n", 200)), ErrNotKernel, `no "HdrS" magic`},
		{"truncated in header", good[:0x300], ErrTruncated, "setup code alone"},
		{"truncated setup", good[:5*512], ErrTruncated, "setup code alone"},
		{"truncated payload", good[:len(good)-100], ErrTruncated, "header says"},
		{"bad boot flag", patch(hdrBootFlag, 0x55, 0x55), ErrNotKernel, "boot_flag"},
		{"version 0x0205", with(func(o *bzOpts) { o.version = 0x0205 }), ErrUnsupportedVersion, "boot protocol 2.05, need 2.06"},
		{"no XLF_KERNEL_64", with(func(o *bzOpts) { o.xloadflags = 0 }), ErrUnsupportedKernel, "XLF_KERNEL_64"},
		{"version 2.11 has no xloadflags", with(func(o *bzOpts) { o.version = 0x020b }), ErrUnsupportedKernel, "XLF_KERNEL_64"},
		{"zImage", with(func(o *bzOpts) { o.loadflags = 0 }), ErrUnsupportedKernel, "LOADED_HIGH"},
		{"alignment not power of 2", with(func(o *bzOpts) { o.alignment = 0x300000 }), ErrMalformed, "kernel_alignment"},
		{"alignment zero", with(func(o *bzOpts) { o.alignment = 0 }), ErrMalformed, "kernel_alignment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKernel(tt.data)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v (kernel %v), want %v containing %q", err, k, tt.want, tt.msg)
			}
		})
	}
}

func TestLoadKernelNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("just some text\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenKernel(path)
	want := `kernel "` + path + `": not a bzImage or ELF vmlinux (no "HdrS" magic at 0x202)`
	if !errors.Is(err, ErrNotKernel) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if _, err := OpenKernel(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}

	good := filepath.Join(dir, "bzImage")
	if err := os.WriteFile(good, makeBzImage(defaultBzOpts()), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := OpenKernel(good)
	if err != nil || k.Format != FormatBzImage {
		t.Fatalf("OpenKernel(bzImage) = %v, %v", k, err)
	}
	if got := readAll(t, k.Payload); !bytes.Equal(got, makeBzImage(defaultBzOpts())[5*sectorSize:]) {
		t.Errorf("payload read from the file: %d bytes, not the image's", len(got))
	}
	if err := k.Close(); err != nil {
		t.Error(err)
	}
	if _, err := OpenKernel(dir); !errors.Is(err, ErrNotKernel) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestPrepareBzImageZeroPage(t *testing.T) {
	k, err := ParseBzImage(makeBzImage(defaultBzOpts()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(64 * mib)
	cfg.Initrd = section(bytes.Repeat([]byte{0xcc}, 3*mib+5))
	p, err := Prepare(k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != Entry64 || p.Entry != 0x100200 || p.BootInfo != 0x7000 {
		t.Errorf("mode %v entry %#x bootinfo %#x", p.Mode, p.Entry, p.BootInfo)
	}
	// Relocatable, aligned 2 MiB, pref 16 MiB: the kernel decompresses at
	// 16 MiB and needs init_size (4 MiB) there.
	if p.KernelEnd != 0x1400000 {
		t.Errorf("KernelEnd = %#x, want 0x1400000", p.KernelEnd)
	}
	// Highest page below 64 MiB that holds 3 MiB + 5 bytes.
	wantInitrd := uint64(64*mib - 3*mib - pageSize)
	if p.InitrdAddr != wantInitrd || p.InitrdSize != uint64(cfg.Initrd.Size()) {
		t.Errorf("initrd at %#x size %#x, want %#x", p.InitrdAddr, p.InitrdSize, wantInitrd)
	}

	segs := map[string]Segment{}
	for _, s := range p.Segments {
		segs[s.Name] = s
	}
	if s := segs["kernel"]; s.Addr != 0x100000 || s.Size != 3000 || !bytes.Equal(content(t, s), readAll(t, k.Payload)) {
		t.Errorf("kernel segment at %#x, %d bytes", s.Addr, s.Size)
	}
	if s := segs["cmdline"]; s.Addr != 0x20000 || string(s.Data) != cfg.Cmdline+"\x00" {
		t.Errorf("cmdline segment %#x %q", s.Addr, s.Data)
	}
	if s := segs["initrd"]; s.Addr != wantInitrd || s.Size != uint64(cfg.Initrd.Size()) || s.File != cfg.Initrd {
		t.Errorf("initrd segment at %#x", s.Addr)
	}
	zp := segs["boot_params"]
	if zp.Addr != 0x7000 || len(zp.Data) != 4096 {
		t.Fatalf("boot_params at %#x, %d bytes", zp.Addr, len(zp.Data))
	}
	bp := zp.Data
	u8 := func(off int) uint64 { return uint64(bp[off]) }
	u16 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint16(bp[off:])) }
	u32 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint32(bp[off:])) }
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(bp[off:]) }
	fields := []struct {
		name      string
		got, want uint64
	}{
		{"boot_flag (copied header)", u16(hdrBootFlag), bootFlagMagic},
		{"HdrS (copied header)", u32(hdrMagic), hdrSMagic},
		{"version", u16(hdrVersion), 0x020f},
		{"init_size (copied header)", u32(hdrInitSize), 0x400000},
		{"type_of_loader", u8(hdrTypeOfLoader), 0xff},
		{"loadflags", u8(hdrLoadflags), LoadedHigh},
		{"heap_end_ptr", u16(hdrHeapEndPtr), 0},
		{"cmd_line_ptr", u32(hdrCmdLinePtr), 0x20000},
		{"ext_cmd_line_ptr", u32(bpExtCmdLinePtr), 0},
		{"ramdisk_image", u32(hdrRamdiskImage), wantInitrd},
		{"ramdisk_size", u32(hdrRamdiskSize), 3*mib + 5},
		{"ext_ramdisk_image", u32(bpExtRamdiskImage), 0},
		{"ext_ramdisk_size", u32(bpExtRamdiskSize), 0},
		{"acpi_rsdp_addr", u64(bpAcpiRsdpAddr), 0xe0000},
		{"e820_entries", u8(bpE820Entries), 4},
		{"setup_data", u64(hdrSetupData), 0},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s = %#x, want %#x", f.name, f.got, f.want)
		}
	}
	for i, e := range cfg.RAM {
		off := bpE820Table + i*e820EntrySize
		got := E820Entry{Addr: u64(off), Size: u64(off + 8), Type: E820Type(u32(off + 16))}
		if got != e {
			t.Errorf("e820[%d] = %+v, want %+v", i, got, e)
		}
	}
	// Nothing after the table or the header leaked in.
	if !isZero(bp[bpE820Table+4*e820EntrySize:]) || !isZero(bp[testHeaderEnd:bpE820Table]) {
		t.Errorf("unexpected non-zero bytes in boot_params")
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestPrepareCmdline(t *testing.T) {
	k, err := ParseBzImage(makeBzImage(defaultBzOpts())) // cmdline_size 2047
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cmdline string
		max     uint64
		want    error
	}{
		{"empty", "", 0x10000, nil},
		{"at kernel limit", strings.Repeat("a", 2047), 0x10000, nil},
		{"over kernel limit", strings.Repeat("a", 2048), 0x10000, ErrCmdlineTooLong},
		{"at machine limit", strings.Repeat("a", 99), 100, nil},
		{"over machine limit (NUL)", strings.Repeat("a", 100), 100, ErrCmdlineTooLong},
		{"embedded NUL", "a\x00b", 100, ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(64 * mib)
			cfg.Cmdline, cfg.CmdlineMax = tt.cmdline, tt.max
			_, err := Prepare(k, cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && tt.want == ErrCmdlineTooLong && !strings.Contains(err.Error(), "command line too long") {
				t.Errorf("unclear error %q", err)
			}
		})
	}
}

func TestInitrdPlacement(t *testing.T) {
	tests := []struct {
		name          string
		ram           uint64
		initrdAddrMax uint32
		initrd        int
		want          uint64
		wantErr       string
	}{
		{"top of RAM", 64 * mib, 0x7fffffff, 1 * mib, 63 * mib, ""},
		{"page aligned down", 64 * mib, 0x7fffffff, 1*mib + 1, 62*mib + 0xff000, ""},
		{"capped by initrd_addr_max", 64 * mib, 0x1ffffff, 1 * mib, 31 * mib, ""},
		{"just above the kernel", 21 * mib, 0x7fffffff, 1 * mib, 20 * mib, ""},
		{"kernel leaves no room", 21 * mib, 0x7fffffff, 1*mib + 1, 0, "initrd (1.0 MiB) does not fit in guest memory (20.6 MiB)"},
		{"larger than RAM", 64 * mib, 0x7fffffff, 128 * mib, 0, "initrd (128 MiB) does not fit in guest memory (63.6 MiB)"},
		{"below initrd_addr_max impossible", 64 * mib, 0x13fffff, 1 * mib, 0, "does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultBzOpts()
			o.initrdAddrMax = tt.initrdAddrMax
			k, err := ParseBzImage(makeBzImage(o))
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(tt.ram)
			cfg.Initrd = zeros(int64(tt.initrd))
			p, err := Prepare(k, cfg)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrDoesNotFit) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrDoesNotFit %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.InitrdAddr != tt.want {
				t.Errorf("initrd at %#x, want %#x", p.InitrdAddr, tt.want)
			}
			if p.InitrdAddr < p.KernelEnd || p.InitrdAddr%pageSize != 0 ||
				p.InitrdAddr+p.InitrdSize-1 > uint64(tt.initrdAddrMax) {
				t.Errorf("initrd [%#x, +%#x) breaks a rule (kernel end %#x)", p.InitrdAddr, p.InitrdSize, p.KernelEnd)
			}
		})
	}
}

func TestPrepareBzImageErrors(t *testing.T) {
	k, err := ParseBzImage(makeBzImage(defaultBzOpts()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  func(*Config)
		want error
		msg  string
	}{
		{"kernel too big for RAM", func(c *Config) { c.RAM = testRAM(16 * mib) }, ErrDoesNotFit, "kernel [0x100000, 0x1400000)"},
		{"zero page over cmdline", func(c *Config) { c.ZeroPageAddr = 0x20000 }, ErrOverlap, "cmdline"},
		{"zero page outside RAM", func(c *Config) { c.ZeroPageAddr = 0x9f000 }, ErrDoesNotFit, "boot_params"},
		{"too many e820 entries", func(c *Config) {
			for range 130 {
				c.RAM = append(c.RAM, E820Entry{Addr: 0xf0000000, Size: 0x1000, Type: E820Reserved})
			}
		}, ErrBadConfig, "134 entries"},
		{"overflowing e820 entry", func(c *Config) {
			c.RAM = append(c.RAM, E820Entry{Addr: 1 << 63, Size: 1 << 63, Type: E820RAM})
		}, ErrBadConfig, "overflows"},
		{"no RAM", func(c *Config) { c.RAM = nil }, ErrBadConfig, "no RAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(64 * mib)
			tt.cfg(&cfg)
			_, err := Prepare(k, cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
	if _, err := Prepare(nil, testConfig(64*mib)); !errors.Is(err, ErrBadConfig) {
		t.Errorf("nil kernel: %v", err)
	}
}

// TestNonRelocatableKernel: a fixed kernel decompresses at pref_address
// regardless of where it was loaded.
func TestNonRelocatableKernel(t *testing.T) {
	o := defaultBzOpts()
	o.relocatable = false
	o.prefAddress = 0x200000
	k, err := ParseBzImage(makeBzImage(o))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(k, testConfig(64*mib))
	if err != nil {
		t.Fatal(err)
	}
	if p.KernelEnd != 0x600000 {
		t.Errorf("KernelEnd = %#x, want 0x600000", p.KernelEnd)
	}
}
