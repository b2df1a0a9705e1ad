/*
 * testguest: govm's freestanding test guest (GNU as, AT&T syntax, no libc).
 *
 * Boot: a VMM enters pvh_start32 through the Xen PVH ELF note (32-bit
 * protected mode, paging off, flat segments, EBX = hvm_start_info).
 * Ring 0 does as little as possible, because the host /dev/kvm emulates
 * ring-0 code instruction by instruction (~0.6 M instr/s): load the GDT,
 * point CR3 at the page tables that are already built into the image, turn on
 * PAE + LME + PG, far-jump to 64-bit code, load the IDT and TSS, and iretq to
 * ring 3 with IOPL=3 (and a TSS I/O bitmap allowing every port, for hosts
 * that keep ring 3 at IOPL 0). That is 18 ring-0 instructions, no loops.
 * Everything else (cmdline parsing, the tests) runs in ring 3, natively.
 *
 * Protocol with the VMM (all port I/O):
 *   0x3f8 COM1 THR  one byte per OUT, the guest's text output
 *   0xf4  exit      32-bit OUT of the exit status; the VMM stops there
 *   0xf5  mark      32-bit OUT: 1 = benchmark begins, 2 = benchmark ends
 *   0xf6  sink      8-bit OUT, the PIO benchmark's target
 *   0xfe000000      32-bit MMIO write target of the mmio benchmark (unmapped)
 *
 * Command line (hvm_start_info.cmdline_paddr): "<test> [N]", words separated
 * by blanks (any byte <= 0x20). N is decimal, 0 when absent. No start_info
 * (EBX invalid or bad magic) or no cmdline pointer runs "hello".
 *
 * A CPU exception (any vector 0-31) prints "testguest: fault V" and exits
 * with status 100+V (#UD 106, #GP 113, #PF 114).
 *
 * To add a test: write a ring-3 function (N in %rdi, rest of the cmdline in
 * %rsi, exit status returned in %eax) and add a row to test_table.
 */

/* ---- constants ---- */
	.equ IMAGE_BASE,        0x100000    /* linker.ld puts .image here */

	.equ KERNEL_CS,         0x08
	.equ KERNEL_DS,         0x10
	.equ USER_CS,           0x18 | 3
	.equ USER_DS,           0x20 | 3
	.equ TSS_SEL,           0x28

	.equ CR0_PG,            0x80000000
	.equ CR4_PAE,           0x20
	.equ MSR_EFER,          0xc0000080
	.equ EFER_LME,          0x100
	.equ RFLAGS_RESERVED,   0x2         /* bit 1 always reads 1 */
	.equ RFLAGS_IOPL3,      0x3000      /* ring 3 may use IN/OUT */

	.equ PTE_P,             0x1
	.equ PTE_RW,            0x2
	.equ PTE_US,            0x4         /* user-accessible: ring 3 runs here */
	.equ PTE_PS,            0x80        /* 2 MiB page (in a PD entry) */
	.equ PAGE_2M,           0x200000
	.equ PD_COUNT,          4           /* identity map 0-4 GiB */

	.equ GATE_INTR64,       0x8e00      /* present, DPL 0, 64-bit interrupt gate */
	.equ TSS_AVAIL64,       0x89        /* present, DPL 0, available 64-bit TSS */
	.equ EXCEPTION_VECTORS, 32

	.equ START_INFO_MAGIC,  0x336ec578  /* hvm_start_info.magic */
	.equ SI_CMDLINE_PADDR,  24          /* offset of cmdline_paddr (u64) */
	.equ SI_SIZE_V0,        56          /* bytes we may read of a start_info */
	.equ MAPPED_TOP,        0x40000000  /* where start_info and cmdline must lie below */

	.equ COM1_THR,          0x3f8
	.equ PORT_EXIT,         0xf4
	.equ PORT_MARK,         0xf5
	.equ PORT_SINK,         0xf6
	.equ MARK_BEGIN,        1
	.equ MARK_END,          2
	.equ MMIO_SINK,         0xfe000000

	.equ EXIT_OK,           0
	.equ EXIT_UNKNOWN,      2
	.equ EXIT_FAULT_BASE,   100

	.equ UNMAPPED,          0x100000000 /* first byte past the identity map */

	.equ IO_PORTS,          0x10000

	.equ STACK_SIZE,        4096

/* ---- the PVH entry note: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY ---- */
	.equ XEN_ELFNOTE_PHYS32_ENTRY, 18
	.section .note.Xen, "a"
	.balign 4
	.long 4                         /* namesz: "Xen\0" */
	.long 4                         /* descsz: a 32-bit entry address */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start32

/* ---- the image: code and tables, at IMAGE_BASE, under 64 KiB ---- */
	.section .image, "awx"
	.globl image_base
image_base:

/* Ring 0, 32-bit: the PVH entry. EBX (start_info) is carried to ring 3. */
	.code32
	.globl pvh_start32
pvh_start32:
	lgdt gdt_ptr
	mov $pml4, %eax
	mov %eax, %cr3
	mov $CR4_PAE, %eax
	mov %eax, %cr4
	mov $MSR_EFER, %ecx
	mov $EFER_LME, %eax
	xor %edx, %edx
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $KERNEL_CS, $long_entry

