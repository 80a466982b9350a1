/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/conf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

static conf *parse(const char *s, char *err, size_t errlen)
{
	return conf_parse(s, strlen(s), err, errlen);
}

static void test_basic(void **state)
{
	static const char text[] = "\xef\xbb\xbf"
				   "# comment\n"
				   "; another\n"
				   "top = level\n"
				   "\n"
				   "[server]\r\n"
				   "  listen = 127.0.0.1:8443  \n"
				   "\tname=\"  quoted value  \"\n"
				   "empty =\n"
				   "qempty = \"\"\n"
				   "url = https://x.example/a#frag;b\n"
				   "[ hsm.main ]\n"
				   "pin-file = /etc/x=y\n"
				   "[server]\n"
				   "workers = 4";
	char err[128];
	conf *c = parse(text, err, sizeof(err));
	(void)state;
	assert_non_null(c);
	assert_string_equal(conf_get(c, "", "top"), "level");
	assert_string_equal(conf_get(c, NULL, "top"), "level");
	assert_string_equal(conf_get(c, "server", "listen"), "127.0.0.1:8443");
	assert_string_equal(conf_get(c, "server", "name"), "  quoted value  ");
	assert_string_equal(conf_get(c, "server", "empty"), "");
	assert_string_equal(conf_get(c, "server", "qempty"), "");
	assert_string_equal(conf_get(c, "server", "url"), "https://x.example/a#frag;b");
	assert_string_equal(conf_get(c, "hsm.main", "pin-file"), "/etc/x=y");
	assert_string_equal(conf_get(c, "server", "workers"), "4");
	assert_null(conf_get(c, "server", "top"));
	assert_null(conf_get(c, "Server", "listen"));
	assert_null(conf_get(c, "nosuch", "listen"));
	assert_null(conf_get(c, "server", NULL));
	assert_int_equal(conf_section_count(c), 3);
	assert_string_equal(conf_section_name(c, 0), "");
	assert_string_equal(conf_section_name(c, 1), "server");
	assert_string_equal(conf_section_name(c, 2), "hsm.main");
	assert_null(conf_section_name(c, 3));
	assert_int_equal(conf_key_count(c, "server"), 6);
	assert_string_equal(conf_key_name(c, "server", 0), "listen");
	assert_string_equal(conf_key_name(c, "server", 5), "workers");
	assert_null(conf_key_name(c, "server", 6));
	assert_int_equal(conf_key_count(c, "nosuch"), 0);
	conf_free(c);
	conf_free(NULL);
	assert_int_equal(conf_section_count(NULL), 0);
	assert_null(conf_get(NULL, "a", "b"));
}

static void test_empty(void **state)
{
	char err[64];
	conf *c = conf_parse("", 0, err, sizeof(err));
	(void)state;
	assert_non_null(c);
	assert_int_equal(conf_section_count(c), 0);
	conf_free(c);
	c = parse("# only a comment\n\n   \n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(conf_section_count(c), 0);
	conf_free(c);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} bad[] = {
	    {"[server\n", "line 1: "},
	    {"[]\n", "line 1: "},
	    {"[a b c]\n", "line 1: "},
	    {"[a /b]\n", "line 1: "},
	    {"[a/b]\n", "line 1: "},
	    {"a = 1\n[s]\nnovalue\n", "line 3: "},
	    {"= 1\n", "line 1: "},
	    {"a b = 1\n", "line 1: "},
	    {"k\xc3\xa9y = 1\n", "line 1: "},
	    {"a = \"open\n", "line 1: "},
	    {"a = \"\n", "line 1: "},
	    {"a = x\x01y\n", "line 1: "},
	    {"[s]\na = 1\nb = 2\na = 3\n", "line 4: duplicate key"},
	    {"[s]\na = 1\n[t]\n[s]\na = 2\n", "line 5: duplicate key"},
	};
	char err[128];
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf *c;
		memset(err, 0, sizeof(err));
		c = parse(bad[i].text, err, sizeof(err));
		if (c != NULL)
			fail_msg("accepted: %s", bad[i].text);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("error for %s: '%s', expected '%s...'", bad[i].text, err,
				 bad[i].err);
	}
	/* NUL byte */
	assert_null(conf_parse("a = 1\0\n", 7, err, sizeof(err)));
	/* A tiny error buffer is still terminated. */
	assert_null(parse("[x", err, 5));
	assert_int_equal(strlen(err), 4);
	assert_null(parse("[x", NULL, 0));
	/* "[kind name]" is the section "kind.name". */
	{
		conf *c = parse("[account alice]\nurl = u\n", err, sizeof(err));
		assert_non_null(c);
		assert_string_equal(conf_get(c, "account.alice", "url"), "u");
		conf_free(c);
	}
	/* Same key in different sections is fine. */
	{
		conf *c = parse("[a]\nk=1\n[b]\nk=2\n", err, sizeof(err));
		assert_non_null(c);
		conf_free(c);
	}
}

