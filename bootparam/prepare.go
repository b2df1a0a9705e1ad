package bootparam

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
)

// Config is what the machine tells Prepare about the guest. All addresses
// are guest-physical. The machine owns the layout; there are no defaults.
type Config struct {
	Cmdline string
	Initrd  *io.SectionReader // nil or empty: no initrd

	// RAM is the guest's memory map, reserved ranges included, at most
	// E820Max entries. It is passed to the kernel as is (e820 table or PVH
	// memmap); E820RAM entries are where the kernel, initrd and boot
	// structures may go.
	RAM []E820Entry

	RSDPAddr uint64 // ACPI RSDP, 0 if none

	ZeroPageAddr  uint64 // boot_params (bzImage)
	CmdlineAddr   uint64
	CmdlineMax    uint64 // bytes reserved at CmdlineAddr, NUL included
	PVHInfoAddr   uint64 // hvm_start_info (ELF)
	PVHMemmapAddr uint64 // PVH memory map, followed by the module list (ELF)
	KernelAddr    uint64 // where the bzImage protected-mode kernel is loaded
}

// EntryMode says how the vCPU must be set up to enter the kernel.
type EntryMode int

const (
	// Entry64: 64-bit long mode, paging on with an identity map, flat
	// segments, RIP = Plan.Entry, RSI = Plan.BootInfo (boot_params).
	Entry64 EntryMode = iota + 1
	// EntryPVH: 32-bit protected mode, paging off, flat 4 GiB segments,
	// EIP = Plan.Entry, EBX = Plan.BootInfo (hvm_start_info).
	EntryPVH
)

func (m EntryMode) String() string {
	switch m {
	case Entry64:
		return "64-bit boot protocol"
	case EntryPVH:
		return "PVH"
	}
	return fmt.Sprintf("EntryMode(%d)", int(m))
}

// Segment is a run of guest RAM at Addr that the machine fills: from Data
// (the boot structures Prepare built) or from File (a section of the kernel
// or initrd file, read straight into guest memory). The Size-byte run may be
// longer than its content: the rest is zero, and the machine leaves it
// alone, as guest RAM starts zero-filled (an ELF segment's .bss).
type Segment struct {
	Name string // for errors and logs: "kernel", "initrd", "cmdline", ...
	Addr uint64
	Size uint64            // bytes the segment occupies, >= its content
	Data []byte            // the content, built in memory; or
	File *io.SectionReader // the content, a section of a file
}

// dataSegment is a segment whose content is b.
func dataSegment(name string, addr uint64, b []byte) Segment {
	return Segment{Name: name, Addr: addr, Size: uint64(len(b)), Data: b}
}

// ContentSize is the number of bytes the machine copies to Addr.
func (s Segment) ContentSize() uint64 {
	if s.File != nil {
		return uint64(s.File.Size())
	}
	return uint64(len(s.Data))
}

// Plan is everything the machine needs to start the kernel.
type Plan struct {
	Mode     EntryMode
	Entry    uint64 // RIP (Entry64) or EIP (EntryPVH)
	BootInfo uint64 // RSI (Entry64: boot_params) or EBX (EntryPVH: hvm_start_info)
	Segments []Segment

	KernelEnd   uint64 // first address above all memory the kernel claims before reading the memory map
	InitrdAddr  uint64 // 0 when there is no initrd
	InitrdSize  uint64
	ModlistAddr uint64 // PVH only: where the initrd's hvm_modlist_entry is (0 without initrd)
}

// Prepare lays the kernel, initrd, command line and boot structures out in
// guest memory and returns the plan. It checks that every piece lies in an
// E820RAM range and that no two pieces overlap.
func Prepare(k *Kernel, cfg Config) (*Plan, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: nil kernel", ErrBadConfig)
	}
	if err := checkRAM(cfg.RAM); err != nil {
		return nil, err
	}
	var (
		p   *Plan
		err error
	)
	switch k.Format {
	case FormatBzImage:
		p, err = prepareBzImage(k, cfg)
	case FormatELF:
		p, err = prepareELF(k, cfg)
	default:
		return nil, fmt.Errorf("%w: unknown kernel format %v", ErrBadConfig, k.Format)
	}
	if err != nil {
		return nil, err
	}
	if err := checkSegments(p.Segments, cfg.RAM); err != nil {
		return nil, err
	}
	return p, nil
}

