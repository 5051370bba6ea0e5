/*
 * The host backend: a second interpreter of scenario files (.cow), which
 * runs a parsed scenario against the host's real Linux kernel instead of
 * cowlab's model.  It sits beside the model in the layers (cli ->
 * scenario -> kernel): it reads the parsed form of src/scenario and uses
 * src/base, libc and liburing, never src/mm or src/io.
 *
 * Every scenario process is a real process (fork() makes the children),
 * every thread of a group a real pthread; map is mmap, write, read and
 * check touch the memory, dio_read and dio_write are O_DIRECT transfers
 * submitted through io_uring, pin registers an io_uring fixed buffer (a
 * long-term R/W pin), vmsplice and pipe_read are the real calls, poke is
 * a pwrite to /proc/self/mem, clear_refs writes /proc/self/clear_refs,
 * swapout is MADV_PAGEOUT checked through /proc/self/pagemap and
 * ksm_merge a ksmd pass checked through /proc/PID/ksm_merging_pages.
 * worker.c says how one process runs, kernel.c how the calling process
 * coordinates them.
 *
 * An operation the host cannot perform makes the scenario SKIP with the
 * reason, never PASS, and so does one that did less than the scenario
 * says (a swapout whose pages stayed in memory, a ksm_merge that merged
 * nothing); a run passes only if every check of the scenario ran.  A
 * run leaves nothing behind: its processes are gone and its data files
 * were unlinked as soon as they were opened, and what it changed on the
 * host for its run (a temporary swap file, KSM's settings, the hugetlb
 * pool's nr_hugepages) is back as it was, also when a SIGINT, SIGTERM or
 * SIGHUP interrupts it (the process then dies of the signal, as it would
 * have without cowlab's handler).
 *
 * kern_run changes process-wide state while it runs (the SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE dispositions, PR_SET_CHILD_SUBREAPER) and restores
 * it; one run at a time per process.
 */
#ifndef COW_KERNEL_H
#define COW_KERNEL_H

#include "scenario/scenario.h"

#include <stdint.h>

struct kern_opts {
	uint64_t seed;		   /* of the random delays; 0: no delays */
	unsigned int max_delay_us; /* a delay is 0..max_delay_us microseconds */
	const char *tmpdir;	   /* data files; NULL: $COWLAB_TMPDIR, /var/tmp, . */
	unsigned int timeout_ms;   /* the longest an operation may take; 0: 30 s */
};

enum kern_status {
	KERN_PASS,  /* every check held */
	KERN_FAIL,  /* a check failed: verdict is its word */
	KERN_SKIP,  /* the host cannot run it: message says why */
	KERN_ERROR, /* an operation failed (verdict "error"), or the run broke */
};

struct kern_result {
	enum kern_status status;
	char verdict[16];  /* "pass", a check's verdict word, "skip" or "error" */
	char message[512]; /* the failure as interp.c words it
			    * (FILE:LINE:COL: check ... failed: found ...), or
			    * the reason for the skip */
	int checks;	   /* the checks that held */
	int expected;	   /* the checks a passing run makes: every one ran */
};

/* The checks a run of s makes when none fails: each check operation
 * once, at the top level and in every thread (each thread of a group
 * runs once), a repeat's as often as it runs on the host (host=), a fork
 * body's each time its fork runs. */
int kern_expected_checks(const struct scenario *s);

/* Hold a finished run to its checks: a run that would pass although
 * fewer than r->expected checks held did less than the scenario says, and
 * becomes an error (KERN_ERROR, "error") that says how many ran. */
void kern_judge(const struct scenario *s, struct kern_result *r);

/* What the host runs in a way of its own, which a verdict on s should
 * say beside it (a static text), or NULL: `pin ... fast` is an io_uring
 * buffer registration here. */
const char *kern_host_note(const struct scenario *s);

/* Why the host cannot run s (a static look at its operations and at the
 * host: KSM passes, userfaultfd, swap, read-only pins, zero_page=off,
 * transparent huge pages set to never, a hugetlb pool it cannot have),
 * or NULL if it can.  A run may still skip for what only running finds
 * (a filesystem without O_DIRECT, a kernel without KSM or without THP,
 * huge pages the kernel could not find when the run raised the pool). */
const char *kern_skip_reason(const struct scenario *s);

/* Run s once on the host.  The delays (o->seed) come at the operation
 * boundaries of the threads of a group, which run concurrently; every
 * other operation runs in file order, as in interp.c.  Returns 0 with the
 * outcome in *r, or a negative COW_E* code when the run could not be set
 * up (then r is KERN_ERROR with the reason). */
int kern_run(const struct scenario *s, const struct kern_opts *o, struct kern_result *r);

#endif /* COW_KERNEL_H */
