// kvmloop: the smallest VMM that runs govm's test guest, the ceiling for any
// VMM's exit rate on this machine.
//
// It loads an ELF with a Xen PVH entry note (guest-images/testguest), writes
// an hvm_start_info and the command line, enters the guest in 32-bit
// protected mode and runs a bare KVM_RUN loop. No irqchip, no devices:
//
//   port 0x3f8 (OUT)  the guest's text, copied to stdout
//   port 0xf4  (OUT)  exit: the value is the guest's status, kvmloop exits with it
//   port 0xf5  (OUT)  mark: 1 = begin, 2 = end of the measured loop
//   port 0xf6  (OUT)  sink of the pio benchmark (counted)
//   0xfe000000 (MMIO) sink of the mmio benchmark (counted)
//
// Usage:  kvmloop testguest.elf "pio 200000"
// Prints: kvmloop: exits=N seconds=S rate=R/s setup=T
// where exits counts the VM exits between the two marks, S is the time
// between them, and T the time from the first KVM_RUN to mark 1 (the ring-0
// setup). Build: gcc -O2 -o build/kvmloop bench/kvmloop/kvmloop.c
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	MEM_SIZE = 64 << 20,
	START_INFO_ADDR = 0x6000,  // machine.PVHInfoAddr
	CMDLINE_ADDR = 0x20000,    // machine.CmdlineAddr
	CMDLINE_MAX = 0x10000,     // machine.CmdlineMax
	START_INFO_MAGIC = 0x336ec578,
	XEN_ELFNOTE_PHYS32_ENTRY = 18,
	PORT_COM1 = 0x3f8,
	PORT_EXIT = 0xf4,
	PORT_MARK = 0xf5,
	PORT_SINK = 0xf6,
	MARK_BEGIN = 1,
	MARK_END = 2,
	CR0_PE = 0x1,
	RFLAGS_RESERVED = 0x2,
	SEG_TYPE_CODE_RX_ACCESSED = 0xb,
	SEG_TYPE_DATA_RW_ACCESSED = 0x3,
	EXIT_VMM_ERROR = 125, // kvmloop's own failure, not a guest status
	MAX_CPUID_ENTRIES = 256,
};
static const uint64_t MMIO_SINK = 0xfe000000;
static const unsigned long TSS_ADDR = 0xfffbd000; // machine.TSSAddr (needed on Intel hosts)

// struct hvm_start_info, version 1 (xen/include/public/arch-x86/hvm/start_info.h).
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("kvmloop: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_VMM_ERROR);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// in_range reports whether [off, off+len) lies inside [0, size).
static int in_range(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

// load_elf copies the PT_LOAD segments to guest memory at their physical
// addresses and returns the PVH entry point from the note.
static uint32_t load_elf(const char *path, uint8_t *mem)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		die("stat %s: %s", path, strerror(errno));
	uint64_t size = st.st_size;
	if (size < sizeof(Elf64_Ehdr))
		die("%s: too small for an ELF header", path);
	uint8_t *f = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);

	Elf64_Ehdr eh;
	memcpy(&eh, f, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		die("%s: not a little-endian x86-64 ELF64", path);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_range(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), size))
		die("%s: bad program header table", path);

	uint32_t entry = 0;
	int found = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, f + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (!in_range(ph.p_offset, ph.p_filesz, size))
			die("%s: segment %d beyond the file", path, i);
		if (ph.p_type == PT_LOAD) {
			if (ph.p_filesz > ph.p_memsz || !in_range(ph.p_paddr, ph.p_memsz, MEM_SIZE))
				die("%s: segment %d outside guest RAM", path, i);
			memcpy(mem + ph.p_paddr, f + ph.p_offset, ph.p_filesz);
			memset(mem + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		} else if (ph.p_type == PT_NOTE) {
			uint64_t off = ph.p_offset, end = ph.p_offset + ph.p_filesz;
			while (end - off >= sizeof(Elf64_Nhdr)) {
				Elf64_Nhdr nh;
				memcpy(&nh, f + off, sizeof nh);
				uint64_t name = off + sizeof nh;
				uint64_t desc = name + (((uint64_t)nh.n_namesz + 3) & ~3ull);
				uint64_t next = desc + (((uint64_t)nh.n_descsz + 3) & ~3ull);
				if (next > end)
					die("%s: truncated note", path);
				if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
				    memcmp(f + name, "Xen", 4) == 0 && nh.n_descsz >= 4) {
					memcpy(&entry, f + desc, sizeof entry);
					found = 1;
				}
				off = next;
			}
		}
	}
	munmap(f, size);
	if (!found)
		die("%s: no PVH entry note (Xen, type 18)", path);
	return entry;
}

