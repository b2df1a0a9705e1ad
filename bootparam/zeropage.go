package bootparam

import (
	"encoding/binary"
	"fmt"
)

// boot_params ("zero page") layout: offsets of the fields this package
// writes, from struct boot_params in arch/x86/include/uapi/asm/bootparam.h.
// zeropage_test.go pins them to the kernel's values.
const (
	ZeroPageSize = 0x1000

	bpAcpiRsdpAddr    = 0x070 // u64 (boot protocol 2.14)
	bpExtRamdiskImage = 0x0c0 // u32: high 32 bits of ramdisk_image
	bpExtRamdiskSize  = 0x0c4 // u32: high 32 bits of ramdisk_size
	bpExtCmdLinePtr   = 0x0c8 // u32: high 32 bits of cmd_line_ptr
	bpE820Entries     = 0x1e8 // u8
	bpHdr             = 0x1f1 // struct setup_header
	bpE820Table       = 0x2d0 // struct boot_e820_entry[E820Max]

	e820EntrySize = 20 // packed {u64 addr; u64 size; u32 type}
	// E820Max is the number of e820 entries boot_params can hold.
	E820Max = 128
)

// E820Type is a memory range type, shared by the e820 table and the PVH
// memory map.
type E820Type uint32

// E820 types (arch/x86/include/asm/e820/types.h).
const (
	E820RAM      E820Type = 1
	E820Reserved E820Type = 2
	E820ACPI     E820Type = 3 // ACPI tables, reclaimable
	E820NVS      E820Type = 4
	E820Unusable E820Type = 5
)

func (t E820Type) String() string {
	switch t {
	case E820RAM:
		return "RAM"
	case E820Reserved:
		return "reserved"
	case E820ACPI:
		return "ACPI"
	case E820NVS:
		return "NVS"
	case E820Unusable:
		return "unusable"
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// E820Entry is one range of the guest's physical memory map.
type E820Entry struct {
	Addr uint64
	Size uint64
	Type E820Type
}

// End returns the first address after the range.
func (e E820Entry) End() uint64 { return e.Addr + e.Size }

// zeroPageParams are the values Prepare puts into boot_params.
type zeroPageParams struct {
	cmdline    uint64
	initrdAddr uint64
	initrdSize uint64
	rsdp       uint64
	e820       []E820Entry
}

// buildZeroPage returns boot_params for a bzImage: the image's own setup
// header with the loader-owned fields filled in, and the e820 table.
func buildZeroPage(k *Kernel, p zeroPageParams) ([]byte, error) {
	if len(p.e820) > E820Max {
		return nil, fmt.Errorf("%w: memory map has %d entries, boot_params holds %d", ErrBadConfig, len(p.e820), E820Max)
	}
	bp := make([]byte, ZeroPageSize)
	copy(bp[bpHdr:], k.hdrRaw)

	bp[hdrTypeOfLoader] = typeOfLoaderUndefined
	// We enter at the 64-bit entry point, so the real-mode setup code never
	// runs and has no heap: heap_end_ptr is zero and CAN_USE_HEAP clear.
	bp[hdrLoadflags] &^= CanUseHeap
	put16(bp, hdrHeapEndPtr, 0)
	// setup_data is a pointer chain owned by the loader; we pass none.
	put64(bp, hdrSetupData, 0)

	put32(bp, hdrCmdLinePtr, uint32(p.cmdline))
	put32(bp, bpExtCmdLinePtr, uint32(p.cmdline>>32))
	put32(bp, hdrRamdiskImage, uint32(p.initrdAddr))
	put32(bp, bpExtRamdiskImage, uint32(p.initrdAddr>>32))
	put32(bp, hdrRamdiskSize, uint32(p.initrdSize))
	put32(bp, bpExtRamdiskSize, uint32(p.initrdSize>>32))
	// Older kernels ignore acpi_rsdp_addr (it is padding before 2.14).
	put64(bp, bpAcpiRsdpAddr, p.rsdp)

	bp[bpE820Entries] = uint8(len(p.e820))
	for i, e := range p.e820 {
		off := bpE820Table + i*e820EntrySize
		put64(bp, off, e.Addr)
		put64(bp, off+8, e.Size)
		put32(bp, off+16, uint32(e.Type))
	}
	return bp, nil
}

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
