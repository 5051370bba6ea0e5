/*
 * Proof that the ThreadSanitizer build is live and that its fences order
 * what they should (tests/tsan.sh runs each case in its own process):
 *
 *   tsan_selftest race     two CPUs store to one plain word with nothing
 *                          between them: TSan must report a data race, or
 *                          the suite would pass with TSan absent or blind;
 *   tsan_selftest fenced   message passing the Linux way: data written
 *                          plainly, smp_wmb(), a flag with WRITE_ONCE; the
 *                          reader waits for the flag with READ_ONCE,
 *                          smp_rmb(), then reads the data plainly.  Not a
 *                          race; TSan must stay silent, which it does only
 *                          if the build's fences tell it what they order
 *                          (src/sync/tsan.h);
 *   tsan_selftest mb       the same with smp_mb() on both sides;
 *   tsan_selftest rcu      a reader reads an object inside an RCU read-side
 *                          section; the updater unpublishes it, waits for
 *                          a grace period and then overwrites it plainly.
 *                          Not a race; TSan must stay silent, which it
 *                          does only if liburcu's grace period is made
 *                          visible to it (src/sync/urcu.c).
 *
 * Each case exits 0 by itself; TSan's own exit status reports its finding.
 */
#include "sync/sync.h"

#include <stdio.h>
#include <string.h>

#define ROUNDS 1000

static long data[ROUNDS];
static int flag[ROUNDS];
static volatile long racy;
static bool full_barrier;

static int started;

/* race: both CPUs write racy, with no synchronisation at all.  Each first
 * waits, with relaxed accesses (no happens-before), until both run: a
 * thread's start and end take liburcu's registry mutex, which would
 * otherwise order the first thread's stores before the second's. */
static void racer(void *arg)
{
	__atomic_fetch_add(&started, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&started, __ATOMIC_RELAXED) < 2)
		cpu_relax();
	for (int i = 0; i < ROUNDS; i++)
		racy = (long)arg + i;
}

/* fenced and mb: round i hands data[i] over through flag[i]. */
static void producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		data[i] = i * 3 + 1;
		if (full_barrier)
			smp_mb();
		else
			smp_wmb();
		WRITE_ONCE(flag[i], 1);
	}
}

static void consumer(void *arg)
{
	long *sum = arg;

	for (int i = 0; i < ROUNDS; i++) {
		while (!READ_ONCE(flag[i]))
			cpu_relax();
		if (full_barrier)
			smp_mb();
		else
			smp_rmb();
		*sum += data[i];
	}
}

/* rcu: the reader reads obj through the published pointer, says so with
 * a relaxed store (no happens-before) and leaves its section; it stays
 * until the updater is done, since a thread's exit takes liburcu's
 * registry mutex, which synchronize_rcu() takes too (an edge TSan sees,
 * which would hide the one under test). */
struct rcu_obj {
	long x;
};
static struct rcu_obj rcu_obj = {1};
static struct rcu_obj *rcu_ptr = &rcu_obj;
static int rcu_read_done, rcu_update_done;

static void rcu_reader(void *arg)
{
	long *seen = arg;
	struct rcu_obj *p;

	rcu_read_lock();
	p = rcu_dereference(rcu_ptr);
	if (p)
		*seen = p->x;
	__atomic_store_n(&rcu_read_done, 1, __ATOMIC_RELAXED);
	rcu_read_unlock();
	while (!__atomic_load_n(&rcu_update_done, __ATOMIC_RELAXED))
		cpu_relax();
}

static void rcu_updater(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&rcu_read_done, __ATOMIC_RELAXED))
		cpu_relax();
	rcu_assign_pointer(rcu_ptr, NULL);
	synchronize_rcu();
	rcu_obj.x = 2; /* no reader can see it any more */
	__atomic_store_n(&rcu_update_done, 1, __ATOMIC_RELAXED);
}

static int run_pair(void (*a)(void *), void *arg_a, void (*b)(void *), void *arg_b)
{
	struct sync_thread *ta = sync_thread_start(1, a, arg_a);
	struct sync_thread *tb = sync_thread_start(2, b, arg_b);

	if (!ta || !tb) {
		fprintf(stderr, "tsan_selftest: cannot start threads\n");
		return 2;
	}
	sync_thread_join(ta);
	sync_thread_join(tb);
	return 0;
}

int main(int argc, char **argv)
{
	long sum = 0, want = 0;
	int rc;

	sync_init();
	if (argc == 2 && strcmp(argv[1], "race") == 0)
		return run_pair(racer, (void *)1L, racer, (void *)2L);
	if (argc == 2 && strcmp(argv[1], "rcu") == 0) {
		rc = run_pair(rcu_reader, &sum, rcu_updater, NULL);
		if (rc == 0 && sum != 1) {
			fprintf(stderr, "tsan_selftest: the reader saw %ld, not 1\n", sum);
			rc = 1;
		}
		return rc;
	}
	if (argc != 2 || (strcmp(argv[1], "fenced") != 0 && strcmp(argv[1], "mb") != 0)) {
		fprintf(stderr, "usage: tsan_selftest race|fenced|mb|rcu\n");
		return 2;
	}
	full_barrier = strcmp(argv[1], "mb") == 0;
	rc = run_pair(consumer, &sum, producer, NULL);
	for (int i = 0; i < ROUNDS; i++)
		want += i * 3 + 1;
	if (rc == 0 && sum != want) {
		fprintf(stderr, "tsan_selftest: the consumer summed %ld, not %ld\n", sum, want);
		rc = 1;
	}
	return rc;
}
