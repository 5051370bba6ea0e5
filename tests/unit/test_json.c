/*
 * Tests of the JSON reader of the command's shard files (src/cli/json.c,
 * compiled in here: the command's files are not in the library): what it
 * reads, what it refuses and where it says the text is wrong.
 */
#include "testutil.h"

#include "cli/json.c"

static struct json *parse_ok(const char *text)
{
	struct json *j = NULL;
	char err[128];

	if (json_parse(text, strlen(text), &j, err, sizeof(err)) != 0)
		fail_msg("'%s' did not parse: %s", text, err);
	return j;
}

static void expect_error(const char *text, const char *why)
{
	struct json *j = NULL;
	char err[128] = "";

	assert_int_equal(json_parse(text, strlen(text), &j, err, sizeof(err)), COW_EINVAL);
	assert_null(j);
	if (!strstr(err, why))
		fail_msg("'%s': '%s', not '%s'", text, err, why);
}

static void test_json_values(void **state)
{
	struct json *j = parse_ok(" {\"a\": 18446744073709551615, \"b\" : [1, -2.5e3, true, false,"
				  " null, {}], \"s\": \"x\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\","
				  " \"t\": true, \"a\": 2}\n");
	const struct json *b = json_get(j, "b"), *e;
	uint64_t u = 0;
	bool t = false;
	int n = 0;

	(void)state;
	assert_int_equal(j->type, JSON_OBJ);
	/* The first of a repeated member; the largest u64. */
	assert_true(json_get_u64(j, "a", &u));
	assert_true(u == UINT64_MAX);
	assert_string_equal(json_get_str(j, "s"), "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
	assert_true(json_get_bool(j, "t", &t) && t);
	assert_int_equal(b->type, JSON_ARR);
	for (e = b->child; e; e = e->next)
		n++;
	assert_int_equal(n, 6);
	assert_string_equal(b->child->next->text, "-2.5e3");
	assert_int_equal(b->child->next->next->next->type, JSON_BOOL);
	assert_false(b->child->next->next->next->b);
	/* Not what the accessors want: a negative or fractional number, a
	 * member missing, a string asked for as a number. */
	assert_false(json_get_u64(b->child->next->next->next->next->next, "x", &u));
	assert_null(json_get_str(j, "nope"));
	assert_false(json_get_u64(j, "s", &u));
	json_free(j);
	j = parse_ok("{\"n\": -1, \"f\": 1.5, \"big\": 18446744073709551616}");
	assert_false(json_get_u64(j, "n", &u));
	assert_false(json_get_u64(j, "f", &u));
	assert_false(json_get_u64(j, "big", &u));
	json_free(j);
}

static void test_json_errors(void **state)
{
	char deep[200];

	(void)state;
	expect_error("", "line 1: a value is missing");
	expect_error("{\"a\":1", "expected ',' or '}'");
	expect_error("{\"a\":1}\n\n x", "line 3: text after the value");
	expect_error("{\"a\" 1}", "wants a ':'");
	expect_error("{a:1}", "name in quotes");
	expect_error("[1,]", "expected a value, found ']'");
	expect_error("\"abc", "closing quote");
	expect_error("\"a\tb\"", "control character");
	expect_error("\"\\q\"", "unknown escape");
	expect_error("\"\\u00\"", "four hex digits");
	expect_error("\"\\u0000\"", "a NUL");
	expect_error("\"\\udc00\"", "lone surrogate");
	expect_error("\"\\ud800x\"", "lone surrogate");
	expect_error("01", "text after the value");
	expect_error("1.", "fraction wants a digit");
	expect_error("1e", "exponent wants a digit");
	expect_error("-", "wants a digit");
	expect_error("tru", "expected a value, found 't'");
	memset(deep, '[', sizeof(deep));
	deep[sizeof(deep) - 1] = '\0';
	expect_error(deep, "nested more than 64 deep");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_values),
		cmocka_unit_test(test_json_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
