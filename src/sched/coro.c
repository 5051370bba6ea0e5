/*
 * Coroutine switch (see coro.h).  The x86-64 version keeps the System V
 * callee-saved registers on the suspended stack; a fresh stack is laid out
 * as if coro_switch had suspended inside coro_start, so the first switch-in
 * "returns" into coro_start, which calls entry(arg) with a 16-byte aligned
 * stack.
 */
#include "coro.h"

#include <stdint.h>
#include <stdlib.h>

#if defined(COW_CORO_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>

/* The context being switched away from, for the side that resumes to
 * record its stack (one switch is in flight per thread at a time). */
static __thread struct coro *coro_leaving;

/* Called on the resumed side of every switch: completes ASan's switch and
 * records the stack of the context we came from (for main_ctx this is the
 * only way to learn it). */
static void asan_finish(struct coro *self)
{
	const void *bottom;
	size_t size;

	__sanitizer_finish_switch_fiber(self ? self->fake_stack : NULL, &bottom, &size);
	if (coro_leaving) {
		coro_leaving->stack = bottom;
		coro_leaving->size = size;
		coro_leaving = NULL;
	}
}

/* A fresh coroutine's first instructions: finish the switch that started
 * it, then run its entry. */
static void asan_entry(void *arg)
{
	struct coro *c = arg;

	asan_finish(NULL);
	c->entry(c->arg);
	abort(); /* entry never returns (coro.h) */
}
#endif

#if defined(__x86_64__)

void coro_start(void);

/* The switch itself; coro_switch is this, or a wrapper under ASan. */
#if defined(COW_CORO_ASAN)
#define CORO_SWITCH_RAW "coro_switch_raw"
void coro_switch_raw(struct coro *from, struct coro *to);
#else
#define CORO_SWITCH_RAW "coro_switch"
#endif

__asm__(".text\n"
	".globl " CORO_SWITCH_RAW "\n"
	".type " CORO_SWITCH_RAW ",@function\n" CORO_SWITCH_RAW ":\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size " CORO_SWITCH_RAW ", .-" CORO_SWITCH_RAW "\n"
	".globl coro_start\n"
	".type coro_start,@function\n"
	"coro_start:\n"
	"	movq %r13, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	".size coro_start, .-coro_start\n");

static void coro_init_raw(struct coro *c, void *stack, size_t size, void (*entry)(void *),
			  void *arg)
{
	uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;

	*--sp = (uint64_t)(uintptr_t)coro_start; /* return address */
	*--sp = 0;				 /* rbp */
	*--sp = 0;				 /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry;	 /* r12 */
	*--sp = (uint64_t)(uintptr_t)arg;	 /* r13 */
	*--sp = 0;				 /* r14 */
	*--sp = 0;				 /* r15 */
	c->sp = sp;
}

#else /* portable fallback */

static void coro_trampoline(unsigned int lo, unsigned int hi, unsigned int alo, unsigned int ahi)
{
	void (*entry)(void *) = (void (*)(void *))(((uintptr_t)hi << 32) | lo);
	void *arg = (void *)(((uintptr_t)ahi << 32) | alo);

	entry(arg);
	abort();
}

static void coro_init_raw(struct coro *c, void *stack, size_t size, void (*entry)(void *),
			  void *arg)
{
	uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;

	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = stack;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	makecontext(&c->uc, (void (*)(void))coro_trampoline, 4, (unsigned int)e,
		    (unsigned int)(e >> 32), (unsigned int)a, (unsigned int)(a >> 32));
}

#if defined(COW_CORO_ASAN)
static void coro_switch_raw(struct coro *from, struct coro *to)
#else
void coro_switch(struct coro *from, struct coro *to)
#endif
{
	swapcontext(&from->uc, &to->uc);
}

#endif

#if defined(COW_CORO_ASAN)

void coro_init(struct coro *c, void *stack, size_t size, void (*entry)(void *), void *arg)
{
	/* A reused stack may hold the redzones of an abandoned task's frames. */
	ASAN_UNPOISON_MEMORY_REGION(stack, size);
	c->stack = stack;
	c->size = size;
	c->fake_stack = NULL;
	c->entry = entry;
	c->arg = arg;
	coro_init_raw(c, stack, size, asan_entry, c);
}

void coro_switch(struct coro *from, struct coro *to)
{
	/* from's own stack bounds are filled in by the side that resumes
	 * (asan_finish), so the scheduler's main_ctx needs no setup. */
	coro_leaving = from;
	__sanitizer_start_switch_fiber(&from->fake_stack, to->stack, to->size);
	coro_switch_raw(from, to);
	/* Resumed: whoever switched here set coro_leaving to its context. */
	asan_finish(from);
}

#else

void coro_init(struct coro *c, void *stack, size_t size, void (*entry)(void *), void *arg)
{
	coro_init_raw(c, stack, size, entry, arg);
}

#endif
