package bootparam

import "testing"

// TestOffsets pins every structure offset to the value in the Linux and Xen
// headers (struct boot_params / setup_header in
// arch/x86/include/uapi/asm/bootparam.h, hvm_start_info in
// xen/include/public/arch-x86/hvm/start_info.h). The right-hand column is
// copied from those headers' offset comments, not computed.
func TestOffsets(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		// boot_params
		{"acpi_rsdp_addr", bpAcpiRsdpAddr, 0x070},
		{"ext_ramdisk_image", bpExtRamdiskImage, 0x0c0},
		{"ext_ramdisk_size", bpExtRamdiskSize, 0x0c4},
		{"ext_cmd_line_ptr", bpExtCmdLinePtr, 0x0c8},
		{"e820_entries", bpE820Entries, 0x1e8},
		{"hdr", bpHdr, 0x1f1},
		{"e820_table", bpE820Table, 0x2d0},
		{"sizeof(boot_e820_entry)", e820EntrySize, 20},
		{"E820_MAX_ENTRIES_ZEROPAGE", E820Max, 128},
		{"e820_table end (_pad8)", bpE820Table + E820Max*e820EntrySize, 0xcd0},
		{"sizeof(boot_params)", ZeroPageSize, 0x1000},
		// setup_header, as offsets in boot_params / the bzImage file
		{"setup_sects", hdrSetupSects, 0x1f1},
		{"syssize", hdrSyssize, 0x1f4},
		{"boot_flag", hdrBootFlag, 0x1fe},
		{"jump", hdrJump, 0x200},
		{"header", hdrMagic, 0x202},
		{"version", hdrVersion, 0x206},
		{"type_of_loader", hdrTypeOfLoader, 0x210},
		{"loadflags", hdrLoadflags, 0x211},
		{"ramdisk_image", hdrRamdiskImage, 0x218},
		{"ramdisk_size", hdrRamdiskSize, 0x21c},
		{"heap_end_ptr", hdrHeapEndPtr, 0x224},
		{"cmd_line_ptr", hdrCmdLinePtr, 0x228},
		{"initrd_addr_max", hdrInitrdAddrMax, 0x22c},
		{"kernel_alignment", hdrKernelAlignment, 0x230},
		{"relocatable_kernel", hdrRelocatableKernel, 0x234},
		{"xloadflags", hdrXLoadflags, 0x236},
		{"cmdline_size", hdrCmdlineSize, 0x238},
		{"setup_data", hdrSetupData, 0x250},
		{"pref_address", hdrPrefAddress, 0x258},
		{"init_size", hdrInitSize, 0x260},
		{"edd_mbr_sig_buffer (header room end)", hdrEndMax, 0x290},
		// hvm_start_info
		{"magic", siMagic, 0},
		{"version", siVersion, 4},
		{"flags", siFlags, 8},
		{"nr_modules", siNrModules, 12},
		{"modlist_paddr", siModlistPaddr, 16},
		{"cmdline_paddr", siCmdlinePaddr, 24},
		{"rsdp_paddr", siRsdpPaddr, 32},
		{"memmap_paddr", siMemmapPaddr, 40},
		{"memmap_entries", siMemmapEntries, 48},
		{"reserved", siReserved, 52},
		{"sizeof(hvm_start_info)", StartInfoSize, 56},
		// hvm_modlist_entry
		{"mod paddr", modPaddr, 0},
		{"mod size", modSize, 8},
		{"mod cmdline_paddr", modCmdlinePaddr, 16},
		{"mod reserved", modReserved, 24},
		{"sizeof(hvm_modlist_entry)", ModlistEntrySize, 32},
		// hvm_memmap_table_entry
		{"memmap addr", mmAddr, 0},
		{"memmap size", mmSize, 8},
		{"memmap type", mmType, 16},
		{"memmap reserved", mmReserved, 20},
		{"sizeof(hvm_memmap_table_entry)", MemmapEntrySize, 24},
		// constants
		{"XEN_HVM_START_MAGIC_VALUE", StartInfoMagic, 0x336ec578},
		{"XEN_ELFNOTE_PHYS32_ENTRY", xenElfnotePhys32Entry, 18},
		{"LOADED_HIGH", LoadedHigh, 1 << 0},
		{"CAN_USE_HEAP", CanUseHeap, 1 << 7},
		{"XLF_KERNEL_64", XLFKernel64, 1 << 0},
		{"XLF_CAN_BE_LOADED_ABOVE_4G", XLFCanBeLoadedAbove4G, 1 << 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
	if int(E820RAM) != 1 || int(E820Reserved) != 2 || int(E820ACPI) != 3 || int(E820NVS) != 4 || int(E820Unusable) != 5 {
		t.Errorf("E820 type values differ from the kernel's")
	}
}
