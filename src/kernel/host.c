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

#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

const char *kern_thp_unavailable(void)
{
	char buf[128];
	int fd = open(THP_ENABLED, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	/* Missing: a kernel without THP, or no sysfs here; MADV_HUGEPAGE
	 * tells which when the run maps (EINVAL: a skip). */
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if (strstr(buf, "[never]"))
		return "thp: transparent huge pages are disabled on this host (" THP_ENABLED
		       " is [never]), so no mapping gets a huge page";
	return NULL;
}

/* ---- a temporary swap area ------------------------------------------------------------ */

/* Set before the step they undo, so that a signal handler that runs in
 * between undoes it: the file may exist, swap may be on (an unlink of a
 * missing file, a swapoff of a file never enabled, fail harmlessly). */
static char swap_path[4096];
static volatile sig_atomic_t swap_file, swap_on;

/* The active swap areas (/proc/swaps: a header, then one line each);
 * lasting: only those that are not another cowlab run's temporary swap
 * file, which goes away when that run ends. */
static int swap_areas(bool lasting)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return 0;
	for (bool header = true; fgets(line, sizeof(line), f); header = false)
		if (!header && !(lasting && strstr(line, "/cowlab-swap-")))
			n++;
	fclose(f);
	return n;
}

bool kern_swap_active(void)
{
	return swap_areas(false) > 0;
}

/* A swap file of pages pages at path: mkswap's header (version 1, the
 * last page, "SWAPSPACE2" at the end of the first page), the rest written
 * with zeros, as swapon wants a file without holes. */
static int write_swap_file(const char *path, unsigned long pages)
{
	static unsigned char chunk[64 * 4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	uint32_t version = 1, last = (uint32_t)(pages - 1);
	int err;

	if (fd < 0)
		return -1;
	memset(chunk, 0, 4096);
	memcpy(chunk + 1024, &version, sizeof(version));
	memcpy(chunk + 1028, &last, sizeof(last));
	memcpy(chunk + 4096 - 10, "SWAPSPACE2", 10);
	err = fd_write_full(fd, chunk, 4096);
	memset(chunk, 0, 4096);
	for (unsigned long done = 1; done < pages && !err;) {
		unsigned long n = pages - done < 64 ? pages - done : 64;

		err = fd_write_full(fd, chunk, n * 4096);
		done += n;
	}
	if (!err)
		err = fsync(fd);
	close(fd);
	return err;
}

int kern_swap_on(unsigned long pages, char *why, size_t len)
{
	const char *dir = getenv("COWLAB_TMPDIR");

	/* Another run's temporary file may go away in the middle of ours. */
	if (swap_file || swap_areas(true) > 0 || (kern_swap_active() && geteuid() != 0))
		return 0;
	if (geteuid() != 0) {
		snprintf(why, len,
			 "swapout: no swap is active on this host (/proc/swaps), and "
			 "only root can enable a temporary swap file");
		return 1;
	}
	if (!dir || !*dir)
		dir = "/var/tmp";
	if (pages < 10)
		pages = 10; /* swapon refuses a smaller area */
	snprintf(swap_path, sizeof(swap_path), "%s/cowlab-swap-%d", dir, (int)getpid());
	swap_file = 1;
	if (write_swap_file(swap_path, pages) != 0) {
		snprintf(why, len, "swapout: cannot write a swap file in %s: %s", dir,
			 strerror(errno));
		kern_swap_off();
		return 1;
	}
	swap_on = 1;
	if (swapon(swap_path, 0) != 0) {
		snprintf(why, len, "swapout: swapon of a swap file in %s failed: %s", dir,
			 strerror(errno));
		swap_on = 0;
		kern_swap_off();
		return 1;
	}
	return 0;
}

void kern_swap_off(void)
{
	if (swap_on)
		swapoff(swap_path);
	swap_on = 0;
	if (swap_file)
		unlink(swap_path);
	swap_file = 0;
}

/* ---- KSM -------------------------------------------------------------------------------- */

#define KSM_DIR "/sys/kernel/mm/ksm/"

/* The settings a run changes, as they were, to be written back. */
static const char *const ksm_knobs[] = {"pages_to_scan", "sleep_millisecs", "smart_scan", "run"};
static char ksm_saved[4][32];
static volatile sig_atomic_t ksm_changed;

/* Write a sysfs value with open, write and close only (a signal handler
 * restores the settings). */
static int knob_write(const char *name, const char *val)
{
	char path[128];
	size_t n = strlen(val);
	int fd, ok;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

static int knob_read(const char *name, char *buf, size_t len)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

const char *kern_ksm_unavailable(void)
{
	if (access(KSM_DIR "run", F_OK) != 0)
		return "ksm_merge: this kernel has no KSM (" KSM_DIR " is missing)";
	if (geteuid() != 0)
		return "ksm_merge: driving KSM passes (" KSM_DIR ") needs root";
	return NULL;
}

int kern_ksm_prepare(char *why, size_t len)
{
	static const char *const run_values[] = {"100000", "0", "0", "0"};

	/* smart_scan (6.7+) may be missing: an empty saved value. */
	for (size_t i = 0; i < 4; i++)
		if (knob_read(ksm_knobs[i], ksm_saved[i], sizeof(ksm_saved[i])) != 0) {
			ksm_saved[i][0] = '\0';
			if (strcmp(ksm_knobs[i], "smart_scan") != 0) {
				snprintf(why, len, "ksm_merge: cannot read " KSM_DIR "%s",
					 ksm_knobs[i]);
				return 1;
			}
		}
	ksm_changed = 1;
	/* ksmd stopped until a pass; then as fast as it goes, every page
	 * looked at in every scan (no smart scan skipping pages). */
	for (size_t i = 0; i < 4; i++)
		if (ksm_saved[i][0] && knob_write(ksm_knobs[i], run_values[i]) != 0) {
			kern_ksm_restore();
			snprintf(why, len, "ksm_merge: cannot write " KSM_DIR "%s", ksm_knobs[i]);
			return 1;
		}
	return 0;
}

void kern_ksm_restore(void)
{
	if (!ksm_changed)
		return;
	/* run last: ksmd goes back to what it did with the old settings. */
	for (size_t i = 0; i < 4; i++)
		if (ksm_saved[i][0])
			knob_write(ksm_knobs[i], ksm_saved[i]);
	ksm_changed = 0;
}

int kern_ksm_pass(unsigned int timeout_ms)
{
	char buf[32];
	long start, now;

	if (knob_read("full_scans", buf, sizeof(buf)) != 0)
		return -1;
	now = start = strtol(buf, NULL, 10);
	if (knob_write("run", "1") != 0)
		return -1;
	/* Two full scans: a page enters the unstable tree in one and merges
	 * in the next, as the model's pass merges every candidate. */
	for (unsigned int ms = 0;; ms++) {
		if (knob_read("full_scans", buf, sizeof(buf)) != 0)
			break;
		now = strtol(buf, NULL, 10);
		if (now >= start + 2 || ms >= timeout_ms)
			break;
		usleep(1000);
	}
	return knob_write("run", "0") == 0 && now >= start + 2 ? 0 : -1;
}

int kern_smaps_thp(unsigned long addr, struct vma_thp *v)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned long start = 0, end = 0, a, b, kb;
	char line[512];
	bool in = false;
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line: "START-END PERMS ...". */
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			if (in)
				break; /* the VMA had no AnonHugePages line */
			in = addr >= a && addr < b;
			start = a;
			end = b;
		} else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			*v = (struct vma_thp){start, end, kb * 1024};
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}