func prepareBzImage(k *Kernel, cfg Config) (*Plan, error) {
	h := k.Header
	if h == nil {
		return nil, fmt.Errorf("%w: bzImage without a setup header", ErrBadConfig)
	}
	cmdline, err := cmdlineSegment(cfg, uint64(h.CmdlineSize))
	if err != nil {
		return nil, err
	}

	// The kernel claims [KernelAddr, KernelEnd): the compressed payload where
	// we put it, and init_size bytes from where it will decompress itself.
	if k.Payload == nil {
		return nil, fmt.Errorf("%w: bzImage without a payload", ErrBadConfig)
	}
	payloadSize := uint64(k.Payload.Size())
	payloadEnd, ok1 := addNoOverflow(cfg.KernelAddr, payloadSize)
	runStart, ok2 := h.runtimeStart(cfg.KernelAddr)
	runEnd, ok3 := addNoOverflow(runStart, uint64(h.InitSize))
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("kernel at %#x %w: address overflow", cfg.KernelAddr, ErrDoesNotFit)
	}
	kernelEnd := max(payloadEnd, runEnd)
	if !inRAM(cfg.RAM, cfg.KernelAddr, kernelEnd) {
		return nil, fmt.Errorf("kernel [%#x, %#x) (%s: payload %s, init_size %s from %#x) %w (%s)",
			cfg.KernelAddr, kernelEnd, fmtSize(kernelEnd-cfg.KernelAddr), fmtSize(payloadSize),
			fmtSize(uint64(h.InitSize)), runStart, ErrDoesNotFit, fmtSize(totalRAM(cfg.RAM)))
	}

	// initrd_addr_max is the last byte the initrd may occupy; we also keep
	// it below 4 GiB, so the 32-bit ramdisk_image field is enough.
	limit := min(uint64(h.InitrdAddrMax)+1, fourGiB)
	initrdAddr, err := placeInitrd(cfg, kernelEnd, limit)
	if err != nil {
		return nil, err
	}

	zp, err := buildZeroPage(k, zeroPageParams{
		cmdline:    cfg.CmdlineAddr,
		initrdAddr: initrdAddr,
		initrdSize: initrdSize(cfg),
		rsdp:       cfg.RSDPAddr,
		e820:       cfg.RAM,
	})
	if err != nil {
		return nil, err
	}

	p := &Plan{
		Mode:      Entry64,
		Entry:     cfg.KernelAddr + entry64Offset,
		BootInfo:  cfg.ZeroPageAddr,
		KernelEnd: kernelEnd,
		Segments:  []Segment{{Name: "kernel", Addr: cfg.KernelAddr, Size: payloadSize, File: k.Payload}},
	}
	p.addInitrd(cfg, initrdAddr)
	p.Segments = append(p.Segments, cmdline, dataSegment("boot_params", cfg.ZeroPageAddr, zp))
	return p, nil
}

func prepareELF(k *Kernel, cfg Config) (*Plan, error) {
	// Linux's COMMAND_LINE_SIZE is not in a vmlinux header; only the
	// machine's area bounds the PVH command line.
	cmdline, err := cmdlineSegment(cfg, math.MaxUint64)
	if err != nil {
		return nil, err
	}
	p := &Plan{Mode: EntryPVH, Entry: uint64(k.PVHEntry), BootInfo: cfg.PVHInfoAddr}
	for i, s := range k.LoadSegments {
		end := s.Addr + s.MemSize // ParseELF checked for overflow
		if !inRAM(cfg.RAM, s.Addr, end) {
			return nil, fmt.Errorf("ELF segment %d [%#x, %#x) (%s) %w (%s)",
				i, s.Addr, end, fmtSize(s.MemSize), ErrDoesNotFit, fmtSize(totalRAM(cfg.RAM)))
		}
		p.Segments = append(p.Segments, Segment{Name: fmt.Sprintf("ELF segment %d", i), Addr: s.Addr, Size: s.MemSize, File: s.File})
		p.KernelEnd = max(p.KernelEnd, end)
	}

	initrdAddr, err := placeInitrd(cfg, p.KernelEnd, fourGiB)
	if err != nil {
		return nil, err
	}
	info, tables, modlist, err := buildStartInfo(pvhParams{
		infoAddr:   cfg.PVHInfoAddr,
		memmapAddr: cfg.PVHMemmapAddr,
		cmdline:    cfg.CmdlineAddr,
		rsdp:       cfg.RSDPAddr,
		initrdAddr: initrdAddr,
		initrdSize: initrdSize(cfg),
		memmap:     cfg.RAM,
	})
	if err != nil {
		return nil, err
	}
	p.ModlistAddr = modlist
	p.addInitrd(cfg, initrdAddr)
	p.Segments = append(p.Segments, cmdline, info, tables)
	return p, nil
}

func (p *Plan) addInitrd(cfg Config, addr uint64) {
	size := initrdSize(cfg)
	if size == 0 {
		return
	}
	p.InitrdAddr, p.InitrdSize = addr, size
	p.Segments = append(p.Segments, Segment{Name: "initrd", Addr: addr, Size: size, File: cfg.Initrd})
}

func initrdSize(cfg Config) uint64 {
	if cfg.Initrd == nil {
		return 0
	}
	return uint64(cfg.Initrd.Size())
}

