/*
 * What the host kernel is like, where a scenario's outcome depends on it.
 */
#include "kernel/host.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
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
