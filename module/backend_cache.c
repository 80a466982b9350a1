/* SPDX-License-Identifier: Apache-2.0 */
/* The persisted credential cache of an account. */
#include "backend_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

#define CACHE_VERSION 1

static bool add_str_opt(cJSON *o, const char *name, const char *v)
{
	return v == NULL || v[0] == '\0' || json_add_string(o, name, v);
}

static cJSON *cred_json(const csc_credential *cr)
{
	cJSON *o = cJSON_CreateObject(), *key, *cert, *auth, *arr;
	size_t i;
	char scal[2] = {cr->scal == 2 ? '2' : '1', '\0'};

	if (o == NULL)
		return NULL;
	if (!json_add_string(o, "credentialID", cr->id) ||
	    !add_str_opt(o, "description", cr->description) ||
	    !add_str_opt(o, "signatureQualifier", cr->signature_qualifier))
		goto fail;
	key = cJSON_AddObjectToObject(o, "key");
	if (key == NULL ||
	    !json_add_string(key, "status", cr->key_enabled ? "enabled" : "disabled"))
		goto fail;
	arr = cJSON_AddArrayToObject(key, "algo");
	if (arr == NULL)
		goto fail;
	for (i = 0; i < cr->n_algos; i++) {
		cJSON *s = cJSON_CreateString(cr->algos[i]);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto fail;
		}
	}
	if (!json_add_int(key, "len", cr->key_len) || !add_str_opt(key, "curve", cr->curve))
		goto fail;
	cert = cJSON_AddObjectToObject(o, "cert");
	if (cert == NULL || !add_str_opt(cert, "status", cr->cert_status))
		goto fail;
	if (cr->n_certs > 0) {
		arr = cJSON_AddArrayToObject(cert, "certificates");
		if (arr == NULL)
			goto fail;
		for (i = 0; i < cr->n_certs; i++) {
			cJSON *tmp = cJSON_CreateObject();
			cJSON *s;
			if (tmp == NULL ||
			    !json_add_b64(tmp, "c", cr->certs[i], cr->cert_lens[i])) {
				cJSON_Delete(tmp);
				goto fail;
			}
			s = cJSON_DetachItemFromObject(tmp, "c");
			cJSON_Delete(tmp);
			if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
				cJSON_Delete(s);
				goto fail;
			}
		}
	}
	if (!add_str_opt(cert, "issuerDN", cr->issuer_dn) ||
	    !add_str_opt(cert, "serialNumber", cr->serial) ||
	    !add_str_opt(cert, "subjectDN", cr->subject_dn) ||
	    !add_str_opt(cert, "validFrom", cr->valid_from) ||
	    !add_str_opt(cert, "validTo", cr->valid_to))
		goto fail;
	auth = cJSON_AddObjectToObject(o, "auth");
	if (auth == NULL || !json_add_string(auth, "mode", cr->auth_mode) ||
	    !add_str_opt(auth, "expression", cr->auth_expression))
		goto fail;
	if (cr->n_objects > 0) {
		arr = cJSON_AddArrayToObject(auth, "objects");
		if (arr == NULL)
			goto fail;
		for (i = 0; i < cr->n_objects; i++) {
			const csc_auth_object *ao = &cr->objects[i];
			cJSON *ob = cJSON_CreateObject();
			char fmt[2] = {ao->format, '\0'};
			if (ob == NULL || !cJSON_AddItemToArray(arr, ob)) {
				cJSON_Delete(ob);
				goto fail;
			}
			if (!json_add_string(ob, "type", ao->type) ||
			    !json_add_string(ob, "id", ao->id) || !add_str_opt(ob, "format", fmt) ||
			    !add_str_opt(ob, "generator", ao->generator) ||
			    !add_str_opt(ob, "label", ao->label))
				goto fail;
		}
	}
	if (!json_add_string(o, "SCAL", scal) || !json_add_int(o, "multisign", cr->multisign) ||
	    !add_str_opt(o, "lang", cr->lang))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *list_json(const csc_credential_list *l)
{
	cJSON *o = cJSON_CreateObject(), *ids, *infos;
	size_t i;

	if (o == NULL)
		return NULL;
	ids = cJSON_AddArrayToObject(o, "credentialIDs");
	infos = cJSON_AddArrayToObject(o, "credentialInfos");
	if (ids == NULL || infos == NULL)
		goto fail;
	for (i = 0; i < l->n_creds; i++) {
		cJSON *s = cJSON_CreateString(l->creds[i].id);
		cJSON *ci;
		if (s == NULL || !cJSON_AddItemToArray(ids, s)) {
			cJSON_Delete(s);
			goto fail;
		}
		ci = cred_json(&l->creds[i]);
		if (ci == NULL || !cJSON_AddItemToArray(infos, ci)) {
			cJSON_Delete(ci);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

char *backend_cache_serialize(const csc_credential_list *l, size_t *len)
{
	cJSON *o = list_json(l);
	char *s;

	if (o == NULL)
		return NULL;
	s = json_print(o);
	cJSON_Delete(o);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

backend_credset *backend_cache_credset(const csc_credential_list *l)
{
	size_t len = 0;
	char *canon = backend_cache_serialize(l, &len);

	if (canon == NULL)
		return NULL;
	return backend_creds_new(l, canon, len);
}

char *backend_cache_path(const char *dir, const char *name)
{
	char *p = NULL;

	if (dir == NULL || name == NULL || asprintf(&p, "%s/%s.json", dir, name) < 0)
		return NULL;
	return p;
}

static char *read_file(const char *path, size_t max, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > max) {
		log_warn("cache %s: not a private regular file of the user, or too large; ignored",
			 path);
		close(fd);
		return NULL;
	}
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

backend_credset *backend_cache_load(const char *path, const char *url, const char *user)
{
	size_t len = 0;
	char *buf = read_file(path, BACKEND_CACHE_MAX, &len);
	cJSON *root;
	const cJSON *list = NULL;
	const char *u = NULL, *us = NULL;
	int64_t ver = 0;
	char *inner = NULL;
	csc_credential_list l;
	csc_status st;
	backend_credset *cs = NULL;

	if (buf == NULL)
		return NULL;
	root = json_parse(buf, len, BACKEND_CACHE_MAX, 20, true);
	free(buf);
	if (root == NULL) {
		log_warn("cache %s: malformed; ignored", path);
		return NULL;
	}
	if (json_get_int(root, "version", 0, 1000, &ver) != JSON_OK || ver != CACHE_VERSION ||
	    json_get_string(root, "url", &u) != JSON_OK || strcmp(u, url) != 0 ||
	    json_get_string(root, "user", &us) != JSON_OK || strcmp(us, user) != 0 ||
	    json_get_object(root, "list", &list) != JSON_OK) {
		log_debug(LOG_CAT_CACHE, "cache %s: for another account or version; ignored", path);
		cJSON_Delete(root);
		return NULL;
	}
	inner = json_print(list);
	cJSON_Delete(root);
	if (inner == NULL)
		return NULL;
	if (csc_parse_credentials_list(inner, strlen(inner), &l, &st) != CSC_OK) {
		log_warn("cache %s: malformed credential list (%s); ignored", path, st.description);
		free(inner);
		return NULL;
	}
	free(inner);
	cs = backend_cache_credset(&l);
	csc_credential_list_free(&l);
	if (cs != NULL)
		log_debug(LOG_CAT_CACHE, "cache %s: %zu credential(s) loaded", path, cs->n);
	return cs;
}

/* mkdir -p with 0700 for the directories created. */
static int mkdir_p(const char *dir)
{
	char *p = strdup(dir), *s;
	int rc = 0;

	if (p == NULL)
		return -1;
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

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int backend_cache_save(const char *path, const backend_credset *cs, const char *url,
		       const char *user)
{
	char *dir, *slash, *tmp = NULL, *text = NULL;
	cJSON *root = NULL, *list;
	int fd = -1, rc = -1;

	if (path == NULL || cs == NULL || cs->canon == NULL)
		return -1;
	dir = strdup(path);
	if (dir == NULL)
		return -1;
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir) != 0) {
			log_warn("cache: cannot create %s: %s", dir, strerror(errno));
			goto out;
		}
	}
	list = cJSON_ParseWithLength(cs->canon, cs->canon_len);
	root = cJSON_CreateObject();
	if (list == NULL || root == NULL || !json_add_int(root, "version", CACHE_VERSION) ||
	    !json_add_string(root, "url", url) || !json_add_string(root, "user", user) ||
	    !json_add_int(root, "saved", (int64_t)time(NULL)) ||
	    !cJSON_AddItemToObject(root, "list", list)) {
		cJSON_Delete(list);
		goto out;
	}
	text = json_print(root);
	if (text == NULL || asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = mkstemp(tmp); /* 0600 */
	if (fd < 0) {
		log_warn("cache: cannot write %s: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0 ||
	    close(fd) != 0) {
		fd = -1;
		log_warn("cache: cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		log_warn("cache: cannot rename to %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	log_debug(LOG_CAT_CACHE, "cache %s: saved (%zu credential(s))", path, cs->n);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(text);
	cJSON_Delete(root);
	free(dir);
	return rc;
}