static void set_cpuid(int kvm, int vcpu)
{
	size_t sz = sizeof(struct kvm_cpuid2) + MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c)
		die("out of memory");
	c->nent = MAX_CPUID_ENTRIES;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) < 0)
		die("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	// Long mode needs CPUID.80000001h:EDX.LM in the guest's CPUID, or
	// WRMSR EFER.LME faults; the supported set has it.
	if (ioctl(vcpu, KVM_SET_CPUID2, c) < 0)
		die("KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
}

static void set_pvh_state(int vcpu, uint32_t entry)
{
	struct kvm_sregs s;
	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS: %s", strerror(errno));
	struct kvm_segment flat = {
		.base = 0, .limit = 0xffffffff, .present = 1, .dpl = 0,
		.db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_segment cs = flat, ds = flat;
	cs.type = SEG_TYPE_CODE_RX_ACCESSED;
	cs.selector = 0x8;
	ds.type = SEG_TYPE_DATA_RW_ACCESSED;
	ds.selector = 0x10;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.cr0 = CR0_PE;
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
		die("KVM_SET_SREGS: %s", strerror(errno));

	struct kvm_regs r = {0};
	r.rip = entry;
	r.rbx = START_INFO_ADDR;
	r.rflags = RFLAGS_RESERVED;
	if (ioctl(vcpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: kvmloop GUEST.elf CMDLINE\n");
		return EXIT_VMM_ERROR;
	}
	const char *cmdline = argv[2];
	if (strlen(cmdline) >= CMDLINE_MAX)
		die("command line longer than %d bytes", CMDLINE_MAX - 1);

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm: %s", strerror(errno));
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
		die("KVM_SET_TSS_ADDR: %s", strerror(errno));

	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory: %s", strerror(errno));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));

	uint32_t entry = load_elf(argv[1], mem);
	struct hvm_start_info si = {
		.magic = START_INFO_MAGIC, .version = 1, .cmdline_paddr = CMDLINE_ADDR,
	};
	memcpy(mem + START_INFO_ADDR, &si, sizeof si);
	memcpy(mem + CMDLINE_ADDR, cmdline, strlen(cmdline) + 1);

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU: %s", strerror(errno));
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run: %s", strerror(errno));
	set_cpuid(kvm, vcpu);
	set_pvh_state(vcpu, entry);

	uint64_t exits = 0, exits_at_begin = 0, measured = 0, sinks = 0;
	double t_start = now(), t_begin = 0, t_end = 0;
	uint32_t status = 0;
	int done = 0;
	while (!done) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN: %s", strerror(errno));
		}
		exits++;
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			uint32_t n = run->io.size * run->io.count;
			if (run->io.data_offset >= (uint64_t)run_size || n > run_size - run->io.data_offset)
				die("IO exit data outside kvm_run");
			if (run->io.direction == KVM_EXIT_IO_IN) {
				memset(data, 0, n); // nothing to read here
				break;
			}
			uint32_t v = 0;
			memcpy(&v, data, run->io.size < sizeof v ? run->io.size : sizeof v);
			switch (run->io.port) {
			case PORT_COM1:
				fwrite(data, run->io.size, run->io.count, stdout);
				break;
			case PORT_SINK:
				sinks += run->io.count;
				break;
			case PORT_MARK:
				if (v == MARK_BEGIN) {
					t_begin = now();
					exits_at_begin = exits;
				} else if (v == MARK_END) {
					t_end = now();
					measured = exits - exits_at_begin - 1; // strictly between the marks
				}
				break;
			case PORT_EXIT:
				status = v;
				done = 1;
				break;
			}
			break;
		}
		case KVM_EXIT_MMIO:
			if (run->mmio.phys_addr == MMIO_SINK)
				sinks++;
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof run->mmio.data);
			break;
		case KVM_EXIT_HLT:
			die("guest halted without writing the exit port");
		case KVM_EXIT_SHUTDOWN:
			die("guest shut down (triple fault)");
		case KVM_EXIT_FAIL_ENTRY:
			die("KVM_EXIT_FAIL_ENTRY: reason 0x%llx",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			die("KVM_EXIT_INTERNAL_ERROR: suberror %u", run->internal.suberror);
		default:
			die("unexpected exit reason %u", run->exit_reason);
		}
	}
	fflush(stdout);
	if (t_end > 0) {
		double secs = t_end - t_begin;
		printf("kvmloop: exits=%llu seconds=%.6f rate=%.0f/s setup=%.6f\n",
		       (unsigned long long)measured, secs,
		       secs > 0 ? measured / secs : 0.0, t_begin - t_start);
		if (sinks != measured)
			fprintf(stderr, "kvmloop: warning: %llu sink accesses but %llu exits\n",
				(unsigned long long)sinks, (unsigned long long)measured);
	}
	return status & 0xff;
}
