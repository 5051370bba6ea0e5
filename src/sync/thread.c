/*
 * Set-up of the concurrency layer and the stress back end's threads: each
 * runs as one simulated CPU and is registered with liburcu for its life.
 */
#include "sync.h"

#include "urcu.h"

#include <pthread.h>
#include <stdlib.h>

__thread int sync_cpu;
__thread bool sync_explore_thread;
#if COW_TSAN
unsigned long sync_tsan_fence_word; /* src/sync/tsan.h */
#endif

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void sync_init_once(void)
{
	urcu_register();
}

void sync_init(void)
{
	pthread_once(&init_once, sync_init_once);
}

struct sync_thread {
	pthread_t thread;
	void (*fn)(void *);
	void *arg;
	int cpu;
};

static void *thread_main(void *arg)
{
	struct sync_thread *t = arg;

	sync_cpu = t->cpu;
	urcu_register();
	t->fn(t->arg);
	urcu_unregister();
	return NULL;
}

struct sync_thread *sync_thread_start(int cpu, void (*fn)(void *), void *arg)
{
	struct sync_thread *t;

	COW_CHECK(cpu >= 0 && cpu < SYNC_MAX_CPUS, "cpu %d out of range", cpu);
	sync_init();
	t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->cpu = cpu;
	if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void sync_thread_join(struct sync_thread *t)
{
	pthread_join(t->thread, NULL);
	free(t);
}
