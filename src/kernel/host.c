/*
 * What the host kernel is like, where a scenario's outcome depends on it.
 */
#include "kernel/host.h"

#include "base/hostfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <unistd.h>

/* The page frame behind addr, from /proc/self/pagemap (bit 63: present,
 * bits 0-54: the PFN, which reads as 0 without CAP_SYS_ADMIN); 0 if
 * unknown. */
static uint64_t pfn_of(int fd, const void *addr)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)addr / 4096 * sizeof(e));

	if (pread(fd, &e, sizeof(e), off) != (ssize_t)sizeof(e) || !(e >> 63))
		return 0;
	return e & ((1ULL << 55) - 1);
}

int kern_host_zero_page(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	volatile unsigned char *p;
	uint64_t a, b;
	int answer = -1;

	if (fd < 0)
		return -1;
	p = mmap(NULL, 2 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		/* Two read faults on untouched anonymous memory: one frame
		 * for both is the shared zero page. */
		(void)p[0];
		(void)p[4096];
		a = pfn_of(fd, (const void *)p);
		b = pfn_of(fd, (const void *)(p + 4096));
		if (a && b)
			answer = a == b;
		munmap((void *)p, 2 * 4096);
	}
	close(fd);
	return answer;
}

/* ---- a temporary swap area ------------------------------------------------------------ */

#define SWAP_PAGES 1024 /* 4 MiB: what a scenario swaps out is a few pages */

static char swap_path[4096];
static volatile sig_atomic_t swap_on;

bool kern_swap_active(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[512];
	int lines = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1; /* a header, then one line per swap area */
}

/* A swap file of SWAP_PAGES pages at path: mkswap's header (version 1,
 * the last page, "SWAPSPACE2" at the end of the first page), the rest
 * written, as swapon wants a file without holes. */
static int write_swap_file(const char *path)
{
	static unsigned char page[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	uint32_t version = 1, last = SWAP_PAGES - 1;
	int err = 0;

	if (fd < 0)
		return -1;
	memset(page, 0, sizeof(page));
	memcpy(page + 1024, &version, sizeof(version));
	memcpy(page + 1028, &last, sizeof(last));
	memcpy(page + sizeof(page) - 10, "SWAPSPACE2", 10);
	for (int i = 0; i < SWAP_PAGES && !err; i++) {
		err = fd_write_full(fd, page, sizeof(page));
		if (i == 0)
			memset(page, 0, sizeof(page));
	}
	if (!err)
		err = fsync(fd);
	close(fd);
	return err;
}

int kern_swap_on(char *why, size_t len)
{
	const char *dir = getenv("COWLAB_TMPDIR");

	if (swap_on || kern_swap_active())
		return 0;
	if (geteuid() != 0) {
		snprintf(why, len,
			 "swapout: no swap is active on this host (/proc/swaps), and "
			 "only root can enable a temporary swap file");
		return 1;
	}
	if (!dir || !*dir)
		dir = "/var/tmp";
	snprintf(swap_path, sizeof(swap_path), "%s/cowlab-swap-%d", dir, (int)getpid());
	if (write_swap_file(swap_path) != 0) {
		snprintf(why, len, "swapout: cannot write a swap file in %s: %s", dir,
			 strerror(errno));
		unlink(swap_path);
		return 1;
	}
	if (swapon(swap_path, 0) != 0) {
		snprintf(why, len, "swapout: swapon of a swap file in %s failed: %s", dir,
			 strerror(errno));
		unlink(swap_path);
		return 1;
	}
	swap_on = 1;
	return 0;
}

void kern_swap_off(void)
{
	if (!swap_on)
		return;
	swapoff(swap_path);
	unlink(swap_path);
	swap_on = 0;
}
