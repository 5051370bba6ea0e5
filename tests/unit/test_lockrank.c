/*
 * Tests of the lock order's one list (src/sync/lockrank.h): the ranks'
 * names and letters, the order lockdep's panics print, lockdep itself on
 * every pair of ranks, the field marks used in src/mm, and the table in
 * docs/architecture.md, which this program also writes:
 *
 *     build/tests/test_lockrank --write-doc
 *
 * replaces the block between the markers there with the one the list
 * generates (run it, and the tests, from the repository root).
 */
#include "testutil.h"

#include "docblock.h"

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOC_PATH "docs/architecture.md"
#define DOC_BEGIN                                                     \
	"<!-- The lock order, generated from src/sync/lockrank.h by " \
	"`build/tests/test_lockrank --write-doc`: edit the list there, not here. -->\n"
#define DOC_END "<!-- End of the generated lock order. -->\n"

struct rank_info {
	int rank;
	const char *short_name, *name;
	char letter;
	const char *protects;
};

#define RANK_INFO(id, short_name, name, letter, protects) \
	{RANK_##id, short_name, name, letter, protects},
static const struct rank_info ranks[] = {COW_LOCK_RANKS(RANK_INFO)};
#undef RANK_INFO
#define NR_RANKS ((int)(sizeof(ranks) / sizeof(ranks[0])))

struct mark_info {
	char letter;
	const char *meaning;
};

#define MARK_INFO(letter, meaning) {letter, meaning},
static const struct mark_info marks[] = {COW_FIELD_MARKS(MARK_INFO)};
#undef MARK_INFO
#define NR_MARKS ((int)(sizeof(marks) / sizeof(marks[0])))

/* ---- the doc block ------------------------------------------------------------ */

/* The block docs/architecture.md holds, markers included (malloc'd). */
static char *doc_block(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputs(DOC_BEGIN "\n", f);
	fputs("| rank | lock | letter | protects |\n|---:|---|:---:|---|\n", f);
	for (int i = 0; i < NR_RANKS; i++)
		fprintf(f, "| %d | %s | %c | %s |\n", ranks[i].rank, ranks[i].short_name,
			ranks[i].letter, ranks[i].protects);
	fputs("\nThe letters of field comments that name no lock:\n\n"
	      "| letter | meaning |\n|:---:|---|\n",
	      f);
	for (int i = 0; i < NR_MARKS; i++)
		fprintf(f, "| %c | %s |\n", marks[i].letter, marks[i].meaning);
	fputs("\n" DOC_END, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static const struct docblock doc = {DOC_PATH,
				    DOC_BEGIN,
				    DOC_END,
				    "src/sync/lockrank.h",
				    "build/tests/test_lockrank --write-doc",
				    doc_block};

static void test_doc_matches_list(void **state)
{
	const char *why = docblock_differs(&doc);

	(void)state;
	if (why)
		fail_msg("%s", why);
}

/* ---- the list ------------------------------------------------------------------ */

/* Text that goes into a table cell and a one-line message. */
static void assert_plain_text(const char *s)
{
	assert_non_null(s);
	assert_true(s[0] != '\0');
	assert_null(strpbrk(s, "|\n"));
}

static void test_names_unique(void **state)
{
	(void)state;
	assert_int_equal(NR_RANKS, RANK_NR - 1);
	for (int i = 0; i < NR_RANKS; i++) {
		/* The enum follows the list: rank i + 1, the list's name. */
		assert_int_equal(ranks[i].rank, i + 1);
		assert_string_equal(lock_rank_name(ranks[i].rank), ranks[i].name);
		assert_plain_text(ranks[i].short_name);
		assert_plain_text(ranks[i].name);
		assert_plain_text(ranks[i].protects);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(ranks[i].short_name, ranks[j].short_name);
			assert_string_not_equal(ranks[i].name, ranks[j].name);
		}
	}
	assert_string_equal(lock_rank_name(RANK_NONE), "an unranked lock");
	assert_string_equal(lock_rank_name(RANK_NR), "a lock of unknown rank");
}

/* Every letter, of a lock or not, means one thing. */
static void test_letters_unique(void **state)
{
	char seen[26] = {0};

	(void)state;
	for (int i = 0; i < NR_RANKS + NR_MARKS; i++) {
		char c = i < NR_RANKS ? ranks[i].letter : marks[i - NR_RANKS].letter;

		assert_true(c >= 'A' && c <= 'Z');
		if (seen[c - 'A'])
			fail_msg("letter %c is given twice", c);
		seen[c - 'A'] = 1;
		if (i >= NR_RANKS)
			assert_plain_text(marks[i - NR_RANKS].meaning);
	}
}

static bool letter_defined(char c)
{
	for (int i = 0; i < NR_RANKS; i++)
		if (ranks[i].letter == c)
			return true;
	for (int i = 0; i < NR_MARKS; i++)
		if (marks[i].letter == c)
			return true;
	return false;
}

/* Check the field marks in text ("(M)", "(M+P)": capitals joined by '+'
 * in parentheses, not after a name): count each that uses a letter the
 * list does not define in *bad, and print it unless path is NULL.  Returns how many marks
 * there were. */
static int check_marks(const char *path, const char *text, int *bad)
{
	int found = 0;

	for (const char *p = strchr(text, '('); p; p = strchr(p + 1, '(')) {
		const char *q = p + 1;

		if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		while (*q >= 'A' && *q <= 'Z' && (q[1] == '+' || q[1] == ')'))
			q += q[1] == '+' ? 2 : 1;
		if (*q != ')' || q == p + 1 || q[-1] == '+')
			continue;
		found++;
		for (const char *c = p + 1; c < q; c += 2) {
			if (letter_defined(*c))
				continue;
			if (path)
				print_error("%s: the mark %.*s uses letter %c, which "
					    "src/sync/lockrank.h "
					    "does not define\n",
					    path, (int)(q - p + 1), p, *c);
			++*bad;
		}
	}
	return found;
}

/* Every mark in src/mm's comments is a letter the list defines. */
static void test_marks_defined(void **state)
{
	DIR *d = opendir("src/mm");
	struct dirent *e;
	int found = 0, bad = 0;

	(void)state;
	/* The scanner itself: a stray letter is caught, a call is no mark. */
	assert_int_equal(check_marks(NULL, "f(A) /* (M+P) (A), (Z) or FOO(X), (AB) */", &bad), 3);
	assert_int_equal(bad, 1);
	bad = 0;
	if (!d)
		fail_msg("run the tests from the repository root (no src/mm here)");
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[512], *text;

		if (n < 3 || e->d_name[n - 2] != '.' ||
		    (e->d_name[n - 1] != 'c' && e->d_name[n - 1] != 'h'))
			continue;
		snprintf(path, sizeof(path), "src/mm/%s", e->d_name);
		text = docblock_read(path);
		assert_non_null(text);
		found += check_marks(path, text, &bad);
		free(text);
	}
	closedir(d);
	assert_int_equal(bad, 0);
	/* The structures of mm.h, page.h, pgtable.h and swapfile.c carry dozens. */
	assert_true(found > 50);
}

/* ---- lockdep ------------------------------------------------------------------- */

/* The order lockdep states, built here from the list: "KSM mutex, ...". */
static char *order_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (int i = 0; i < NR_RANKS; i++)
		fprintf(f, "%s%s", i ? ", " : "", ranks[i].short_name);
	fclose(f);
	return buf;
}

