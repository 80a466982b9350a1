/* SPDX-License-Identifier: Apache-2.0 */
/* cisres: secret input — the terminal (echo off), a file, a command. Every
 * secret lives in locked memory and is zeroed when freed. */
#include "cisres.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "secmem.h"

#define CMD_OUT_MAX 64
#define CMD_TIMEOUT_MS 10000

static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;

static void tty_restore_sig(int sig)
{
	if (tty_echo_off && tty_fd >= 0)
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

bool cisres_have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

char *cisres_tty_read(const char *prompt, bool secret, size_t cap, size_t *len)
{
	struct termios t;
	struct sigaction sa, old_int, old_term;
	char *buf;
	size_t n = 0;
	bool ok = false;

	*len = 0;
	tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty_fd < 0)
		return NULL;
	buf = sec_locked_alloc(cap);
	if (buf == NULL) {
		close(tty_fd);
		tty_fd = -1;
		return NULL;
	}
	(void)!write(tty_fd, prompt, strlen(prompt));
	if (secret && tcgetattr(tty_fd, &tty_saved) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = tty_restore_sig;
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		t = tty_saved;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		t.c_lflag |= ICANON;
		if (tcsetattr(tty_fd, TCSAFLUSH, &t) == 0)
			tty_echo_off = 1;
	}
	for (;;) {
		char ch;
		ssize_t r = read(tty_fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (ch == '\n') {
			ok = true;
			break;
		}
		if (ch == '\r')
			continue;
		if (n + 1 < cap)
			buf[n++] = ch;
	}
	if (tty_echo_off) {
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_echo_off = 0;
		(void)!write(tty_fd, "\n", 1);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	close(tty_fd);
	tty_fd = -1;
	if (!ok) {
		sec_unlock_free(buf, cap);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

char *cisres_read_secret_file(const char *path, size_t cap, size_t *len)
{
	char *buf;
	size_t got = 0, n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*len = 0;
	if (fd < 0) {
		cisres_err("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = sec_locked_alloc(cap);
	if (buf == NULL) {
		close(fd);
		return NULL;
	}
	while (got + 1 < cap) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	for (n = 0; n < got && buf[n] != '\n' && buf[n] != '\r'; n++)
		;
	sec_zero(buf + n, cap - n);
	*len = n;
	return buf;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

char *cisres_run_command(const char *cmd, size_t cap, size_t *len)
{
	int pfd[2], status = 0;
	pid_t pid;
	char out[CMD_OUT_MAX + 1];
	size_t got = 0, n;
	long deadline = now_ms() + CMD_TIMEOUT_MS;
	bool too_long = false, timeout = false;
	char *res;

	*len = 0;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return NULL;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		long left = deadline - now_ms();
		ssize_t r;
		char extra;
		if (left <= 0) {
			timeout = true;
			break;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (got < CMD_OUT_MAX)
			r = read(pfd[0], out + got, CMD_OUT_MAX - got);
		else
			r = read(pfd[0], &extra, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (got >= CMD_OUT_MAX) {
			too_long = true;
			break;
		}
		got += (size_t)r;
	}
	close(pfd[0]);
	if (timeout || too_long)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timeout || too_long || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cisres_err("the command %s", timeout	? "timed out"
					     : too_long ? "printed too much"
							: "failed");
		sec_zero(out, sizeof(out));
		return NULL;
	}
	for (n = 0; n < got && out[n] != '\n' && out[n] != '\r'; n++)
		;
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= cap) {
		cisres_err("the command printed nothing usable");
		sec_zero(out, sizeof(out));
		return NULL;
	}
	res = sec_locked_alloc(cap);
	if (res != NULL) {
		memcpy(res, out, n);
		*len = n;
	}
	sec_zero(out, sizeof(out));
	return res;
}
