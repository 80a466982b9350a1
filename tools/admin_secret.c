/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin: reading secrets (passwords, PINs) from a file, an
 * environment variable, standard input or the terminal, and generating
 * them. Secrets live in locked memory and are zeroed when dropped. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "secmem.h"

/* Hard limit for any secret line read here. */
#define SECRET_HARD_MAX 1024

static int secret_alloc(admin_secret *s, size_t max_len)
{
	memset(s, 0, sizeof(*s));
	s->cap = max_len + 2; /* one more char to detect overlong input, + NUL */
	s->buf = sec_locked_alloc(s->cap);
	if (s->buf == NULL) {
		admin_err("out of memory");
		return -1;
	}
	return 0;
}

void admin_secret_clear(admin_secret *s)
{
	if (s == NULL)
		return;
	if (s->buf != NULL)
		sec_unlock_free(s->buf, s->cap);
	memset(s, 0, sizeof(*s));
}

/* Read one line from fd into s (without the line end). Reads one byte at a
 * time so that nothing past the line is buffered anywhere. Returns 0, or -1
 * on a read error. *overlong is set when the line does not fit. */
static int read_line_fd(int fd, admin_secret *s, bool *overlong)
{
	size_t n = 0;

	*overlong = false;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= s->cap) {
			*overlong = true;
			continue; /* drain the rest of the line */
		}
		s->buf[n++] = c;
	}
	if (n > 0 && s->buf[n - 1] == '\r')
		n--;
	s->buf[n] = '\0';
	s->len = n;
	return 0;
}

/* Length bounds and no control characters. */
static int secret_check(const admin_secret *s, const char *what, size_t min_len, size_t max_len,
			bool overlong)
{
	if (overlong || s->len > max_len) {
		admin_err("%s too long (at most %zu characters)", what, max_len);
		return -1;
	}
	if (s->len < min_len) {
		admin_err("%s too short (at least %zu characters)", what, min_len);
		return -1;
	}
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->buf[i];
		if (c < 0x20 || c == 0x7f) {
			admin_err("%s contains a control character", what);
			return -1;
		}
	}
	return 0;
}

static int secret_from_file(admin_secret *s, const char *what, const char *path, bool *overlong)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		admin_err("%s file %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		admin_err("%s file %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		admin_err("%s file %s is a directory", what, path);
		close(fd);
		return -1;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & S_IROTH) != 0)
		fprintf(stderr, "cisres-admin: warning: %s file %s is world-readable\n", what,
			path);
	int rc = read_line_fd(fd, s, overlong);
	if (rc != 0)
		admin_err("%s file %s: %s", what, path, strerror(errno));
	close(fd);
	return rc;
}

static int secret_from_env(admin_secret *s, const char *what, const char *var, bool *overlong)
{
	char *v = getenv(var);
	size_t n;

	*overlong = false;
	if (v == NULL) {
		admin_err("environment variable %s (%s) is not set", var, what);
		return -1;
	}
	n = strlen(v);
	if (n + 1 >= s->cap) {
		*overlong = true;
		n = 0;
	} else {
		memcpy(s->buf, v, n);
	}
	s->buf[n] = '\0';
	s->len = n;
	/* Do not leave the secret in the environment of anything we start. */
	sec_zero(v, strlen(v));
	unsetenv(var);
	return 0;
}

