/* Unit tests of the JSON position table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jsonpos.h"

#include <string.h>

static void expect_pos(const struct jsonpos *pos, const char *pointer, int line, int column)
{
	int l, c;

	assert_int_equal(jsonpos_lookup(pos, pointer, &l, &c), 1);
	assert_int_equal(l, line);
	assert_int_equal(c, column);
}

static void test_positions(void **state)
{
	const char *text = "{\n  \"a\": [1, {\"b/c\": true}],\n\t\"é\": \"x\\\"y\", \"n\": null\n}";
	struct jsonpos pos;

	assert_int_equal(jsonpos_scan(&pos, text, strlen(text)), 0);
	expect_pos(&pos, "", 1, 1);
	expect_pos(&pos, "/a", 2, 8);
	expect_pos(&pos, "/a/0", 2, 9);
	expect_pos(&pos, "/a/1", 2, 12);
	/* '/' in a key is escaped as ~1 (RFC 6901) */
	expect_pos(&pos, "/a/1/b~1c", 2, 20);
	/* columns count characters, not bytes */
	expect_pos(&pos, "/é", 3, 7);
	expect_pos(&pos, "/n", 3, 20);
	int l, c;
	assert_int_equal(jsonpos_lookup(&pos, "/missing", &l, &c), 0);
	jsonpos_release(&pos);
}

static void test_invalid_and_deep(void **state)
{
	struct jsonpos pos;
	char deep[4000];

	assert_int_equal(jsonpos_scan(&pos, "{\"a\" 1}", 7), -1);
	jsonpos_release(&pos);
	/* Nesting deeper than the limit stops instead of exhausting the stack. */
	memset(deep, '[', sizeof(deep));
	assert_int_equal(jsonpos_scan(&pos, deep, sizeof(deep)), -1);
	jsonpos_release(&pos);
	/* A delimiter where an array element should be ends the scan (it
	 * looped forever: found by fuzzing). */
	assert_int_equal(jsonpos_scan(&pos, "[1, }", 5), -1);
	jsonpos_release(&pos);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_invalid_and_deep),
	};
	return cmocka_run_group_tests_name("jsonpos", tests, NULL, NULL);
}
