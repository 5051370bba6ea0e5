/*
 * Tests of src/mm/vma.c: choosing and checking ranges in mmap, find_vma
 * over many VMAs, munmap (whole, split, across VMAs, page tables given
 * back), mprotect (permissions, splits, holes), madvise (DONTNEED on
 * private and shared memory, DONTFORK/DOFORK), shared anonymous memory
 * across fork, and a stress run of several CPUs changing one address
 * space at once.  Every test ends with the strict system check and, after
 * every process exited, with the whole frame pool free.
 */
#include "mmtest.h"

#define FRAMES 512

/* ---- helpers ------------------------------------------------------------ */

/* A fresh system under policy pol with one process and one task on CPU 0. */
struct fx {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long frames;
};

static void fx_init(struct fx *f, const char *policy, unsigned long frames, bool zero_page)
{
	f->frames = frames;
	f->sys = mmt_system(policy, frames, 4, zero_page);
	f->p = mmt_process(f->sys, "p");
	f->t = mmt_task(f->p, 0);
}

/* The strict check, then the process exits and every frame must be back. */
static void fx_finish(struct fx *f)
{
	assert_system_ok(f->sys);
	cow_task_destroy(f->t);
	cow_process_exit(f->p);
	assert_system_ok(f->sys);
	assert_all_frames_free(f->sys, f->frames);
	cow_system_destroy(f->sys);
}

static int nr_vmas(struct cow_process *p)
{
	return p->mm->nr_vmas;
}

/* The VMA containing addr in p, looked up as the fault handler does. */
static struct vm_area_struct *vma_at(struct cow_process *p, unsigned long addr)
{
	struct vm_area_struct *vma;

	down_read(&p->mm->mmap_lock);
	vma = find_vma(p->mm, addr);
	up_read(&p->mm->mmap_lock);
	return vma;
}

/* Write one byte at the start of each page of [addr, addr + pages pages):
 * byte + page number. */
static void stamp(struct cow_task *t, unsigned long addr, unsigned long pages, int byte)
{
	for (unsigned long i = 0; i < pages; i++)
		assert_int_equal(mmt_fill(t, addr + i * PAGE_SIZE, (byte + (int)i) & 0xff, 16), 0);
}

static bool stamped(struct cow_task *t, unsigned long addr, unsigned long pages, int byte)
{
	for (unsigned long i = 0; i < pages; i++)
		if (!mmt_holds(t, addr + i * PAGE_SIZE, (byte + (int)i) & 0xff, 16))
			return false;
	return true;
}

static int read_err(struct cow_task *t, unsigned long addr)
{
	unsigned char b;

	return cow_read(t, addr, &b, 1);
}

static int write_err(struct cow_task *t, unsigned long addr)
{
	unsigned char b = 0x5a;

	return cow_write(t, addr, &b, 1);
}

/* ---- mmap ----------------------------------------------------------------- */