static void test_limits(void **state)
{
	char err[128];
	char *big;
	conf *c;
	size_t n;
	(void)state;
	/* A line of exactly CONF_MAX_LINE bytes is fine, one more is not. */
	big = malloc(CONF_MAX_FILE + 2);
	assert_non_null(big);
	memcpy(big, "k = ", 4);
	memset(big + 4, 'v', CONF_MAX_LINE - 4);
	big[CONF_MAX_LINE] = '\n';
	c = conf_parse(big, CONF_MAX_LINE + 1, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(strlen(conf_get(c, "", "k")), CONF_MAX_LINE - 4);
	conf_free(c);
	big[CONF_MAX_LINE] = 'v';
	big[CONF_MAX_LINE + 1] = '\n';
	assert_null(conf_parse(big, CONF_MAX_LINE + 2, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1: longer than"));
	/* Whole file: CONF_MAX_FILE of comments is fine, one byte more is not. */
	for (n = 0; n < CONF_MAX_FILE; n += 64) {
		memset(big + n, '#', 63);
		big[n + 63] = '\n';
	}
	c = conf_parse(big, CONF_MAX_FILE, err, sizeof(err));
	assert_non_null(c);
	conf_free(c);
	big[CONF_MAX_FILE] = '\n';
	assert_null(conf_parse(big, CONF_MAX_FILE + 1, err, sizeof(err)));
	free(big);
	/* Too many keys in one section. */
	big = malloc(2000 * 16 + 1);
	assert_non_null(big);
	for (n = 0; n < 2000; n++)
		snprintf(big + n * 16, 17, "key%010zu=1\n", n);
	assert_null(conf_parse(big, 2000 * 16, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1025: "));
	free(big);
}

static void test_typed(void **state)
{
	static const char text[] = "[t]\n"
				   "i = 42\nneg = -7\nbig = 9223372036854775807\n"
				   "over = 9223372036854775808\nhex = 0x10\nsp = \" 5\"\n"
				   "trail = 5x\nempty =\nplus = +3\n"
				   "y = yes\nt = TRUE\non = On\none = 1\n"
				   "n = no\nf = false\noff = OFF\nzero = 0\nmaybe = maybe\n";
	conf *c = parse(text, NULL, 0);
	bool ok;
	(void)state;
	assert_non_null(c);
	assert_int_equal(conf_get_int(c, "t", "i", 0, &ok), 42);
	assert_true(ok);
	assert_int_equal(conf_get_int(c, "t", "neg", 0, &ok), -7);
	assert_true(ok);
	assert_int_equal(conf_get_int(c, "t", "big", 0, &ok), INT64_MAX);
	assert_true(ok);
	assert_int_equal(conf_get_int(c, "t", "plus", 0, &ok), 3);
	assert_true(ok);
	assert_int_equal(conf_get_int(c, "t", "absent", 99, &ok), 99);
	assert_true(ok);
	assert_int_equal(conf_get_int(c, "t", "absent", 99, NULL), 99);
	static const char *const badints[] = {"over", "hex", "sp", "trail", "empty", "y"};
	for (size_t i = 0; i < sizeof(badints) / sizeof(badints[0]); i++) {
		ok = true;
		assert_int_equal(conf_get_int(c, "t", badints[i], 5, &ok), 5);
		assert_false(ok);
	}
	assert_true(conf_get_bool(c, "t", "y", false, &ok));
	assert_true(ok);
	assert_true(conf_get_bool(c, "t", "t", false, &ok));
	assert_true(conf_get_bool(c, "t", "on", false, &ok));
	assert_true(conf_get_bool(c, "t", "one", false, &ok));
	assert_false(conf_get_bool(c, "t", "n", true, &ok));
	assert_true(ok);
	assert_false(conf_get_bool(c, "t", "f", true, &ok));
	assert_false(conf_get_bool(c, "t", "off", true, &ok));
	assert_false(conf_get_bool(c, "t", "zero", true, &ok));
	assert_true(ok);
	assert_true(conf_get_bool(c, "t", "absent", true, &ok));
	assert_true(ok);
	assert_true(conf_get_bool(c, "t", "maybe", true, &ok));
	assert_false(ok);
	assert_false(conf_get_bool(c, "t", "i", false, &ok));
	assert_false(ok);
	conf_free(c);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state)
{
	char path[128], link[128], err[256];
	conf *c;
	(void)state;
	snprintf(path, sizeof(path), "%s/a.conf", tmpdir);
	write_file(path, "[s]\nk = v\n", 0600);
	c = conf_load(path, true, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(conf_get(c, "s", "k"), "v");
	conf_free(c);
	/* 0644 is fine (readable, not writable by others). */
	assert_int_equal(chmod(path, 0644), 0);
	c = conf_load(path, true, err, sizeof(err));
	assert_non_null(c);
	conf_free(c);
	/* Group- or world-writable is refused when checking, accepted otherwise. */
	assert_int_equal(chmod(path, 0620), 0);
	assert_null(conf_load(path, true, err, sizeof(err)));
	assert_non_null(strstr(err, "writable"));
	assert_int_equal(chmod(path, 0602), 0);
	assert_null(conf_load(path, true, err, sizeof(err)));
	c = conf_load(path, false, err, sizeof(err));
	assert_non_null(c);
	conf_free(c);
	/* A symlink is followed, and the target's permissions are checked. */
	snprintf(link, sizeof(link), "%s/link.conf", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_null(conf_load(link, true, err, sizeof(err)));
	assert_int_equal(chmod(path, 0600), 0);
	c = conf_load(link, true, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(conf_get(c, "s", "k"), "v");
	conf_free(c);
	/* Not a regular file. */
	assert_null(conf_load(tmpdir, false, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
	assert_null(conf_load("/dev/null", false, err, sizeof(err)));
	/* Missing. */
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_null(conf_load(path, false, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	/* Parse errors come through. */
	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_file(path, "[s]\n\nk v\n", 0600);
	assert_null(conf_load(path, true, err, sizeof(err)));
	assert_string_equal(err, "line 3: expected 'key = value'");
}

static void test_load_too_big(void **state)
{
	char path[128], err[256];
	FILE *f;
	size_t n;
	(void)state;
	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (n = 0; n <= CONF_MAX_FILE; n += 8)
		fputs("#######\n", f);
	fclose(f);
	assert_null(conf_load(path, false, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than"));
}

static void test_load_owner(void **state)
{
	char path[128], err[256];
	conf *c;
	(void)state;
	snprintf(path, sizeof(path), "%s/owner.conf", tmpdir);
	write_file(path, "k = v\n", 0600);
	if (geteuid() != 0) {
		/* Owned by the caller: fine. Other owners need root to set up. */
		c = conf_load(path, true, err, sizeof(err));
		assert_non_null(c);
		conf_free(c);
		skip();
	}
	/* Root-owned: fine. */
	c = conf_load(path, true, err, sizeof(err));
	assert_non_null(c);
	conf_free(c);
	/* Owned by another user: refused when checking. */
	assert_int_equal(chown(path, 12345, 12345), 0);
	assert_null(conf_load(path, true, err, sizeof(err)));
	assert_non_null(strstr(err, "not owned"));
	c = conf_load(path, false, err, sizeof(err));
	assert_non_null(c);
	conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),	 cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_malformed),	 cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_typed),	 cmocka_unit_test(test_load),
	    cmocka_unit_test(test_load_too_big), cmocka_unit_test(test_load_owner),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
