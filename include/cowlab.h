/*
 * cowlab: the public interface.
 *
 * cowlab is a user-space implementation of a Unix kernel's anonymous-memory
 * manager (frames, page tables, copy-on-write fork, get_user_pages, direct
 * I/O, swap, KSM) that runs on real threads or under a deterministic
 * explorer.  This header is the only one a program outside src/ includes:
 * it declares opaque handles, the error codes and the functions of the
 * library.  Everything behind it is internal and may change.
 *
 * Conventions: a fallible function returns 0 or a negative COW_E* code and
 * passes results through out-parameters.  Only a broken internal invariant
 * aborts the process, and the message names the invariant.
 */
#ifndef COWLAB_H
#define COWLAB_H

#ifdef __cplusplus
extern "C" {
#endif

#define COWLAB_VERSION "0.1.0"

/* Error codes.  Keep cow_strerror() and the table in src/mm/error.c in step. */
enum cow_error {
	COW_OK = 0,
	COW_EINVAL = -1,     /* an argument is out of range or malformed */
	COW_ENOMEM = -2,     /* the frame pool (or host memory) is exhausted */
	COW_EFAULT = -3,     /* an address is not mapped, or not with that access */
	COW_EBUSY = -4,	     /* the object is in use (locked, pinned, mapped) */
	COW_EAGAIN = -5,     /* a transient condition: try again */
	COW_EIO = -6,	     /* a host I/O operation failed */
	COW_ENOTSUP = -7,    /* the operation is not supported (yet, or here) */
	COW_ECORRUPT = -8,   /* a validator found a broken invariant */
	COW_ENOENT = -9,     /* no such object (name, entry, token) */
	COW_EDEADLK = -10,   /* the explorer found every task blocked */
	COW_ELIVELOCK = -11, /* the explorer stopped a run at its step limit, or
			      * GUP faulted COW_GUP_MAX_FAULTS times at one
			      * address without getting its page */
	/* A validator found a page the kernel must never write written (the
	 * zero page): not the model's inconsistency but the policy's failure,
	 * as Dirty COW wrote the zero page before 4.9. */
	COW_EOVERWRITE = -12,
	/* An access to a hugetlb mapping found no huge page it could have
	 * (the pool ran dry, or the page was taken away for the mapping's
	 * owner): the process would get SIGBUS. */
	COW_ESIGBUS = -13,
};

/* A static, human-readable name for a COW_E* code (or "unknown error"). */
const char *cow_strerror(int err);

/* The library version string, COWLAB_VERSION. */
const char *cow_version(void);

/* ---- systems, processes, tasks ------------------------------------------
 * A system is one simulated machine: a frame pool, CPUs with software TLBs,
 * a policy (a preset of historical rules), processes.  A task is a thread
 * of a process running on one simulated CPU; every memory access is made by
 * a task.  Operations on one system may run concurrently from several OS
 * threads (stress) or explore tasks, each task used by one at a time. */

struct cow_system;
struct cow_process;
struct cow_task;
struct cow_policy;
struct cow_file;

struct cow_system_opts {
	unsigned long frames;	  /* frame pool size in 4 KiB frames (default 4096) */
	int cpus;		  /* simulated CPUs, 1..64 (default 4) */
	const char *policy;	  /* preset name (default "linux-6.5") */
	int no_zero_page;	  /* read faults map fresh pages, as on hosts without one */
	unsigned long swap_slots; /* swap device size in 4 KiB slots (default: frames) */
	int mem_devices;	  /* the swap device in host memory, not a host file */
	/* The hugetlb pool: huge pages of 2 MiB set aside at creation (as
	 * nr_hugepages), for MAP_HUGETLB mappings; 0: none. */
	unsigned long hugepages;
};

/* The host memory a system of these options takes, in bytes: its frames
 * (page tables come from them too) and their descriptors.  A caller can
 * refuse a system too big for the host before it creates one. */
unsigned long long cow_system_memory(const struct cow_system_opts *opts);
/* Create a system; COW_EINVAL for bad options or an unknown policy. */
int cow_system_create(const struct cow_system_opts *opts, struct cow_system **out);
/* Destroy it: every remaining process exits first.  A system of at most
 * 64 MiB left as good as new (every frame free, every pin given back) is
 * kept, one per thread, for the thread's next cow_system_create with the
 * same options, which makes it new again; a newer one replaces it. */
void cow_system_destroy(struct cow_system *sys);
const struct cow_policy *cow_system_policy(const struct cow_system *sys);
/* Frames free in the pool; equal to the pool size once every process exited. */
unsigned long cow_system_free_frames(const struct cow_system *sys);
/* Free the swap-cache pages nothing refers to any more and return the
 * swap slots still in use (0 once every process exited). */
unsigned long cow_system_swap_in_use(struct cow_system *sys);
/* Check the invariants; strict when nothing is in flight.  0, or
 * COW_ECORRUPT or COW_EOVERWRITE with a message. */
int cow_system_check(struct cow_system *sys, int strict, char *msg, unsigned long len);
/* The explorer's check between two steps: the same invariants as
 * cow_system_check(sys, 0), read only where the steps' logged accesses
 * touched[0..n) (sched_touched) may have changed something, against what
 * the previous call kept.  A full check the first time and when touched
 * is NULL.  Call it from the explorer's context only. */
struct sync_touch;
int cow_system_check_touched(struct cow_system *sys, const struct sync_touch *touched,
			     unsigned long n, char *msg, unsigned long len);
/* Name the object at obj for an explorer trace ("pte@0x1000 mm1 = pfn 5
 * W", "page pfn 5.refcount [ref 2 map 1 pin 0 excl]", ...); "word" when it
 * is none the system knows.  Returns 1 for the objects a trace shows (PTEs,
 * pages, page contents, an mm's write_protect_seq and flags), 0 for
 * bookkeeping (allocator, lists, TLBs, upper tables).  Only while no task
 * of the system runs. */
int cow_system_describe(struct cow_system *sys, const void *obj, char *buf, unsigned long len);
/* Have fn(arg, text) called with each decision the memory manager takes
 * and its reason, as it takes it ("do_wp_page: mapcount 1, reuse"; "fork:
 * maybe pinned, copy for child"), in the context of the task that takes
 * it; fn NULL: none (the default).  For traces: the words are for people
 * and may change. */
void cow_system_set_decisions(struct cow_system *sys, void (*fn)(void *arg, const char *text),
			      void *arg);

/* Faults get_user_pages takes at one address before it gives up with
 * COW_ELIVELOCK: Linux retries for as long as it takes, and a rule set
 * whose fault never gives GUP the page it wants would spin (no preset
 * comes near). */
#define COW_GUP_MAX_FAULTS 1000

/* ---- policies -------------------------------------------------------------
 * A policy is a named preset of the historical rules (write-fault reuse,
 * fork, ...).  The default is "linux-6.5".  A rule set of the user's is a
 * preset with rules changed, "BASE+RULE=VALUE+...": cow_policy_find()
 * makes it (once, under its canonical name: the base, then each rule
 * that differs from the base's in the knobs' order; a set that changes
 * nothing is the preset itself). */

/* The longest name of a rule set, its NUL included. */
#define COW_POLICY_NAME_MAX 128
/* A preset by name, or a rule set "BASE+RULE=VALUE..."; NULL if there is
 * no such preset or the set is malformed (cow_policy_check says why). */
const struct cow_policy *cow_policy_find(const char *name);
/* 0 if name is a preset or a well-formed rule set; else COW_EINVAL with
 * one line in err: the unknown preset, rule or value, with the choices. */
int cow_policy_check(const char *name, char *err, unsigned long errlen);
/* Name a rule set (or a preset) for cow_policy_find: 0, or COW_EINVAL
 * with the reason (a bad or taken name, a bad rule set) in err.  Runs
 * and tokens carry the rule set's own name, so they do not need this
 * one to replay. */
int cow_policy_define(const char *name, const char *spec, char *err, unsigned long errlen);
/* The i-th name defined, its rule set in *p; NULL past the last. */
const char *cow_policy_alias(int i, const struct cow_policy **p);
/* The rules one can set (the knobs), in a fixed order: the i-th's name,
 * the line of `cowlab policies` it is (*what) and how many values it has;
 * NULL past the last. */
int cow_policy_knob_count(void);
const char *cow_policy_knob(int i, const char **what, int *nr_values);
/* Value v of knob i: its short name (NULL past the last), and in *text
 * the words `cowlab policies` prints for it ("" for a bool's off and on). */
const char *cow_policy_knob_value(int i, int v, const char **text);
/* The value knob i has in p. */
int cow_policy_knob_get(const struct cow_policy *p, int i);
const struct cow_policy *cow_policy_default(void);
int cow_policy_count(void);
/* The i-th preset in historical order (0 <= i < cow_policy_count()). */
const struct cow_policy *cow_policy_at(int i);
const char *cow_policy_name(const struct cow_policy *p);
const char *cow_policy_summary(const struct cow_policy *p);
const char *cow_policy_commits(const struct cow_policy *p);
/* One line per rule ("rule: choice\n"), into buf; returns buf.  A buffer
 * of COW_POLICY_RULES_MAX bytes holds every preset's. */
#define COW_POLICY_RULES_MAX 4096
const char *cow_policy_rules(const struct cow_policy *p, char *buf, unsigned long len);
/* A hash of the preset's rules (their values and the words
 * cow_policy_rules prints for them; not its name): two presets with the
 * same rules hash alike, and a preset whose rules change hashes anew.
 * Replay tokens carry it (docs/explorer.md). */
unsigned long long cow_policy_hash(const struct cow_policy *p);

/* A new process with an empty address space. */
int cow_process_create(struct cow_system *sys, const char *name, struct cow_process **out);
/* The process exits: its address space is torn down and the handle freed.
 * None of its tasks may be running, and they must not be used again. */
void cow_process_exit(struct cow_process *proc);
const char *cow_process_name(const struct cow_process *proc);
int cow_process_pid(const struct cow_process *proc);

/* A thread of proc that runs on simulated CPU cpu. */
int cow_task_create(struct cow_process *proc, int cpu, struct cow_task **out);
void cow_task_destroy(struct cow_task *task);
struct cow_process *cow_task_process(const struct cow_task *task);

/* ---- memory operations (all made by a task) ------------------------------ */

#define COW_PROT_READ 0x1
#define COW_PROT_WRITE 0x2
#define COW_MAP_PRIVATE 0x2
#define COW_MAP_SHARED 0x1
/* With COW_MAP_PRIVATE, for anonymous memory: a mapping that asks for
 * transparent huge pages, as mmap then madvise(MADV_HUGEPAGE), placed at a
 * 2 MiB-aligned address (as Linux places a large anonymous mapping since
 * 6.7) so that every whole 2 MiB of it can be mapped by a huge PMD. */
#define COW_MAP_THP 0x100
/* For anonymous memory, private or shared: a hugetlb mapping (Linux's
 * MAP_HUGETLB), backed by 2 MiB pages of the system's hugetlb pool.  The
 * length is rounded up to 2 MiB and the address must be 2 MiB aligned;
 * mmap reserves a huge page for every 2 MiB and fails with COW_ENOMEM
 * when the pool cannot promise them.  A shared one's pages stay with the
 * mapping (as in a hugetlbfs file) until its last VMA, in any process,
 * goes.  Where the policy's era has no hugetlb (2.4) the mapping gets
 * small pages. */
#define COW_MAP_HUGETLB 0x40000

enum cow_advice {
	COW_MADV_DONTNEED = 4,
	COW_MADV_DONTFORK = 10,
	COW_MADV_DOFORK = 11,
	COW_MADV_MERGEABLE = 12,   /* KSM may merge the range's pages */
	COW_MADV_UNMERGEABLE = 13, /* ... no longer (merged pages stay shared) */
	/* Transparent huge pages for the range's next faults (where the
	 * policy's era has them), or none; huge PMDs already there stay. */
	COW_MADV_HUGEPAGE = 14,
	COW_MADV_NOHUGEPAGE = 15,
	/* Fault the range's pages in now, as a read or a write would
	 * (breaking COW for a write); COW_ENOMEM for a hole in the range,
	 * COW_EFAULT where the access is not allowed. */
	COW_MADV_POPULATE_READ = 22,
	COW_MADV_POPULATE_WRITE = 23,
	/* Collapse every whole 2 MiB of the range that PTEs map into a THP
	 * now (6.1+; COW_ENOTSUP under an older policy, where Linux says
	 * EINVAL; COW_EINVAL where it cannot be: no page table, no writable
	 * PTE, a page that is not anonymous; COW_EAGAIN
	 * where a page holds references beyond its mappings, e.g. a pin, or
	 * is swapped out; COW_ENOMEM without an aligned block). */
	COW_MADV_COLLAPSE = 25,
};

/* Map len bytes of anonymous memory (private or shared) at addr, which
 * must be page aligned and free; addr 0 picks a free range.  The address
 * is returned in *out. */
int cow_mmap(struct cow_task *task, unsigned long addr, unsigned long len, int prot, int flags,
	     unsigned long *out);
/* mmap of a file (from its start, at most its size rounded up to pages),
 * through the system's page cache of that file: MAP_SHARED writes go to
 * the cache, MAP_PRIVATE writes to private copies (copy-on-write).  The
 * cache is filled from the file on first use and never written back; read
 * the file as the system sees it with cow_file_read_cached. */
int cow_mmap_file(struct cow_task *task, unsigned long len, int prot, int flags,
		  const struct cow_file *file, unsigned long *out);
int cow_munmap(struct cow_task *task, unsigned long addr, unsigned long len);
/* UFFDIO_CONTINUE over [addr, addr+len) of a file mapping: map the page
 * cache's pages into the empty PTEs (a minor fault resolved from user
 * space), dirty from 5.16 on; COW_EINVAL outside a file mapping. */
int cow_uffd_continue(struct cow_task *task, unsigned long addr, unsigned long len);
/* Is the page at addr mapped exclusively (an anonymous page with
 * PG_anon_exclusive)?  1 or 0, or COW_EFAULT when no page is present
 * there (unmapped, never touched, swapped out).  Touches nothing. */
int cow_page_exclusive(struct cow_task *task, unsigned long addr);
/* What the task's page table holds for the page at addr, as flags (0: no
 * entry, e.g. never touched or unmapped), as /proc/PID/pagemap and
 * /proc/kpageflags report it.  Touches nothing. */
#define COW_PAGE_PRESENT 0x01	/* a frame is mapped (pagemap bit 63) */
#define COW_PAGE_SWAPPED 0x02	/* a swap entry (pagemap bit 62) */
#define COW_PAGE_EXCLUSIVE 0x04 /* present, anonymous, PG_anon_exclusive */
#define COW_PAGE_KSM 0x08	/* present, a KSM page (KPF_KSM) */
#define COW_PAGE_HUGE 0x10    /* present, mapped by a huge PMD (smaps AnonHugePages, or hugetlb) */
#define COW_PAGE_LARGE 0x20   /* present, a page of a large folio (KPF_THP) */
#define COW_PAGE_HUGETLB 0x40 /* present, a page of the hugetlb pool (KPF_HUGE) */
int cow_page_state(struct cow_task *task, unsigned long addr);
/* Free the page caches of files no mapping uses any more (echo 1 >
 * /proc/sys/vm/drop_caches); a later mapping reads the file again. */
void cow_system_drop_caches(struct cow_system *sys);
int cow_mprotect(struct cow_task *task, unsigned long addr, unsigned long len, int prot);
int cow_madvise(struct cow_task *task, unsigned long addr, unsigned long len, int advice);
/* Swap the pages of [addr, addr+len) out (MADV_PAGEOUT): reclaim through
 * the reverse map, then write them to the swap device.  Advice: pages the
 * policy keeps (pinned) stay, and that is no error, nor is a failed write
 * (the page stays in the swap cache).  COW_ENOMEM when a page stayed for
 * want of swap (the device full), after every page was tried; Linux's
 * MADV_PAGEOUT returns 0 then. */
int cow_swapout(struct cow_task *task, unsigned long addr, unsigned long len);
/* echo 4 > /proc/PID/clear_refs: clear the soft-dirty bits of the task's
 * process, write-protecting every present PTE (the next write faults and
 * marks the PTE soft-dirty again); the policy may skip pinned pages. */
int cow_clear_refs(struct cow_task *task);
/* One full pass of KSM over every process's MADV_MERGEABLE memory, run by
 * the task's CPU (ksmd): identical anonymous pages become one write-
 * protected KSM page.  *merged (may be NULL) receives how many mappings
 * were switched to a KSM page.  0, or COW_ENOMEM when memory ran short in
 * the pass (its item array, a stable node, or the copy that gives a page
 * that could not be merged back its own frame); the pass still scanned
 * what it could, and the state is consistent (a page left a KSM page with
 * no node copies on its next write). */
int cow_ksm_merge(struct cow_task *task, unsigned long *merged);
/* One pass of khugepaged (its default tunables) over the task's process:
 * each whole 2 MiB of a mapping that asked for THP, mapped by PTEs, that
 * khugepaged's scan accepts is collapsed into a new THP, as MADV_COLLAPSE
 * does (pinned pages refuse it).  *collapsed (may be NULL) receives how
 * many.  0, COW_ENOMEM, or COW_ENOTSUP under a policy without THP. */
int cow_khugepaged(struct cow_task *task, unsigned long *collapsed);
/* Load or store len bytes through the task's CPU: TLB, page tables, then
 * the fault handler, as hardware does.  COW_EFAULT where an access would
 * raise SIGSEGV (bytes before it were transferred). */
int cow_read(struct cow_task *task, unsigned long addr, void *buf, unsigned long len);
int cow_write(struct cow_task *task, unsigned long addr, const void *buf, unsigned long len);
/* fork(): a child process with a copy-on-write copy of the task's address
 * space, named name. */
int cow_fork(struct cow_task *task, const char *name, struct cow_process **child);

/* ---- get_user_pages, pins, direct I/O, pipes ------------------------------
 * A cow_pages holds references to the frames behind a user range, as a
 * device, a pipe or a long-term pin holds them: it sees the frames, not the
 * page tables, so it keeps seeing the same frames whatever copy-on-write
 * does to the mappings afterwards. */

struct cow_pages;
struct cow_dio;

#define COW_GUP_WRITE 0x01    /* for writing: breaks COW first (FOLL_WRITE) */
#define COW_GUP_PIN 0x02      /* FOLL_PIN (else FOLL_GET) */
#define COW_GUP_LONGTERM 0x04 /* FOLL_LONGTERM */
#define COW_GUP_FAST 0x08     /* lockless gup-fast first, the slow path for the rest */
#define COW_GUP_DIO 0x10      /* FOLL_GET or FOLL_PIN as the policy's direct I/O does */
#define COW_GUP_FORCE 0x20    /* FOLL_FORCE: as ptrace writes a read-only private mapping */

/* Take references to the pages covering [addr, addr + len). */
int cow_gup(struct cow_task *task, unsigned long addr, unsigned long len, unsigned int flags,
	    struct cow_pages **out);
/* Give every reference back (put or unpin) and free the handle. */
void cow_pages_release(struct cow_pages *pages);
/* What the frames hold / store into them, at offset off of the range. */
void cow_pages_read(const struct cow_pages *pages, unsigned long off, void *buf, unsigned long len);
void cow_pages_write(struct cow_pages *pages, unsigned long off, const void *buf,
		     unsigned long len);
unsigned long cow_pages_len(const struct cow_pages *pages);
/* FOLL_PIN references taken and not yet given back, system-wide. */
long cow_system_pins_held(const struct cow_system *sys);

/* Data files on the host: size bytes (a multiple of 512) of fill, in a
 * real file opened with O_DIRECT and unlinked at once ($COWLAB_TMPDIR,
 * else /var/tmp, else the working directory). */
int cow_file_create(unsigned long size, int fill, struct cow_file **out);
/* The same device with its bytes in host memory, for the explorer: the
 * engine moves the same 512-byte sectors with memcpy instead of
 * pread/pwrite, so a run makes no system call for its I/O. */
int cow_file_create_mem(unsigned long size, int fill, struct cow_file **out);
void cow_file_close(struct cow_file *file);
unsigned long cow_file_size(const struct cow_file *file);
/* The host file's descriptor, or -1 for a device in memory. */
int cow_file_fd(const struct cow_file *file);
/* Move len bytes (whole sectors, at a sector-aligned off) between the
 * device and mem, which O_DIRECT wants sector aligned too: to_memory
 * reads the device.  COW_EIO if the host transfer came up short. */
int cow_file_sector_io(struct cow_file *file, unsigned long off, void *mem, unsigned long len,
		       int to_memory);
/* 1 if the file's filesystem really bypasses the page cache for O_DIRECT
 * (0 on tmpfs, which accepts O_DIRECT and buffers silently). */
int cow_file_direct(const struct cow_file *file);
/* Read any range of the file (for checks). */
int cow_file_read(const struct cow_file *file, unsigned long off, void *buf, unsigned long len);
/* The file's bytes as read(2) would return them on sys: the page cache's
 * pages where sys has cached them (cow_mmap_file), else the file's. */
int cow_file_read_cached(struct cow_system *sys, const struct cow_file *file, unsigned long off,
			 void *buf, unsigned long len);

/* Direct I/O: submit takes the user range's pages (COW_GUP_DIO, for
 * writing when the device writes memory) with gup-fast; the device then
 * moves the data between the file at foff and the frames, past any page
 * table, and the last step marks the pages dirty and gives the references
 * back.  to_memory: an O_DIRECT read.  addr, len and foff are multiples of
 * 512. */
int cow_dio_submit(struct cow_task *task, unsigned long addr, unsigned long len,
		   struct cow_file *file, unsigned long foff, int to_memory, struct cow_dio **out);
/* One device step of 512 bytes (pread/pwrite into the frames); returns 1
 * while steps remain, 0 once complete. */
int cow_dio_step(struct cow_dio *dio);
/* The whole rest of the transfer at once through io_uring, then complete;
 * returns cow_dio_error(). */
int cow_dio_run_async(struct cow_dio *dio);
/* 0, or COW_EIO if a transfer failed or came up short. */
int cow_dio_error(const struct cow_dio *dio);
void cow_dio_free(struct cow_dio *dio);

#ifdef __cplusplus
}
#endif

#endif /* COWLAB_H */
