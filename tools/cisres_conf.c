/* SPDX-License-Identifier: Apache-2.0 */
/* cisres: the module configuration file as the CLI sees it — read the
 * accounts, and create/update one [account NAME] section in place, keeping
 * the rest of the file (comments included) as it is. */
#include "cisres.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

#define LINES_MAX 20000

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] == '/')
		return h;
	pw = getpwuid(geteuid());
	return pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : "/";
}

static char *xdg_path(const char *var, const char *fallback, const char *leaf)
{
	const char *x = getenv(var);
	char *out = NULL;
	int n;

	if (x != NULL && x[0] == '/')
		n = asprintf(&out, "%s/cisres%s%s", x, leaf[0] ? "/" : "", leaf);
	else
		n = asprintf(&out, "%s/%s/cisres%s%s", home_dir(), fallback, leaf[0] ? "/" : "",
			     leaf);
	return n < 0 ? NULL : out;
}

static char *expand_path(const char *v)
{
	char *out = NULL;

	if (v == NULL || v[0] == '\0')
		return NULL;
	if (v[0] == '~' && v[1] == '/')
		return asprintf(&out, "%s/%s", home_dir(), v + 2) < 0 ? NULL : out;
	return strdup(v);
}

char *cisres_conf_default_token_file(const char *name)
{
	char *leaf = NULL, *p;

	if (asprintf(&leaf, "tokens/%s.token", name) < 0)
		return NULL;
	p = xdg_path("XDG_CONFIG_HOME", ".config", leaf);
	free(leaf);
	return p;
}

bool cisres_conf_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return name[0] != '.';
}

/* The file the module reads: $CISRES_PKCS11_CONF, the user file when it
 * exists, /etc/cisres/pkcs11.conf when it exists, else the user file. */
static char *read_path(void)
{
	const char *env = getenv("CISRES_PKCS11_CONF");
	char *user;

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	user = xdg_path("XDG_CONFIG_HOME", ".config", "pkcs11.conf");
	if (user != NULL && access(user, F_OK) == 0)
		return user;
	if (access("/etc/cisres/pkcs11.conf", F_OK) == 0) {
		free(user);
		return strdup("/etc/cisres/pkcs11.conf");
	}
	return user;
}

/* The file login writes: $CISRES_PKCS11_CONF, else the user file. */
static char *write_path(void)
{
	const char *env = getenv("CISRES_PKCS11_CONF");

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	return xdg_path("XDG_CONFIG_HOME", ".config", "pkcs11.conf");
}

/* ---- a line model of the file ---- */

typedef struct {
	char **line;
	size_t n, cap;
} lines;

static void lines_free(lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->line[i]);
	free(l->line);
	memset(l, 0, sizeof(*l));
}

static int lines_insert(lines *l, size_t at, char *s)
{
	if (s == NULL || l->n >= LINES_MAX)
		return -1;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		char **nl = realloc(l->line, nc * sizeof(*nl));
		if (nl == NULL)
			return -1;
		l->line = nl;
		l->cap = nc;
	}
	memmove(l->line + at + 1, l->line + at, (l->n - at) * sizeof(*l->line));
	l->line[at] = s;
	l->n++;
	return 0;
}

static int lines_split(const char *buf, size_t len, lines *l)
{
	size_t i = 0;

	memset(l, 0, sizeof(*l));
	while (i < len) {
		size_t j = i;
		while (j < len && buf[j] != '\n')
			j++;
		if (lines_insert(l, l->n, strndup(buf + i, j - i)) != 0) {
			lines_free(l);
			return -1;
		}
		i = j + 1;
	}
	return 0;
}

static const char *skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