static void test_panic_states_order(void **state)
{
	spinlock_t inner, outer;
	char *order = order_text(), want[512];

	(void)state;
	if (!COW_DEBUG)
		skip_because("lockdep is compiled out of release builds");
	spin_lock_init_rank(&outer, ranks[0].rank);
	spin_lock_init_rank(&inner, ranks[NR_RANKS - 1].rank);
	spin_lock(&inner);
	snprintf(want, sizeof(want), "(the order, outermost first, is %s)", order);
	expect_panic(spin_lock(&outer), want);
	spin_unlock(&inner);
	free(order);
}

/* Ranks i and j (list indices, i <= j): in order they pass, reversed
 * lockdep panics, naming both locks; the same rank twice panics unless
 * annotated. */
static void check_pair(int i, int j)
{
	spinlock_t a, b;
	char want[256];

	spin_lock_init_rank(&a, ranks[i].rank);
	spin_lock_init_rank(&b, ranks[j].rank);
	if (i < j) {
		spin_lock(&a);
		spin_lock(&b);
		spin_unlock(&b);
		spin_unlock(&a);
	}
	spin_lock(&b);
	snprintf(want, sizeof(want), "taking %s %p while holding %s %p", ranks[i].name, (void *)&a,
		 ranks[j].name, (void *)&b);
	expect_panic(spin_lock(&a), want);
	if (i == j) {
		spin_lock_nested(&a);
		spin_unlock(&a);
	}
	spin_unlock(&b);
}

static void test_every_pair_checked(void **state)
{
	(void)state;
	if (!COW_DEBUG)
		skip_because("lockdep is compiled out of release builds");
	for (int i = 0; i < NR_RANKS; i++)
		for (int j = i; j < NR_RANKS; j++)
			check_pair(i, j);
}

/* Without a test's panic handler a violation ends the process, with the
 * message on stderr: run it in a child. */
static void test_violation_aborts(void **state)
{
	int out[2], status;
	char msg[1024] = "";
	ssize_t n, len = 0;
	pid_t pid;

	(void)state;
	if (!COW_DEBUG)
		skip_because("lockdep is compiled out of release builds");
	assert_int_equal(pipe(out), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		spinlock_t ptl, pool;

		signal(SIGABRT, SIG_DFL);
		dup2(out[1], STDERR_FILENO);
		close(out[0]);
		spin_lock_init_rank(&ptl, RANK_PTL);
		spin_lock_init_rank(&pool, RANK_FRAME_POOL);
		spin_lock(&pool);
		spin_lock(&ptl);
		_exit(0);
	}
	close(out[1]);
	while ((n = read(out[0], msg + len, sizeof(msg) - 1 - (size_t)len)) > 0)
		len += n;
	msg[len] = '\0';
	close(out[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(msg, "lock order: taking a PT lock"));
	assert_non_null(strstr(msg, "while holding the frame-pool lock"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_unique),
		cmocka_unit_test(test_letters_unique),
		cmocka_unit_test(test_marks_defined),
		cmocka_unit_test(test_panic_states_order),
		cmocka_unit_test(test_every_pair_checked),
		cmocka_unit_test(test_violation_aborts),
		cmocka_unit_test(test_doc_matches_list),
	};

	if (argc == 2 && strcmp(argv[1], "--write-doc") == 0)
		return docblock_write(&doc);
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--write-doc]\n", argv[0]);
		return 2;
	}
	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
