/* SPDX-License-Identifier: Apache-2.0 */
/* otp_command / pin_command and the pinentry prompt program. */
#include "backend_prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "secmem.h"

extern char **environ;

#define PINENTRY_LINE_MAX 2048
#define PINENTRY_MAX_ARGS 16
#define PINENTRY_CANCELED 83886179L

typedef struct {
	pid_t pid;
	int fd; /* our end: the child's stdout (and stdin for pinentry) */
} child;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Start argv with stdout (and stdin when duplex) on a socket; stdin from
 * /dev/null otherwise. Its own process group, so that a timeout kills the
 * whole command. 0 or -1. */
static int child_start(char *const argv[], bool duplex, child *ch)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int sv[2];
	int rc;

	ch->pid = -1;
	ch->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	rc = 0;
	if (duplex)
		rc |= posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	else
		rc |= posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	rc |= posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	rc |= posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	rc |= posix_spawnattr_setpgroup(&at, 0);
	{
		sigset_t none, all;
		sigemptyset(&none);
		sigfillset(&all);
		rc |= posix_spawnattr_setsigmask(&at, &none);
		/* Default dispositions in the child (the app may ignore SIGPIPE...). */
		sigdelset(&all, SIGKILL);
		sigdelset(&all, SIGSTOP);
		rc |= posix_spawnattr_setsigdefault(&at, &all);
	}
	rc |= posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawn(&ch->pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (rc != 0) {
		log_warn("prompt: cannot start %s: %s", argv[0], strerror(rc));
		close(sv[0]);
		ch->pid = -1;
		return -1;
	}
	ch->fd = sv[0];
	return 0;
}

/* Close our end, kill the group when asked, reap. Returns the exit status
 * (0..255), or -1 when killed/unknown. */
static int child_finish(child *ch, bool kill_it)
{
	int status = 0;
	pid_t r;
	long deadline;

	if (ch->fd >= 0)
		close(ch->fd);
	ch->fd = -1;
	if (ch->pid <= 0)
		return -1;
	if (kill_it)
		(void)kill(-ch->pid, SIGKILL);
	/* A well-behaved child exits once its input closes; give it 2 s. */
	deadline = now_ms() + 2000;
	for (;;) {
		r = waitpid(ch->pid, &status, WNOHANG);
		if (r == ch->pid || (r < 0 && errno != EINTR))
			break;
		if (now_ms() > deadline) {
			(void)kill(-ch->pid, SIGKILL);
			r = waitpid(ch->pid, &status, 0);
			break;
		}
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	ch->pid = -1;
	if (r < 0) /* reaped by the application (SIGCHLD handler): unknown */
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Read into buf until EOF, cap bytes or the deadline. Returns bytes read,
 * -1 on error/timeout, -2 when more than cap bytes came. */
static long read_until_eof(int fd, char *buf, size_t cap, long deadline)
{
	size_t got = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		long left = deadline - now_ms();
		char extra;
		ssize_t r;
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p.revents == 0)
			continue;
		if (got < cap)
			r = read(fd, buf + got, cap - got);
		else
			r = read(fd, &extra, 1);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (r == 0)
			return (long)got;
		if (got >= cap)
			return -2;
		got += (size_t)r;
	}
}

CK_RV backend_prompt_command(const char *cmd, char *out, size_t cap, size_t *len)
{
	char buf[BACKEND_PROMPT_CMD_MAX];
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL};
	child ch;
	long n;
	int status;
	size_t i;

	*len = 0;
	if (cmd == NULL || out == NULL || cap == 0)
		return CKR_ARGUMENTS_BAD;
	out[0] = '\0';
	if (child_start(argv, false, &ch) != 0)
		return CKR_FUNCTION_FAILED;
	n = read_until_eof(ch.fd, buf, sizeof(buf), now_ms() + BACKEND_PROMPT_CMD_TIMEOUT * 1000L);
	status = child_finish(&ch, n < 0);
	if (n == -2) {
		log_warn("prompt: command printed more than %d bytes", BACKEND_PROMPT_CMD_MAX);
		goto fail;
	}
	if (n < 0) {
		log_warn("prompt: command did not finish within %d s", BACKEND_PROMPT_CMD_TIMEOUT);
		goto fail;
	}
	if (status > 0) {
		log_warn("prompt: command exited with status %d", status);
		goto fail;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		n--;
	for (i = 0; i < (size_t)n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f) {
			log_warn("prompt: command printed control characters");
			goto fail;
		}
	}
	if (n == 0 || (size_t)n >= cap) {
		log_warn("prompt: command printed nothing usable");
		goto fail;
	}
	memcpy(out, buf, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	sec_zero(buf, sizeof(buf));
	return CKR_OK;
fail:
	sec_zero(buf, sizeof(buf));
	return CKR_FUNCTION_FAILED;
}

/* ---- pinentry ---- */

typedef struct {
	int fd;
	char buf[PINENTRY_LINE_MAX];
	size_t len;
	long deadline;
} pe_conn;

