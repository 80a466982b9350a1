/* SPDX-License-Identifier: Apache-2.0 */
/* Logging to stderr (or a file), with a level and categories. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_PROG_MAX 64

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_prog[LOG_PROG_MAX] = "cisres";
static int log_fd = STDERR_FILENO; /* guarded by log_lock */
static atomic_int log_level_cur = LOG_LVL_WARN;
static atomic_uint log_cats = LOG_CAT_ALL;

static const char *const LEVEL_NAMES[] = {"ERROR", "WARN", "INFO", "DEBUG"};

static const struct {
	const char *name;
	unsigned bit;
} CATS[] = {
    {"general", LOG_CAT_GENERAL}, {"p11", LOG_CAT_P11},	  {"csc", LOG_CAT_CSC},
    {"cache", LOG_CAT_CACHE},	  {"http", LOG_CAT_HTTP}, {"sam", LOG_CAT_SAM},
    {"hsm", LOG_CAT_HSM},	  {"all", LOG_CAT_ALL},
};

unsigned log_parse_categories(const char *list)
{
	unsigned cats = 0;
	const char *p = list;

	if (list == NULL)
		return 0;
	while (*p != '\0') {
		const char *start, *end;
		size_t n, i;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		n = (size_t)(end - start);
		if (n == 0)
			continue;
		for (i = 0; i < sizeof(CATS) / sizeof(CATS[0]); i++) {
			if (strlen(CATS[i].name) == n && strncasecmp(CATS[i].name, start, n) == 0)
				cats |= CATS[i].bit;
		}
	}
	return cats;
}

void log_init(const char *prog, log_level level, const char *categories)
{
	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	pthread_mutex_lock(&log_lock);
	if (prog != NULL) {
		size_t n = strnlen(prog, LOG_PROG_MAX - 1);
		memcpy(log_prog, prog, n);
		log_prog[n] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
	atomic_store(&log_level_cur, (int)level);
	atomic_store(&log_cats,
		     categories == NULL ? LOG_CAT_ALL : log_parse_categories(categories));
}

int log_set_file(const char *path)
{
	int fd = STDERR_FILENO, old;

	if (path != NULL) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return -1;
	}
	pthread_mutex_lock(&log_lock);
	old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	if (old != STDERR_FILENO)
		close(old);
	return 0;
}

int log_enabled(log_level level, unsigned cat)
{
	if (level < LOG_LVL_ERR || level > LOG_LVL_DEBUG)
		return 0;
	if ((int)level > atomic_load(&log_level_cur))
		return 0;
	if (level == LOG_LVL_DEBUG)
		return (cat & atomic_load(&log_cats)) != 0;
	return 1;
}

/* Append the ISO-8601 UTC time with milliseconds. */
static size_t log_timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	m = snprintf(buf + n, cap - n, ".%03ldZ ", ts.tv_nsec / 1000000L);
	if (m < 0 || (size_t)m >= cap - n)
		return 0;
	return n + (size_t)m;
}

static void log_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		len -= (size_t)w;
	}
}

void log_msg(log_level level, unsigned cat, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n, msg_start, i;
	int saved_errno = errno, m;
	va_list ap;

	if (fmt == NULL || !log_enabled(level, cat))
		return;
	n = log_timestamp(line, sizeof(line));
	pthread_mutex_lock(&log_lock);
	m = snprintf(line + n, sizeof(line) - n, "%s: %s: ", log_prog, LEVEL_NAMES[level]);
	pthread_mutex_unlock(&log_lock);
	if (m < 0 || (size_t)m >= sizeof(line) - n)
		goto out;
	n += (size_t)m;
	msg_start = n;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		goto out;
	if ((size_t)m >= sizeof(line) - n - 1) {
		/* Truncated: mark it. */
		n = sizeof(line) - 2;
		memcpy(line + n - 3, "...", 3);
	} else {
		n += (size_t)m;
	}
	/* No control characters from the message: one entry is one line. */
	for (i = msg_start; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			line[i] = '?';
	}
	line[n++] = '\n';
	pthread_mutex_lock(&log_lock);
	log_write_all(log_fd, line, n);
	pthread_mutex_unlock(&log_lock);
out:
	errno = saved_errno;
}