int admin_secret_read(admin_secret *s, const char *what, const char *file, const char *env,
		      bool use_stdin, size_t min_len, size_t max_len, bool *given)
{
	int sources = (file != NULL) + (env != NULL) + (use_stdin ? 1 : 0);
	bool overlong = false;
	int rc;

	*given = false;
	memset(s, 0, sizeof(*s));
	if (sources == 0)
		return 0;
	if (sources > 1) {
		admin_err("give the %s in one way only (file, environment or stdin)", what);
		return -1;
	}
	if (max_len > SECRET_HARD_MAX)
		max_len = SECRET_HARD_MAX;
	if (secret_alloc(s, max_len) != 0)
		return -1;
	if (file != NULL) {
		rc = secret_from_file(s, what, file, &overlong);
	} else if (env != NULL) {
		rc = secret_from_env(s, what, env, &overlong);
	} else {
		rc = read_line_fd(STDIN_FILENO, s, &overlong);
		if (rc != 0)
			admin_err("reading the %s from stdin: %s", what, strerror(errno));
	}
	if (rc == 0)
		rc = secret_check(s, what, min_len, max_len, overlong);
	if (rc != 0) {
		admin_secret_clear(s);
		return -1;
	}
	*given = true;
	return 0;
}

/* ---- terminal prompt ---- */

static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

static void prompt_signal(int sig)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int prompt_once(admin_secret *s, const char *prompt, bool *overlong)
{
	struct termios tio;
	struct sigaction sa, old_int, old_term;
	int rc;

	if (tcgetattr(STDIN_FILENO, &saved_tio) != 0) {
		admin_err("cannot read the terminal settings: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	tio_saved = 1;
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	tio.c_lflag |= ECHONL;
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) != 0) {
		admin_err("cannot turn off echo: %s", strerror(errno));
		rc = -1;
	} else {
		rc = read_line_fd(STDIN_FILENO, s, overlong);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	}
	tio_saved = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

int admin_secret_prompt(admin_secret *s, const char *what, size_t min_len, size_t max_len)
{
	admin_secret again;
	char prompt[128];
	bool overlong = false;

	memset(s, 0, sizeof(*s));
	if (!isatty(STDIN_FILENO)) {
		admin_err("no %s given and standard input is not a terminal", what);
		return -1;
	}
	if (max_len > SECRET_HARD_MAX)
		max_len = SECRET_HARD_MAX;
	if (secret_alloc(s, max_len) != 0)
		return -1;
	snprintf(prompt, sizeof(prompt), "New %s: ", what);
	if (prompt_once(s, prompt, &overlong) != 0 ||
	    secret_check(s, what, min_len, max_len, overlong) != 0) {
		admin_secret_clear(s);
		return -1;
	}
	if (secret_alloc(&again, max_len) != 0) {
		admin_secret_clear(s);
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "Retype the %s: ", what);
	int rc = prompt_once(&again, prompt, &overlong);
	if (rc == 0 && (overlong || !sec_streq(s->buf, s->len, again.buf, again.len))) {
		admin_err("the two entries differ");
		rc = -1;
	}
	admin_secret_clear(&again);
	if (rc != 0)
		admin_secret_clear(s);
	return rc;
}

/* ---- generation ---- */

/* Uniform choice from an alphabet of n (< 256) symbols by rejection. */
static int gen_from(admin_secret *s, const char *alphabet, size_t len)
{
	size_t n = strlen(alphabet);
	unsigned limit = 256u - (256u % (unsigned)n);
	unsigned char rnd[64];
	size_t have = 0, used = 0;

	if (secret_alloc(s, len) != 0)
		return -1;
	while (have < len) {
		if (used == 0 || used >= sizeof(rnd)) {
			if (sec_random(rnd, sizeof(rnd)) != 0) {
				admin_err("random generator failure");
				sec_zero(rnd, sizeof(rnd));
				admin_secret_clear(s);
				return -1;
			}
			used = 0;
		}
		unsigned b = rnd[used++];
		if (b < limit)
			s->buf[have++] = alphabet[b % n];
	}
	sec_zero(rnd, sizeof(rnd));
	s->buf[len] = '\0';
	s->len = len;
	s->generated = true;
	return 0;
}

int admin_secret_gen_password(admin_secret *s)
{
	/* 57 symbols (no 0/O, 1/l/I): 20 characters carry ~116 bits. */
	return gen_from(s, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);
}

int admin_secret_gen_pin(admin_secret *s, size_t n)
{
	return gen_from(s, "0123456789", n);
}