static void test_mmap_picks_free_ranges(void **state)
{
	unsigned long a, b, c, d, e;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-6.5", FRAMES, true);
	a = mmt_map(f.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	b = mmt_map(f.t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_int_equal(a & ~PAGE_MASK, 0);
	assert_int_equal(b & ~PAGE_MASK, 0);
	assert_true(b >= a + 4 * PAGE_SIZE || b + 2 * PAGE_SIZE <= a);
	assert_true(b + 2 * PAGE_SIZE <= TASK_SIZE);
	/* A length that is not a page multiple is rounded up. */
	assert_int_equal(cow_mmap(f.t, 0, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE, &c),
			 0);
	assert_true(c >= b + 2 * PAGE_SIZE || c + PAGE_SIZE <= a);
	assert_int_equal(mmt_fill(f.t, c, 0x11, PAGE_SIZE), 0);
	assert_true(mmt_holds(f.t, c, 0x11, PAGE_SIZE));
	/* Each mapping is its own VMA, with its own data. */
	assert_int_equal(nr_vmas(f.p), 3);
	stamp(f.t, a, 4, 0x20);
	stamp(f.t, b, 2, 0x40);
	assert_true(stamped(f.t, a, 4, 0x20));
	assert_true(stamped(f.t, b, 2, 0x40));
	/* The hole left by an unmapped range is found again (first fit). */
	assert_int_equal(cow_munmap(f.t, a, 4 * PAGE_SIZE), 0);
	d = mmt_map(f.t, 3, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_int_equal(d, a);
	/* A range too large for the hole goes elsewhere. */
	e = mmt_map(f.t, 8, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_true(e >= c + PAGE_SIZE || e + 8 * PAGE_SIZE <= a);
	assert_true(e != d + 3 * PAGE_SIZE);
	/* A fresh private mapping reads back zeroes. */
	assert_true(mmt_holds(f.t, d, 0, 3 * PAGE_SIZE));
	assert_true(mmt_holds(f.t, e, 0, 8 * PAGE_SIZE));
	assert_true(stamped(f.t, b, 2, 0x40));
	fx_finish(&f);
}

static void test_mmap_fixed_and_overlap(void **state)
{
	const unsigned long base = 0x40000000UL, rw = COW_PROT_READ | COW_PROT_WRITE;
	unsigned long out = 0, free_addr;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-6.5", FRAMES, true);
	assert_int_equal(cow_mmap(f.t, base, 4 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	assert_int_equal(out, base);
	stamp(f.t, base, 4, 0x70);
	/* Every kind of overlap is refused and changes nothing. */
	assert_int_equal(cow_mmap(f.t, base, 4 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), COW_EBUSY);
	assert_int_equal(cow_mmap(f.t, base - PAGE_SIZE, 2 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EBUSY);
	assert_int_equal(
		cow_mmap(f.t, base + 3 * PAGE_SIZE, 2 * PAGE_SIZE, rw, COW_MAP_SHARED, &out),
		COW_EBUSY);
	assert_int_equal(cow_mmap(f.t, base + PAGE_SIZE, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EBUSY);
	assert_int_equal(cow_mmap(f.t, base - PAGE_SIZE, 6 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EBUSY);
	assert_int_equal(nr_vmas(f.p), 1);
	assert_true(stamped(f.t, base, 4, 0x70));
	/* Adjacent ranges on both sides are free. */
	assert_int_equal(cow_mmap(f.t, base - PAGE_SIZE, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	assert_int_equal(cow_mmap(f.t, base + 4 * PAGE_SIZE, PAGE_SIZE, rw, COW_MAP_SHARED, &out),
			 0);
	assert_int_equal(nr_vmas(f.p), 3);
	/* A fixed mapping at the bottom of the mmap area is skipped by the
	 * search for a free range. */
	free_addr = mmt_map(f.t, 1, rw, COW_MAP_PRIVATE);
	assert_int_equal(cow_munmap(f.t, free_addr, PAGE_SIZE), 0);
	assert_int_equal(cow_mmap(f.t, free_addr, 2 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	out = mmt_map(f.t, 1, rw, COW_MAP_PRIVATE);
	assert_int_equal(out, free_addr + 2 * PAGE_SIZE);
	/* The highest page below TASK_SIZE can be mapped and used. */
	assert_int_equal(cow_mmap(f.t, TASK_SIZE - PAGE_SIZE, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 0);
	assert_int_equal(mmt_fill(f.t, TASK_SIZE - PAGE_SIZE, 0x33, PAGE_SIZE), 0);
	assert_true(mmt_holds(f.t, TASK_SIZE - PAGE_SIZE, 0x33, PAGE_SIZE));
	assert_true(stamped(f.t, base, 4, 0x70));
	fx_finish(&f);
}

static void test_mmap_bad_args(void **state)
{
	const int rw = COW_PROT_READ | COW_PROT_WRITE;
	unsigned long out = 0xdeadUL;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-6.5", FRAMES, true);
	/* unaligned address */
	assert_int_equal(cow_mmap(f.t, 0x40000001UL, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, 0x40000800UL, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EINVAL);
	/* zero length, and one that rounds up past the end of the space */
	assert_int_equal(cow_mmap(f.t, 0, 0, rw, COW_MAP_PRIVATE, &out), COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, 0x40000000UL, 0, rw, COW_MAP_PRIVATE, &out), COW_EINVAL);
	assert_true(cow_mmap(f.t, 0, ~0UL, rw, COW_MAP_PRIVATE, &out) < 0);
	/* no room for the length anywhere */
	assert_int_equal(cow_mmap(f.t, 0, TASK_SIZE + PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_ENOMEM);
	/* bad protection bits (4 would be PROT_EXEC) */
	assert_int_equal(cow_mmap(f.t, 0, PAGE_SIZE, 4, COW_MAP_PRIVATE, &out), COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, 0, PAGE_SIZE, -1, COW_MAP_PRIVATE, &out), COW_EINVAL);
	/* bad flags: neither, both, unknown */
	assert_int_equal(cow_mmap(f.t, 0, PAGE_SIZE, rw, 0, &out), COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, 0, PAGE_SIZE, rw, COW_MAP_PRIVATE | COW_MAP_SHARED, &out),
			 COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, 0, PAGE_SIZE, rw, 0x100, &out), COW_EINVAL);
	/* beyond TASK_SIZE, straddling it, and wrapping around */
	assert_int_equal(cow_mmap(f.t, TASK_SIZE, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EINVAL);
	assert_int_equal(
		cow_mmap(f.t, TASK_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
		COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, VA_END, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), COW_EINVAL);
	assert_int_equal(cow_mmap(f.t, ~0UL & PAGE_MASK, 2 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out),
			 COW_EINVAL);
	/* No failed call wrote *out or created a VMA. */
	assert_int_equal(out, 0xdeadUL);
	assert_int_equal(nr_vmas(f.p), 0);

	/* The other calls check their arguments too. */
	out = mmt_map(f.t, 2, rw, COW_MAP_PRIVATE);
	assert_int_equal(cow_munmap(f.t, out + 1, PAGE_SIZE), COW_EINVAL);
	assert_int_equal(cow_munmap(f.t, out, 0), COW_EINVAL);
	assert_int_equal(cow_munmap(f.t, TASK_SIZE, PAGE_SIZE), COW_EINVAL);
	assert_int_equal(cow_mprotect(f.t, out + 8, PAGE_SIZE, COW_PROT_READ), COW_EINVAL);
	assert_int_equal(cow_mprotect(f.t, out, 0, COW_PROT_READ), COW_EINVAL);
	assert_int_equal(cow_mprotect(f.t, out, PAGE_SIZE, 4), COW_EINVAL);
	assert_int_equal(cow_madvise(f.t, out + 8, PAGE_SIZE, COW_MADV_DONTNEED), COW_EINVAL);
	assert_int_equal(cow_madvise(f.t, out, 0, COW_MADV_DONTNEED), COW_EINVAL);
	assert_int_equal(cow_madvise(f.t, out, PAGE_SIZE, 12345), COW_EINVAL);
	assert_int_equal(nr_vmas(f.p), 1);
	/* Unmapping a range with nothing in it is not an error (POSIX). */
	assert_int_equal(cow_munmap(f.t, 0x7000000000UL, PAGE_SIZE), 0);
	fx_finish(&f);
}

/* ---- find_vma ----------------------------------------------------------- */

#define MANY 500

static unsigned int lcg(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* The VMA containing addr by a linear scan (the oracle). */
static struct vm_area_struct *find_vma_linear(struct mm_struct *mm, unsigned long addr)
{
	for (int i = 0; i < mm->nr_vmas; i++)
		if (mm->vmas[i]->vm_start <= addr && addr < mm->vmas[i]->vm_end)
			return mm->vmas[i];
	return NULL;
}

static void test_find_vma_many(void **state)
{
	const unsigned long base = 0x200000000UL;
	unsigned long start[MANY], end[MANY], addr = base, out;
	unsigned int seed = 7;
	struct mm_struct *mm;
	struct fx f;
	int order[MANY];

	(void)state;
	fx_init(&f, "linux-6.5", FRAMES, true);
	mm = f.p->mm;
	/* Random sizes (1-4 pages) and gaps (0-3 pages: some VMAs touch),
	 * mapped in a shuffled order so insertion lands everywhere. */
	for (int i = 0; i < MANY; i++) {
		addr += (lcg(&seed) % 4) * PAGE_SIZE;
		start[i] = addr;
		end[i] = addr + (1 + lcg(&seed) % 4) * PAGE_SIZE;
		addr = end[i];
		order[i] = i;
	}
	for (int i = MANY - 1; i > 0; i--) {
		int j = (int)(lcg(&seed) % (unsigned int)(i + 1)), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (int k = 0; k < MANY; k++) {
		int i = order[k];

		assert_int_equal(cow_mmap(f.t, start[i], end[i] - start[i],
					  COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE, &out),
				 0);
	}
	assert_int_equal(mm->nr_vmas, MANY);
	for (int i = 1; i < MANY; i++)
		assert_true(mm->vmas[i - 1]->vm_end <= mm->vmas[i]->vm_start);

	down_read(&mm->mmap_lock);
	/* Every page and both edges of every VMA, and the gaps. */
	for (unsigned long a = base - 2 * PAGE_SIZE; a < addr + 2 * PAGE_SIZE; a += PAGE_SIZE) {
		unsigned long probes[3] = {a, a + PAGE_SIZE / 2, a + PAGE_SIZE - 1};

		for (int k = 0; k < 3; k++)
			assert_ptr_equal(find_vma(mm, probes[k]), find_vma_linear(mm, probes[k]));
	}
	for (int i = 0; i < MANY; i++) {
		struct vm_area_struct *v = find_vma(mm, start[i]);

		assert_non_null(v);
		assert_int_equal(v->vm_start, start[i]);
		assert_int_equal(v->vm_end, end[i]);
		assert_ptr_equal(find_vma(mm, end[i] - 1), v);
		if (i + 1 < MANY && end[i] != start[i + 1])
			assert_null(find_vma(mm, end[i]));
	}
	assert_null(find_vma(mm, 0));
	assert_null(find_vma(mm, base - 1));
	assert_null(find_vma(mm, addr));
	assert_null(find_vma(mm, TASK_SIZE - 1));
	up_read(&mm->mmap_lock);

	/* Data lands in the right VMAs: stamp the first page of each. */
	for (int i = 0; i < MANY; i += 7)
		assert_int_equal(mmt_fill(f.t, start[i], i & 0xff, 8), 0);
	for (int i = 0; i < MANY; i += 7)
		assert_true(mmt_holds(f.t, start[i], i & 0xff, 8));
	/* Unmap every other VMA; lookups stay exact. */
	for (int i = 0; i < MANY; i += 2)
		assert_int_equal(cow_munmap(f.t, start[i], end[i] - start[i]), 0);
	assert_int_equal(mm->nr_vmas, MANY / 2);
	down_read(&mm->mmap_lock);
	for (unsigned long a = base; a < addr; a += PAGE_SIZE / 2)
		assert_ptr_equal(find_vma(mm, a), find_vma_linear(mm, a));
	up_read(&mm->mmap_lock);
	fx_finish(&f);
}

/* ---- munmap -------------------------------------------------------------- */

static void test_munmap_whole_vma(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		unsigned long a, b, before;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		b = mmt_map(f.t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, b, 2, 0x90);
		before = cow_system_free_frames(f.sys);
		a = mmt_map(f.t, 8, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, a, 8, 0x10);
		assert_int_equal(cow_system_free_frames(f.sys), before - 8);
		assert_int_equal(cow_munmap(f.t, a, 8 * PAGE_SIZE), 0);
		assert_system_ok(f.sys);
		/* The pages are gone and every address of the range faults,
		 * even through TLB entries filled just before. */
		assert_int_equal(cow_system_free_frames(f.sys), before);
		for (int i = 0; i < 8; i++) {
			assert_int_equal(read_err(f.t, a + (unsigned long)i * PAGE_SIZE),
					 COW_EFAULT);
			assert_int_equal(write_err(f.t, a + (unsigned long)i * PAGE_SIZE),
					 COW_EFAULT);
		}
		assert_null(vma_at(f.p, a));
		assert_int_equal(nr_vmas(f.p), 1);
		assert_int_equal(atomic_long_read(&f.p->mm->nr_anon), 2);
		/* The other VMA is untouched; unmapping twice is harmless. */
		assert_true(stamped(f.t, b, 2, 0x90));
		assert_int_equal(cow_munmap(f.t, a, 8 * PAGE_SIZE), 0);
		fx_finish(&f);
	}
}

/* A mapping only read (the zero page, or fresh pages without one) must
 * fault after munmap too: the TLB must not keep a translation of the
 * zero page. */
static void test_munmap_read_only_mapping_faults(void **state)
{
	(void)state;
	for (int zp = 0; zp < 2; zp++) {
		unsigned long a, out;
		struct fx f;

		fx_init(&f, "linux-6.5", FRAMES, zp);
		a = mmt_map(f.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		assert_true(mmt_holds(f.t, a, 0, 4 * PAGE_SIZE));
		assert_int_equal(cow_munmap(f.t, a, 4 * PAGE_SIZE), 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(read_err(f.t, a + (unsigned long)i * PAGE_SIZE),
					 COW_EFAULT);
		/* A shared mapping put in its place shows its own data, not
		 * a stale zero page. */
		assert_int_equal(cow_mmap(f.t, a, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE,
					  COW_MAP_SHARED, &out),
				 0);
		assert_int_equal(mmt_fill(f.t, a, 0x77, PAGE_SIZE), 0);
		assert_true(mmt_holds(f.t, a, 0x77, PAGE_SIZE));
		fx_finish(&f);
	}
}

static void test_munmap_middle_splits(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct vm_area_struct *head, *tail;
		unsigned long a, before;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		a = mmt_map(f.t, 10, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, a, 10, 0x30);
		before = cow_system_free_frames(f.sys);
		assert_int_equal(cow_munmap(f.t, a + 3 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
		assert_int_equal(cow_system_free_frames(f.sys), before + 4);
		assert_int_equal(nr_vmas(f.p), 2);
		head = vma_at(f.p, a);
		tail = vma_at(f.p, a + 7 * PAGE_SIZE);
		assert_non_null(head);
		assert_non_null(tail);
		assert_int_equal(head->vm_start, a);
		assert_int_equal(head->vm_end, a + 3 * PAGE_SIZE);
		assert_int_equal(tail->vm_start, a + 7 * PAGE_SIZE);
		assert_int_equal(tail->vm_end, a + 10 * PAGE_SIZE);
		/* Both halves keep their data (tail pages are pages 7..9). */
		assert_true(stamped(f.t, a, 3, 0x30));
		assert_true(stamped(f.t, a + 7 * PAGE_SIZE, 3, 0x37));
		/* The hole faults, on read and on write, at both its ends. */
		assert_int_equal(read_err(f.t, a + 3 * PAGE_SIZE), COW_EFAULT);
		assert_int_equal(read_err(f.t, a + 7 * PAGE_SIZE - 1), COW_EFAULT);
		assert_int_equal(write_err(f.t, a + 5 * PAGE_SIZE), COW_EFAULT);
		/* A read that runs from the head into the hole transfers the
		 * head's bytes, then faults. */
		{
			unsigned char buf[32];

			memset(buf, 0, sizeof(buf));
			assert_int_equal(mmt_fill(f.t, a + 3 * PAGE_SIZE - 16, 0xee, 16), 0);
			assert_int_equal(cow_read(f.t, a + 3 * PAGE_SIZE - 16, buf, 32),
					 COW_EFAULT);
			for (int i = 0; i < 16; i++)
				assert_int_equal(buf[i], 0xee);
		}
		/* Both halves still work as memory. */
		stamp(f.t, a, 3, 0x50);
		stamp(f.t, a + 7 * PAGE_SIZE, 3, 0x60);
		assert_true(stamped(f.t, a, 3, 0x50));
		assert_true(stamped(f.t, a + 7 * PAGE_SIZE, 3, 0x60));
		/* Unmapping a head or tail part of a VMA splits once. */
		assert_int_equal(cow_munmap(f.t, a, PAGE_SIZE), 0);
		assert_int_equal(cow_munmap(f.t, a + 9 * PAGE_SIZE, PAGE_SIZE), 0);
		assert_int_equal(nr_vmas(f.p), 2);
		assert_int_equal(vma_at(f.p, a + PAGE_SIZE)->vm_start, a + PAGE_SIZE);
		assert_int_equal(vma_at(f.p, a + 8 * PAGE_SIZE)->vm_end, a + 9 * PAGE_SIZE);
		assert_true(stamped(f.t, a + PAGE_SIZE, 2, 0x51));
		assert_true(stamped(f.t, a + 7 * PAGE_SIZE, 2, 0x60));
		fx_finish(&f);
	}
}

static void test_munmap_across_vmas(void **state)
{
	const unsigned long base = 0x40000000UL, rw = COW_PROT_READ | COW_PROT_WRITE;
	unsigned long out, before;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-2.6.29", FRAMES, true);
	/* [0,4) private, [4,6) shared, a gap [6,8), [8,12) private. */
	assert_int_equal(cow_mmap(f.t, base, 4 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	assert_int_equal(
		cow_mmap(f.t, base + 4 * PAGE_SIZE, 2 * PAGE_SIZE, rw, COW_MAP_SHARED, &out), 0);
	assert_int_equal(
		cow_mmap(f.t, base + 8 * PAGE_SIZE, 4 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	stamp(f.t, base, 6, 0x00);
	stamp(f.t, base + 8 * PAGE_SIZE, 4, 0x08);
	before = cow_system_free_frames(f.sys);
	/* Unmap [2, 10): the end of the first, all of the second, the
	 * gap and the start of the third. */
	assert_int_equal(cow_munmap(f.t, base + 2 * PAGE_SIZE, 8 * PAGE_SIZE), 0);
	/* 2 + 2 private pages, and the shared object's 2 pages. */
	assert_int_equal(cow_system_free_frames(f.sys), before + 6);
	assert_int_equal(nr_vmas(f.p), 2);
	assert_int_equal(vma_at(f.p, base)->vm_end, base + 2 * PAGE_SIZE);
	assert_int_equal(vma_at(f.p, base + 10 * PAGE_SIZE)->vm_start, base + 10 * PAGE_SIZE);
	for (unsigned long i = 2; i < 10; i++)
		assert_int_equal(read_err(f.t, base + i * PAGE_SIZE), COW_EFAULT);
	assert_true(stamped(f.t, base, 2, 0x00));
	assert_true(stamped(f.t, base + 10 * PAGE_SIZE, 2, 0x0a));
	/* The hole can be mapped again, and starts out zeroed. */
	assert_int_equal(
		cow_mmap(f.t, base + 2 * PAGE_SIZE, 8 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	assert_true(mmt_holds(f.t, base + 2 * PAGE_SIZE, 0, 8 * PAGE_SIZE));
	fx_finish(&f);
}

static void test_munmap_frees_page_tables(void **state)
{
	const unsigned long rw = COW_PROT_READ | COW_PROT_WRITE, pmd_pages = PMD_SIZE / PAGE_SIZE;
	unsigned long a, before, out;
	long tables_before;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-6.5", FRAMES, true);
	/* A page low down makes the PUD and PMD tables that cover the mmap
	 * area exist before we count. */
	assert_int_equal(cow_mmap(f.t, 0x1000, PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	assert_int_equal(mmt_fill(f.t, 0x1000, 1, 1), 0);
	rcu_barrier();
	before = cow_system_free_frames(f.sys);
	tables_before = atomic_long_read(&f.p->mm->pgt.nr_tables);
	/* Three PMD ranges, one page touched in each (plus one more). */
	a = mmt_map(f.t, 3 * pmd_pages, rw, COW_MAP_PRIVATE);
	assert_int_equal(a & ~PMD_MASK, 0);
	for (unsigned long i = 0; i < 3; i++)
		assert_int_equal(mmt_fill(f.t, a + i * PMD_SIZE + 5 * PAGE_SIZE, 0xa0, 1), 0);
	assert_int_equal(mmt_fill(f.t, a + PMD_SIZE - PAGE_SIZE, 0xa1, 1), 0);
	assert_int_equal(atomic_long_read(&f.p->mm->pgt.nr_tables), tables_before + 3);
	assert_int_equal(cow_system_free_frames(f.sys), before - 4 - 3);
	assert_system_ok(f.sys);
	/* A middle part spanning whole PMD ranges: only the tables that lie
	 * entirely inside go. */
	assert_int_equal(cow_munmap(f.t, a + PMD_SIZE, PMD_SIZE), 0);
	rcu_barrier();
	assert_int_equal(atomic_long_read(&f.p->mm->pgt.nr_tables), tables_before + 2);
	assert_int_equal(cow_system_free_frames(f.sys), before - 3 - 2);
	/* A part of a PMD range keeps its table (it still has a page). */
	assert_int_equal(cow_munmap(f.t, a, 6 * PAGE_SIZE), 0);
	rcu_barrier();
	assert_int_equal(atomic_long_read(&f.p->mm->pgt.nr_tables), tables_before + 2);
	assert_true(mmt_holds(f.t, a + PMD_SIZE - PAGE_SIZE, 0xa1, 1));
	/* The rest: every table and page is back. */
	assert_int_equal(cow_munmap(f.t, a, 3 * PMD_SIZE), 0);
	rcu_barrier();
	assert_int_equal(atomic_long_read(&f.p->mm->pgt.nr_tables), tables_before);
	assert_int_equal(cow_system_free_frames(f.sys), before);
	assert_int_equal(nr_vmas(f.p), 1);
	fx_finish(&f);
}

/* ---- mprotect ------------------------------------------------------------ */

static void test_mprotect_permissions(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		for (int zp = 0; zp < 2; zp++) {
			unsigned long a;
			struct fx f;

			fx_init(&f, mm_policies[pol], FRAMES, zp);
			a = mmt_map(f.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
			stamp(f.t, a, 3, 0xc0); /* page 3 stays untouched */
			/* The TLB now holds writable entries; read-only must
			 * shoot them down. */
			assert_int_equal(cow_mprotect(f.t, a, 4 * PAGE_SIZE, COW_PROT_READ), 0);
			for (unsigned long i = 0; i < 4; i++)
				assert_int_equal(write_err(f.t, a + i * PAGE_SIZE), COW_EFAULT);
			assert_true(stamped(f.t, a, 3, 0xc0));
			assert_true(mmt_holds(f.t, a + 3 * PAGE_SIZE, 0, PAGE_SIZE));
			assert_system_ok(f.sys);
			/* PROT_NONE: reads fail too, the data stays. */
			assert_int_equal(cow_mprotect(f.t, a, 4 * PAGE_SIZE, 0), 0);
			for (unsigned long i = 0; i < 4; i++) {
				assert_int_equal(read_err(f.t, a + i * PAGE_SIZE), COW_EFAULT);
				assert_int_equal(write_err(f.t, a + i * PAGE_SIZE), COW_EFAULT);
			}
			assert_system_ok(f.sys);
			/* Back to read-write: the data is intact and writes
			 * work (in place: no page is copied). */
			assert_int_equal(
				cow_mprotect(f.t, a, 4 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE),
				0);
			assert_true(stamped(f.t, a, 3, 0xc0));
			{
				unsigned long free_before = cow_system_free_frames(f.sys);

				stamp(f.t, a, 3, 0xd0);
				assert_int_equal(cow_system_free_frames(f.sys), free_before);
			}
			stamp(f.t, a + 3 * PAGE_SIZE, 1, 0xe0);
			assert_true(stamped(f.t, a, 3, 0xd0));
			assert_true(stamped(f.t, a + 3 * PAGE_SIZE, 1, 0xe0));
			/* Write-only still maps the page user-accessible. */
			assert_int_equal(cow_mprotect(f.t, a, PAGE_SIZE, COW_PROT_WRITE), 0);
			stamp(f.t, a, 1, 0x01);
			fx_finish(&f);
		}
	}
}

/* Giving write back to an exclusive anonymous page: 6.0's
 * can_change_pte_writable maps it writable at once (linux-6.2, 6.5);
 * earlier kernels, 5.19 with its exclusive bit included, leave the PTE
 * read-only for the next write fault to reuse. */
static void test_mprotect_upgrades_exclusive_pages_from_60(void **state)
{
	static const struct {
		const char *policy;
		bool writable;
	} eras[] = {{"linux-2.6.29", false},
		    {"linux-5.18", false},
		    {"linux-5.19", false},
		    {"linux-6.2", true},
		    {"linux-6.5", true}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(eras); i++) {
		unsigned long a;
		struct fx f;

		fx_init(&f, eras[i].policy, FRAMES, true);
		a = mmt_map(f.t, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, a, 1, 0x31);
		assert_true(PageFlag(mmt_page(f.p, a), PG_anon_exclusive));
		assert_int_equal(cow_mprotect(f.t, a, PAGE_SIZE, COW_PROT_READ), 0);
		assert_false(pte_write(mmt_pte(f.p, a)));
		assert_int_equal(cow_mprotect(f.t, a, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE),
				 0);
		if (pte_write(mmt_pte(f.p, a)) != eras[i].writable)
			fail_msg("%s: the PTE is %s after mprotect(RW)", eras[i].policy,
				 eras[i].writable ? "read-only" : "writable");
		stamp(f.t, a, 1, 0x32);
		assert_true(stamped(f.t, a, 1, 0x32));
		fx_finish(&f);
	}
}

static void test_mprotect_shared_mapping(void **state)
{
	unsigned long a;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-2.6.29", FRAMES, true);
	a = mmt_map(f.t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_SHARED);
	stamp(f.t, a, 2, 0x44);
	assert_int_equal(cow_mprotect(f.t, a, 2 * PAGE_SIZE, COW_PROT_READ), 0);
	assert_int_equal(write_err(f.t, a), COW_EFAULT);
	assert_true(stamped(f.t, a, 2, 0x44));
	assert_int_equal(cow_mprotect(f.t, a, 2 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE), 0);
	stamp(f.t, a, 2, 0x55);
	assert_true(stamped(f.t, a, 2, 0x55));
	fx_finish(&f);
}

static void test_mprotect_partial_splits(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct vm_area_struct *v;
		unsigned long a;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		a = mmt_map(f.t, 8, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, a, 8, 0x80);
		assert_int_equal(cow_mprotect(f.t, a + 2 * PAGE_SIZE, 3 * PAGE_SIZE, COW_PROT_READ),
				 0);
		assert_int_equal(nr_vmas(f.p), 3);
		v = vma_at(f.p, a + 2 * PAGE_SIZE);
		assert_int_equal(v->vm_start, a + 2 * PAGE_SIZE);
		assert_int_equal(v->vm_end, a + 5 * PAGE_SIZE);
		assert_int_equal(v->vm_flags & (VM_READ | VM_WRITE), VM_READ);
		assert_int_equal(vma_at(f.p, a)->vm_flags & VM_WRITE, VM_WRITE);
		assert_int_equal(vma_at(f.p, a + 5 * PAGE_SIZE)->vm_flags & VM_WRITE, VM_WRITE);
		/* Writes fail exactly in the middle. */
		for (unsigned long i = 0; i < 8; i++)
			assert_int_equal(write_err(f.t, a + i * PAGE_SIZE),
					 (i >= 2 && i < 5) ? COW_EFAULT : 0);
		assert_true(mmt_holds(f.t, a + 2 * PAGE_SIZE, 0x82, 16));
		assert_true(stamped(f.t, a + 2 * PAGE_SIZE, 3, 0x82));
		/* A range over two of the parts splits the tail one again;
		 * the two parts inside it, alike now, merge (vma_merge). */
		assert_int_equal(cow_mprotect(f.t, a + 4 * PAGE_SIZE, 2 * PAGE_SIZE, 0), 0);
		assert_int_equal(nr_vmas(f.p), 4);
		assert_int_equal(read_err(f.t, a + 3 * PAGE_SIZE), 0);
		assert_int_equal(read_err(f.t, a + 4 * PAGE_SIZE), COW_EFAULT);
		assert_int_equal(read_err(f.t, a + 5 * PAGE_SIZE), COW_EFAULT);
		assert_int_equal(read_err(f.t, a + 6 * PAGE_SIZE), 0);
		/* The whole range back to read-write: data intact everywhere,
		 * and one VMA again. */
		assert_int_equal(
			cow_mprotect(f.t, a, 8 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE), 0);
		assert_int_equal(nr_vmas(f.p), 1);
		for (unsigned long i = 0; i < 8; i++)
			assert_int_equal(mmt_byte(f.t, a + i * PAGE_SIZE),
					 (i >= 2 && i < 5) ? (int)(0x80 + i) : 0x5a);
		stamp(f.t, a, 8, 0x90);
		assert_true(stamped(f.t, a, 8, 0x90));
		fx_finish(&f);
	}
}

static void test_mprotect_hole_enomem(void **state)
{
	const unsigned long base = 0x40000000UL, rw = COW_PROT_READ | COW_PROT_WRITE;
	unsigned long out;
	struct fx f;

	(void)state;
	fx_init(&f, "linux-6.5", FRAMES, true);
	assert_int_equal(cow_mmap(f.t, base, 2 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	assert_int_equal(
		cow_mmap(f.t, base + 3 * PAGE_SIZE, 2 * PAGE_SIZE, rw, COW_MAP_PRIVATE, &out), 0);
	stamp(f.t, base, 2, 0x10);
	stamp(f.t, base + 3 * PAGE_SIZE, 2, 0x20);
	/* Over the hole, starting in a hole, ending in a hole, no VMA. */
	assert_int_equal(cow_mprotect(f.t, base, 5 * PAGE_SIZE, COW_PROT_READ), COW_ENOMEM);
	assert_int_equal(cow_mprotect(f.t, base + PAGE_SIZE, 2 * PAGE_SIZE, COW_PROT_READ),
			 COW_ENOMEM);
	assert_int_equal(cow_mprotect(f.t, base - PAGE_SIZE, 2 * PAGE_SIZE, COW_PROT_READ),
			 COW_ENOMEM);
	assert_int_equal(cow_mprotect(f.t, base + 4 * PAGE_SIZE, 2 * PAGE_SIZE, COW_PROT_READ),
			 COW_ENOMEM);
	assert_int_equal(cow_mprotect(f.t, 0x50000000UL, PAGE_SIZE, COW_PROT_READ), COW_ENOMEM);
	/* Nothing changed: no split, still writable everywhere. */
	assert_int_equal(nr_vmas(f.p), 2);
	for (unsigned long i = 0; i < 5; i++)
		if (i != 2)
			assert_int_equal(write_err(f.t, base + i * PAGE_SIZE), 0);
	/* Two adjacent VMAs with no hole are fine. */
	assert_int_equal(cow_mmap(f.t, base + 2 * PAGE_SIZE, PAGE_SIZE, rw, COW_MAP_SHARED, &out),
			 0);
	assert_int_equal(cow_mprotect(f.t, base, 5 * PAGE_SIZE, COW_PROT_READ), 0);
	for (unsigned long i = 0; i < 5; i++)
		assert_int_equal(write_err(f.t, base + i * PAGE_SIZE), COW_EFAULT);
	fx_finish(&f);
}

/* ---- madvise --------------------------------------------------------------- */

static void test_madvise_dontneed_private(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		unsigned long a, before;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		a = mmt_map(f.t, 6, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, a, 6, 0x61);
		before = cow_system_free_frames(f.sys);
		assert_int_equal(cow_madvise(f.t, a + PAGE_SIZE, 3 * PAGE_SIZE, COW_MADV_DONTNEED),
				 0);
		/* Three frames back, the VMA stays whole. */
		assert_int_equal(cow_system_free_frames(f.sys), before + 3);
		assert_int_equal(nr_vmas(f.p), 1);
		assert_int_equal(atomic_long_read(&f.p->mm->nr_anon), 3);
		assert_system_ok(f.sys);
		/* The dropped pages read back zero, the others keep data. */
		assert_true(stamped(f.t, a, 1, 0x61));
		assert_true(mmt_holds(f.t, a + PAGE_SIZE, 0, 3 * PAGE_SIZE));
		assert_true(stamped(f.t, a + 4 * PAGE_SIZE, 2, 0x65));
		/* And may be written again. */
		stamp(f.t, a + PAGE_SIZE, 3, 0x71);
		assert_true(stamped(f.t, a + PAGE_SIZE, 3, 0x71));
		/* Over a hole: ENOMEM, though the mapped part is dropped. */
		assert_int_equal(
			cow_madvise(f.t, a + 5 * PAGE_SIZE, 2 * PAGE_SIZE, COW_MADV_DONTNEED),
			COW_ENOMEM);
		assert_true(mmt_holds(f.t, a + 5 * PAGE_SIZE, 0, PAGE_SIZE));
		fx_finish(&f);
	}
}

static void test_madvise_dontfork(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct cow_process *c1, *c2;
		struct cow_task *t1, *t2;
		unsigned long a, b;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		a = mmt_map(f.t, 6, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		b = mmt_map(f.t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_SHARED);
		stamp(f.t, a, 6, 0x10);
		stamp(f.t, b, 2, 0x20);
		/* A middle part of a, and all of b. */
		assert_int_equal(
			cow_madvise(f.t, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, COW_MADV_DONTFORK), 0);
		assert_int_equal(cow_madvise(f.t, b, 2 * PAGE_SIZE, COW_MADV_DONTFORK), 0);
		assert_int_equal(nr_vmas(f.p), 4);
		assert_int_equal(cow_fork(f.t, "c1", &c1), 0);
		t1 = mmt_task(c1, 1);
		assert_int_equal(nr_vmas(c1), 2);
		assert_true(stamped(t1, a, 2, 0x10));
		assert_true(stamped(t1, a + 4 * PAGE_SIZE, 2, 0x14));
		for (unsigned long i = 2; i < 4; i++)
			assert_int_equal(read_err(t1, a + i * PAGE_SIZE), COW_EFAULT);
		assert_int_equal(read_err(t1, b), COW_EFAULT);
		assert_int_equal(write_err(t1, b + PAGE_SIZE), COW_EFAULT);
		/* The parent keeps everything. */
		assert_true(stamped(f.t, a, 6, 0x10));
		assert_true(stamped(f.t, b, 2, 0x20));
		assert_system_ok(f.sys);

		/* DOFORK on the range again: the next child has it. */
		assert_int_equal(cow_madvise(f.t, a, 6 * PAGE_SIZE, COW_MADV_DOFORK), 0);
		assert_int_equal(cow_madvise(f.t, b, PAGE_SIZE, COW_MADV_DOFORK), 0);
		assert_int_equal(cow_fork(f.t, "c2", &c2), 0);
		t2 = mmt_task(c2, 2);
		assert_true(stamped(t2, a, 6, 0x10));
		assert_true(stamped(t2, b, 1, 0x20));
		assert_int_equal(read_err(t2, b + PAGE_SIZE), COW_EFAULT);
		/* DONTFORK over a hole is refused. */
		assert_int_equal(cow_madvise(f.t, b, 3 * PAGE_SIZE, COW_MADV_DONTFORK), COW_ENOMEM);
		assert_system_ok(f.sys);
		cow_task_destroy(t1);
		cow_task_destroy(t2);
		cow_process_exit(c1);
		cow_process_exit(c2);
		fx_finish(&f);
	}
}

static void test_shared_anon_across_fork(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct cow_process *c;
		struct cow_task *tc;
		unsigned long s, priv, before;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		before = cow_system_free_frames(f.sys);
		s = mmt_map(f.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_SHARED);
		priv = mmt_map(f.t, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		stamp(f.t, s, 2, 0x10); /* pages 2, 3 not faulted before fork */
		stamp(f.t, priv, 1, 0x99);
		assert_int_equal(cow_fork(f.t, "child", &c), 0);
		tc = mmt_task(c, 1);
		/* The child sees the parent's data, and what the parent
		 * writes after the fork. */
		assert_true(stamped(tc, s, 2, 0x10));
		stamp(f.t, s + PAGE_SIZE, 1, 0x31);
		assert_true(mmt_holds(tc, s + PAGE_SIZE, 0x31, 16));
		/* The parent sees the child's writes, on old and new pages. */
		stamp(tc, s, 4, 0x40);
		assert_true(stamped(f.t, s, 4, 0x40));
		stamp(f.t, s + 3 * PAGE_SIZE, 1, 0x77);
		assert_true(mmt_holds(tc, s + 3 * PAGE_SIZE, 0x77, 16));
		/* The private page is copy-on-write, for contrast. */
		stamp(tc, priv, 1, 0x98);
		assert_true(stamped(f.t, priv, 1, 0x99));
		assert_system_ok(f.sys);
		/* Four shared pages, a private page in each process, three
		 * tables in the parent, the child's PGD and three tables. */
		assert_int_equal(cow_system_free_frames(f.sys), before - 4 - 2 - 3 - 4);
		/* The pages outlive the parent, and go with the child. */
		cow_task_destroy(f.t);
		cow_process_exit(f.p);
		assert_system_ok(f.sys);
		assert_true(stamped(tc, s, 3, 0x40));
		assert_true(mmt_holds(tc, s + 3 * PAGE_SIZE, 0x77, 16));
		cow_task_destroy(tc);
		cow_process_exit(c);
		assert_system_ok(f.sys);
		assert_all_frames_free(f.sys, f.frames);
		cow_system_destroy(f.sys);
	}
}

static void test_shared_dontneed_keeps_data(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct cow_process *c;
		struct cow_task *tc;
		unsigned long s, before;
		struct fx f;

		fx_init(&f, mm_policies[pol], FRAMES, true);
		s = mmt_map(f.t, 3, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_SHARED);
		stamp(f.t, s, 3, 0x21);
		assert_int_equal(cow_fork(f.t, "child", &c), 0);
		tc = mmt_task(c, 1);
		assert_true(stamped(tc, s, 3, 0x21));
		before = cow_system_free_frames(f.sys);
		assert_int_equal(cow_madvise(f.t, s, 3 * PAGE_SIZE, COW_MADV_DONTNEED), 0);
		/* The shmem object holds the pages: nothing is freed, no PTE
		 * is left in the parent, and the data reads back. */
		assert_int_equal(cow_system_free_frames(f.sys), before);
		for (unsigned long i = 0; i < 3; i++)
			assert_int_equal(mmt_pte(f.p, s + i * PAGE_SIZE), 0);
		assert_system_ok(f.sys);
		assert_true(stamped(f.t, s, 3, 0x21));
		/* Still one object: writes after the refault are shared. */
		stamp(f.t, s, 3, 0x51);
		assert_true(stamped(tc, s, 3, 0x51));
		assert_int_equal(cow_madvise(tc, s, 3 * PAGE_SIZE, COW_MADV_DONTNEED), 0);
		assert_true(stamped(tc, s, 3, 0x51));
		/* Unmapped in both: the object dies with its last VMA. */
		assert_int_equal(cow_munmap(tc, s, 3 * PAGE_SIZE), 0);
		assert_int_equal(cow_munmap(f.t, s, 3 * PAGE_SIZE), 0);
		assert_int_equal(cow_system_free_frames(f.sys), before + 3);
		cow_task_destroy(tc);
		cow_process_exit(c);
		fx_finish(&f);
	}
}

/* ---- stress ------------------------------------------------------------------ */

#define STRESS_CPUS 4
#define STRESS_ITERS 2000
#define SHARED_PAGES 8

struct vma_stress {
	struct cow_task *task[STRESS_CPUS];
	unsigned long shared;  /* a private range every thread writes to */
	unsigned long sshared; /* a MAP_SHARED range, likewise */
};

/* Each thread writes its own bytes (offset 64 * cpu) of every page of the
 * shared ranges and checks them, while the others change the address
 * space (shootdowns, splits) around it. */
static void touch_shared(struct cow_task *t, unsigned long base, int cpu, int v)
{
	for (unsigned long i = 0; i < SHARED_PAGES; i++) {
		unsigned long addr = base + i * PAGE_SIZE + 64UL * (unsigned long)cpu;

		task_check(mmt_fill(t, addr, v, 64) == 0);
		task_check(mmt_holds(t, addr, v, 64));
	}
}

/* A range that only CPU cpu maps into (at fixed addresses). */
static unsigned long window(int cpu, int slot)
{
	return 0x100000000UL + (unsigned long)cpu * 0x10000000UL + (unsigned long)slot * 0x100000UL;
}

static void vma_stress_worker(void *arg)
{
	struct vma_stress *s = arg;
	int cpu = smp_processor_id();
	struct cow_task *t = s->task[cpu];
	unsigned int rnd = 1000u + (unsigned int)cpu;
	unsigned long mine[4] = {0}, len[4] = {0};

	for (int it = 0; it < STRESS_ITERS; it++) {
		int slot = (int)(lcg(&rnd) % 4), v = (cpu * 37 + it) & 0xff;
		unsigned long a = mine[slot], n = len[slot];

		if (!a) {
			/* Slots 0 and 1 at fixed addresses in a window of
			 * this CPU's own, 2 and 3 wherever mmap finds room. */
			unsigned long want = slot < 2 ? window(cpu, slot) : 0;

			n = 1 + lcg(&rnd) % 6;
			task_check(cow_mmap(t, want, n * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE,
					    COW_MAP_PRIVATE, &a) == 0);
			task_check(!want || a == want);
			task_check(mmt_fill(t, a, v, n * PAGE_SIZE) == 0);
			mine[slot] = a;
			len[slot] = n;
			continue;
		}
		switch (lcg(&rnd) % 5) {
		case 0:
			/* Read-only for a while: writes fault, data stays. */
			task_check(cow_mprotect(t, a, n * PAGE_SIZE, COW_PROT_READ) == 0);
			task_check(write_err(t, a + (n - 1) * PAGE_SIZE) == COW_EFAULT);
			task_check(cow_mprotect(t, a, n * PAGE_SIZE,
						COW_PROT_READ | COW_PROT_WRITE) == 0);
			task_check(mmt_fill(t, a, v, n * PAGE_SIZE) == 0);
			task_check(mmt_holds(t, a, v, n * PAGE_SIZE));
			break;
		case 1:
			/* Split by mprotect of the head page, then drop it. */
			task_check(cow_mprotect(t, a, PAGE_SIZE, 0) == 0);
			task_check(read_err(t, a) == COW_EFAULT);
			if (n > 1) {
				task_check(cow_munmap(t, a, PAGE_SIZE) == 0);
				mine[slot] = a + PAGE_SIZE;
				len[slot] = n - 1;
				task_check(mmt_fill(t, a + PAGE_SIZE, v, (n - 1) * PAGE_SIZE) == 0);
			} else {
				task_check(cow_munmap(t, a, PAGE_SIZE) == 0);
				mine[slot] = 0;
			}
			break;
		case 2:
			task_check(cow_madvise(t, a, n * PAGE_SIZE, COW_MADV_DONTNEED) == 0);
			task_check(mmt_holds(t, a, 0, n * PAGE_SIZE));
			task_check(mmt_fill(t, a, v, n * PAGE_SIZE) == 0);
			break;
		case 3:
			task_check(cow_munmap(t, a, n * PAGE_SIZE) == 0);
			/* Another CPU's mmap may take a hole at once; nobody
			 * else maps into this CPU's window. */
			if (slot < 2)
				task_check(read_err(t, a) == COW_EFAULT);
			mine[slot] = 0;
			break;
		default:
			task_check(mmt_fill(t, a, v, n * PAGE_SIZE) == 0);
			task_check(mmt_holds(t, a, v, n * PAGE_SIZE));
			break;
		}
		touch_shared(t, s->shared, cpu, v);
		touch_shared(t, s->sshared, cpu, v ^ 0xff);
	}
	for (int i = 0; i < 4; i++)
		if (mine[i])
			task_check(cow_munmap(t, mine[i], len[i] * PAGE_SIZE) == 0);
}

static void test_vma_stress(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		for (int n = 2; n <= STRESS_CPUS; n += 2) {
			struct vma_stress s = {{NULL}, 0, 0};
			struct cow_system *sys =
				mmt_system(mm_policies[pol], 1024, STRESS_CPUS, pol == 0);
			struct cow_process *p = mmt_process(sys, "stress");

			for (int i = 0; i < n; i++)
				s.task[i] = mmt_task(p, i);
			s.shared = mmt_map(s.task[0], SHARED_PAGES, COW_PROT_READ | COW_PROT_WRITE,
					   COW_MAP_PRIVATE);
			s.sshared = mmt_map(s.task[0], SHARED_PAGES, COW_PROT_READ | COW_PROT_WRITE,
					    COW_MAP_SHARED);
			stress_run(n, vma_stress_worker, &s);
			assert_system_ok(sys);
			/* Only the two shared ranges are left. */
			assert_int_equal(nr_vmas(p), 2);
			for (int i = 0; i < n; i++)
				cow_task_destroy(s.task[i]);
			cow_process_exit(p);
			assert_system_ok(sys);
			assert_all_frames_free(sys, 1024);
			cow_system_destroy(sys);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmap_picks_free_ranges),
		cmocka_unit_test(test_mmap_fixed_and_overlap),
		cmocka_unit_test(test_mmap_bad_args),
		cmocka_unit_test(test_find_vma_many),
		cmocka_unit_test(test_munmap_whole_vma),
		cmocka_unit_test(test_munmap_read_only_mapping_faults),
		cmocka_unit_test(test_munmap_middle_splits),
		cmocka_unit_test(test_munmap_across_vmas),
		cmocka_unit_test(test_munmap_frees_page_tables),
		cmocka_unit_test(test_mprotect_permissions),
		cmocka_unit_test(test_mprotect_upgrades_exclusive_pages_from_60),
		cmocka_unit_test(test_mprotect_shared_mapping),
		cmocka_unit_test(test_mprotect_partial_splits),
		cmocka_unit_test(test_mprotect_hole_enomem),
		cmocka_unit_test(test_madvise_dontneed_private),
		cmocka_unit_test(test_madvise_dontfork),
		cmocka_unit_test(test_shared_anon_across_fork),
		cmocka_unit_test(test_shared_dontneed_keeps_data),
		cmocka_unit_test(test_vma_stress),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
