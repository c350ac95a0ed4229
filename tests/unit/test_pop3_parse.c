/*
 * test_pop3_parse.c - POP3 command lines and numbers (pop3/pop3-parse.h):
 * valid, malformed, and the limits at max-1, max and max+1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/pop3-parse.h"

static int
test_parse(const char *line, struct pop3_command *cmd, const char **error)
{
	return pop3_command_parse(line, strlen(line), cmd, error);
}

static void
test_arg_is(const struct pop3_arg *a, const char *s)
{
	assert_int_equal(a->len, strlen(s));
	assert_memory_equal(a->s, s, a->len);
}

static void
test_pop3_commands(void **state)
{
	struct pop3_command cmd;
	const char *error = NULL;

	assert_int_equal(test_parse("STAT", &cmd, &error), 0);
	assert_string_equal(cmd.name, "STAT");
	assert_int_equal(cmd.n_args, 0);
	assert_int_equal(cmd.rest.len, 0);

	/* keywords are case-insensitive (RFC 1939 3) */
	assert_int_equal(test_parse("retr 12", &cmd, &error), 0);
	assert_string_equal(cmd.name, "RETR");
	assert_int_equal(cmd.n_args, 1);
	test_arg_is(&cmd.args[0], "12");

	assert_int_equal(test_parse("TOP 1 10", &cmd, &error), 0);
	assert_string_equal(cmd.name, "TOP");
	assert_int_equal(cmd.n_args, 2);
	test_arg_is(&cmd.args[0], "1");
	test_arg_is(&cmd.args[1], "10");
	assert_false(cmd.too_many);

	/* several spaces separate too; trailing ones are ignored */
	assert_int_equal(test_parse("TOP  1   10  ", &cmd, &error), 0);
	assert_int_equal(cmd.n_args, 2);
	test_arg_is(&cmd.args[1], "10");
	assert_int_equal(test_parse("LIST ", &cmd, &error), 0);
	assert_int_equal(cmd.n_args, 0);

	/* PASS takes the rest as sent: spaces inside and at the end */
	assert_int_equal(test_parse("PASS correct horse  ", &cmd, &error), 0);
	assert_string_equal(cmd.name, "PASS");
	test_arg_is(&cmd.rest, "correct horse  ");
	assert_int_equal(cmd.n_args, 2);
	assert_int_equal(test_parse("PASS a b c", &cmd, &error), 0);
	assert_true(cmd.too_many);
	test_arg_is(&cmd.rest, "a b c");
	assert_int_equal(test_parse("PASS ", &cmd, &error), 0);
	assert_int_equal(cmd.rest.len, 0);
}

static void
test_pop3_bad_commands(void **state)
{
	struct pop3_command cmd;
	const char *error = NULL;

	assert_int_equal(test_parse("", &cmd, &error), -1);
	assert_string_equal(error, "Empty command");
	assert_int_equal(test_parse("   ", &cmd, &error), -1);
	assert_string_equal(error, "Empty command");
	assert_int_equal(test_parse(" STAT", &cmd, &error), -1);
	assert_string_equal(error, "Unknown command");
	assert_int_equal(test_parse("ST4T", &cmd, &error), -1);
	assert_string_equal(error, "Unknown command");
	assert_int_equal(test_parse("RETR\t1", &cmd, &error), -1);
	/* keyword length: max-1, max, max+1 */
	assert_int_equal(test_parse("TOP", &cmd, &error), 0);
	assert_int_equal(test_parse("UIDL", &cmd, &error), 0);
	assert_int_equal(test_parse("UIDLX", &cmd, &error), -1);
	assert_string_equal(error, "Unknown command");
	assert_int_equal(test_parse("X-VERYLONGCOMMAND 1", &cmd, &error), -1);
	assert_int_equal(pop3_command_parse("RETR \0 1", 8, &cmd, &error), -1);
	assert_string_equal(error, "NUL byte in command");
	assert_int_equal(pop3_command_parse("\0", 1, &cmd, &error), -1);
}

static void
test_pop3_numbers(void **state)
{
	uint32_t n = 7;

	assert_int_equal(pop3_number_parse("0", 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pop3_number_parse("42", 2, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(pop3_number_parse("007", 3, &n), 0);
	assert_int_equal(n, 7);
	/* UINT32_MAX - 1, UINT32_MAX, UINT32_MAX + 1 */
	assert_int_equal(pop3_number_parse("4294967294", 10, &n), 0);
	assert_int_equal(n, 4294967294u);
	assert_int_equal(pop3_number_parse("4294967295", 10, &n), 0);
	assert_int_equal(n, 4294967295u);
	assert_int_equal(pop3_number_parse("4294967296", 10, &n), -1);
	assert_int_equal(pop3_number_parse("99999999999", 11, &n), -1);
	assert_int_equal(pop3_number_parse("00000000001", 11, &n), -1);
	assert_int_equal(pop3_number_parse("", 0, &n), -1);
	assert_int_equal(pop3_number_parse("-1", 2, &n), -1);
	assert_int_equal(pop3_number_parse("+1", 2, &n), -1);
	assert_int_equal(pop3_number_parse("1x", 2, &n), -1);
	assert_int_equal(pop3_number_parse(" 1", 2, &n), -1);
	assert_int_equal(pop3_number_parse("1 ", 2, &n), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pop3_commands),
		cmocka_unit_test(test_pop3_bad_commands),
		cmocka_unit_test(test_pop3_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