// cmdlineSegment checks the command line against the kernel's limit
// (kernelMax, NUL excluded) and the machine's area (CmdlineMax, NUL
// included) and returns it NUL-terminated.
func cmdlineSegment(cfg Config, kernelMax uint64) (Segment, error) {
	n := uint64(len(cfg.Cmdline))
	if n > kernelMax {
		return Segment{}, fmt.Errorf("%w: %d bytes, the kernel accepts at most %d", ErrCmdlineTooLong, n, kernelMax)
	}
	if n+1 > cfg.CmdlineMax {
		return Segment{}, fmt.Errorf("%w: %d bytes plus NUL, the machine reserves %d", ErrCmdlineTooLong, n, cfg.CmdlineMax)
	}
	if i := bytes.IndexByte([]byte(cfg.Cmdline), 0); i >= 0 {
		return Segment{}, fmt.Errorf("%w: command line has a NUL byte at %d", ErrBadConfig, i)
	}
	data := make([]byte, n+1)
	copy(data, cfg.Cmdline)
	return dataSegment("cmdline", cfg.CmdlineAddr, data), nil
}

// placeInitrd returns the highest page-aligned address at which the initrd
// lies inside one E820RAM range, starts at or above low (rounded up to a
// page) and ends at or below limit. It returns 0 when there is no initrd.
func placeInitrd(cfg Config, low, limit uint64) (uint64, error) {
	size := initrdSize(cfg)
	if size == 0 {
		return 0, nil
	}
	low, ok := alignUp(low, pageSize)
	if !ok {
		return 0, fmt.Errorf("initrd (%s) %w: the kernel ends at %#x", fmtSize(size), ErrDoesNotFit, low)
	}
	var best uint64
	found := false
	for _, e := range cfg.RAM {
		if e.Type != E820RAM {
			continue
		}
		top := min(e.End(), limit)
		if top < size {
			continue
		}
		start := alignDown(top-size, pageSize)
		if start < e.Addr || start < low {
			continue
		}
		if !found || start > best {
			best, found = start, true
		}
	}
	if !found {
		return 0, fmt.Errorf("initrd (%s) %w (%s)", fmtSize(size), ErrDoesNotFit, fmtSize(totalRAM(cfg.RAM)))
	}
	return best, nil
}

// checkRAM validates the machine's memory map.
func checkRAM(ram []E820Entry) error {
	if len(ram) > E820Max {
		return fmt.Errorf("%w: memory map has %d entries, at most %d", ErrBadConfig, len(ram), E820Max)
	}
	hasRAM := false
	for i, e := range ram {
		if e.Size > math.MaxUint64-e.Addr {
			return fmt.Errorf("%w: memory map entry %d [%#x, +%#x) overflows", ErrBadConfig, i, e.Addr, e.Size)
		}
		hasRAM = hasRAM || (e.Type == E820RAM && e.Size > 0)
	}
	if !hasRAM {
		return fmt.Errorf("%w: memory map has no RAM", ErrBadConfig)
	}
	return nil
}

// checkSegments makes sure every segment holds its content, lies in RAM and
// overlaps no other.
func checkSegments(segs []Segment, ram []E820Entry) error {
	sorted := make([]Segment, 0, len(segs))
	for _, s := range segs {
		if s.ContentSize() > s.Size {
			return fmt.Errorf("%w: %s: %#x bytes of content in a %#x-byte segment", ErrBadConfig, s.Name, s.ContentSize(), s.Size)
		}
		if s.Size == 0 {
			continue
		}
		end, ok := addNoOverflow(s.Addr, s.Size)
		if !ok || !inRAM(ram, s.Addr, end) {
			return fmt.Errorf("%s [%#x, +%#x) %w: it is not inside one RAM range", s.Name, s.Addr, s.Size, ErrDoesNotFit)
		}
		sorted = append(sorted, s)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.Addr+a.Size > b.Addr {
			return fmt.Errorf("%w: %s [%#x, +%#x) and %s [%#x, +%#x)", ErrOverlap,
				a.Name, a.Addr, a.Size, b.Name, b.Addr, b.Size)
		}
	}
	return nil
}

// inRAM reports whether [start, end) lies inside a single E820RAM entry.
func inRAM(ram []E820Entry, start, end uint64) bool {
	for _, e := range ram {
		if e.Type == E820RAM && start >= e.Addr && end <= e.End() && start <= end {
			return true
		}
	}
	return false
}

func totalRAM(ram []E820Entry) uint64 {
	var n uint64
	for _, e := range ram {
		if e.Type == E820RAM {
			n += e.Size // checkRAM bounded each entry; a sum past 2^64 is not a real map
		}
	}
	return n
}

func addNoOverflow(a, b uint64) (uint64, bool) {
	return a + b, b <= math.MaxUint64-a
}