/* Ring 0, 64-bit: IDT, TSS, then iretq through a prebuilt frame. */
	.code64
long_entry:
	lidt idt_ptr(%rip)
	mov $TSS_SEL, %ax
	ltr %ax
	mov $iret_frame, %esp
	iretq

/* ---- ring 3 ---- */
ring3_entry:
	mov %ebx, %ebx                  /* upper half is undefined after the mode switch */
	lea test_table(%rip), %r12      /* default: the first row, "hello" */
	xor %edi, %edi
	cmp $(MAPPED_TOP - SI_SIZE_V0), %rbx
	jae run_test
	test %rbx, %rbx
	jz run_test
	cmpl $START_INFO_MAGIC, (%rbx)
	jne run_test
	mov SI_CMDLINE_PADDR(%rbx), %rsi
	test %rsi, %rsi
	jz run_test
	mov $MAPPED_TOP, %eax
	cmp %rax, %rsi
	jae run_test

	call skip_blanks
	/* Find the first word in the table: names compare up to a blank. */
find_test:
	mov (%r12), %rdi
	test %rdi, %rdi
	jz unknown_test
	xor %ecx, %ecx
1:	movzbl (%rdi,%rcx), %eax
	movzbl (%rsi,%rcx), %edx
	cmp $' ', %dl
	ja 2f
	xor %edx, %edx                  /* a blank ends the word like a NUL */
2:	cmp %eax, %edx
	jne next_test
	test %eax, %eax
	jz found_test
	inc %rcx
	jmp 1b
next_test:
	add $16, %r12
	jmp find_test

found_test:
	add %rcx, %rsi
	call skip_blanks
	/* N: a decimal number, 0 if absent. */
	xor %edi, %edi
3:	movzbl (%rsi), %eax
	sub $'0', %eax
	cmp $9, %eax
	ja run_test
	imul $10, %rdi, %rdi
	add %rax, %rdi
	inc %rsi
	jmp 3b

	/* %r12 = table row, %rdi = N, %rsi = rest of the cmdline */
run_test:
	call *8(%r12)
	mov %eax, %edi
	jmp exit

unknown_test:
	lea msg_unknown(%rip), %rsi
	call puts
	mov $EXIT_UNKNOWN, %edi
	jmp exit

/* skip_blanks: advance %rsi over bytes 0x01-0x20. Clobbers %eax. */
skip_blanks:
	movzbl (%rsi), %eax
	test %eax, %eax
	jz 1f
	cmp $' ', %eax
	ja 1f
	inc %rsi
	jmp skip_blanks
1:	ret

/* exit: status in %edi. Never returns: a VMM stops at the first OUT. */
exit:
	mov %edi, %eax
	mov $PORT_EXIT, %dx
1:	out %eax, %dx
	jmp 1b

/* puts: print the NUL-terminated string at %rsi. Clobbers %rax %rdx %rsi. */
puts:
	mov $COM1_THR, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	ret

/* putdec: print %rax in decimal. Clobbers %rax %rcx %rdx %rsi. */
putdec:
	sub $32, %rsp
	lea 31(%rsp), %rsi
	movb $0, (%rsi)
	mov $10, %ecx
1:	xor %edx, %edx
	div %rcx
	add $'0', %dl
	dec %rsi
	mov %dl, (%rsi)
	test %rax, %rax
	jnz 1b
	call puts
	add $32, %rsp
	ret

/* report_done: print "testguest: <%rdi string> <%rax> done\n". */
report_done:
	push %rax
	push %rdi
	lea msg_prefix(%rip), %rsi
	call puts
	pop %rsi
	call puts
	lea msg_space(%rip), %rsi
	call puts
	pop %rax
	call putdec
	lea msg_done(%rip), %rsi
	call puts
	ret

/* mark: 32-bit OUT of %eax to the mark port. Clobbers %dx. */
mark:
	mov $PORT_MARK, %dx
	out %eax, %dx
	ret

/* ---- the tests: N in %rdi, rest of cmdline in %rsi, status -> %eax ---- */
test_hello:
	lea msg_hello(%rip), %rsi
	call puts
	mov $EXIT_OK, %eax
	ret

test_exit:
	mov %edi, %eax
	ret

test_pio:
	push %rdi
	mov $MARK_BEGIN, %eax
	call mark
	mov %rdi, %rcx
	mov $PORT_SINK, %dx
	test %rcx, %rcx
	jz 2f
1:	out %al, %dx
	dec %rcx
	jnz 1b
2:	mov $MARK_END, %eax
	call mark
	pop %rax
	lea name_pio(%rip), %rdi
	call report_done
	mov $EXIT_OK, %eax
	ret

test_mmio:
	push %rdi
	mov $MARK_BEGIN, %eax
	call mark
	mov %rdi, %rcx
	mov $MMIO_SINK, %edx            /* zero-extended: a disp32 would sign-extend */
	test %rcx, %rcx
	jz 2f
1:	mov %ecx, (%rdx)
	dec %rcx
	jnz 1b
