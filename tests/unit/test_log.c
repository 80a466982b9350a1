/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/log.c: format, levels, categories, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char tmpdir[64];
static char logpath[128];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_log.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/log.txt", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_file(NULL);
	unlink(logpath);
	rmdir(tmpdir);
	return 0;
}

/* Start each test with an empty log file. */
static int fresh(void **state)
{
	(void)state;
	unlink(logpath);
	return log_set_file(logpath);
}

/* The file's content (malloc'd, NUL-terminated). */
static char *slurp(void)
{
	FILE *f = fopen(logpath, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

#define TS_RE "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z "

static void assert_line_matches(const char *line, const char *re)
{
	regex_t rx;
	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0);
	if (regexec(&rx, line, 0, NULL, 0) != 0)
		fail_msg("'%s' does not match /%s/", line, re);
	regfree(&rx);
}

static void test_format_and_levels(void **state)
{
	char *s, *line, *save = NULL;
	struct stat st;
	(void)state;
	log_init("testprog", LOG_LVL_INFO, NULL);
	log_err("error %d", 1);
	log_warn("warn %s", "two");
	log_info("info");
	log_debug(LOG_CAT_P11, "debug must not appear");
	log_msg(LOG_LVL_DEBUG, LOG_CAT_ALL, "nor this");
	s = slurp();
	assert_int_equal(count_lines(s), 3);
	assert_null(strstr(s, "debug"));
	assert_null(strstr(s, "nor this"));
	line = strtok_r(s, "\n", &save);
	assert_line_matches(line, TS_RE "testprog: ERROR: error 1$");
	line = strtok_r(NULL, "\n", &save);
	assert_line_matches(line, TS_RE "testprog: WARN: warn two$");
	line = strtok_r(NULL, "\n", &save);
	assert_line_matches(line, TS_RE "testprog: INFO: info$");
	free(s);
	/* The file was created 0600. */
	assert_int_equal(stat(logpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* ERR only. */
	log_init("p2", LOG_LVL_ERR, NULL);
	log_warn("hidden");
	log_info("hidden");
	log_err("shown");
	s = slurp();
	assert_int_equal(count_lines(s), 4);
	assert_null(strstr(s, "hidden"));
	assert_non_null(strstr(s, "p2: ERROR: shown\n"));
	free(s);
}

static void test_timestamp_is_utc_now(void **state)
{
	char *s, expect[32];
	time_t now = time(NULL);
	struct tm tm;
	(void)state;
	log_init("ts", LOG_LVL_INFO, NULL);
	log_info("x");
	s = slurp();
	gmtime_r(&now, &tm);
	strftime(expect, sizeof(expect), "%Y-%m-%dT%H:%M", &tm);
	/* Same minute, unless the test straddles one. */
	if (strncmp(s, expect, strlen(expect)) != 0) {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(expect, sizeof(expect), "%Y-%m-%dT%H:%M", &tm);
		assert_memory_equal(s, expect, strlen(expect));
	}
	free(s);
}

static void test_categories(void **state)
{
	char *s;
	(void)state;
	assert_int_equal(log_parse_categories("p11,csc,cache,http,sam,hsm,all"), LOG_CAT_ALL);
	assert_int_equal(log_parse_categories("p11"), LOG_CAT_P11);
	assert_int_equal(log_parse_categories("p11,csc,cache"),
			 LOG_CAT_P11 | LOG_CAT_CSC | LOG_CAT_CACHE);
	assert_int_equal(log_parse_categories(" HTTP , sam ,,hsm,"),
			 LOG_CAT_HTTP | LOG_CAT_SAM | LOG_CAT_HSM);
	assert_int_equal(log_parse_categories("all"), LOG_CAT_ALL);
	assert_int_equal(log_parse_categories("general"), LOG_CAT_GENERAL);
	assert_int_equal(log_parse_categories("bogus,p1,p111,csc"), LOG_CAT_CSC);
	assert_int_equal(log_parse_categories(""), 0);
	assert_int_equal(log_parse_categories(NULL), 0);

	log_init("cat", LOG_LVL_DEBUG, "p11,cache");
	assert_true(log_enabled(LOG_LVL_DEBUG, LOG_CAT_P11));
	assert_true(log_enabled(LOG_LVL_DEBUG, LOG_CAT_CACHE));
	assert_false(log_enabled(LOG_LVL_DEBUG, LOG_CAT_CSC));
	/* Categories only filter debug output. */
	assert_true(log_enabled(LOG_LVL_INFO, LOG_CAT_CSC));
	assert_true(log_enabled(LOG_LVL_ERR, LOG_CAT_HSM));
	assert_false(log_enabled((log_level)7, LOG_CAT_P11));
	log_debug(LOG_CAT_P11, "p11 on");
	log_debug(LOG_CAT_CSC, "csc off");
	log_debug(LOG_CAT_CACHE, "cache on");
	s = slurp();
	assert_int_equal(count_lines(s), 2);
	assert_non_null(strstr(s, "cat: DEBUG: p11 on\n"));
	assert_non_null(strstr(s, "cat: DEBUG: cache on\n"));
	assert_null(strstr(s, "csc off"));
	free(s);

	/* NULL = all categories at DEBUG. */
	log_init("cat", LOG_LVL_DEBUG, NULL);
	assert_true(log_enabled(LOG_LVL_DEBUG, LOG_CAT_HSM));
	assert_true(log_enabled(LOG_LVL_DEBUG, LOG_CAT_GENERAL));
	/* Below DEBUG nothing is debug-logged whatever the categories. */
	log_init("cat", LOG_LVL_INFO, "all");
	assert_false(log_enabled(LOG_LVL_DEBUG, LOG_CAT_ALL));
}

static void test_sanitize_and_truncate(void **state)
{
	char *s, big[10000];
	size_t len;
	(void)state;
	log_init("san", LOG_LVL_INFO, NULL);
	log_info("user=%s end", "evil\nfake: ERROR: injected\r\x1b[31m");
	s = slurp();
	assert_int_equal(count_lines(s), 1);
	assert_non_null(strstr(s, "user=evil?fake: ERROR: injected??[31m end\n"));
	free(s);

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	log_info("after");
	s = slurp();
	assert_int_equal(count_lines(s), 3);
	len = strlen(strchr(s, '\n') + 1);
	assert_non_null(strstr(s, "AAA...\n"));
	assert_true(len < 4200);
	assert_non_null(strstr(s, "san: INFO: after\n"));
	free(s);
}

static void test_errno_preserved(void **state)
{
	(void)state;
	log_init("e", LOG_LVL_INFO, NULL);
	errno = EACCES;
	log_info("x");
	assert_int_equal(errno, EACCES);
	errno = ENOENT;
	log_debug(LOG_CAT_P11, "filtered");
	assert_int_equal(errno, ENOENT);
}

#define THREADS 4
#define PER_THREAD 500

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < PER_THREAD; i++)
		log_info("thread %d line %d %s", id, i,
			 "padding-padding-padding-padding-padding-padding-padding-padding");
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[THREADS];
	char *s, *line, *save = NULL;
	size_t n = 0;
	regex_t rx;
	(void)state;
	log_init("mt", LOG_LVL_INFO, NULL);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	s = slurp();
	assert_int_equal(regcomp(&rx,
				 TS_RE "mt: INFO: thread [0-9] line [0-9]+ (padding-){7}padding$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&rx, line, 0, NULL, 0) != 0)
			fail_msg("interleaved line: %s", line);
		n++;
	}
	regfree(&rx);
	assert_int_equal(n, THREADS * PER_THREAD);
	free(s);
}

static void test_set_file_errors(void **state)
{
	char bad[160];
	(void)state;
	snprintf(bad, sizeof(bad), "%s/nodir/x.log", tmpdir);
	assert_int_equal(log_set_file(bad), -1);
	/* The previous destination stays in use. */
	log_init("keep", LOG_LVL_INFO, NULL);
	log_info("still here");
	{
		char *s = slurp();
		assert_non_null(strstr(s, "keep: INFO: still here\n"));
		free(s);
	}
	/* Back to stderr and to a file again. */
	assert_int_equal(log_set_file(NULL), 0);
	assert_int_equal(log_set_file(logpath), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_format_and_levels, fresh),
	    cmocka_unit_test_setup(test_timestamp_is_utc_now, fresh),
	    cmocka_unit_test_setup(test_categories, fresh),
	    cmocka_unit_test_setup(test_sanitize_and_truncate, fresh),
	    cmocka_unit_test_setup(test_errno_preserved, fresh),
	    cmocka_unit_test_setup(test_threads, fresh),
	    cmocka_unit_test_setup(test_set_file_errors, fresh),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