/* Section name of a header line (malloc'd, "account.NAME" form), or NULL. */
static char *section_of(const char *line)
{
	const char *p = skip_blank(line), *end;
	size_t n;
	char *out = NULL;

	if (*p != '[')
		return NULL;
	p = skip_blank(p + 1);
	end = strchr(p, ']');
	if (end == NULL)
		return NULL;
	n = (size_t)(end - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n > 8 && strncmp(p, "account", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
		const char *q = skip_blank(p + 7);
		if (asprintf(&out, "account.%.*s", (int)(n - (size_t)(q - p)), q) < 0)
			return NULL;
		return out;
	}
	return strndup(p, n);
}

/* key and value of a "key = value" line (malloc'd); false otherwise. */
static bool key_value(const char *line, char **key, char **val)
{
	const char *p = skip_blank(line), *eq, *v;
	size_t kn, vn;

	*key = *val = NULL;
	if (*p == '\0' || *p == '#' || *p == ';' || *p == '[')
		return false;
	eq = strchr(p, '=');
	if (eq == NULL)
		return false;
	kn = (size_t)(eq - p);
	while (kn > 0 && (p[kn - 1] == ' ' || p[kn - 1] == '\t'))
		kn--;
	v = skip_blank(eq + 1);
	vn = strlen(v);
	while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r'))
		vn--;
	if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
		v++;
		vn -= 2;
	}
	*key = strndup(p, kn);
	*val = strndup(v, vn);
	if (*key == NULL || *val == NULL) {
		free(*key);
		free(*val);
		*key = *val = NULL;
		return false;
	}
	return true;
}

static char *read_whole(const char *path, size_t *len, bool *exists)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*exists = false;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? strdup("") : NULL;
	*exists = true;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONF_MAX_FILE) {
		close(fd);
		return NULL;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		cisres_err("warning: %s is writable by group/others; the module will refuse it "
			   "(chmod 600 %s)",
			   path, path);
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

static void account_free(cisres_account *a)
{
	free(a->name);
	free(a->url);
	free(a->user);
	free(a->ca_file);
	free(a->token_file);
}

void cisres_conf_free(cisres_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		account_free(&c->acc[i]);
	free(c->acc);
	free(c->path);
	free(c->cache_dir);
	memset(c, 0, sizeof(*c));
}

const cisres_account *cisres_conf_find(const cisres_config *c, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < c->n; i++) {
		if (strcmp(c->acc[i].name, name) == 0)
			return &c->acc[i];
	}
	return NULL;
}

static void set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

int cisres_conf_read(cisres_config *out)
{
	char *buf, *key, *val, *sec = NULL;
	size_t len, i;
	lines l;
	cisres_account *cur = NULL;

	memset(out, 0, sizeof(*out));
	out->path = read_path();
	out->cache_dir = xdg_path("XDG_CACHE_HOME", ".cache", "");
	if (out->path == NULL || out->cache_dir == NULL)
		goto nomem;
	buf = read_whole(out->path, &len, &out->exists);
	if (buf == NULL) {
		cisres_err("cannot read %s: %s", out->path, strerror(errno));
		cisres_conf_free(out);
		return -1;
	}
	if (lines_split(buf, len, &l) != 0) {
		free(buf);
		goto nomem;
	}
	free(buf);
	out->acc = calloc(l.n > 0 ? l.n : 1, sizeof(*out->acc));
	if (out->acc == NULL) {
		lines_free(&l);
		goto nomem;
	}
	for (i = 0; i < l.n; i++) {
		char *s = section_of(l.line[i]);
		if (s != NULL) {
			free(sec);
			sec = s;
			cur = NULL;
			if (strncmp(sec, "account.", 8) == 0 && cisres_conf_name_ok(sec + 8)) {
				cur = &out->acc[out->n++];
				cur->name = strdup(sec + 8);
			}
			continue;
		}
		if (!key_value(l.line[i], &key, &val))
			continue;
		if (cur != NULL && strcmp(key, "url") == 0) {
			size_t n = strlen(val);
			while (n > 0 && val[n - 1] == '/')
				val[--n] = '\0';
			set_str(&cur->url, val);
			val = NULL;
		} else if (cur != NULL && strcmp(key, "user") == 0) {
			set_str(&cur->user, val);
			val = NULL;
		} else if (cur != NULL && strcmp(key, "ca_file") == 0) {
			set_str(&cur->ca_file, expand_path(val));
		} else if (cur != NULL && strcmp(key, "token_file") == 0) {
			set_str(&cur->token_file, expand_path(val));
		} else if (cur == NULL && sec != NULL && strcmp(sec, "module") == 0 &&
			   strcmp(key, "cache_dir") == 0 && val[0] != '\0') {
			set_str(&out->cache_dir, expand_path(val));
		}
		free(key);
		free(val);
	}
	free(sec);
	lines_free(&l);
	for (i = 0; i < out->n; i++) {
		cisres_account *a = &out->acc[i];
		if (a->name == NULL)
			goto nomem;
		if (a->token_file == NULL)
			a->token_file = cisres_conf_default_token_file(a->name);
		if (a->token_file == NULL)
			goto nomem;
	}
	return 0;
nomem:
	cisres_err("out of memory");
	cisres_conf_free(out);
	return -1;
}

