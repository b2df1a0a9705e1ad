/*
 * ioload: a tiny block-device load generator for the govm guest benchmarks
 * (bench/blk.sh, guest test blkbench). Built static, it reaches the guest
 * on a second, read-only disk, so the initramfs needs no change.
 *
 *   ioload now                      print CLOCK_MONOTONIC in nanoseconds
 *   ioload seqwrite DEV MIB         write MIB MiB of zeros, 1 MiB blocks, O_DIRECT
 *   ioload seqread DEV MIB          read MIB MiB, 1 MiB blocks, O_DIRECT
 *   ioload randread DEV COUNT [SEED]
 *                                   COUNT 4 KiB reads at random 4 KiB-aligned
 *                                   offsets over the whole device, O_DIRECT,
 *                                   one at a time (queue depth 1)
 *
 * Each load prints one line: "IOLOAD op=NAME bytes=N ns=N ops=N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	SEQ_BLOCK = 1 << 20,   /* sequential transfer size: 1 MiB */
	RAND_BLOCK = 4096,     /* random read size and alignment: 4 KiB */
	BUF_ALIGN = 4096,      /* O_DIRECT buffer alignment */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(const char *what, const char *dev)
{
	fprintf(stderr, "ioload: %s %s: %s\n", what, dev, strerror(errno));
	return 1;
}

static void report(const char *op, uint64_t bytes, uint64_t ns, uint64_t ops)
{
	printf("IOLOAD op=%s bytes=%" PRIu64 " ns=%" PRIu64 " ops=%" PRIu64 "\n",
	       op, bytes, ns, ops);
}

/* xorshift64*: a small, seedable generator (quality is ample here). */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static int seq(const char *dev, long mib, int write)
{
	void *buf;
	int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	uint64_t t0, t1;
	long i;

	if (fd < 0)
		return fail("open", dev);
	if (posix_memalign(&buf, BUF_ALIGN, SEQ_BLOCK))
		return fail("alloc", dev);
	memset(buf, 0, SEQ_BLOCK);
	t0 = now_ns();
	for (i = 0; i < mib; i++) {
		ssize_t n = write ? pwrite(fd, buf, SEQ_BLOCK, (off_t)i * SEQ_BLOCK)
				  : pread(fd, buf, SEQ_BLOCK, (off_t)i * SEQ_BLOCK);
		if (n != SEQ_BLOCK)
			return fail(write ? "pwrite" : "pread", dev);
	}
	if (write && fsync(fd))
		return fail("fsync", dev);
	t1 = now_ns();
	report(write ? "seqwrite" : "seqread", (uint64_t)mib * SEQ_BLOCK, t1 - t0,
	       (uint64_t)mib);
	close(fd);
	return 0;
}

static int randread(const char *dev, long count, uint64_t seed)
{
	void *buf;
	struct stat st;
	uint64_t size, blocks, t0, t1;
	int fd = open(dev, O_RDONLY | O_DIRECT);
	long i;

	if (fd < 0)
		return fail("open", dev);
	if (fstat(fd, &st))
		return fail("fstat", dev);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size))
			return fail("BLKGETSIZE64", dev);
	} else {
		size = (uint64_t)st.st_size; /* a regular file, for testing */
	}
	blocks = size / RAND_BLOCK;
	if (blocks == 0) {
		fprintf(stderr, "ioload: %s is too small\n", dev);
		return 1;
	}
	if (posix_memalign(&buf, BUF_ALIGN, RAND_BLOCK))
		return fail("alloc", dev);
	if (seed == 0)
		seed = 1;
	t0 = now_ns();
	for (i = 0; i < count; i++) {
		off_t off = (off_t)(rng_next(&seed) % blocks) * RAND_BLOCK;
		if (pread(fd, buf, RAND_BLOCK, off) != RAND_BLOCK)
			return fail("pread", dev);
	}
	t1 = now_ns();
	report("randread", (uint64_t)count * RAND_BLOCK, t1 - t0, (uint64_t)count);
	close(fd);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: ioload now | seqwrite DEV MIB | seqread DEV MIB | "
			"randread DEV COUNT [SEED]\n");
	return 2;
}

int main(int argc, char **argv)
{
	long n;

	if (argc == 2 && !strcmp(argv[1], "now")) {
		printf("%" PRIu64 "\n", now_ns());
		return 0;
	}
	if (argc < 4)
		return usage();
	n = strtol(argv[3], NULL, 10);
	if (n <= 0)
		return usage();
	if (!strcmp(argv[1], "seqwrite"))
		return seq(argv[2], n, 1);
	if (!strcmp(argv[1], "seqread"))
		return seq(argv[2], n, 0);
	if (!strcmp(argv[1], "randread"))
		return randread(argv[2], n, argc > 4 ? strtoull(argv[4], NULL, 10) : 1);
	return usage();
}