static int pe_send(pe_conn *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Next line (without '\n') into line[cap]; 0 or -1. */
static int pe_line(pe_conn *c, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - c->buf);
			if (n >= cap)
				return -1;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			sec_zero(c->buf + c->len, n + 1);
			return 0;
		}
		if (c->len >= sizeof(c->buf))
			return -1;
		struct pollfd p = {c->fd, POLLIN, 0};
		long left = c->deadline - now_ms();
		if (left <= 0)
			return -1;
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Append percent-decoded s to out[cap] at *len. 0 or -1. */
static int pe_decode(const char *s, char *out, size_t cap, size_t *len)
{
	for (; *s != '\0'; s++) {
		char ch = *s;
		if (ch == '%') {
			int h = hexval(s[1]), l = h >= 0 ? hexval(s[2]) : -1;
			if (h < 0 || l < 0)
				return -1;
			ch = (char)(h * 16 + l);
			s += 2;
		}
		if (*len + 1 >= cap)
			return -1;
		out[(*len)++] = ch;
	}
	out[*len] = '\0';
	return 0;
}

/* Wait for OK / ERR. With data != NULL, collect D lines. Returns 0 (OK),
 * the ERR code (> 0), or -1 on a protocol/transport failure. */
static long pe_result(pe_conn *c, char *data, size_t cap, size_t *len)
{
	char line[PINENTRY_LINE_MAX];
	long rc = -1;

	for (;;) {
		if (pe_line(c, line, sizeof(line)) != 0)
			break;
		if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0) {
			rc = 0;
			break;
		}
		if (strncmp(line, "ERR ", 4) == 0) {
			char *end = NULL;
			long code = strtol(line + 4, &end, 10);
			rc = (end != line + 4 && code > 0) ? code : 1;
			break;
		}
		if (strncmp(line, "D ", 2) == 0) {
			if (data == NULL || pe_decode(line + 2, data, cap, len) != 0)
				break;
			continue;
		}
		if (line[0] == '#' || strncmp(line, "S ", 2) == 0 || line[0] == '\0')
			continue;
		if (strncmp(line, "INQUIRE", 7) == 0) {
			if (pe_send(c, "END\n", 4) != 0)
				break;
			continue;
		}
		break; /* unexpected */
	}
	sec_zero(line, sizeof(line));
	return rc;
}

/* "CMD <percent-escaped text>\n" then its result. */
static long pe_command(pe_conn *c, const char *cmd, const char *text)
{
	char line[1024];
	size_t n = 0, i;

	n = (size_t)snprintf(line, sizeof(line), "%s", cmd);
	if (text != NULL) {
		line[n++] = ' ';
		for (i = 0; text[i] != '\0' && n + 4 < sizeof(line); i++) {
			unsigned char ch = (unsigned char)text[i];
			if (ch == '%' || ch < 0x20) {
				snprintf(line + n, 4, "%%%02X", ch);
				n += 3;
			} else {
				line[n++] = (char)ch;
			}
		}
	}
	line[n++] = '\n';
	if (pe_send(c, line, n) != 0)
		return -1;
	return pe_result(c, NULL, 0, NULL);
}

CK_RV backend_prompt_pinentry(const char *prog, const char *title, const char *desc,
			      const char *prompt, char *out, size_t cap, size_t *len)
{
	char *copy, *argv[PINENTRY_MAX_ARGS + 1], *tok;
	size_t argc = 0;
	child ch;
	pe_conn *c;
	long r;
	CK_RV rv = CKR_FUNCTION_FAILED;

	*len = 0;
	if (prog == NULL || out == NULL || cap == 0)
		return CKR_ARGUMENTS_BAD;
	out[0] = '\0';
	copy = strdup(prog);
	if (copy == NULL)
		return CKR_HOST_MEMORY;
	/* Split on blanks (no quoting). */
	for (tok = copy; *tok != '\0' && argc < PINENTRY_MAX_ARGS;) {
		while (*tok == ' ' || *tok == '\t')
			*tok++ = '\0';
		if (*tok == '\0')
			break;
		argv[argc++] = tok;
		while (*tok != '\0' && *tok != ' ' && *tok != '\t')
			tok++;
	}
	argv[argc] = NULL;
	if (argc == 0 || argv[0][0] != '/') {
		log_warn("prompt: the prompt program must be an absolute path");
		free(copy);
		return CKR_FUNCTION_FAILED;
	}
	c = sec_locked_alloc(sizeof(*c));
	if (c == NULL) {
		free(copy);
		return CKR_HOST_MEMORY;
	}
	if (child_start(argv, true, &ch) != 0) {
		free(copy);
		sec_unlock_free(c, sizeof(*c));
		return CKR_FUNCTION_FAILED;
	}
	free(copy);
	c->fd = ch.fd;
	c->deadline = now_ms() + BACKEND_PROMPT_PIN_TIMEOUT * 1000L;
	if (pe_result(c, NULL, 0, NULL) != 0) { /* greeting */
		log_warn("prompt: no pinentry greeting from the prompt program");
		goto out;
	}
	if ((title != NULL && pe_command(c, "SETTITLE", title) != 0) ||
	    (desc != NULL && pe_command(c, "SETDESC", desc) != 0) ||
	    (prompt != NULL && pe_command(c, "SETPROMPT", prompt) != 0)) {
		log_warn("prompt: the prompt program refused a setting");
		goto out;
	}
	if (pe_send(c, "GETPIN\n", 7) != 0)
		goto out;
	r = pe_result(c, out, cap, len);
	if (r == PINENTRY_CANCELED) {
		rv = CKR_FUNCTION_CANCELED;
	} else if (r == 0 && *len > 0) {
		rv = CKR_OK;
	} else {
		log_warn("prompt: no answer from the prompt program (%ld)", r);
	}
	(void)pe_send(c, "BYE\n", 4);
out:
	if (rv != CKR_OK) {
		sec_zero(out, cap);
		*len = 0;
	}
	(void)child_finish(&ch, false);
	sec_unlock_free(c, sizeof(*c));
	return rv;
}
