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
 *   0xd0000000      the first virtio-mmio window (virtio-blk for the blk tests),
 *                   driven from ring 3 by polling: no interrupts are used
 *   0xd0000000 + i*0x1000, 0xfeb00000 + i*0x200
 *                   where the gpu tests look for virtio-gpu (govm's windows,
 *                   then QEMU microvm's); its framebuffer is RAM at FB_ADDR
 *   0x42, 0x43, 0x61  PIT channel 2, gpuhold's clock
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
	/* the blk tests' failures; keep blk_errors in this order */
	.equ EXIT_BLK_FIRST,    20
	.equ EXIT_BLK_NODEV,    20          /* no virtio-blk (magic, version, id) at VIRTIO_BASE */
	.equ EXIT_BLK_FEATURES, 21          /* no VERSION_1, or FEATURES_OK did not stick */
	.equ EXIT_BLK_SETUP,    22          /* queue 0 unusable or DRIVER_OK refused */
	.equ EXIT_BLK_SMALL,    23          /* the disk is too small for the test */
	.equ EXIT_BLK_IOERR,    24          /* a request's status was not OK */
	.equ EXIT_BLK_RESET,    25          /* EXIT_BLK_IOERR + SUBMIT_RESET */
	.equ EXIT_BLK_TIMEOUT,  26          /* EXIT_BLK_IOERR + SUBMIT_TIMEOUT */
	.equ EXIT_BLK_USED,     27          /* EXIT_BLK_IOERR + SUBMIT_BAD_USED, or a wrong used length */
	.equ EXIT_BLK_MISMATCH, 28          /* read back differs from what was written */
	.equ EXIT_BLK_ARG,      29          /* blk N with N > BLK_MAX_SECTORS */
	.equ EXIT_BLK_HOSTILE,  30          /* blkbad: a case ended other than ioerr or needs-reset */
	/* the gpu tests' failures; keep gpu_errors in this order */
	.equ EXIT_GPU_FIRST,    40
	.equ EXIT_GPU_NODEV,    40          /* no virtio-gpu (magic, version, id) at VIRTIO_BASE */
	.equ EXIT_GPU_FEATURES, 41          /* no VERSION_1, or FEATURES_OK did not stick */
	.equ EXIT_GPU_SETUP,    42          /* queue 0 unusable or DRIVER_OK refused */
	.equ EXIT_GPU_RESPONSE, 43          /* a command got another response type than expected */
	.equ EXIT_GPU_RESET,    44          /* EXIT_GPU_RESPONSE + SUBMIT_RESET */
	.equ EXIT_GPU_TIMEOUT,  45          /* EXIT_GPU_RESPONSE + SUBMIT_TIMEOUT */
	.equ EXIT_GPU_USED,     46          /* EXIT_GPU_RESPONSE + SUBMIT_BAD_USED, or a wrong used length */
	.equ EXIT_GPU_MODE,     47          /* scanout 0 disabled, 0x0, or larger than FB_MAX_BYTES */
	.equ EXIT_GPU_HOSTILE,  48          /* gpubad: a case got another answer than expected */
	.equ EXIT_GPU_PIT,      49          /* gpuhold: PIT channel 2 never reached terminal count */

	.equ UNMAPPED,          0x100000000 /* first byte past the identity map */

	.equ IO_PORTS,          0x10000

	.equ STACK_SIZE,        4096

/* virtio-mmio version 2 (devices/virtio/mmio.go), the first device window
   govm gives (machine.VirtioMMIOBase) */
	.equ VIRTIO_BASE,        0xd0000000
	.equ VIRTIO_STRIDE,      0x1000      /* govm's windows (machine.VirtioMMIOSize) */
	.equ VIRTIO_SLOTS,       8           /* the gpu test looks at this many */
	.equ MICROVM_VIRTIO_BASE, 0xfeb00000 /* QEMU -M microvm's windows, for bench/gpu2d.sh */
	.equ MICROVM_VIRTIO_STRIDE, 0x200
	.equ MICROVM_VIRTIO_SLOTS, 24
	.equ VIO_MAGIC,          0x000
	.equ VIO_VERSION,        0x004
	.equ VIO_DEVICE_ID,      0x008
	.equ VIO_DEV_FEATURES,   0x010
	.equ VIO_DEV_FEAT_SEL,   0x014
	.equ VIO_DRV_FEATURES,   0x020
	.equ VIO_DRV_FEAT_SEL,   0x024
	.equ VIO_QUEUE_SEL,      0x030
	.equ VIO_QUEUE_NUM_MAX,  0x034
	.equ VIO_QUEUE_NUM,      0x038
	.equ VIO_QUEUE_READY,    0x044
	.equ VIO_QUEUE_NOTIFY,   0x050
	.equ VIO_STATUS,         0x070
	.equ VIO_QUEUE_DESC_LO,  0x080
	.equ VIO_QUEUE_DESC_HI,  0x084
	.equ VIO_QUEUE_AVAIL_LO, 0x090
	.equ VIO_QUEUE_AVAIL_HI, 0x094
	.equ VIO_QUEUE_USED_LO,  0x0a0
	.equ VIO_QUEUE_USED_HI,  0x0a4
	.equ VIO_CONFIG_GEN,     0x0fc
	.equ VIO_CONFIG,         0x100

	.equ VIRTIO_MAGIC,       0x74726976  /* "virt" */
	.equ VIRTIO_VERSION,     2
	.equ VIRTIO_ID_BLOCK,    2
	.equ VIRTIO_ID_GPU,      16
	.equ ST_ACK,             0x01        /* device status bits */
	.equ ST_DRIVER,          0x02
	.equ ST_DRIVER_OK,       0x04
	.equ ST_FEATURES_OK,     0x08
	.equ ST_NEEDS_RESET,     0x40
	.equ ST_FAILED,          0x80
	.equ FEATURE_WORD_HI,    1           /* feature select: bits 32-63 */
	.equ F_VERSION_1_HI,     0x1         /* VIRTIO_F_VERSION_1 = bit 32 */
	.equ CONFIG_TRIES,       16          /* config generation retries */
	.equ VIO_NODEV,          1           /* vio_setup results (0: ready) */
	.equ VIO_FEATURES,       2
	.equ VIO_SETUP,          3

/* the split virtqueue (virtio 1.2 section 2.7) */
	.equ QSIZE,              16
	.equ QUEUE0,             0
	.equ DESC_SIZE,          16
	.equ DESC_ADDR,          0
	.equ DESC_LEN,           8
	.equ DESC_FLAGS,         12
	.equ DESC_NEXT,          14
	.equ DESC_F_NEXT,        1
	.equ DESC_F_WRITE,       2
	.equ RING_FLAGS,         0
	.equ RING_IDX,           2
	.equ RING_ENTRIES,       4
	.equ AVAIL_F_NO_INTERRUPT, 1         /* we poll */
	.equ AVAIL_ELEM_SIZE,    2
	.equ USED_ELEM_SIZE,     8
	.equ USED_ELEM_ID,       0
	.equ USED_ELEM_LEN,      4
	.equ RING_EVENT_SIZE,    2
	.equ AVAIL_SIZE,         RING_ENTRIES + AVAIL_ELEM_SIZE * QSIZE + RING_EVENT_SIZE
	.equ USED_SIZE,          RING_ENTRIES + USED_ELEM_SIZE * QSIZE + RING_EVENT_SIZE
	.equ HEAD,               0           /* every request uses descriptors 0, 1, 2 */

/* virtio-blk (virtio 1.2 section 5.2) */
	.equ BLK_CAPACITY_LO,    VIO_CONFIG + 0
	.equ BLK_CAPACITY_HI,    VIO_CONFIG + 4
	.equ BLK_T_IN,           0
	.equ BLK_T_OUT,          1
	.equ BLK_S_OK,           0
	.equ BLK_S_IOERR,        1
	.equ BLK_S_UNSUPP,       2
	.equ BLK_HDR_TYPE,       0
	.equ BLK_HDR_RESERVED,   4
	.equ BLK_HDR_SECTOR,     8
	.equ BLK_HDR_SIZE,       16
	.equ BLK_STATUS_SIZE,    1
	.equ BLK_STATUS_PENDING, 0xff        /* what the status byte holds until the device writes it */
	.equ SECTOR_SIZE,        512
	.equ SECTOR_WORDS,       SECTOR_SIZE / 2
	.equ BLK_MAX_SECTORS,    16          /* blk N: N <= this */
	.equ BLK_DEFAULT_SECTORS, 8          /* blk with no N */
	.equ BLK_SHOW_BYTES,     16          /* bytes of sector 0 printed in hex */
	.equ BENCH_SECTOR,       8           /* blkbench reads 4 KiB at sector 8 */
	.equ BENCH_BYTES,        4096
	.equ BENCH_MIN_CAPACITY, BENCH_SECTOR + BENCH_BYTES / SECTOR_SIZE
	.equ BEYOND_RAM,         0x300000000 /* blkbad: a descriptor address no guest here has */
	.equ AVAIL_JUMP,         1000        /* blkbad: avail idx moved by more than the queue */
	.equ SECTOR_WRAPS,       0x0080000000000001 /* blkbad: sector*512 wraps to byte 512 */

/* Polling the used ring: spin on its index, reading the device status
   (an MMIO exit) every POLL_SPINS turns, for at most POLL_ROUNDS reads
   (several seconds). */
	.equ POLL_SPINS,         4096
	.equ POLL_ROUNDS,        100000

/* vq_submit results */
	.equ SUBMIT_DONE,        0           /* used entry for our head */
	.equ SUBMIT_RESET,       1           /* DEVICE_NEEDS_RESET instead */
	.equ SUBMIT_TIMEOUT,     2           /* neither */
	.equ SUBMIT_BAD_USED,    3           /* a used entry that is not ours */

/* virtio-gpu 2D (virtio 1.2 section 5.7; devices/gpu/protocol.go). Every
   request is one readable descriptor (the command, in gpu_req) and one
   writable one (the response, in gpu_resp). */
	.equ GPU_CMD_GET_DISPLAY_INFO,   0x0100
	.equ GPU_CMD_RESOURCE_CREATE_2D, 0x0101
	.equ GPU_CMD_SET_SCANOUT,        0x0103
	.equ GPU_CMD_RESOURCE_FLUSH,     0x0104
	.equ GPU_CMD_TRANSFER_TO_HOST_2D, 0x0105
	.equ GPU_CMD_ATTACH_BACKING,     0x0106
	.equ GPU_CMD_CTX_CREATE,         0x0200  /* 3D: a 2D device refuses it */
	.equ GPU_RESP_OK_NODATA,         0x1100
	.equ GPU_RESP_OK_DISPLAY_INFO,   0x1101
	.equ GPU_RESP_ERR_UNSPEC,        0x1200
	.equ GPU_RESP_ERR_OUT_OF_MEMORY, 0x1201
	.equ GPU_RESP_ERR_INVALID_SCANOUT_ID, 0x1202
	.equ GPU_RESP_ERR_INVALID_RESOURCE_ID, 0x1203
	.equ GPU_RESP_ERR_INVALID_PARAMETER, 0x1205
	.equ GPU_RESP_NONE,              0       /* gpubad: no response written (used length 0) */
	.equ GPU_RESP_NEEDS_RESET,       0xffffffff /* gpubad: the device must need a reset */
	.equ GPU_FORMAT_B8G8R8X8,        2
	/* struct virtio_gpu_ctrl_hdr, then each command's fields */
	.equ GPU_HDR_TYPE,        0
	.equ GPU_HDR_SIZE,        24
	.equ GPU_RECT_X,          0          /* struct virtio_gpu_rect, inside a command */
	.equ GPU_RECT_Y,          4
	.equ GPU_RECT_W,          8
	.equ GPU_RECT_H,          12
	.equ GPU_CREATE_RES,      24         /* RESOURCE_CREATE_2D */
	.equ GPU_CREATE_FORMAT,   28
	.equ GPU_CREATE_W,        32
	.equ GPU_CREATE_H,        36
	.equ GPU_CREATE_SIZE,     40
	.equ GPU_ATTACH_RES,      24         /* RESOURCE_ATTACH_BACKING + one mem entry */
	.equ GPU_ATTACH_NR,       28
	.equ GPU_ATTACH_ADDR,     32
	.equ GPU_ATTACH_LEN,      40
	.equ GPU_ATTACH_SIZE,     48
	.equ GPU_SCANOUT_RECT,    24         /* SET_SCANOUT */
	.equ GPU_SCANOUT_ID,      40
	.equ GPU_SCANOUT_RES,     44
	.equ GPU_SCANOUT_SIZE,    48
	.equ GPU_FLUSH_RECT,      24         /* RESOURCE_FLUSH */
	.equ GPU_FLUSH_RES,       40
	.equ GPU_FLUSH_SIZE,      48
	.equ GPU_XFER_RECT,       24         /* TRANSFER_TO_HOST_2D */
	.equ GPU_XFER_OFFSET,     40
	.equ GPU_XFER_RES,        48
	.equ GPU_XFER_SIZE,       56
	.equ GPU_REQ_MAX,         64         /* gpu_req's size: the largest command */
	.equ GPU_DI_PMODE0_W,     24 + GPU_RECT_W /* RESP_OK_DISPLAY_INFO: pmodes[0] */
	.equ GPU_DI_PMODE0_H,     24 + GPU_RECT_H
	.equ GPU_DI_PMODE0_ENABLED, 24 + 16
	.equ GPU_DI_SIZE,         408        /* 24 + 16 scanouts x 24 */
	.equ GPU_RES,             1          /* the framebuffer's resource id */
	.equ GPU_RES_SPARE,       2          /* gpubad: a resource without backing */
	.equ GPU_SPARE_DIM,       64
	.equ GPU_BAD_RES,         99         /* gpubad: no such resource */
	.equ GPU_BAD_SCANOUT,     7          /* gpubad: beyond the one scanout */
	.equ GPU_DIM_ABSURD,      65535      /* gpubad: beyond the device's 16384 */
	.equ GPU_DIM_HUGE,        16384      /* gpubad: 1 GiB, beyond its 256 MiB limit */
	.equ GPU_TOO_MANY_ENTRIES, 16385     /* gpubad: beyond the device's 16384 */
	.equ GPU_LYING_ENTRIES,   1000       /* gpubad: more entries than the request holds */
	.equ GPU_TINY_RESP,       8          /* gpubad: a response buffer smaller than a header */
	.equ BYTES_PER_PIXEL,     4
	/* The framebuffer: guest RAM above the image and its page tables,
	   identity mapped, not part of the ELF. FB_MAX_BYTES holds 1920x1080. */
	.equ FB_ADDR,             0x400000
	.equ FB_MAX_BYTES,        0x800000

/* gpuhold's clock: PIT channel 2 one-shots (mode 0) on the in-kernel i8254,
   gated and read back through port 0x61. */
	.equ PIT_CH2,             0x42
	.equ PIT_CMD,             0x43
	.equ PORT_PIT_GATE,       0x61
	.equ PIT_GATE2,           0x01       /* port 0x61 bit 0: channel 2 gate */
	.equ PIT_SPEAKER,         0x02       /* port 0x61 bit 1: speaker data, kept off */
	.equ PIT_OUT2,            0x20       /* port 0x61 bit 5: channel 2 output */
	.equ PIT_CH2_MODE0,       0xb0       /* channel 2, lobyte/hibyte, mode 0, binary */
	.equ PIT_HZ,              1193182
	.equ HOLD_SHOTS_PER_SEC,  20
	.equ HOLD_SHOT_COUNT,     PIT_HZ / HOLD_SHOTS_PER_SEC /* 50 ms */
	.equ HOLD_MAX_POLLS,      10000000   /* per shot: far beyond 50 ms of port reads */

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

/* ---- virtio-blk, driven from ring 3 by polling ----
   The blk code keeps the device window's address in %r15 (set by
   blk_init); vread/vwrite are its 32-bit register accesses, each one an
   MMIO exit (QueueNotify goes to an ioeventfd instead). */
	.macro vread off, reg
	movl \off(%r15), \reg
	.endm
	.macro vwrite off, val              /* clobbers %r9d */
	mov \val, %r9d
	movl %r9d, \off(%r15)
	.endm

/* vio_setup: check that the virtio-mmio window at %r15 holds a device of
   type %edi, reset it, negotiate VERSION_1 only and set up queue 0 (QSIZE
   entries, rings in .bss), then DRIVER_OK. Also re-initialises after a
   DEVICE_NEEDS_RESET. Returns 0 or VIO_NODEV, VIO_FEATURES, VIO_SETUP in
   %eax (the device test maps them to its own statuses).
   Clobbers %rax %rcx %rdx %rdi %r8 %r9. */
vio_setup:
	vread VIO_MAGIC, %eax
	cmp $VIRTIO_MAGIC, %eax
	jne 9f
	vread VIO_VERSION, %eax
	cmp $VIRTIO_VERSION, %eax
	jne 9f
	vread VIO_DEVICE_ID, %eax
	cmp %edi, %eax
	jne 9f
	vwrite VIO_STATUS, $0               /* reset; it must read back 0 */
	vread VIO_STATUS, %eax
	test %eax, %eax
	jnz 7f
	vwrite VIO_STATUS, $ST_ACK
	vwrite VIO_STATUS, $(ST_ACK | ST_DRIVER)
	vwrite VIO_DEV_FEAT_SEL, $0
	vread VIO_DEV_FEATURES, %eax        /* bits 0-31: read, none taken */
	vwrite VIO_DEV_FEAT_SEL, $FEATURE_WORD_HI
	vread VIO_DEV_FEATURES, %eax
	test $F_VERSION_1_HI, %eax
	jz 8f
	vwrite VIO_DRV_FEAT_SEL, $0
	vwrite VIO_DRV_FEATURES, $0
	vwrite VIO_DRV_FEAT_SEL, $FEATURE_WORD_HI
	vwrite VIO_DRV_FEATURES, $F_VERSION_1_HI
	vwrite VIO_STATUS, $(ST_ACK | ST_DRIVER | ST_FEATURES_OK)
	vread VIO_STATUS, %eax
	test $ST_FEATURES_OK, %eax
	jz 8f

	vwrite VIO_QUEUE_SEL, $QUEUE0
	vread VIO_QUEUE_READY, %eax
	test %eax, %eax
	jnz 7f
	vread VIO_QUEUE_NUM_MAX, %eax
	cmp $QSIZE, %eax
	jb 7f
	lea vq_start(%rip), %rdi            /* empty rings, and our view of them */
	mov $(vq_end - vq_start), %ecx
	xor %eax, %eax
	rep stosb
	movw $AVAIL_F_NO_INTERRUPT, vq_avail+RING_FLAGS(%rip)
	vwrite VIO_QUEUE_NUM, $QSIZE
	lea vq_desc(%rip), %rax             /* all below 2 MiB: high halves 0 */
	vwrite VIO_QUEUE_DESC_LO, %eax
	vwrite VIO_QUEUE_DESC_HI, $0
	lea vq_avail(%rip), %rax
	vwrite VIO_QUEUE_AVAIL_LO, %eax
	vwrite VIO_QUEUE_AVAIL_HI, $0
	lea vq_used(%rip), %rax
	vwrite VIO_QUEUE_USED_LO, %eax
	vwrite VIO_QUEUE_USED_HI, $0
	vwrite VIO_QUEUE_READY, $1
	vwrite VIO_STATUS, $(ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK)
	vread VIO_STATUS, %eax
	test $(ST_NEEDS_RESET | ST_FAILED), %eax
	jnz 7f
	test $ST_DRIVER_OK, %eax
	jz 7f
	xor %eax, %eax
	ret
7:	mov $VIO_SETUP, %eax
	ret
8:	mov $VIO_FEATURES, %eax
	ret
9:	mov $VIO_NODEV, %eax
	ret

/* vio_find: look for a virtio-mmio (version 2) device of type %edi in
   govm's windows (VIRTIO_BASE + i * VIRTIO_STRIDE), then in QEMU microvm's
   (MICROVM_VIRTIO_BASE + i * MICROVM_VIRTIO_STRIDE). Sets %r15 to the
   first one's window and returns 0, or VIO_NODEV, in %eax. Clobbers %rax
   %rcx %rdx. */
vio_find:
	mov $VIRTIO_BASE, %r15d
	mov $VIRTIO_SLOTS, %ecx
	mov $VIRTIO_STRIDE, %edx
	call vio_scan
	je 1f
	mov $MICROVM_VIRTIO_BASE, %r15d
	mov $MICROVM_VIRTIO_SLOTS, %ecx
	mov $MICROVM_VIRTIO_STRIDE, %edx
	call vio_scan
	je 1f
	mov $VIO_NODEV, %eax
	ret
1:	xor %eax, %eax
	ret

/* vio_scan: %ecx windows of %edx bytes from %r15: ZF set and %r15 at the
   first with a version 2 device of type %edi. Clobbers %rax %rcx %r15. */
vio_scan:
	vread VIO_MAGIC, %eax
	cmp $VIRTIO_MAGIC, %eax
	jne 1f
	vread VIO_VERSION, %eax
	cmp $VIRTIO_VERSION, %eax
	jne 1f
	vread VIO_DEVICE_ID, %eax
	cmp %edi, %eax
	je 2f
1:	add %rdx, %r15
	dec %ecx
	jnz vio_scan
	test %r15, %r15                     /* never 0 here: ZF clear, not found */
2:	ret

/* blk_init: set up the virtio-blk device (vio_setup) and store the
   capacity in blk_capacity. Returns 0 or an EXIT_BLK_* status in %eax.
   Clobbers %rax %rcx %rdx %rdi %r8 %r9. */
blk_init:
	mov $VIRTIO_BASE, %r15d             /* govm's first window only */
	mov $VIRTIO_ID_BLOCK, %edi
	call vio_setup
	test %eax, %eax
	jz 0f
	add $(EXIT_BLK_FIRST - VIO_NODEV), %eax /* VIO_x -> EXIT_BLK_NODEV, _FEATURES, _SETUP */
	ret
0:	mov $CONFIG_TRIES, %ecx             /* capacity: both halves from one generation */
1:	vread VIO_CONFIG_GEN, %r8d
	vread BLK_CAPACITY_LO, %eax
	vread BLK_CAPACITY_HI, %edx
	vread VIO_CONFIG_GEN, %edi
	cmp %edi, %r8d
	je 2f
	dec %ecx
	jnz 1b
	jmp 7f
2:	shl $32, %rdx
	or %rdx, %rax
	mov %rax, blk_capacity(%rip)
	xor %eax, %eax
	ret
7:	mov $EXIT_BLK_SETUP, %eax
	ret

/* blk_fill: lay out one request in descriptors 0-2: the header (type %edi,
   sector %rsi), the data (%rdx, %ecx bytes; device-writable for IN) and the
   status byte. Clobbers %rax %r8. */
blk_fill:
	lea blk_hdr(%rip), %rax
	mov %edi, BLK_HDR_TYPE(%rax)
	movl $0, BLK_HDR_RESERVED(%rax)
	mov %rsi, BLK_HDR_SECTOR(%rax)
	movb $BLK_STATUS_PENDING, blk_status(%rip)
	lea vq_desc(%rip), %r8
	mov %rax, 0 * DESC_SIZE + DESC_ADDR(%r8)
	movl $BLK_HDR_SIZE, 0 * DESC_SIZE + DESC_LEN(%r8)
	movw $DESC_F_NEXT, 0 * DESC_SIZE + DESC_FLAGS(%r8)
	movw $1, 0 * DESC_SIZE + DESC_NEXT(%r8)
	mov %rdx, 1 * DESC_SIZE + DESC_ADDR(%r8)
	mov %ecx, 1 * DESC_SIZE + DESC_LEN(%r8)
	mov $DESC_F_NEXT, %eax
	cmp $BLK_T_IN, %edi                 /* the device writes what it reads from disk */
	jne 1f
	or $DESC_F_WRITE, %eax
1:	mov %ax, 1 * DESC_SIZE + DESC_FLAGS(%r8)
	movw $2, 1 * DESC_SIZE + DESC_NEXT(%r8)
	lea blk_status(%rip), %rax
	mov %rax, 2 * DESC_SIZE + DESC_ADDR(%r8)
	movl $BLK_STATUS_SIZE, 2 * DESC_SIZE + DESC_LEN(%r8)
	movw $DESC_F_WRITE, 2 * DESC_SIZE + DESC_FLAGS(%r8)
	movw $0, 2 * DESC_SIZE + DESC_NEXT(%r8)
	ret

/* vq_submit: make the chain at HEAD available, moving the avail index by
   %edi (1 for a well-behaved driver), kick queue 0 and poll the used ring.
   Returns SUBMIT_* in %eax; the used length goes to vq_used_len.
   Clobbers %rax %rcx %rdx %r8 %r9 %r10. */
vq_submit:
	lea vq_avail(%rip), %r8
	movzwl RING_IDX(%r8), %eax
	mov %eax, %edx
	and $(QSIZE - 1), %edx
	movw $HEAD, RING_ENTRIES(%r8,%rdx,AVAIL_ELEM_SIZE)
	add %edi, %eax
	mov %ax, RING_IDX(%r8)              /* x86 stores stay in order: entry, then idx */
	vwrite VIO_QUEUE_NOTIFY, $QUEUE0
	lea vq_used(%rip), %r8
	mov $POLL_ROUNDS, %r10d
1:	mov $POLL_SPINS, %ecx
2:	movzwl RING_IDX(%r8), %eax
	cmp vq_last_used(%rip), %ax
	jne 3f
	pause
	dec %ecx
	jnz 2b
	vread VIO_STATUS, %eax
	test $ST_NEEDS_RESET, %eax
	jnz 4f
	dec %r10d
	jnz 1b
	mov $SUBMIT_TIMEOUT, %eax
	ret
3:	movzwl vq_last_used(%rip), %edx    /* x86 loads stay in order: idx, then entry */
	incw vq_last_used(%rip)
	and $(QSIZE - 1), %edx
	lea RING_ENTRIES(%r8,%rdx,USED_ELEM_SIZE), %rdx
	mov USED_ELEM_LEN(%rdx), %eax
	mov %eax, vq_used_len(%rip)
	cmpl $HEAD, USED_ELEM_ID(%rdx)
	jne 5f
	mov $SUBMIT_DONE, %eax
	ret
4:	mov $SUBMIT_RESET, %eax
	ret
5:	mov $SUBMIT_BAD_USED, %eax
	ret

/* blk_rw: one request (type %edi, sector %rsi, buffer %rdx, %ecx bytes),
   waited for. Returns 0 or an EXIT_BLK_* status in %eax.
   Clobbers %rax %rcx %rdx %rdi %r8-%r11. */
blk_rw:
	xor %r11d, %r11d                    /* the used length we expect */
	cmp $BLK_T_IN, %edi
	jne 1f
	mov %ecx, %r11d
1:	inc %r11d                           /* + the status byte */
	call blk_fill
	mov $1, %edi
	call vq_submit
	test %eax, %eax
	jnz 3f
	cmpb $BLK_S_OK, blk_status(%rip)
	jne 2f
	cmp vq_used_len(%rip), %r11d
	jne 4f
	ret                                 /* %eax = 0 */
2:	mov $EXIT_BLK_IOERR, %eax
	ret
3:	add $EXIT_BLK_IOERR, %eax           /* SUBMIT_x -> EXIT_BLK_RESET, _TIMEOUT, _USED */
	ret
4:	mov $EXIT_BLK_USED, %eax
	ret

/* blk_fail: print "testguest: blk error: <why>" for the EXIT_BLK_* status
   in %eax, and return it. Clobbers %rdx %rsi. */
blk_fail:
	push %rax
	lea msg_blk_error(%rip), %rsi
	call puts
	mov (%rsp), %rax
	lea blk_errors(%rip), %rsi
	mov -EXIT_BLK_FIRST * 8(%rsi,%rax,8), %rsi
	call puts
	lea msg_newline(%rip), %rsi
	call puts
	pop %rax
	ret

/* puthex: print the %ecx bytes at %rdi in hex. Clobbers %rax %rcx %rdx %rdi. */
puthex:
	push %rbx
	lea hex_digits(%rip), %rbx
	mov $COM1_THR, %dx
1:	movzbl (%rdi), %eax
	shr $4, %eax
	movzbl (%rbx,%rax), %eax
	out %al, %dx
	movzbl (%rdi), %eax
	and $0xf, %eax
	movzbl (%rbx,%rax), %eax
	out %al, %dx
	inc %rdi
	dec %ecx
	jnz 1b
	pop %rbx
	ret

/* blk [N]: write sectors 1..N (default 8, at most 16), one request each;
   word k of sector s holds s<<8 | k (byte 2k = k, byte 2k+1 = s). Read
   them back in one request and compare; print sector 0's first 16 bytes
   and the capacity. */
test_blk:
	push %r12
	push %r15
	mov %rdi, %r12                      /* N */
	test %r12, %r12
	jnz 1f
	mov $BLK_DEFAULT_SECTORS, %r12d
1:	mov $EXIT_BLK_ARG, %eax
	cmp $BLK_MAX_SECTORS, %r12
	ja 9f
	call blk_init
	test %eax, %eax
	jnz 9f
	mov $EXIT_BLK_SMALL, %eax
	cmp blk_capacity(%rip), %r12        /* sectors 1..N must exist */
	jae 9f

	lea wbuf(%rip), %rdi                /* the pattern */
	mov $1, %ecx                        /* s */
2:	xor %eax, %eax                      /* k */
3:	mov %ecx, %edx
	shl $8, %edx
	or %eax, %edx
	mov %dx, (%rdi)
	add $2, %rdi
	inc %eax
	cmp $SECTOR_WORDS, %eax
	jb 3b
	inc %ecx
	cmp %r12d, %ecx
	jbe 2b

	mov $1, %esi                        /* write them, one request per sector */
4:	push %rsi
	mov $BLK_T_OUT, %edi
	lea wbuf - SECTOR_SIZE(%rip), %rdx
	mov %rsi, %rax
	shl $9, %rax                        /* * SECTOR_SIZE */
	add %rax, %rdx
	mov $SECTOR_SIZE, %ecx
	call blk_rw
	pop %rsi
	test %eax, %eax
	jnz 9f
	inc %esi
	cmp %r12d, %esi
	jbe 4b

	lea rbuf(%rip), %rdi                /* read them back in one request */
	mov %r12d, %ecx
	shl $9, %ecx
	xor %eax, %eax
	rep stosb
	mov $BLK_T_IN, %edi
	mov $1, %esi
	lea rbuf(%rip), %rdx
	mov %r12d, %ecx
	shl $9, %ecx
	call blk_rw
	test %eax, %eax
	jnz 9f
	lea wbuf(%rip), %rsi
	lea rbuf(%rip), %rdi
	mov %r12d, %ecx
	shl $9, %ecx
	repe cmpsb
	mov $EXIT_BLK_MISMATCH, %eax
	jne 9f

	mov $BLK_T_IN, %edi                 /* sector 0, as the host wrote it */
	xor %esi, %esi
	lea rbuf(%rip), %rdx
	mov $SECTOR_SIZE, %ecx
	call blk_rw
	test %eax, %eax
	jnz 9f
	lea msg_blk_sector0(%rip), %rsi
	call puts
	lea rbuf(%rip), %rdi
	mov $BLK_SHOW_BYTES, %ecx
	call puthex
	lea msg_newline(%rip), %rsi
	call puts
	lea msg_blk_ok(%rip), %rsi
	call puts
	mov blk_capacity(%rip), %rax
	call putdec
	lea msg_newline(%rip), %rsi
	call puts
	mov $EXIT_OK, %eax
	jmp 10f
9:	call blk_fail
10:	pop %r15
	pop %r12
	ret

/* blkbench N: N reads of 4 KiB at sector 8 into one buffer, between the
   marks: each is a whole request round trip (descriptors, avail ring,
   QueueNotify to the ioeventfd, the device's work, the used-ring poll). */
test_blkbench:
	push %r12
	push %r13
	push %r15
	mov %rdi, %r12
	call blk_init
	test %eax, %eax
	jnz 9f
	mov $EXIT_BLK_SMALL, %eax
	cmpq $BENCH_MIN_CAPACITY, blk_capacity(%rip)
	jb 9f
	mov $MARK_BEGIN, %eax
	call mark
	mov %r12, %r13
	test %r13, %r13
	jz 2f
1:	mov $BLK_T_IN, %edi
	mov $BENCH_SECTOR, %esi
	lea rbuf(%rip), %rdx
	mov $BENCH_BYTES, %ecx
	call blk_rw
	test %eax, %eax
	jnz 9f
	dec %r13
	jnz 1b
2:	mov $MARK_END, %eax
	call mark
	mov %r12, %rax
	lea name_blkbench(%rip), %rdi
	call report_done
	mov $EXIT_OK, %eax
	jmp 10f
9:	call blk_fail
10:	pop %r15
	pop %r13
	pop %r12
	ret

/* blkbad: hostile requests (bad_cases). Each must end with
   VIRTIO_BLK_S_IOERR or DEVICE_NEEDS_RESET; after a reset (or a timeout)
   the device is reset and set up again. Prints
   "testguest: blkbad <case>: <outcome>" per case, then a normal read must
   work: "testguest: blkbad ok" and 0, or "testguest: blkbad failed" and
   EXIT_BLK_HOSTILE. */
test_blkbad:
	push %r12
	push %r13
	push %r14
	push %r15
	call blk_init
	test %eax, %eax
	jnz 9f
	xor %r13d, %r13d                    /* the status to return */
	lea bad_cases(%rip), %r12
1:	cmpq $0, (%r12)
	je 5f
	lea msg_blkbad(%rip), %rsi
	call puts
	mov (%r12), %rsi
	call puts
	lea msg_colon(%rip), %rsi
	call puts
	call *8(%r12)                       /* SUBMIT_* in %eax */
	mov %eax, %r14d
	lea outcomes(%rip), %rsi
	mov (%rsi,%rax,8), %rsi
	cmp $SUBMIT_DONE, %eax
	jne 2f
	lea out_ioerr(%rip), %rsi           /* done: the status byte says how */
	cmpb $BLK_S_IOERR, blk_status(%rip)
	je 2f
	lea out_ok(%rip), %rsi
	cmpb $BLK_S_OK, blk_status(%rip)
	je 2f
	lea out_other(%rip), %rsi
2:	lea out_ioerr(%rip), %rax
	cmp %rax, %rsi
	je 3f
	lea out_needs_reset(%rip), %rax
	cmp %rax, %rsi
	je 3f
	mov $EXIT_BLK_HOSTILE, %r13d        /* anything else is govm's fault */
3:	call puts
	lea msg_newline(%rip), %rsi
	call puts
	vread VIO_STATUS, %eax              /* broken, or no answer: start again */
	test $ST_NEEDS_RESET, %eax
	jnz 4f
	cmp $SUBMIT_DONE, %r14d
	je 6f
4:	call blk_init
	test %eax, %eax
	jnz 9f
6:	add $16, %r12
	jmp 1b

5:	mov $BLK_T_IN, %edi                 /* the device still works */
	xor %esi, %esi
	lea rbuf(%rip), %rdx
	mov $SECTOR_SIZE, %ecx
	call blk_rw
	test %eax, %eax
	jnz 9f
	lea msg_blkbad_ok(%rip), %rsi
	test %r13d, %r13d
	jz 7f
	lea msg_blkbad_failed(%rip), %rsi
7:	call puts
	mov %r13d, %eax
	jmp 10f
9:	call blk_fail
10:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	ret

/* The hostile cases: each builds a broken request and returns what
   vq_submit said. */
bad_fill:                               /* a good read of sector 1, to break */
	mov $BLK_T_IN, %edi
	mov $1, %esi
	lea rbuf(%rip), %rdx
	mov $SECTOR_SIZE, %ecx
	jmp blk_fill
bad_desc_addr:                          /* the data buffer beyond guest RAM */
	call bad_fill
	mov $BEYOND_RAM, %rax
	mov %rax, vq_desc + 1 * DESC_SIZE + DESC_ADDR(%rip)
	mov $1, %edi
	jmp vq_submit
bad_chain_loop:                         /* 0 -> 1 -> 0 -> 1 ... */
	call bad_fill
	movw $0, vq_desc + 1 * DESC_SIZE + DESC_NEXT(%rip)
	mov $1, %edi
	jmp vq_submit
bad_avail_jump:                         /* 1000 new entries in a queue of 16 */
	call bad_fill
	mov $AVAIL_JUMP, %edi
	jmp vq_submit
bad_sector:                             /* the first sector past the end */
	call bad_fill
	mov blk_capacity(%rip), %rax
	mov %rax, blk_hdr + BLK_HDR_SECTOR(%rip)
	mov $1, %edi
	jmp vq_submit
bad_sector_wrap:                        /* sector*512 wraps around 2^64 */
	call bad_fill
	mov $SECTOR_WRAPS, %rax
	mov %rax, blk_hdr + BLK_HDR_SECTOR(%rip)
	mov $1, %edi
	jmp vq_submit

/* ---- virtio-gpu 2D, driven from ring 3 by polling ----
   The same queue code as virtio-blk (vio_setup, vq_submit, %r15 = the
   device window). A request is descriptor 0 (the command in gpu_req,
   device-readable) and descriptor 1 (the response, gpu_resp,
   device-writable). The framebuffer is guest RAM at FB_ADDR, the resource
   GPU_RES is the display's size, B8G8R8X8, and scanout 0 shows it. */

/* gpu_do build, expect, name: fill a request with \build, run it, check
   the response type is \expect; on failure (printed) jump to the next 9:
   with the status in %eax. */
	.macro gpu_do build, expect, name
	call \build
	mov $\expect, %edi
	lea \name(%rip), %rsi
	call gpu_exec
	test %eax, %eax
	jnz 9f
	.endm

/* full_rect off: the whole display as the rect at \off(%rax). Clobbers %ecx. */
	.macro full_rect off
	mov gpu_width(%rip), %ecx
	mov %ecx, \off + GPU_RECT_W(%rax)
	mov gpu_height(%rip), %ecx
	mov %ecx, \off + GPU_RECT_H(%rax)
	.endm

/* gpu_fail: print "testguest: gpu error: <%rsi>: <why>" for the EXIT_GPU_*
   status in %eax (for a wrong response, its type too) and return it.
   Clobbers %rcx %rdx %rsi. */
gpu_fail:
	push %rax
	push %rsi
	lea msg_gpu_error(%rip), %rsi
	call puts
	pop %rsi
	call puts
	lea msg_colon(%rip), %rsi
	call puts
	mov (%rsp), %rax
	lea gpu_errors(%rip), %rsi
	mov -EXIT_GPU_FIRST * 8(%rsi,%rax,8), %rsi
	call puts
	cmpl $EXIT_GPU_RESPONSE, (%rsp)
	jne 1f
	lea msg_space(%rip), %rsi
	call puts
	mov gpu_resp + GPU_HDR_TYPE(%rip), %eax
	call putx
1:	lea msg_newline(%rip), %rsi
	call puts
	pop %rax
	ret

/* putx: print %eax as "0x" and at least four hex digits.
   Clobbers %rax %rcx %rdx %rsi. */
putx:
	push %rbx
	mov %eax, %ebx
	lea msg_0x(%rip), %rsi
	call puts
	mov $28, %ecx                       /* the top digit's shift */
1:	cmp $12, %ecx                       /* skip leading zeros, keep four digits */
	jle 2f
	mov %ebx, %eax
	shr %cl, %eax
	test %eax, %eax
	jnz 2f
	sub $4, %ecx
	jmp 1b
2:	lea hex_digits(%rip), %rsi
	mov $COM1_THR, %dx
3:	mov %ebx, %eax
	shr %cl, %eax
	and $0xf, %eax
	movzbl (%rsi,%rax), %eax
	out %al, %dx
	sub $4, %ecx
	jns 3b
	pop %rbx
	ret

/* gpu_init: set up the virtio-gpu device (vio_setup: VERSION_1 only, the
   control queue; the cursor queue stays off). Returns 0 or an EXIT_GPU_*
   status in %eax, printed. Clobbers %rax %rcx %rdx %rsi %rdi %r8 %r9. */
gpu_init:
	mov $VIRTIO_ID_GPU, %edi
	call vio_find
	test %eax, %eax
	jnz 2f
	mov $VIRTIO_ID_GPU, %edi
	call vio_setup
	test %eax, %eax
	jz 1f
2:
	add $(EXIT_GPU_FIRST - VIO_NODEV), %eax /* VIO_x -> EXIT_GPU_NODEV, _FEATURES, _SETUP */
	lea name_gpu_setup(%rip), %rsi
	jmp gpu_fail
1:	ret

/* gpu_call: send the command in gpu_req (%ecx bytes) with a response
   buffer of %edx bytes at gpu_resp (or at gpu_resp_addr if a gpubad case
   set it), or with no writable descriptor at all if %edx is 0; wait for
   the used entry. Returns SUBMIT_* in %eax; the used length is in
   vq_used_len. Clobbers %rax %rcx %rdx %rdi %r8-%r10. */
gpu_call:
	movl $GPU_RESP_NONE, gpu_resp + GPU_HDR_TYPE(%rip) /* until the device writes one */
	lea vq_desc(%rip), %r8
	lea gpu_req(%rip), %rax
	mov %rax, 0 * DESC_SIZE + DESC_ADDR(%r8)
	mov %ecx, 0 * DESC_SIZE + DESC_LEN(%r8)
	movw $0, 0 * DESC_SIZE + DESC_FLAGS(%r8)
	movw $0, 0 * DESC_SIZE + DESC_NEXT(%r8)
	test %edx, %edx
	jz 2f
	movw $DESC_F_NEXT, 0 * DESC_SIZE + DESC_FLAGS(%r8)
	movw $1, 0 * DESC_SIZE + DESC_NEXT(%r8)
	mov gpu_resp_addr(%rip), %rax
	test %rax, %rax
	jnz 1f
	lea gpu_resp(%rip), %rax
1:	movq $0, gpu_resp_addr(%rip)        /* one request only */
	mov %rax, 1 * DESC_SIZE + DESC_ADDR(%r8)
	mov %edx, 1 * DESC_SIZE + DESC_LEN(%r8)
	movw $DESC_F_WRITE, 1 * DESC_SIZE + DESC_FLAGS(%r8)
	movw $0, 1 * DESC_SIZE + DESC_NEXT(%r8)
2:	mov $1, %edi
	jmp vq_submit

/* gpu_exec: gpu_call (%ecx request bytes, %edx response room), then check
   that the answer is response type %edi at its full length (the display
   info, or a bare header). Returns 0, or prints "testguest: gpu error:
   <%rsi>: ..." and returns an EXIT_GPU_* status in %eax.
   Clobbers %rax %rcx %rdx %rsi %rdi %r8-%r11. */
gpu_exec:
	push %rsi
	push %rdi
	call gpu_call
	pop %r11                            /* the expected type */
	pop %rsi
	test %eax, %eax
	jnz 2f
	cmp gpu_resp + GPU_HDR_TYPE(%rip), %r11d
	jne 3f
	mov $GPU_HDR_SIZE, %ecx
	cmp $GPU_RESP_OK_DISPLAY_INFO, %r11d
	jne 1f
	mov $GPU_DI_SIZE, %ecx
1:	cmp vq_used_len(%rip), %ecx
	jne 4f
	ret                                 /* %eax = 0 */
2:	add $EXIT_GPU_RESPONSE, %eax        /* SUBMIT_x -> EXIT_GPU_RESET, _TIMEOUT, _USED */
	jmp gpu_fail
3:	mov $EXIT_GPU_RESPONSE, %eax
	jmp gpu_fail
4:	mov $EXIT_GPU_USED, %eax
	jmp gpu_fail

/* The request builders: each fills gpu_req and returns the request length
   in %ecx, the response room in %edx and gpu_req's address in %rax.
   Clobbers %rdi. */

/* gpu_hdr: clear gpu_req and set its type to %edi; %rax = gpu_req. */
gpu_hdr:
	lea gpu_req(%rip), %rax
	.irp off, 0, 8, 16, 24, 32, 40, 48, 56 /* GPU_REQ_MAX bytes */
	movq $0, \off(%rax)
	.endr
	mov %edi, GPU_HDR_TYPE(%rax)
	ret

gpu_build_display_info:
	mov $GPU_CMD_GET_DISPLAY_INFO, %edi
	call gpu_hdr
	mov $GPU_HDR_SIZE, %ecx
	mov $GPU_DI_SIZE, %edx
	ret

gpu_build_create:                       /* GPU_RES, B8G8R8X8, the display's size */
	mov $GPU_CMD_RESOURCE_CREATE_2D, %edi
	call gpu_hdr
	movl $GPU_RES, GPU_CREATE_RES(%rax)
	movl $GPU_FORMAT_B8G8R8X8, GPU_CREATE_FORMAT(%rax)
	mov gpu_width(%rip), %ecx
	mov %ecx, GPU_CREATE_W(%rax)
	mov gpu_height(%rip), %ecx
	mov %ecx, GPU_CREATE_H(%rax)
	mov $GPU_CREATE_SIZE, %ecx
	mov $GPU_HDR_SIZE, %edx
	ret

gpu_build_attach:                       /* GPU_RES backed by one entry: the framebuffer */
	mov $GPU_CMD_ATTACH_BACKING, %edi
	call gpu_hdr
	movl $GPU_RES, GPU_ATTACH_RES(%rax)
	movl $1, GPU_ATTACH_NR(%rax)
	movq $FB_ADDR, GPU_ATTACH_ADDR(%rax)
	mov gpu_fb_bytes(%rip), %ecx
	mov %ecx, GPU_ATTACH_LEN(%rax)
	mov $GPU_ATTACH_SIZE, %ecx
	mov $GPU_HDR_SIZE, %edx
	ret

gpu_build_scanout:                      /* scanout 0 shows all of GPU_RES */
	mov $GPU_CMD_SET_SCANOUT, %edi
	call gpu_hdr
	full_rect GPU_SCANOUT_RECT
	movl $0, GPU_SCANOUT_ID(%rax)
	movl $GPU_RES, GPU_SCANOUT_RES(%rax)
	mov $GPU_SCANOUT_SIZE, %ecx
	mov $GPU_HDR_SIZE, %edx
	ret

gpu_build_transfer:                     /* all of the framebuffer into GPU_RES */
	mov $GPU_CMD_TRANSFER_TO_HOST_2D, %edi
	call gpu_hdr
	full_rect GPU_XFER_RECT
	movq $0, GPU_XFER_OFFSET(%rax)
	movl $GPU_RES, GPU_XFER_RES(%rax)
	mov $GPU_XFER_SIZE, %ecx
	mov $GPU_HDR_SIZE, %edx
	ret

gpu_build_flush:                        /* all of GPU_RES to the display */
	mov $GPU_CMD_RESOURCE_FLUSH, %edi
	call gpu_hdr
	full_rect GPU_FLUSH_RECT
	movl $GPU_RES, GPU_FLUSH_RES(%rax)
	mov $GPU_FLUSH_SIZE, %ecx
	mov $GPU_HDR_SIZE, %edx
	ret

gpu_build_spare:                        /* GPU_RES_SPARE, small, never backed */
	call gpu_build_create
	movl $GPU_RES_SPARE, GPU_CREATE_RES(%rax)
	movl $GPU_SPARE_DIM, GPU_CREATE_W(%rax)
	movl $GPU_SPARE_DIM, GPU_CREATE_H(%rax)
	ret

/* gpu_fill: the test pattern in the framebuffer: pixel (x, y) is the
   little-endian word B = x&255, G = y&255, R = (x^y)&255, X = 0.
   Clobbers %rax %rcx %rdx %rdi %r8. */
gpu_fill:
	mov $FB_ADDR, %edi
	xor %edx, %edx                      /* y */
1:	xor %ecx, %ecx                      /* x */
2:	mov %ecx, %eax
	xor %edx, %eax
	movzbl %al, %eax
	shl $16, %eax                       /* R */
	movzbl %dl, %r8d
	shl $8, %r8d                        /* G */
	or %r8d, %eax
	movzbl %cl, %r8d                    /* B */
	or %r8d, %eax
	mov %eax, (%rdi)
	add $BYTES_PER_PIXEL, %rdi
	inc %ecx
	cmp gpu_width(%rip), %ecx
	jb 2b
	inc %edx
	cmp gpu_height(%rip), %edx
	jb 1b
	ret

/* gpu_draw: TRANSFER_TO_HOST_2D and RESOURCE_FLUSH of the whole screen.
   Returns 0 or an EXIT_GPU_* status (printed). */
gpu_draw:
	gpu_do gpu_build_transfer, GPU_RESP_OK_NODATA, name_transfer
	gpu_do gpu_build_flush, GPU_RESP_OK_NODATA, name_flush
9:	ret

/* gpu_put_mode: print "WxH". Clobbers %rax %rcx %rdx %rsi. */
gpu_put_mode:
	mov gpu_width(%rip), %eax
	call putdec
	lea msg_x(%rip), %rsi
	call puts
	mov gpu_height(%rip), %eax
	jmp putdec

/* gpu_setup: the whole 2D bring-up: device, GET_DISPLAY_INFO (scanout 0's
   mode; "testguest: gpu display WxH"), RESOURCE_CREATE_2D, ATTACH_BACKING,
   SET_SCANOUT, the pattern, TRANSFER_TO_HOST_2D, RESOURCE_FLUSH. Returns 0
   or an EXIT_GPU_* status in %eax, printed. Sets %r15 (callers save it). */
gpu_setup:
	call gpu_init
	test %eax, %eax
	jnz 9f
	gpu_do gpu_build_display_info, GPU_RESP_OK_DISPLAY_INFO, name_display_info
	lea gpu_resp(%rip), %rsi
	cmpl $0, GPU_DI_PMODE0_ENABLED(%rsi)
	je 8f
	mov GPU_DI_PMODE0_W(%rsi), %eax
	mov GPU_DI_PMODE0_H(%rsi), %ecx
	mov %eax, gpu_width(%rip)
	mov %ecx, gpu_height(%rip)
	imul %rcx, %rax                     /* both below 2^32: no overflow */
	test %rax, %rax
	jz 8f
	shl $2, %rax                        /* * BYTES_PER_PIXEL */
	cmp $FB_MAX_BYTES, %rax
	ja 8f
	mov %eax, gpu_fb_bytes(%rip)
	lea msg_gpu_display(%rip), %rsi
	call puts
	call gpu_put_mode
	lea msg_newline(%rip), %rsi
	call puts
	gpu_do gpu_build_create, GPU_RESP_OK_NODATA, name_create
	gpu_do gpu_build_attach, GPU_RESP_OK_NODATA, name_attach
	gpu_do gpu_build_scanout, GPU_RESP_OK_NODATA, name_scanout
	call gpu_fill
	jmp gpu_draw
8:	mov $EXIT_GPU_MODE, %eax
	lea name_display_info(%rip), %rsi
	jmp gpu_fail
9:	ret

/* gpu_report_ok: "testguest: gpu ok WxH". */
gpu_report_ok:
	lea msg_gpu_ok(%rip), %rsi
	call puts
	call gpu_put_mode
	lea msg_newline(%rip), %rsi
	jmp puts

/* gpu: draw the pattern once, print "testguest: gpu ok WxH". */
test_gpu:
	push %r15
	call gpu_setup
	test %eax, %eax
	jnz 9f
	call gpu_report_ok
	mov $EXIT_OK, %eax
9:	pop %r15
	ret

/* gpuhold N: gpu, then wait N seconds (PIT) before exiting, so that a
   window stays up; "testguest: gpuhold N done". */
test_gpuhold:
	push %r12
	push %r15
	mov %rdi, %r12
	call gpu_setup
	test %eax, %eax
	jnz 9f
	call gpu_report_ok
	mov %r12, %rdi
	call pit_hold
	test %eax, %eax
	jnz 9f
	mov %r12, %rax
	lea name_gpuhold(%rip), %rdi
	call report_done
	mov $EXIT_OK, %eax
9:	pop %r15
	pop %r12
	ret

/* pit_hold: wait %rdi seconds: HOLD_SHOTS_PER_SEC one-shots of PIT
   channel 2 each, polling its output in port 0x61 (each read is an exit).
   Returns 0, or EXIT_GPU_PIT (printed) if a shot never ends.
   Clobbers %rax %rcx %rdx %rsi %r8. */
pit_hold:
	imul $HOLD_SHOTS_PER_SEC, %rdi, %r8
	test %r8, %r8
	jz 3f
1:	in $PORT_PIT_GATE, %al
	and $(~PIT_SPEAKER & 0xff), %al
	or $PIT_GATE2, %al
	out %al, $PORT_PIT_GATE
	mov $PIT_CH2_MODE0, %al             /* OUT2 goes low ... */
	out %al, $PIT_CMD
	mov $(HOLD_SHOT_COUNT & 0xff), %al
	out %al, $PIT_CH2
	mov $(HOLD_SHOT_COUNT >> 8), %al
	out %al, $PIT_CH2                   /* ... and high again at the count's end */
	mov $HOLD_MAX_POLLS, %ecx
2:	in $PORT_PIT_GATE, %al
	test $PIT_OUT2, %al
	jnz 4f
	pause
	dec %ecx
	jnz 2b
	mov $EXIT_GPU_PIT, %eax
	lea name_pit(%rip), %rsi
	jmp gpu_fail
4:	dec %r8
	jnz 1b
3:	xor %eax, %eax
	ret

/* gpubench N: gpu, then N frames between the marks: each changes pixel
   (0,0) and sends TRANSFER_TO_HOST_2D + RESOURCE_FLUSH of the whole
   screen, waiting for each. "testguest: gpubench N done". */
test_gpubench:
	push %r12
	push %r13
	push %r15
	mov %rdi, %r12
	call gpu_setup
	test %eax, %eax
	jnz 9f
	mov $MARK_BEGIN, %eax
	call mark
	mov %r12, %r13
	test %r13, %r13
	jz 2f
1:	mov $FB_ADDR, %eax
	mov %r13d, (%rax)                   /* a new frame */
	call gpu_draw
	test %eax, %eax
	jnz 9f
	dec %r13
	jnz 1b
2:	mov $MARK_END, %eax
	call mark
	mov %r12, %rax
	lea name_gpubench(%rip), %rdi
	call report_done
	mov $EXIT_OK, %eax
9:	pop %r15
	pop %r13
	pop %r12
	ret

/* gpubad_setup: gpu_setup and the spare resource the backing cases use. */
gpubad_setup:
	call gpu_setup
	test %eax, %eax
	jnz 9f
	gpu_do gpu_build_spare, GPU_RESP_OK_NODATA, name_create
9:	ret

/* gpubad: hostile commands (gpu_bad_cases). Prints
   "testguest: gpubad <case>: <answer>" per case, the answer being the
   response type (0x1203), none (used length 0), or needs-reset, timeout,
   bad-used; " (want X)" follows a wrong one. A device that needs a reset
   or did not answer is set up again. Then a normal draw must work:
   "testguest: gpubad ok" and 0, or "testguest: gpubad failed" and
   EXIT_GPU_HOSTILE. */
test_gpubad:
	push %r12
	push %r13
	push %r14
	push %r15
	call gpubad_setup
	test %eax, %eax
	jnz 9f
	xor %r13d, %r13d                    /* the status to return */
	lea gpu_bad_cases(%rip), %r12
1:	cmpq $0, (%r12)
	je 5f
	lea msg_gpubad(%rip), %rsi
	call puts
	mov (%r12), %rsi
	call puts
	lea msg_colon(%rip), %rsi
	call puts
	call *8(%r12)                       /* %ecx, %edx */
	call gpu_call
	mov %eax, %r14d                     /* SUBMIT_* */
	cmp $SUBMIT_DONE, %eax
	jne 3f
	mov vq_used_len(%rip), %eax
	test %eax, %eax
	jz 2f
	cmp $GPU_HDR_SIZE, %eax             /* an error is a bare header */
	jne 4f
	mov gpu_resp + GPU_HDR_TYPE(%rip), %eax
	call putx
	mov gpu_resp + GPU_HDR_TYPE(%rip), %eax
	cmp 16(%r12), %eax
	je 6f
	jmp 7f
2:	lea out_none(%rip), %rsi
	call puts
	cmpq $GPU_RESP_NONE, 16(%r12)
	je 6f
	jmp 7f
3:	lea outcomes(%rip), %rsi            /* needs-reset, timeout, bad-used */
	mov (%rsi,%rax,8), %rsi
	call puts
	cmp $SUBMIT_RESET, %r14d
	jne 7f
	mov $GPU_RESP_NEEDS_RESET, %eax
	cmpq %rax, 16(%r12)
	je 6f
	jmp 7f
4:	lea out_bad_used(%rip), %rsi
	call puts
7:	mov $EXIT_GPU_HOSTILE, %r13d        /* not what govm should answer */
	lea msg_want(%rip), %rsi
	call puts
	mov 16(%r12), %rax
	call gpubad_put_answer
	lea msg_close(%rip), %rsi
	call puts
6:	lea msg_newline(%rip), %rsi
	call puts
	vread VIO_STATUS, %eax              /* broken, or no answer: start again */
	test $ST_NEEDS_RESET, %eax
	jnz 8f
	cmp $SUBMIT_DONE, %r14d
	je 10f
8:	call gpubad_setup
	test %eax, %eax
	jnz 9f
10:	add $24, %r12
	jmp 1b

5:	call gpu_draw                       /* the device still works */
	test %eax, %eax
	jnz 9f
	lea msg_gpubad_ok(%rip), %rsi
	test %r13d, %r13d
	jz 11f
	lea msg_gpubad_failed(%rip), %rsi
11:	call puts
	mov %r13d, %eax
9:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	ret

/* gpubad_put_answer: print an expected answer (%rax): none, needs-reset or
   the response type. Clobbers %rax %rcx %rdx %rsi. */
gpubad_put_answer:
	lea out_none(%rip), %rsi
	cmp $GPU_RESP_NONE, %rax
	je puts
	lea out_needs_reset(%rip), %rsi
	mov $GPU_RESP_NEEDS_RESET, %ecx
	cmp %rcx, %rax
	je puts
	jmp putx

/* The hostile cases: each fills gpu_req from a good request (the builders
   above) and breaks it; %ecx and %edx as the builders return them. */
bad_xfer_res:                           /* no such resource */
	call gpu_build_transfer
	movl $GPU_BAD_RES, GPU_XFER_RES(%rax)
	ret
bad_flush_res:
	call gpu_build_flush
	movl $GPU_BAD_RES, GPU_FLUSH_RES(%rax)
	ret
bad_scanout_res:
	call gpu_build_scanout
	movl $GPU_BAD_RES, GPU_SCANOUT_RES(%rax)
	ret
bad_xfer_rect:                          /* one column wider than the resource */
	call gpu_build_transfer
	incl GPU_XFER_RECT + GPU_RECT_W(%rax)
	ret
bad_flush_rect:                         /* one pixel right of the resource */
	call gpu_build_flush
	mov gpu_width(%rip), %edi
	mov %edi, GPU_FLUSH_RECT + GPU_RECT_X(%rax)
	movl $1, GPU_FLUSH_RECT + GPU_RECT_W(%rax)
	movl $1, GPU_FLUSH_RECT + GPU_RECT_H(%rax)
	ret
bad_scanout_rect:                       /* one row taller than the resource */
	call gpu_build_scanout
	incl GPU_SCANOUT_RECT + GPU_RECT_H(%rax)
	ret
bad_xfer_offset:                        /* the last row would end past the backing */
	call gpu_build_transfer
	movq $BYTES_PER_PIXEL, GPU_XFER_OFFSET(%rax)
	ret
bad_scanout_id:                         /* scanout 7 of 1 */
	call gpu_build_scanout
	movl $GPU_BAD_SCANOUT, GPU_SCANOUT_ID(%rax)
	ret
bad_attach_ram:                         /* a backing entry beyond guest RAM */
	call gpu_build_attach
	movl $GPU_RES_SPARE, GPU_ATTACH_RES(%rax)
	mov $BEYOND_RAM, %rdi
	mov %rdi, GPU_ATTACH_ADDR(%rax)
	ret
bad_attach_many:                        /* more entries than the device takes */
	call gpu_build_attach
	movl $GPU_RES_SPARE, GPU_ATTACH_RES(%rax)
	movl $GPU_TOO_MANY_ENTRIES, GPU_ATTACH_NR(%rax)
	ret
bad_attach_lying:                       /* 1000 entries said, one sent */
	call gpu_build_attach
	movl $GPU_RES_SPARE, GPU_ATTACH_RES(%rax)
	movl $GPU_LYING_ENTRIES, GPU_ATTACH_NR(%rax)
	ret
bad_attach_twice:                       /* GPU_RES already has its backing */
	jmp gpu_build_attach
bad_create_absurd:                      /* 65535 x 65535 */
	call gpu_build_create
	movl $GPU_RES_SPARE + 1, GPU_CREATE_RES(%rax)
	movl $GPU_DIM_ABSURD, GPU_CREATE_W(%rax)
	movl $GPU_DIM_ABSURD, GPU_CREATE_H(%rax)
	ret
bad_create_huge:                        /* 16384 x 16384: 1 GiB */
	call gpu_build_create
	movl $GPU_RES_SPARE + 1, GPU_CREATE_RES(%rax)
	movl $GPU_DIM_HUGE, GPU_CREATE_W(%rax)
	movl $GPU_DIM_HUGE, GPU_CREATE_H(%rax)
	ret
bad_create_id0:                         /* resource 0 is "none" */
	call gpu_build_create
	movl $0, GPU_CREATE_RES(%rax)
	ret
bad_create_dup:                         /* GPU_RES exists */
	jmp gpu_build_create
bad_create_format:                      /* format 0 is no format */
	call gpu_build_create
	movl $GPU_RES_SPARE + 1, GPU_CREATE_RES(%rax)
	movl $0, GPU_CREATE_FORMAT(%rax)
	ret
bad_unknown_cmd:                        /* a 3D command (header only) */
	mov $GPU_CMD_CTX_CREATE, %edi
	call gpu_hdr
	mov $GPU_HDR_SIZE, %ecx
	mov $GPU_HDR_SIZE, %edx
	ret
bad_short_cmd:                          /* RESOURCE_CREATE_2D cut after its header */
	call gpu_build_create
	mov $GPU_HDR_SIZE, %ecx
	ret
bad_resp_small:                         /* room for a header, not the display info */
	call gpu_build_display_info
	mov $GPU_HDR_SIZE, %edx
	ret
bad_resp_tiny:                          /* room for less than a header */
	call gpu_build_transfer
	mov $GPU_TINY_RESP, %edx
	ret
bad_resp_missing:                       /* no writable descriptor at all */
	call gpu_build_transfer
	xor %edx, %edx
	ret
bad_resp_beyond_ram:                    /* the response buffer beyond guest RAM */
	call gpu_build_flush
	mov $BEYOND_RAM, %rdi
	mov %rdi, gpu_resp_addr(%rip)
	ret

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
	.quad name_blk, test_blk
	.quad name_blkbench, test_blkbench
	.quad name_blkbad, test_blkbad
	.quad name_gpu, test_gpu
	.quad name_gpubench, test_gpubench
	.quad name_gpubad, test_gpubad
	.quad name_gpuhold, test_gpuhold
	.quad 0, 0

bad_cases:                              /* (name, function) for blkbad */
	.quad case_desc_addr, bad_desc_addr
	.quad case_chain_loop, bad_chain_loop
	.quad case_avail_jump, bad_avail_jump
	.quad case_sector, bad_sector
	.quad case_sector_wrap, bad_sector_wrap
	.quad 0, 0

gpu_bad_cases:                          /* (name, function, expected answer) for gpubad */
	.quad case_xfer_res, bad_xfer_res, GPU_RESP_ERR_INVALID_RESOURCE_ID
	.quad case_flush_res, bad_flush_res, GPU_RESP_ERR_INVALID_RESOURCE_ID
	.quad case_scanout_res, bad_scanout_res, GPU_RESP_ERR_INVALID_RESOURCE_ID
	.quad case_xfer_rect, bad_xfer_rect, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_flush_rect, bad_flush_rect, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_scanout_rect, bad_scanout_rect, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_xfer_offset, bad_xfer_offset, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_scanout_id, bad_scanout_id, GPU_RESP_ERR_INVALID_SCANOUT_ID
	.quad case_attach_ram, bad_attach_ram, GPU_RESP_ERR_UNSPEC
	.quad case_attach_many, bad_attach_many, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_attach_lying, bad_attach_lying, GPU_RESP_ERR_UNSPEC
	.quad case_attach_twice, bad_attach_twice, GPU_RESP_ERR_UNSPEC
	.quad case_create_absurd, bad_create_absurd, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_create_huge, bad_create_huge, GPU_RESP_ERR_OUT_OF_MEMORY
	.quad case_create_id0, bad_create_id0, GPU_RESP_ERR_INVALID_RESOURCE_ID
	.quad case_create_dup, bad_create_dup, GPU_RESP_ERR_INVALID_RESOURCE_ID
	.quad case_create_format, bad_create_format, GPU_RESP_ERR_INVALID_PARAMETER
	.quad case_unknown_cmd, bad_unknown_cmd, GPU_RESP_ERR_UNSPEC
	.quad case_short_cmd, bad_short_cmd, GPU_RESP_ERR_UNSPEC
	.quad case_resp_small, bad_resp_small, GPU_RESP_ERR_UNSPEC
	.quad case_resp_tiny, bad_resp_tiny, GPU_RESP_NONE
	.quad case_resp_missing, bad_resp_missing, GPU_RESP_NONE
	.quad case_resp_beyond_ram, bad_resp_beyond_ram, GPU_RESP_NEEDS_RESET
	.quad 0, 0, 0

outcomes:                               /* by SUBMIT_*; SUBMIT_DONE is refined by the status byte */
	.quad out_ok, out_needs_reset, out_timeout, out_bad_used

blk_errors:                             /* by EXIT_BLK_* - EXIT_BLK_FIRST */
	.quad err_nodev, err_features, err_setup, err_small, err_ioerr, err_reset
	.quad err_timeout, err_used, err_mismatch, err_arg, err_hostile

gpu_errors:                             /* by EXIT_GPU_* - EXIT_GPU_FIRST */
	.quad err_gpu_nodev, err_features, err_setup, err_gpu_response, err_reset
	.quad err_timeout, err_used, err_gpu_mode, err_gpu_hostile, err_gpu_pit

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
name_blk:	.asciz "blk"
name_blkbench:	.asciz "blkbench"
name_blkbad:	.asciz "blkbad"
hex_digits:	.ascii "0123456789abcdef"
msg_blk_error:	.asciz "testguest: blk error: "
msg_blk_sector0: .asciz "testguest: blk sector0 "
msg_blk_ok:	.asciz "testguest: blk ok capacity="
msg_blkbad:	.asciz "testguest: blkbad "
msg_colon:	.asciz ": "
msg_blkbad_ok:	.asciz "testguest: blkbad ok\n"
msg_blkbad_failed: .asciz "testguest: blkbad failed\n"
case_desc_addr:	.asciz "desc-beyond-ram"
case_chain_loop: .asciz "chain-loop"
case_avail_jump: .asciz "avail-jump"
case_sector:	.asciz "sector-beyond-capacity"
case_sector_wrap: .asciz "sector-wraps"
out_ok:		.asciz "ok"
out_ioerr:	.asciz "ioerr"
out_needs_reset: .asciz "needs-reset"
out_timeout:	.asciz "timeout"
out_bad_used:	.asciz "bad-used"
out_other:	.asciz "bad-status"
err_nodev:	.asciz "no virtio-blk device at 0xd0000000"
err_features:	.asciz "VERSION_1 not offered or FEATURES_OK refused"
err_setup:	.asciz "queue setup or DRIVER_OK refused"
err_small:	.asciz "disk too small"
err_ioerr:	.asciz "request status not OK"
err_reset:	.asciz "device needs reset"
err_timeout:	.asciz "no used entry (timeout)"
err_used:	.asciz "wrong used entry or length"
err_mismatch:	.asciz "read back differs from what was written"
err_arg:	.asciz "N above 16"
err_hostile:	.asciz "a hostile case ended badly"
name_gpu:	.asciz "gpu"
name_gpubench:	.asciz "gpubench"
name_gpubad:	.asciz "gpubad"
name_gpuhold:	.asciz "gpuhold"
name_gpu_setup:	.asciz "setup"
name_display_info: .asciz "GET_DISPLAY_INFO"
name_create:	.asciz "RESOURCE_CREATE_2D"
name_attach:	.asciz "RESOURCE_ATTACH_BACKING"
name_scanout:	.asciz "SET_SCANOUT"
name_transfer:	.asciz "TRANSFER_TO_HOST_2D"
name_flush:	.asciz "RESOURCE_FLUSH"
name_pit:	.asciz "gpuhold"
msg_gpu_error:	.asciz "testguest: gpu error: "
msg_gpu_display: .asciz "testguest: gpu display "
msg_gpu_ok:	.asciz "testguest: gpu ok "
msg_gpubad:	.asciz "testguest: gpubad "
msg_gpubad_ok:	.asciz "testguest: gpubad ok\n"
msg_gpubad_failed: .asciz "testguest: gpubad failed\n"
msg_want:	.asciz " (want "
msg_close:	.asciz ")"
msg_x:		.asciz "x"
msg_0x:		.asciz "0x"
out_none:	.asciz "none"
case_xfer_res:	.asciz "transfer-unknown-resource"
case_flush_res:	.asciz "flush-unknown-resource"
case_scanout_res: .asciz "scanout-unknown-resource"
case_xfer_rect:	.asciz "transfer-rect-beyond-resource"
case_flush_rect: .asciz "flush-rect-beyond-resource"
case_scanout_rect: .asciz "scanout-rect-beyond-resource"
case_xfer_offset: .asciz "transfer-beyond-backing"
case_scanout_id: .asciz "scanout-id-7"
case_attach_ram: .asciz "backing-beyond-ram"
case_attach_many: .asciz "backing-16385-entries"
case_attach_lying: .asciz "backing-entries-missing"
case_attach_twice: .asciz "backing-twice"
case_create_absurd: .asciz "create-65535x65535"
case_create_huge: .asciz "create-16384x16384"
case_create_id0: .asciz "create-id-0"
case_create_dup: .asciz "create-existing-id"
case_create_format: .asciz "create-format-0"
case_unknown_cmd: .asciz "3d-command"
case_short_cmd:	.asciz "short-command"
case_resp_small: .asciz "response-too-small"
case_resp_tiny:	.asciz "response-under-header"
case_resp_missing: .asciz "response-missing"
case_resp_beyond_ram: .asciz "response-beyond-ram"
err_gpu_nodev:	.asciz "no virtio-gpu device (govm or QEMU microvm virtio-mmio windows)"
err_gpu_response: .asciz "unexpected response"
err_gpu_mode:	.asciz "scanout 0 disabled, empty, or larger than 8 MiB"
err_gpu_hostile: .asciz "a hostile case got an unexpected answer"
err_gpu_pit:	.asciz "PIT channel 2 does not count"

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

/* ---- stacks, virtio rings and buffers ---- */
	.section .bss
	.balign 4096
vq_start:                               /* blk_init clears vq_start..vq_end */
vq_desc:	.skip QSIZE * DESC_SIZE     /* 16-byte aligned */
vq_avail:	.skip AVAIL_SIZE            /* 2-byte aligned */
	.balign 4
vq_used:	.skip USED_SIZE             /* 4-byte aligned */
	.balign 16
blk_hdr:	.skip BLK_HDR_SIZE
blk_status:	.skip BLK_STATUS_SIZE
	.balign 8
blk_capacity:	.skip 8                     /* sectors */
vq_used_len:	.skip 4                     /* of the last used entry */
vq_last_used:	.skip 2                     /* used idx we have consumed up to */
vq_end:
	.balign 16
gpu_req:	.skip GPU_REQ_MAX           /* the command being sent */
gpu_resp:	.skip GPU_DI_SIZE           /* its response: the largest is the display info */
	.balign 8
gpu_resp_addr:	.skip 8                     /* gpubad: the response buffer instead of gpu_resp (0: gpu_resp) */
gpu_width:	.skip 4                     /* scanout 0's mode, from GET_DISPLAY_INFO */
gpu_height:	.skip 4
gpu_fb_bytes:	.skip 4                     /* width * height * 4 */
	.balign 4096
wbuf:	.skip BLK_MAX_SECTORS * SECTOR_SIZE
rbuf:	.skip BLK_MAX_SECTORS * SECTOR_SIZE
	.balign 16
	.skip STACK_SIZE
ring0_stack_top:
	.skip STACK_SIZE
user_stack_top:
