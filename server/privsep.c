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
#define PRIVSEP_GROUPS_MAX 4096
#define PRIVSEP_TREE_DEPTH 16

/* uid and primary gid of name. 0, or -1 when there is no such user. */
static int privsep_lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char *buf = malloc(PRIVSEP_PWBUF);
	int e;

	if (buf == NULL)
		return -1;
	e = getpwnam_r(name, &pw, buf, PRIVSEP_PWBUF, &res);
	if (e == 0 && res != NULL) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	}
	free(buf);
	return e == 0 && res != NULL ? 0 : -1;
}

bool privsep_user_exists(const char *name)
{
	uid_t uid;
	gid_t gid;

	return name != NULL && name[0] != '\0' && privsep_lookup(name, &uid, &gid) == 0;
}

/* The groups of name (primary gid first), as initgroups would set them.
 * *out is malloc'ed. 0 or -1. */
static int privsep_grouplist(const char *name, gid_t gid, gid_t **out, int *n)
{
	int cap = 32;

	for (;;) {
		gid_t *list = calloc((size_t)cap, sizeof(gid_t));
		int got = cap;

		if (list == NULL)
			return -1;
		if (getgrouplist(name, gid, list, &got) >= 0) {
			*out = list;
			*n = got;
			return 0;
		}
		free(list);
		if (got <= cap || got > PRIVSEP_GROUPS_MAX)
			return -1;
		cap = got;
	}
}

static bool privsep_in_group(const char *name, gid_t gid, gid_t group)
{
	gid_t *list = NULL;
	int n = 0;
	bool found = false;

	if (privsep_grouplist(name, gid, &list, &n) != 0)
		return false;
	for (int i = 0; i < n; i++)
		found = found || list[i] == group;
	free(list);
	return found;
}

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
	const char *name = user != NULL ? user : PRIVSEP_DEFAULT_USER;
	gid_t gid, *groups = NULL;
	uid_t uid;
	int ngroups = 0;

	if (user != NULL && user[0] == '\0')
		return 1; /* asked to stay who we are */
	if (geteuid() != 0 && getuid() != 0)
		return 1;
	if (privsep_lookup(name, &uid, &gid) != 0) {
		if (user == NULL) {
			log_warn("running as root: no user \"%s\" to switch to", name);
			return 1;
		}
		log_err("no such user \"%s\"", name);
		return -1;
	}
	if (uid == 0) {
		log_err("user \"%s\" is root", name);
		return -1;
	}
	if (privsep_grouplist(name, gid, &groups, &ngroups) != 0) {
		log_err("cannot read the groups of user \"%s\"", name);
		return -1;
	}
	if (setgroups((size_t)ngroups, groups) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		log_err("cannot switch to user \"%s\": %s", name, strerror(errno));
		free(groups);
		return -1;
	}
	free(groups);
	if (setuid(0) == 0 || seteuid(0) == 0) {
		log_err("root could be regained after switching to \"%s\"", name);
		return -1;
	}
	log_info("switched to user \"%s\" (uid %u)", name, (unsigned)uid);
	return 0;
}

/* ---- ownership of the state directory ---- */

typedef struct {
	uid_t uid;
	gid_t gid;
	mode_t dir_mode;  /* directories get exactly this */
	mode_t file_keep; /* files keep these bits of their mode ... */
	mode_t file_add;  /* ... and get these */
} privsep_owner;

/* fchown + fchmod of an open descriptor (no path: no symlink races). */
static int privsep_own_fd(int fd, const char *what, const privsep_owner *o)
{
	struct stat st;
	mode_t mode;

	if (fstat(fd, &st) != 0) {
		log_err("%s: %s", what, strerror(errno));
		return -1;
	}
	mode = S_ISDIR(st.st_mode) ? o->dir_mode : (st.st_mode & o->file_keep) | o->file_add;
	if ((st.st_uid != o->uid || st.st_gid != o->gid) && fchown(fd, o->uid, o->gid) != 0) {
		log_err("cannot change the owner of %s: %s", what, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) != 0) {
		log_err("cannot change the mode of %s: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

/* Open name under dfd without following a symbolic link. -1 with errno
 * ELOOP for a link. */
static int privsep_open_at(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

/* The directory dfd and everything under it (symbolic links: the link
 * itself only; other special files are left alone). */
static int privsep_own_tree(int dfd, const char *what, const privsep_owner *o, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc = 0, dup_fd;

	if (depth > PRIVSEP_TREE_DEPTH) {
		log_err("%s: too deep", what);
		return -1;
	}
	if (privsep_own_fd(dfd, what, o) != 0)
		return -1;
	dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0 || (d = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		log_err("%s: %s", what, strerror(errno));
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		int fd;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		fd = privsep_open_at(dfd, e->d_name);
		if (fd < 0) {
			if (errno == ELOOP &&
			    fchownat(dfd, e->d_name, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			log_err("%s/%s: %s", what, e->d_name, strerror(errno));
			rc = -1;
			break;
		}
		if (fstat(fd, &st) != 0)
			rc = -1;
		else if (S_ISDIR(st.st_mode))
			rc = privsep_own_tree(fd, what, o, depth + 1);
		else if (S_ISREG(st.st_mode))
			rc = privsep_own_fd(fd, what, o);
		close(fd);
	}
	closedir(d);
	return rc;
}

/* STATE/name (a directory), when it exists. */
static int privsep_own_subtree(int sfd, const char *state, const char *name, const privsep_owner *o)
{
	char what[CONFIG_PATH_MAX + 16];
	int fd = privsep_open_at(sfd, name), rc;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	snprintf(what, sizeof(what), "%s/%s", state, name);
	rc = privsep_own_tree(fd, what, o, 0);
	close(fd);
	return rc;
}

/* Every directory above path must let both users through. */
static int privsep_check_reach(const char *path, gid_t g1, gid_t g2)
{
	char buf[CONFIG_PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf) || path[0] != '/') {
		log_err("the state directory %s is not an absolute path", path);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = len; i > 0; i--) {
		struct stat st;
		bool ok1, ok2;

		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (stat(buf, &st) != 0)
			return -1;
		ok1 = (st.st_mode & S_IXOTH) != 0 || (st.st_gid == g1 && (st.st_mode & S_IXGRP));
		ok2 = (st.st_mode & S_IXOTH) != 0 || (st.st_gid == g2 && (st.st_mode & S_IXGRP));
		if (!ok1 || !ok2) {
			log_err("%s (mode %03o) does not let the service users reach the state "
				"directory %s",
				buf, (unsigned)(st.st_mode & 0777), path);
			return -1;
		}
	}
	return 0;
}

/* The SQLite store and its -wal and -shm, when they are directly in the
 * state directory. */
static int privsep_own_store(int sfd, const server_config *cfg, const privsep_owner *o)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	const char *path = strncmp(cfg->store_uri, "sqlite:", 7) == 0 ? cfg->store_uri + 7 : NULL;
	size_t slen = strlen(cfg->state_dir);
	char name[CONFIG_PATH_MAX];

	if (path == NULL)
		return 0;
	if (strncmp(path, cfg->state_dir, slen) != 0 || path[slen] != '/' ||
	    strchr(path + slen + 1, '/') != NULL) {
		log_warn("the store %s is not in the state directory: give it to the service "
			 "user yourself (group read-write)",
			 path);
		return 0;
	}
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		int fd;

		if (snprintf(name, sizeof(name), "%s%s", path + slen + 1, sfx[i]) >=
		    (int)sizeof(name))
			return -1;
		fd = privsep_open_at(sfd, name);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			log_err("%s/%s: %s", cfg->state_dir, name, strerror(errno));
			return -1;
		}
		if (privsep_own_fd(fd, name, o) != 0) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

int privsep_own_state(const server_config *cfg, const char *http_user, const char *sam_user)
{
	uid_t hu, su;
	gid_t hg, sg;
	privsep_owner o;
	int sfd, rc = -1;

	if (cfg->state_dir[0] == '\0' || geteuid() != 0)
		return 0;
	if (privsep_lookup(http_user, &hu, &hg) != 0 || privsep_lookup(sam_user, &su, &sg) != 0) {
		log_err("no such user \"%s\"",
			privsep_user_exists(http_user) ? sam_user : http_user);
		return -1;
	}
	if (hu == 0 || su == 0) {
		log_err("the service users must not be root");
		return -1;
	}
	if (su != hu && !privsep_in_group(sam_user, sg, hg)) {
		log_err("the SAM user \"%s\" must be a member of the group of \"%s\" (the "
			"store is shared): adduser %s <group of %s>",
			sam_user, http_user, sam_user, http_user);
		return -1;
	}
	if (privsep_check_reach(cfg->state_dir, hg, sg) != 0)
		return -1;
	sfd = open(cfg->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		log_err("%s: %s", cfg->state_dir, strerror(errno));
		return -1;
	}
	/* STATE: root:G, setgid + sticky, group rwx (SQLite creates -wal/-shm). */
	o = (privsep_owner){0, hg, 03770, 0, 0};
	if (privsep_own_fd(sfd, cfg->state_dir, &o) != 0)
		goto out;
	o = (privsep_owner){hu, hg, 0, 0, 0660};
	if (privsep_own_store(sfd, cfg, &o) != 0)
		goto out;
	/* The token, its configuration and the PINs: the SAM user only. */
	o = (privsep_owner){su, sg, 0700, 0700, 0};
	if (privsep_own_subtree(sfd, cfg->state_dir, "hsm", &o) != 0)
		goto out;
	/* Certificates: readable by the SAM user (cisres-admin runs as it). */
	o = (privsep_owner){0, sg, 0750, 0600, 0040};
	if (privsep_own_subtree(sfd, cfg->state_dir, "ca", &o) != 0)
		goto out;
	log_info("state directory %s: store for %s, HSM token and PINs for %s", cfg->state_dir,
		 http_user, sam_user);
	rc = 0;
out:
	close(sfd);
	return rc;
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
