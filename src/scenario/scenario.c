/*
 * The parsed form of a scenario (scenario.h), apart from parsing it: the
 * operations' descriptions (ops.def), the verdict words, the accessors
 * and descriptions the executors use, and freeing.
 */
#include "scenario/parse.h"

#define FORM(synopsis, meaning)   \
	{                         \
		synopsis, meaning \
	}
#define OP(kind, word, flags, ...) static const struct scen_op_form forms_##word[] = {__VA_ARGS__};
#include "scenario/ops.def"
#undef OP
#undef FORM

static const struct scen_op_info op_info[] = {
#define OP(kind, word, flags, ...) \
	[OP_##kind] = {#word, flags, forms_##word, (int)ARRAY_SIZE(forms_##word)},
#include "scenario/ops.def"
#undef OP
};

const struct scen_op_info *scen_op_info(int kind)
{
	COW_ASSERT(kind >= 0 && kind < SCEN_NR_OP_WORDS);
	return &op_info[kind];
}

static const char *const verdict_names[] = {
	[VERDICT_CORRUPT] = "corrupt",
	[VERDICT_LEAK] = "leak",
	[VERDICT_DESYNC] = "desync",
	[VERDICT_OVERWRITE] = "overwrite",
};

/* What an expect line may document: a pass, a check's verdict (the words
 * above, in their order), or the explorer's crash (a broken invariant)
 * and error (an operation failed unexpectedly); scen_result_from_explore
 * gives the same words.  The explorer's deadlock and livelock are bugs of
 * the model, not history, and have no place here. */
static const char *const expect_verdicts[] = {"pass",	   "corrupt", "leak",  "desync",
					      "overwrite", "crash",   "error", "skip"};

int ps_find_expect(const struct scenario *s, const char *preset)
{
	for (int i = 0; i < s->nr_expects; i++)
		if (strcmp(s->expects[i].preset, preset) == 0)
			return i;
	return -1;
}

static void free_ops(struct scen_op *ops, int n)
{
	for (int i = 0; i < n; i++) {
		if (ops[i].kind == OP_WRITE || ops[i].kind == OP_POKE)
			free(ops[i].write.value.bytes);
		else if (ops[i].kind == OP_CHECK && ops[i].check.values) {
			int nr = ops[i].check.nr_ranges * ops[i].check.nr_alts;

			for (int j = 0; j < nr; j++)
				free(ops[i].check.values[j].bytes);
			free(ops[i].check.values);
			free(ops[i].check.ranges);
		} else if (ops[i].kind == OP_CHECK)
			free(ops[i].check.value.bytes);
	}
	free(ops);
}

void scen_free(struct scenario *s)
{
	if (!s)
		return;
	free_ops(s->ops, s->nr_ops);
	for (int i = 0; i < s->nr_threads; i++)
		free_ops(s->threads[i].ops, s->threads[i].nr_ops);
	free(s->threads);
	free(s->procs);
	free(s->maps);
	free(s->files);
	free(s->pins);
	free(s->pipes);
	free(s->expects);
	free(s->text);
	free(s);
}

bool scen_source_line(const struct scenario *s, int line, char *buf, size_t len)
{
	const char *p = s->text, *end = s->text + s->text_len, *eol;
	size_t n;

	if (!p || line < 1)
		return false;
	for (int i = 1; i < line; i++) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p++)
			return false;
	}
	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol)
		eol = end;
	n = strcspn(p, "#\n");
	if (p + n > eol)
		n = (size_t)(eol - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	snprintf(buf, len, "%.*s", (int)n, p);
	return true;
}

const char *const *scen_expect_verdicts(int *nr_out)
{
	*nr_out = (int)ARRAY_SIZE(expect_verdicts);
	return expect_verdicts;
}

const char *scen_expected(const struct scenario *s, const char *preset)
{
	int i = ps_find_expect(s, preset);

	return i >= 0 ? s->expects[i].verdict : NULL;
}

const char *scen_verdict_name(enum scen_verdict v)
{
	if ((unsigned)v < ARRAY_SIZE(verdict_names))
		return verdict_names[v];
	return "unknown";
}

void scen_value_bytes(const struct scen_value *v, unsigned long at, unsigned char *buf,
		      unsigned long n)
{
	if (v->kind == VAL_BYTE)
		memset(buf, v->byte, n);
	else if (v->kind == VAL_BYTES)
		for (unsigned long j = 0; j < n; j++)
			buf[j] = v->bytes[(at + j) % v->nbytes];
}

