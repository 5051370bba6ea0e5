/*
 * Tests of the one list of scenario operations (src/scenario/ops.def):
 * its entries are well formed, every word is an operation to the parser
 * and a keyword it refuses as a name, where each may stand follows its
 * flags, and the operation table in docs/scenarios.md is the one the
 * list generates, as is the list in the manual page cowlab-scenarios(5),
 * both of which this program also writes:
 *
 *     build/tests/test_ops --write-doc
 *
 * replaces the table between the markers there (run it, and the tests,
 * from the repository root).
 */
#include "testutil.h"

#include "docblock.h"
#include "scenario/scenario.h"

#define DOC_BEGIN                                                      \
	"<!-- The operations, generated from src/scenario/ops.def by " \
	"`build/tests/test_ops --write-doc`: edit the list there, not here. -->\n"
#define DOC_END "<!-- End of the generated operations. -->\n"

/* A Markdown table cell: '|' escaped. */
static void put_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* The block docs/scenarios.md holds, markers included (malloc'd). */
static char *doc_block(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputs(DOC_BEGIN "\n| operation | meaning (Linux counterpart) |\n|---|---|\n", f);
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++) {
		const struct scen_op_info *info = scen_op_info(k);

		for (int i = 0; i < info->nr_forms; i++) {
			fputs("| ", f);
			put_cell(f, info->forms[i].synopsis);
			fputs(" | ", f);
			put_cell(f, info->forms[i].meaning);
			fputs(" |\n", f);
		}
	}
	fputs("\n" DOC_END, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static const struct docblock doc = {"docs/scenarios.md",
				    DOC_BEGIN,
				    DOC_END,
				    "src/scenario/ops.def",
				    "build/tests/test_ops --write-doc",
				    doc_block};

/* The same list in the manual page cowlab-scenarios(5): roff, each form
 * a tagged paragraph, the Markdown of the list reduced to its words (no
 * backquotes; a link's text without its target). */
#define MAN_BEGIN                                                       \
	".\\\" The operations, generated from src/scenario/ops.def by " \
	"`build/tests/test_ops --write-doc`: edit the list there, not here.\n"
#define MAN_END ".\\\" End of the generated operations.\n"

static void put_roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		const char *close;

		if (*s == '`')
			continue;
		if (*s == '\\') {
			fputs("\\e", f);
			continue;
		}
		/* [text](target): the text. */
		if (*s == ']' && s[1] == '(' && (close = strchr(s, ')')) != NULL) {
			s = close;
			continue;
		}
		if (*s == '[' && strchr(s, ']') && strchr(s, ']')[1] == '(')
			continue;
		fputc(*s, f);
	}
}

static char *man_block(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputs(MAN_BEGIN, f);
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++) {
		const struct scen_op_info *info = scen_op_info(k);

		for (int i = 0; i < info->nr_forms; i++) {
			fputs(".TP\n\\fB", f);
			put_roff(f, info->forms[i].synopsis);
			fputs("\\fR\n", f);
			put_roff(f, info->forms[i].meaning);
			fputs("\n", f);
		}
	}
	fputs(MAN_END, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static const struct docblock man = {
	"man/cowlab-scenarios.5",	    MAN_BEGIN, MAN_END, "src/scenario/ops.def",
	"build/tests/test_ops --write-doc", man_block};

static void test_doc_matches_list(void **state)
{
	const char *why = docblock_differs(&doc);

	(void)state;
	if (why)
		fail_msg("%s", why);
	why = docblock_differs(&man);
	if (why)
		fail_msg("%s", why);
}

/* Words unique, flags known, every form's synopsis starting with the
 * word, in backquotes, and no line breaks in a table cell. */
static void test_entries(void **state)
{
	const unsigned known = OPF_ONCE | OPF_NO_REPEAT | OPF_BODY | OPF_MAIN;

	(void)state;
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++) {
		const struct scen_op_info *info = scen_op_info(k);
		size_t n = strlen(info->word);

		assert_true(n > 0 && n < SCEN_NAME_MAX);
		assert_int_equal(info->flags & ~known, 0);
		assert_true(info->nr_forms >= 1);
		for (int i = 0; i < info->nr_forms; i++) {
			const char *syn = info->forms[i].synopsis;

			assert_true(syn[0] == '`' && strncmp(syn + 1, info->word, n) == 0 &&
				    (syn[1 + n] == ' ' || syn[1 + n] == '`'));
			assert_null(strchr(syn, '\n'));
			assert_true(info->forms[i].meaning[0] != '\0');
			assert_null(strchr(info->forms[i].meaning, '\n'));
		}
		for (int j = 0; j < k; j++)
			assert_string_not_equal(info->word, scen_op_info(j)->word);
	}
}

static int parse(const char *text, char *err, size_t len)
{
	struct scenario *s = NULL;
	int rc = scen_parse("t.cow", text, strlen(text), &s, err, len);

	scen_free(s);
	return rc;
}

/* Every word is an operation: misplaced at top level it is told to go
 * into a process block (not called unknown), and no name may be one. */
static void test_words_are_operations(void **state)
{
	char text[256], err[512];

	(void)state;
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++) {
		const char *w = scen_op_info(k)->word;

		snprintf(text, sizeof(text), "%s\n", w);
		assert_int_equal(parse(text, err, sizeof(err)), COW_EINVAL);
		if (!strstr(err, "must be inside a process block"))
			fail_msg("'%s' at top level: %s", w, err);
		snprintf(text, sizeof(text), "process %s\n", w);
		assert_int_equal(parse(text, err, sizeof(err)), COW_EINVAL);
	}
}

/* Where each operation may stand follows its flags: a body of a repeat
 * refuses OPF_ONCE and OPF_NO_REPEAT with their own messages.  The
 * operands need not be right: the place is judged first. */
static void test_flags_rule_bodies(void **state)
{
	char text[256], err[512];

	(void)state;
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++) {
		const struct scen_op_info *info = scen_op_info(k);
		int rc;

		snprintf(text, sizeof(text), "process p\n  map buf 1 page\n  repeat 2\n    %s\n",
			 info->word);
		rc = parse(text, err, sizeof(err));
		if (info->flags & (OPF_ONCE | OPF_NO_REPEAT)) {
			assert_int_equal(rc, COW_EINVAL);
			if (!strstr(err, "not allowed inside repeat"))
				fail_msg("'%s' in a repeat: %s", info->word, err);
		} else if (rc == COW_EINVAL && strstr(err, "not allowed inside repeat")) {
			fail_msg("'%s' refused in a repeat without a flag: %s", info->word, err);
		}
		snprintf(text, sizeof(text),
			 "process p\n  map buf 1 page\n  thread t\n    %s\n  join\n", info->word);
		rc = parse(text, err, sizeof(err));
		if (info->flags & OPF_MAIN) {
			assert_int_equal(rc, COW_EINVAL);
			if (!strstr(err, "not allowed in a thread"))
				fail_msg("'%s' in a thread: %s", info->word, err);
		}
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_matches_list),
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_words_are_operations),
		cmocka_unit_test(test_flags_rule_bodies),
	};

	if (argc == 2 && strcmp(argv[1], "--write-doc") == 0) {
		return docblock_write(&doc) | docblock_write(&man);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--write-doc]\n", argv[0]);
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
