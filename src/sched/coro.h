/*
 * Coroutines for the explore back end: a saved stack pointer and a switch.
 * On x86-64 the switch is eight instructions of assembly that save the
 * callee-saved registers (no signal mask, no system call); elsewhere it
 * falls back to ucontext.  Used only by sched.c.
 *
 * Under AddressSanitizer (__SANITIZE_ADDRESS__, set by gcc and clang with
 * -fsanitize=address; make sanitize) every switch is announced to ASan
 * with __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber,
 * so that ASan knows which stack is running: without them it takes a
 * coroutine's frames for wild accesses below the thread's stack, and its
 * no-return handler (called before a panic's longjmp) unpoisons the wrong
 * range.  A stack is also unpoisoned when it is laid out afresh: a task
 * abandoned mid-run (sched_fail) leaves its frames' redzones poisoned,
 * and the next run reuses the stack.
 */
#ifndef COW_CORO_H
#define COW_CORO_H

#include <stddef.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define COW_CORO_ASAN 1
#endif

struct coro {
#if defined(__x86_64__)
	void *sp;
#else
	ucontext_t uc;
#endif
#if defined(COW_CORO_ASAN)
	/* The stack this context runs on, for ASan: set by coro_init for a
	 * coroutine, learnt at the first switch away from it for a thread's
	 * own context (the scheduler's main_ctx). */
	const void *stack;
	size_t size;
	void *fake_stack; /* ASan's fake stack while switched away */
	void (*entry)(void *);
	void *arg;
#endif
};

/* Prepare c to run entry(arg) on the given stack at its first switch-in.
 * entry must never return; it switches away for the last time instead. */
void coro_init(struct coro *c, void *stack, size_t size, void (*entry)(void *), void *arg);
/* Save the running context into from and resume to. */
void coro_switch(struct coro *from, struct coro *to);

#endif /* COW_CORO_H */