2:	mov $MARK_END, %eax
	call mark
	pop %rax
	lea name_mmio(%rip), %rdi
	call report_done
	mov $EXIT_OK, %eax
	ret

/* Deliberate faults, to check that a fault is reported, not a hang. */
test_ud:
	ud2                             /* #UD: exits 106 */
test_gp:
	hlt                             /* privileged in ring 3, #GP: exits 113 */
test_pf:
	mov $UNMAPPED, %rax
	mov (%rax), %eax                /* beyond the identity map, #PF: exits 114 */

/* ---- exceptions (ring 0): print the vector, exit 100+vector ---- */
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
fault_\v:
	mov $\v, %ebx
	jmp fault_common
	.endr
fault_common:
	lea msg_fault(%rip), %rsi
	call puts
	mov %ebx, %eax
	call putdec
	lea msg_newline(%rip), %rsi
	call puts
	lea EXIT_FAULT_BASE(%rbx), %edi
	jmp exit

/* ---- tables ---- */
	.balign 8
test_table:                             /* (name, function); "hello" first: the default */
	.quad name_hello, test_hello
	.quad name_exit, test_exit
	.quad name_pio, test_pio
	.quad name_mmio, test_mmio
	.quad name_ud, test_ud
	.quad name_gp, test_gp
	.quad name_pf, test_pf
	.quad 0, 0

/* iretq pops this: RIP, CS, RFLAGS, RSP, SS. */
iret_frame:
	.quad ring3_entry, USER_CS, RFLAGS_IOPL3 | RFLAGS_RESERVED, user_stack_top, USER_DS

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 ring-0 code, 64-bit */
	.quad 0x00cf92000000ffff        /* 0x10 ring-0 data */
	.quad 0x00affa000000ffff        /* 0x18 ring-3 code, 64-bit */
	.quad 0x00cff2000000ffff        /* 0x20 ring-3 data */
	/* 0x28 the TSS (16 bytes). Its base is split into fields; the image is
	   below 64 KiB from IMAGE_BASE (linker.ld asserts it), so the low 16
	   bits are the offset from image_base and bits 16-23 are IMAGE_BASE's. */
	.word tss_end - tss - 1
	.word tss - image_base
	.byte IMAGE_BASE >> 16
	.byte TSS_AVAIL64
	.byte 0
	.byte IMAGE_BASE >> 24
	.long 0
	.long 0
gdt_end:

gdt_ptr:                                /* lgdt in 32-bit mode: limit, base32 */
	.word gdt_end - gdt - 1
	.long gdt

	.balign 8
	.word 0, 0, 0                   /* so that idt_ptr's base is 8-aligned */
idt_ptr:                                /* lidt in 64-bit mode: limit, base64 */
	.word idt_end - idt - 1
	.quad idt

	.balign 16
tss:
	.long 0
	.quad ring0_stack_top           /* RSP0: the stack for exceptions from ring 3 */
	.quad 0, 0                      /* RSP1, RSP2 */
	.quad 0
	.quad 0, 0, 0, 0, 0, 0, 0       /* IST1-7 */
	.quad 0
	.word 0
	.word tss_iomap - tss           /* I/O permission bitmap offset */
tss_iomap:
	/* All ports allowed (0 bits). IOPL=3 already allows them on hardware
	   KVM and QEMU; the host's kvm_pvm keeps the guest's ring 3 at IOPL 0
	   and emulates a ring-3 IN/OUT only when this bitmap allows it. The
	   CPU reads a byte past the map, hence the closing 0xff. */
	.fill IO_PORTS / 8, 1, 0
	.byte 0xff
tss_end:

	/* Gates use the same split as the TSS base: offset 15:0 from image_base. */
	.balign 16
idt:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.word fault_\v - image_base
	.word KERNEL_CS
	.word GATE_INTR64
	.word IMAGE_BASE >> 16
	.long 0
	.long 0
	.endr
idt_end:

msg_hello:	.asciz "testguest: hello from ring 3\n"
msg_unknown:	.asciz "testguest: unknown test\n"
msg_fault:	.asciz "testguest: fault "
msg_prefix:	.asciz "testguest: "
msg_space:	.asciz " "
msg_done:	.asciz " done\n"
msg_newline:	.asciz "\n"
name_hello:	.asciz "hello"
name_exit:	.asciz "exit"
name_pio:	.asciz "pio"
name_mmio:	.asciz "mmio"
name_ud:	.asciz "ud"
name_gp:	.asciz "gp"
name_pf:	.asciz "pf"

/* ---- page tables: built at assembly time, identity map 0-4 GiB ---- */
	.section .pagetables, "aw"
	.balign 4096
pml4:
	.quad pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0 * 4096 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 1 * 4096 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 2 * 4096 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 3 * 4096 + (PTE_P | PTE_RW | PTE_US)
	.fill 512 - PD_COUNT, 8, 0
pd:
	.set addr, 0
	.rept 512 * PD_COUNT
	.quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.set addr, addr + PAGE_2M
	.endr

/* ---- stacks ---- */
	.section .bss
	.balign 16
	.skip STACK_SIZE
ring0_stack_top:
	.skip STACK_SIZE
user_stack_top:
