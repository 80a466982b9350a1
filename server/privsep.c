/* SPDX-License-Identifier: Apache-2.0 */
/* Process hardening and privilege drop. */
#include "privsep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secmem.h"

#define PRIVSEP_PWBUF 16384

int privsep_harden(bool no_dump)
{
	struct rlimit rl = {0, 0};
	int rc = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_err("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		rc = -1;
	}
	if (setrlimit(RLIMIT_CORE, &rl) != 0) {
		log_err("setrlimit(RLIMIT_CORE): %s", strerror(errno));
		rc = -1;
	}
	if (no_dump && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		log_err("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

int privsep_drop(const char *user)
{
	struct passwd pw, *res = NULL;
	char *buf;
	const char *name = user != NULL ? user : PRIVSEP_DEFAULT_USER;
	gid_t gid;
	uid_t uid;
	int e;

	if (user != NULL && user[0] == '\0')
		return 1; /* asked to stay who we are */
	if (geteuid() != 0 && getuid() != 0)
		return 1;
	buf = malloc(PRIVSEP_PWBUF);
	if (buf == NULL)
		return -1;
	e = getpwnam_r(name, &pw, buf, PRIVSEP_PWBUF, &res);
	if (e != 0 || res == NULL) {
		free(buf);
		if (user == NULL) {
			log_warn("running as root: no user \"%s\" to switch to", name);
			return 1;
		}
		log_err("no such user \"%s\"", name);
		return -1;
	}
	uid = pw.pw_uid;
	gid = pw.pw_gid;
	free(buf);
	if (uid == 0) {
		log_err("user \"%s\" is root", name);
		return -1;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		log_err("cannot switch to user \"%s\": %s", name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		log_err("root could be regained after switching to \"%s\"", name);
		return -1;
	}
	log_info("switched to user \"%s\" (uid %u)", name, (unsigned)uid);
	return 0;
}

static bool privsep_is_logfile(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_ACCMODE) == O_WRONLY && (fl & O_APPEND) != 0 &&
	       fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

void privsep_close_fds(const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int dfd;

	if (d == NULL)
		return;
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		char *end;
		long v;
		bool kept = false;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		errno = 0;
		v = strtol(e->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || v < 3 || v > INT32_MAX || (int)v == dfd)
			continue;
		for (size_t i = 0; i < nkeep; i++)
			kept = kept || keep[i] == (int)v;
		if (!kept && !privsep_is_logfile((int)v))
			close((int)v);
	}
	closedir(d);
}

void privsep_wipe_env(const char *name)
{
	char *v;

	if (name == NULL || name[0] == '\0')
		return;
	v = getenv(name);
	if (v != NULL)
		sec_zero(v, strlen(v));
	unsetenv(name);
}