int cisres_conf_mkdir_parent(const char *path)
{
	char *p = strdup(path), *s;
	int rc = 0;

	if (p == NULL)
		return -1;
	s = strrchr(p, '/');
	if (s == NULL || s == p) {
		free(p);
		return 0;
	}
	*s = '\0';
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

int cisres_conf_write_atomic(const char *path, const char *data, size_t len)
{
	char *tmp = NULL;
	int fd;
	size_t off = 0;

	if (cisres_conf_mkdir_parent(path) != 0) {
		cisres_err("cannot create the directory of %s: %s", path, strerror(errno));
		return -1;
	}
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -1;
	fd = mkstemp(tmp);
	if (fd < 0) {
		cisres_err("cannot write %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	cisres_err("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

static bool value_ok(const char *v)
{
	for (; *v != '\0'; v++) {
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	}
	return true;
}

/* Set key = value in the section spanning lines [start, *end). */
static int set_key(lines *l, size_t start, size_t *end, const char *key, const char *value)
{
	char *k, *v, *line = NULL;
	size_t i, last = start;

	if (asprintf(&line, "%s = %s", key, value) < 0)
		return -1;
	for (i = start + 1; i < *end; i++) {
		const char *p = skip_blank(l->line[i]);
		if (*p != '\0')
			last = i;
		if (key_value(l->line[i], &k, &v)) {
			bool same = strcmp(k, key) == 0;
			free(k);
			free(v);
			if (same) {
				free(l->line[i]);
				l->line[i] = line;
				return 0;
			}
		}
	}
	if (lines_insert(l, last + 1, line) != 0) {
		free(line);
		return -1;
	}
	(*end)++;
	return 0;
}

int cisres_conf_update_account(const char *path_in, const char *name, const char *url,
			       const char *user, const char *ca_file)
{
	char *path = path_in != NULL ? strdup(path_in) : write_path();
	char *buf = NULL, *out = NULL, *s;
	size_t len = 0, i, start = 0, end = 0, total = 0, off = 0;
	bool exists, found = false;
	lines l = {0};
	int rc = -1;

	if (path == NULL)
		return -1;
	if (!value_ok(url) || !value_ok(user) || (ca_file != NULL && !value_ok(ca_file))) {
		cisres_err("control characters in a configuration value");
		goto out;
	}
	buf = read_whole(path, &len, &exists);
	if (buf == NULL || lines_split(buf, len, &l) != 0) {
		cisres_err("cannot read %s", path);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		s = section_of(l.line[i]);
		if (s == NULL)
			continue;
		if (found) {
			free(s);
			end = i;
			break;
		}
		if (strncmp(s, "account.", 8) == 0 && strcmp(s + 8, name) == 0) {
			found = true;
			start = i;
			end = l.n;
		}
		free(s);
	}
	if (!found) {
		char *hdr = NULL;
		if (l.n == 0 && lines_insert(&l, 0,
					     strdup("# CISRES PKCS#11 module configuration, see "
						    "cisres-pkcs11.conf(5).")) != 0)
			goto out;
		if (l.n > 0 && skip_blank(l.line[l.n - 1])[0] != '\0' &&
		    lines_insert(&l, l.n, strdup("")) != 0)
			goto out;
		if (asprintf(&hdr, "[account %s]", name) < 0 || lines_insert(&l, l.n, hdr) != 0) {
			free(hdr);
			goto out;
		}
		start = l.n - 1;
		end = l.n;
	}
	if (set_key(&l, start, &end, "url", url) != 0 ||
	    set_key(&l, start, &end, "user", user) != 0 ||
	    (ca_file != NULL && set_key(&l, start, &end, "ca_file", ca_file) != 0))
		goto out;
	for (i = 0; i < l.n; i++)
		total += strlen(l.line[i]) + 1;
	out = malloc(total + 1);
	if (out == NULL)
		goto out;
	for (i = 0; i < l.n; i++) {
		size_t n = strlen(l.line[i]);
		memcpy(out + off, l.line[i], n);
		off += n;
		out[off++] = '\n';
	}
	out[off] = '\0';
	rc = cisres_conf_write_atomic(path, out, off);
out:
	lines_free(&l);
	free(buf);
	free(out);
	free(path);
	return rc;
}
