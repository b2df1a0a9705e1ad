package machine

import (
	"encoding/binary"
	"fmt"

	"github.com/govm/govm/kvm"
)

// x86 architectural bits used to build the boot CPU state.
const (
	cr0PE   = 1 << 0
	cr0ET   = 1 << 4
	cr0NE   = 1 << 5
	cr0PG   = 1 << 31
	cr4PAE  = 1 << 5
	eferLME = 1 << 8
	eferLMA = 1 << 10

	pteP  = 1 << 0
	pteRW = 1 << 1
	ptePS = 1 << 7 // 2 MiB page in a PD entry

	rflagsReserved = 1 << 1 // bit 1 is always set

	// Segment types (the low four bits of the access byte).
	segTypeCodeER  = 0xb // execute/read, accessed
	segTypeDataRW  = 0x3 // read/write, accessed
	segTypeTSSBusy = 0xb
	segLimit4G     = 0xffffffff
	tssLimit       = 0x67

	// Selectors the Linux 64-bit boot protocol asks for (__BOOT_CS, __BOOT_DS),
	// also used for the PVH 32-bit entry. The TSS follows them.
	bootCS = 0x10
	bootDS = 0x18
	bootTR = 0x20

	// fpuControlWord and mxcsrDefault are the x87 and SSE reset defaults.
	fpuControlWord = 0x37f
	mxcsrDefault   = 0x1f80
)

// gdtEntry packs a legacy segment descriptor.
func gdtEntry(flags uint16, base, limit uint32) uint64 {
	return uint64(base&0xff000000)<<32 | uint64(flags&0xf0ff)<<40 | uint64(limit&0x000f0000)<<32 |
		uint64(base&0x00ffffff)<<16 | uint64(limit&0x0000ffff)
}

// Descriptor flag words: G/DB/L/AVL nibble in bits 12-15, then P/DPL/S/Type.
const (
	gdtCode64 = 0xa09b // G=1 L=1, P=1 DPL=0 S=1 type=0xb
	gdtCode32 = 0xc09b // G=1 D=1
	gdtData   = 0xc093 // G=1 B=1, type=3
	gdtTSS32  = 0x008b // P=1 type=0xb (busy 32-bit TSS)
)

// writeBootGDT puts a GDT with the boot selectors at GDTAddr: 64-bit code
// when long is set, 32-bit code otherwise.
func writeBootGDT(mem *Memory, long bool) error {
	code := uint16(gdtCode32)
	if long {
		code = gdtCode64
	}
	gdt := []uint64{0, 0, gdtEntry(code, 0, 0xfffff), gdtEntry(gdtData, 0, 0xfffff), gdtEntry(gdtTSS32, 0, tssLimit)}
	b := make([]byte, 8*len(gdt))
	for i, e := range gdt {
		binary.LittleEndian.PutUint64(b[8*i:], e)
	}
	_, err := mem.WriteAt(b, GDTAddr)
	return err
}

// writeIdentityMap builds page tables mapping the first 4 GiB 1:1 with
// 2 MiB pages: one PML4 entry, four PDPT entries, four full PDs.
func writeIdentityMap(mem *Memory) error {
	const pds = 4
	buf := make([]byte, 8)
	put := func(addr, v uint64) error {
		binary.LittleEndian.PutUint64(buf, v)
		_, err := mem.WriteAt(buf, int64(addr))
		return err
	}
	if err := put(PML4Addr, PDPTAddr|pteP|pteRW); err != nil {
		return err
	}
	for i := uint64(0); i < pds; i++ {
		if err := put(PDPTAddr+8*i, (PDAddr+i*0x1000)|pteP|pteRW); err != nil {
			return err
		}
	}
	pd := make([]byte, pds*0x1000)
	for i := uint64(0); i < pds*512; i++ {
		binary.LittleEndian.PutUint64(pd[8*i:], i<<21|pteP|pteRW|ptePS)
	}
	_, err := mem.WriteAt(pd, PDAddr)
	return err
}

func flatSegment(sel uint16, typ uint8, long bool) kvm.Segment {
	s := kvm.Segment{Base: 0, Limit: segLimit4G, Selector: sel, Type: typ, Present: 1, S: 1, G: 1}
	if long && typ == segTypeCodeER {
		s.L = 1
	} else {
		s.DB = 1
	}
	return s
}

func bootTSS() kvm.Segment {
	return kvm.Segment{Limit: tssLimit, Selector: bootTR, Type: segTypeTSSBusy, Present: 1}
}

// longModeSregs sets sregs for the Linux 64-bit boot protocol entry: paging
// on with the identity map, flat __BOOT_CS/__BOOT_DS segments.
func longModeSregs(s *kvm.Sregs) {
	code := flatSegment(bootCS, segTypeCodeER, true)
	data := flatSegment(bootDS, segTypeDataRW, true)
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = bootTSS()
	s.GDT = kvm.DTable{Base: GDTAddr, Limit: 5*8 - 1}
	s.IDT = kvm.DTable{Base: IDTAddr, Limit: 0}
	s.CR0 |= cr0PE | cr0ET | cr0NE | cr0PG
	s.CR3 = PML4Addr
	s.CR4 |= cr4PAE
	s.EFER |= eferLME | eferLMA
}

// pvhSregs sets sregs for the PVH entry: 32-bit protected mode, paging off,
// flat segments (xen/include/public/arch-x86/hvm/start_info.h).
func pvhSregs(s *kvm.Sregs) {
	code := flatSegment(bootCS, segTypeCodeER, false)
	data := flatSegment(bootDS, segTypeDataRW, false)
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = bootTSS()
	s.GDT = kvm.DTable{Base: GDTAddr, Limit: 5*8 - 1}
	s.IDT = kvm.DTable{Base: IDTAddr, Limit: 0}
	s.CR0 = (s.CR0 | cr0PE | cr0ET) &^ cr0PG
	s.CR4 = 0
	s.EFER = 0
}

// describeRegs formats registers for a crash report.
func describeRegs(r kvm.Regs, s kvm.Sregs) string {
	return fmt.Sprintf("rip=%#016x rsp=%#016x rflags=%#x\n"+
		"rax=%#016x rbx=%#016x rcx=%#016x rdx=%#016x\n"+
		"rsi=%#016x rdi=%#016x rbp=%#016x\n"+
		"r8=%#016x r9=%#016x r10=%#016x r11=%#016x\n"+
		"r12=%#016x r13=%#016x r14=%#016x r15=%#016x\n"+
		"cs=%#04x (base %#x l=%d) ss=%#04x cr0=%#x cr2=%#x cr3=%#x cr4=%#x efer=%#x",
		r.RIP, r.RSP, r.RFLAGS, r.RAX, r.RBX, r.RCX, r.RDX, r.RSI, r.RDI, r.RBP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15,
		s.CS.Selector, s.CS.Base, s.CS.L, s.SS.Selector, s.CR0, s.CR2, s.CR3, s.CR4, s.EFER)
}
