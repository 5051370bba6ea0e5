/*
 * The panic path of COW_CHECK and COW_ASSERT, and the FNV-1a hash (see
 * base.h).
 */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Per OS thread: an explore run converts panics of its tasks into failed
 * runs without affecting stress threads. */
static __thread cow_panic_fn panic_handler;

cow_panic_fn cow_set_panic_handler(cow_panic_fn fn)
{
	cow_panic_fn old = panic_handler;

	panic_handler = fn;
	return old;
}

void cow_panic(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (panic_handler)
		panic_handler(file, line, msg);
	fprintf(stderr, "cowlab: broken invariant at %s:%d: %s\n", file, line, msg);
	fflush(stderr);
	abort();
}

__uint128_t mod_small_magic[MOD_SMALL_MAX + 1];

__attribute__((constructor)) static void mod_small_init(void)
{
	for (unsigned int n = 1; n <= MOD_SMALL_MAX; n++)
		mod_small_magic[n] = ~(__uint128_t)0 / n + 1;
}

uint64_t cow_fnv1a(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}
