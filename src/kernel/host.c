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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/utsname.h>
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

bool kern_host_knows_madv_collapse(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	/* MADV_COLLAPSE needs THP (its sysfs folder) whatever "enabled"
	 * says, and came with 6.1 (7d8faaf15545). */
	if (access("/sys/kernel/mm/transparent_hugepage", F_OK) != 0 || uname(&u) != 0 ||
	    sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 1);
}

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

/* Write a sysfs value in dir with open, write and close only (a signal
 * handler restores the settings). */
static int dir_knob_write(const char *dir, const char *name, const char *val)
{
	char path[160];
	size_t n = strlen(val);
	int fd, ok;

	snprintf(path, sizeof(path), "%s%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

static int dir_knob_read(const char *dir, const char *name, char *buf, size_t len)
{
	char path[160];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s%s", dir, name);
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

static int knob_write(const char *name, const char *val)
{
	return dir_knob_write(KSM_DIR, name, val);
}

static int knob_read(const char *name, char *buf, size_t len)
{
	return dir_knob_read(KSM_DIR, name, buf, len);
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

/* ---- the hugetlb pool ------------------------------------------------------------------ */

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"
#define NR_OVERCOMMIT "/proc/sys/vm/nr_overcommit_hugepages"
#define HUGETLB_LOCK_MS 60000 /* the longest a run waits for another's pool */

/* The pool of the default huge page size, as /proc/meminfo has it. */
struct hp_pool {
	long free, rsvd, size_kb;
};

/* Read the pool: 0, or -1 if /proc/meminfo lacks its lines. */
static int hp_pool_read(struct hp_pool *p)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	int seen = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		seen += sscanf(line, "HugePages_Free: %ld", &p->free) == 1;
		seen += sscanf(line, "HugePages_Rsvd: %ld", &p->rsvd) == 1;
		seen += sscanf(line, "Hugepagesize: %ld kB", &p->size_kb) == 1;
	}
	fclose(f);
	return seen == 3 ? 0 : -1;
}

/* Free huge pages no mapping has reserved: what a new mapping can reserve. */
static long hp_available(const struct hp_pool *p)
{
	return p->free > p->rsvd ? p->free - p->rsvd : 0;
}

static long read_long(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static char hp_why[512];

/* Why the pool as it is now cannot serve n pages (fit: at least n free,
 * or exactly n, without overcommit, for a scenario whose pool must run
 * dry), for a process that can (root) or cannot raise it, or NULL. */
static const char *hp_pool_unfit(unsigned long n, enum kern_hp_fit fit, bool root)
{
	struct hp_pool p;
	long overcommit;
	char premise[160];

	if (access(NR_HUGEPAGES, F_OK) != 0)
		return "map ... hugetlb: this kernel has no hugetlb pages (" NR_HUGEPAGES
		       " is missing: CONFIG_HUGETLBFS)";
	if (hp_pool_read(&p) != 0)
		return "map ... hugetlb: /proc/meminfo does not show the hugetlb pool "
		       "(HugePages_Free, HugePages_Rsvd, Hugepagesize)";
	if (p.size_kb != 2048) {
		snprintf(hp_why, sizeof(hp_why),
			 "map ... hugetlb: the host's default huge page size is %ld kB "
			 "(Hugepagesize in /proc/meminfo), the pool " NR_HUGEPAGES
			 " sizes; cowlab's huge pages are 2048 kB",
			 p.size_kb);
		return hp_why;
	}
	if (hp_available(&p) < (long)n && !root) {
		snprintf(hp_why, sizeof(hp_why),
			 "map ... hugetlb: the scenario's pool needs free huge pages of 2 MiB "
			 "(system hugepages=%lu) and the host has %ld (HugePages_Free less "
			 "HugePages_Rsvd in /proc/meminfo); only root can raise " NR_HUGEPAGES,
			 n, hp_available(&p));
		return hp_why;
	}
	if (fit == KERN_HP_AT_LEAST)
		return NULL;
	snprintf(premise, sizeof(premise),
		 fit == KERN_HP_SIGBUS
			 ? "sigbus: the scenario expects SIGBUS where its pool (system "
			   "hugepages=%lu) runs dry"
			 : "map ... hugetlb: the scenario's maps ask more huge pages than its pool "
			   "(system hugepages=%lu) holds, so one fails (out of memory)",
		 n);
	if (hp_available(&p) > (long)n) {
		snprintf(hp_why, sizeof(hp_why),
			 "%s, and the host has %ld free huge pages: %s where the scenario's pool "
			 "has none",
			 premise, hp_available(&p),
			 fit == KERN_HP_SIGBUS ? "an access may find a page"
					       : "a map may reserve a page");
		return hp_why;
	}
	overcommit = read_long(NR_OVERCOMMIT);
	if (overcommit > 0) {
		snprintf(hp_why, sizeof(hp_why),
			 "%s, and " NR_OVERCOMMIT " is %ld: the kernel may allocate surplus pages "
			 "there",
			 premise, overcommit);
		return hp_why;
	}
	return NULL;
}

const char *kern_hugetlb_unavailable(unsigned long n)
{
	return hp_pool_unfit(n, KERN_HP_AT_LEAST, geteuid() == 0);
}

/* NR_HUGEPAGES, open and flock'ed from kern_hugetlb_prepare to
 * kern_hugetlb_restore (one cowlab run changes the pool at a time: two
 * that saved and restored it across each other would leave it changed);
 * the value it had, written back when hp_changed. */
static volatile sig_atomic_t hp_fd = -1, hp_changed;
static char hp_saved[32];
static volatile sig_atomic_t hp_saved_len;

/* Take the lock on NR_HUGEPAGES within HUGETLB_LOCK_MS: 0, or -1. */
static int hp_lock(int fd)
{
	for (int ms = 0; ms < HUGETLB_LOCK_MS; ms += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		usleep(10000);
	}
	return -1;
}

int kern_hugetlb_prepare(unsigned long n, enum kern_hp_fit fit, char *why, size_t len)
{
	bool root = geteuid() == 0;
	const char *unfit = hp_pool_unfit(n, KERN_HP_AT_LEAST, root);
	struct hp_pool p = {0};
	ssize_t got;
	long want;
	int fd;

	if (unfit) {
		snprintf(why, len, "%s", unfit);
		return 1;
	}
	fd = open(NR_HUGEPAGES, (root ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "map ... hugetlb: cannot open " NR_HUGEPAGES ": %s",
			 strerror(errno));
		return 1;
	}
	if (hp_lock(fd) != 0) {
		close(fd);
		snprintf(why, len,
			 "map ... hugetlb: another cowlab run kept the hugetlb pool (its lock "
			 "on " NR_HUGEPAGES ") for %d s",
			 HUGETLB_LOCK_MS / 1000);
		return 1;
	}
	hp_fd = fd;
	got = pread(fd, hp_saved, sizeof(hp_saved) - 1, 0);
	if (got <= 0) {
		snprintf(why, len, "map ... hugetlb: cannot read " NR_HUGEPAGES);
		kern_hugetlb_restore();
		return 1;
	}
	hp_saved[got] = '\0';
	hp_saved[strcspn(hp_saved, "\n")] = '\0';
	hp_saved_len = (sig_atomic_t)strlen(hp_saved);
	/* Under the lock, the pool as it is now (no other cowlab run is
	 * between its change and its restore, whose raised pool could look
	 * too large for an exact one). */
	unfit = hp_pool_unfit(n, fit, root);
	if (unfit || hp_pool_read(&p) != 0) {
		snprintf(why, len, "%s", unfit ? unfit : "map ... hugetlb: /proc/meminfo changed");
		kern_hugetlb_restore();
		return 1;
	}
	if (hp_available(&p) >= (long)n)
		return 0;
	/* Raise the pool by the shortfall, then see that it took (the
	 * kernel gives what it finds: memory may be fragmented). */
	want = strtol(hp_saved, NULL, 10) + (long)n - hp_available(&p);
	{
		char buf[32];
		int w = snprintf(buf, sizeof(buf), "%ld", want);

		hp_changed = 1;
		if (pwrite(fd, buf, (size_t)w, 0) != w) {
			snprintf(why, len,
				 "map ... hugetlb: writing %ld to " NR_HUGEPAGES " failed: %s",
				 want, strerror(errno));
			kern_hugetlb_restore();
			return 1;
		}
	}
	if (hp_pool_read(&p) != 0 || hp_available(&p) < (long)n) {
		snprintf(why, len,
			 "map ... hugetlb: the host could give only %ld of %lu huge pages of 2 MiB "
			 "(system hugepages=%lu; " NR_HUGEPAGES " raised from %s to %ld, then "
			 "restored)",
			 hp_available(&p), n, n, hp_saved, want);
		kern_hugetlb_restore();
		return 1;
	}
	return 0;
}

void kern_hugetlb_restore(void)
{
	int fd = hp_fd;

	if (fd < 0)
		return;
	if (hp_changed)
		(void)!pwrite(fd, hp_saved, (size_t)hp_saved_len, 0);
	hp_changed = 0;
	hp_fd = -1;
	close(fd); /* the lock goes with it */
}

void kern_hugetlb_forget(void)
{
	int fd = hp_fd;

	hp_changed = 0;
	hp_fd = -1;
	if (fd >= 0)
		close(fd);
}

/* ---- khugepaged -------------------------------------------------------------------------- */

#define KHP_DIR "/sys/kernel/mm/transparent_hugepage/khugepaged/"

/* The settings a pass changes, as they were, to be written back. */
static const char *const khp_knobs[] = {"pages_to_scan", "alloc_sleep_millisecs",
					"scan_sleep_millisecs"};
static char khp_saved[3][32];
static volatile sig_atomic_t khp_changed;

const char *kern_khugepaged_unavailable(void)
{
	const char *why = kern_thp_unavailable();

	if (access(KHP_DIR "full_scans", F_OK) != 0)
		return "khugepaged: this kernel has no THP (" KHP_DIR " is missing)";
	if (why)
		return why; /* khugepaged does not run with THP [never] */
	if (geteuid() != 0)
		return "khugepaged: driving khugepaged passes (" KHP_DIR ") needs root";
	return NULL;
}

int kern_khugepaged_prepare(char *why, size_t len)
{
	for (size_t i = 0; i < 3; i++)
		if (dir_knob_read(KHP_DIR, khp_knobs[i], khp_saved[i], sizeof(khp_saved[i])) != 0) {
			snprintf(why, len, "khugepaged: cannot read " KHP_DIR "%s", khp_knobs[i]);
			return 1;
		}
	khp_changed = 1;
	return 0;
}

void kern_khugepaged_restore(void)
{
	if (!khp_changed)
		return;
	/* scan_sleep_millisecs last: writing it wakes khugepaged, which
	 * then goes on with the old settings. */
	for (size_t i = 0; i < 3; i++)
		dir_knob_write(KHP_DIR, khp_knobs[i], khp_saved[i]);
	khp_changed = 0;
}

int kern_khugepaged_pass(unsigned int timeout_ms)
{
	static const char *const fast[] = {"65536", "0", "0"};
	char buf[32];
	long start, now;
	int err = 0;

	if (!khp_changed || dir_knob_read(KHP_DIR, "full_scans", buf, sizeof(buf)) != 0)
		return -1;
	now = start = strtol(buf, NULL, 10);
	/* Every page of every registered process in each scan, no sleep
	 * between scans: the write of scan_sleep_millisecs wakes it. */
	for (size_t i = 0; i < 3 && !err; i++)
		err = dir_knob_write(KHP_DIR, khp_knobs[i], fast[i]);
	/* Two full scans: the one under way when it woke may have passed
	 * the scenario's process already. */
	for (unsigned int ms = 0; !err; ms++) {
		if (dir_knob_read(KHP_DIR, "full_scans", buf, sizeof(buf)) != 0)
			break;
		now = strtol(buf, NULL, 10);
		if (now >= start + 2 || ms >= timeout_ms)
			break;
		usleep(1000);
	}
	/* Back to the old pace, until the next pass or the run's end. */
	for (size_t i = 0; i < 3; i++)
		dir_knob_write(KHP_DIR, khp_knobs[i], khp_saved[i]);
	return !err && now >= start + 2 ? 0 : -1;
}