/* A value as a failed check names it: "0x11", "a 4-byte string",
 * "data[0..+4096]". */
static void scen_value_describe(const struct scenario *s, const struct scen_value *v, char *buf,
				size_t len)
{
	switch (v->kind) {
	case VAL_BYTE: snprintf(buf, len, "0x%02x", v->byte); return;
	case VAL_BYTES: snprintf(buf, len, "a %zu-byte string", v->nbytes); return;
	case VAL_FILE:
		snprintf(buf, len, "%s[%lu..+%lu]", s->files[v->file.name].name, v->file.off,
			 v->file.len);
		return;
	}
}

static const char *const cmp_words[] = {
	[CMP_EQ] = "==",	   [CMP_NE] = "!=",
	[CMP_FAULTS] = "faults",   [CMP_EXCLUSIVE] = "exclusive",
	[CMP_SHARED] = "shared",   [CMP_PRESENT] = "present",
	[CMP_SWAPPED] = "swapped", [CMP_MERGED] = "merged",
	[CMP_HUGE] = "huge",	   [CMP_PTE_MAPPED] = "pte-mapped",
	[CMP_SIGBUS] = "sigbus",   [CMP_HUGETLB] = "hugetlb",
};

const char *scen_cmp_name(enum scen_cmp c)
{
	if ((unsigned)c < ARRAY_SIZE(cmp_words))
		return cmp_words[c];
	return "?";
}

bool scen_op_sigbus(const struct scen_op *op)
{
	switch (op->kind) {
	case OP_WRITE: return op->write.sigbus;
	case OP_READ: return op->read.sigbus;
	case OP_CHECK: return op->check.cmp == CMP_SIGBUS;
	default: return false;
	}
}

static bool ops_map_hugetlb(const struct scen_op *ops, int n)
{
	for (int i = 0; i < n; i++)
		if (ops[i].kind == OP_MAP && ops[i].map.hugetlb)
			return true;
	return false;
}

bool scen_has_hugetlb(const struct scenario *s)
{
	if (ops_map_hugetlb(s->ops, s->nr_ops))
		return true;
	for (int t = 0; t < s->nr_threads; t++)
		if (ops_map_hugetlb(s->threads[t].ops, s->threads[t].nr_ops))
			return true;
	return false;
}

int scen_op_span(const struct scen_op *op)
{
	if (op->kind == OP_REPEAT)
		return 1 + op->repeat.nr;
	if (op->kind == OP_FORK)
		return 1 + op->fork.nr;
	return 1;
}

const struct scen_range *scen_check_range(const struct scen_op *op, int i)
{
	return op->check.ranges ? &op->check.ranges[i] : &op->check.range;
}

const struct scen_value *scen_check_value(const struct scen_op *op, int alt, int i)
{
	int nr = op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;

	return op->check.values ? &op->check.values[alt * nr + i] : &op->check.value;
}

const char *scen_range_name(const struct scenario *s, const struct scen_range *g)
{
	switch (g->space) {
	case SPACE_MAP: return s->maps[g->name].name;
	case SPACE_FILE: return s->files[g->name].name;
	case SPACE_PIN: return s->pins[g->name].name;
	case SPACE_PIPE: return s->pipes[g->name].name;
	}
	return "?";
}

void scen_check_describe_ranges(const struct scenario *s, const struct scen_op *op, char *buf,
				size_t len)
{
	int nr = op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < nr && n < len; i++) {
		const struct scen_range *g = scen_check_range(op, i);
		int w = snprintf(buf + n, len - n, "%s%s[%lu..+%lu]", i ? ", " : "",
				 scen_range_name(s, g), g->off, g->len);

		if (w < 0)
			return;
		n += (size_t)w;
	}
}

void scen_check_describe_values(const struct scenario *s, const struct scen_op *op, char *buf,
				size_t len)
{
	int nr = op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;
	int na = op->check.nr_alts > 1 ? op->check.nr_alts : 1;
	size_t n = 0;

	buf[0] = '\0';
	for (int a = 0; a < na && n < len; a++)
		for (int i = 0; i < nr && n < len; i++) {
			char v[96];
			int w;

			scen_value_describe(s, scen_check_value(op, a, i), v, sizeof(v));
			w = snprintf(buf + n, len - n, "%s%s", i ? ", " : a ? " | " : "", v);
			if (w < 0)
				return;
			n += (size_t)w;
		}
}
