/* SPDX-License-Identifier: Apache-2.0 */
/* SQLite backend of the store (URI "sqlite:/path/to/db").
 *
 * Connections: a small pool; a thread checks a connection out for one
 * operation and returns it, so each connection is only ever used by one
 * thread at a time (SQLITE_OPEN_NOMUTEX). Each connection caches its
 * prepared statements. WAL, synchronous=FULL (a commit is durable when it
 * returns), busy_timeout 10 s, foreign keys on. Every read-modify-write runs
 * in BEGIN IMMEDIATE, which takes the database write lock up front, so it
 * is atomic across threads and processes (cisresd + cisres-admin). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "secmem.h"
#include "store_backend.h"

#define SQ_BUSY_MS 10000
#define SQ_POOL_IDLE_MAX 32
#define SQ_PATH_MAX 4096

/* ---- schema: migrations, applied in order; version = index + 1 ---- */
static const char *const sq_migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " display TEXT NOT NULL DEFAULT '',"
    " email TEXT NOT NULL DEFAULT '',"
    " pw_hash TEXT NOT NULL DEFAULT '',"
    " otp_key BLOB,"
    " login_otp INTEGER NOT NULL DEFAULT 0,"
    " otp_last_step INTEGER NOT NULL DEFAULT 0,"
    " pw_failures INTEGER NOT NULL DEFAULT 0,"
    " locked INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE credentials ("
    " id TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE RESTRICT,"
    " key_id BLOB NOT NULL,"
    " key_kind INTEGER NOT NULL,"
    " key_bits INTEGER NOT NULL DEFAULT 0,"
    " curve_nid INTEGER NOT NULL DEFAULT 0,"
    " cert BLOB,"
    " scal INTEGER NOT NULL DEFAULT 2,"
    " auth_otp INTEGER NOT NULL DEFAULT 1,"
    " multisign INTEGER NOT NULL DEFAULT 1,"
    " pin_hash TEXT NOT NULL DEFAULT '',"
    " pin_failures INTEGER NOT NULL DEFAULT 0,"
    " pin_locked INTEGER NOT NULL DEFAULT 0,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " description TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL);"
    "CREATE INDEX credentials_user ON credentials(user_id);"
    "CREATE TABLE tokens ("
    " hash BLOB PRIMARY KEY,"
    " kind INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " parent BLOB,"
    " expires INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX tokens_parent ON tokens(parent);"
    "CREATE INDEX tokens_expires ON tokens(expires);"
    "CREATE TABLE sads ("
    " hash BLOB PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " cred_id TEXT NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,"
    " hash_alg INTEGER NOT NULL,"
    " hash_len INTEGER NOT NULL,"
    " n_hashes INTEGER NOT NULL,"
    " hashes BLOB,"
    " remaining INTEGER NOT NULL,"
    " expires INTEGER NOT NULL);"
    "CREATE INDEX sads_expires ON sads(expires);"
    "CREATE INDEX sads_cred ON sads(cred_id);"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY,"
    " time_us INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " object TEXT NOT NULL,"
    " outcome TEXT NOT NULL,"
    " detail TEXT,"
    " prev BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TABLE audit_head ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL,"
    " hash BLOB NOT NULL);"
    /* Append-only: the application never updates or deletes audit rows. */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
    /* 2: SADs live in the SAM process's memory, never in the database the
     * front end shares (docs/threat-model.md). */
    "DROP TABLE IF EXISTS sads;",
};
#define SQ_SCHEMA_VERSION ((int)(sizeof(sq_migrations) / sizeof(sq_migrations[0])))

/* ---- prepared statements ---- */
#define USER_COLS                                                                                  \
	"id,name,display,email,pw_hash,otp_key,login_otp,otp_last_step,pw_failures,locked,"        \
	"created"
#define CRED_COLS                                                                                  \
	"id,user_id,key_id,key_kind,key_bits,curve_nid,cert,scal,auth_otp,multisign,pin_hash,"     \
	"pin_failures,pin_locked,enabled,description,created"
#define AUDIT_COLS "seq,time_us,actor,action,object,outcome,detail,prev,hash"

enum sq_stmt_id {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_USER_INSERT,
	SQ_USER_SEL_NAME,
	SQ_USER_SEL_ID,
	SQ_USER_LIST,
	SQ_USER_DEL,
	SQ_USER_SET_PW,
	SQ_USER_FAIL,
	SQ_USER_RESET,
	SQ_USER_SET_LOCKED,
	SQ_USER_OTP_STEP,
	SQ_USER_EXISTS,
	SQ_CRED_INSERT,
	SQ_CRED_SEL,
	SQ_CRED_LIST_USER,
	SQ_CRED_LIST_ALL,
	SQ_CRED_DEL,
	SQ_CRED_SET_ENABLED,
	SQ_CRED_SET_PIN,
	SQ_CRED_SET_CERT,
	SQ_CRED_PIN_FAIL,
	SQ_CRED_PIN_RESET,
	SQ_CRED_SET_LOCKED,
	SQ_TOKEN_INSERT,
	SQ_TOKEN_SEL,
	SQ_TOKEN_REVOKE,
	SQ_TOKEN_REVOKE_CHILDREN,
	SQ_TOKEN_PURGE,
	SQ_AUDIT_HEAD_SEL,
	SQ_AUDIT_HEAD_SET,
	SQ_AUDIT_INSERT,
	SQ_AUDIT_ITER,
	SQ_META_GET,
	SQ_META_SET,
	SQ_USER_SET_OTP,
	SQ_NSTMT
};

static const char *const sq_sql[SQ_NSTMT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_USER_INSERT] = "INSERT INTO users(name,display,email,pw_hash,otp_key,login_otp,"
		       "otp_last_step,pw_failures,locked,created) VALUES(?,?,?,?,?,?,?,?,?,?)",
    [SQ_USER_SEL_NAME] = "SELECT " USER_COLS " FROM users WHERE name=?",
    [SQ_USER_SEL_ID] = "SELECT " USER_COLS " FROM users WHERE id=?",
    [SQ_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY id",
    [SQ_USER_DEL] = "DELETE FROM users WHERE id=?",
    [SQ_USER_SET_PW] = "UPDATE users SET pw_hash=?2 WHERE id=?1",
    [SQ_USER_FAIL] = "UPDATE users SET pw_failures=pw_failures+1,"
		     " locked=CASE WHEN ?2>0 AND pw_failures+1>=?2 THEN 1 ELSE locked END"
		     " WHERE id=?1 RETURNING pw_failures,locked",
    [SQ_USER_RESET] = "UPDATE users SET pw_failures=0 WHERE id=?1",
    [SQ_USER_SET_LOCKED] = "UPDATE users SET locked=?2,"
			   " pw_failures=CASE WHEN ?2=0 THEN 0 ELSE pw_failures END WHERE id=?1",
    [SQ_USER_OTP_STEP] = "UPDATE users SET otp_last_step=?2 WHERE id=?1 AND otp_last_step<?2",
    [SQ_USER_EXISTS] = "SELECT 1 FROM users WHERE id=?",
    [SQ_CRED_INSERT] =
	"INSERT INTO credentials(" CRED_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [SQ_CRED_SEL] = "SELECT " CRED_COLS " FROM credentials WHERE id=?",
    [SQ_CRED_LIST_USER] = "SELECT " CRED_COLS " FROM credentials WHERE user_id=? ORDER BY "
			  "created,id",
    [SQ_CRED_LIST_ALL] = "SELECT " CRED_COLS " FROM credentials ORDER BY created,id",
    [SQ_CRED_DEL] = "DELETE FROM credentials WHERE id=?",
    [SQ_CRED_SET_ENABLED] = "UPDATE credentials SET enabled=?2 WHERE id=?1",
    [SQ_CRED_SET_PIN] = "UPDATE credentials SET pin_hash=?2 WHERE id=?1",
    [SQ_CRED_SET_CERT] = "UPDATE credentials SET cert=?2 WHERE id=?1",
    [SQ_CRED_PIN_FAIL] = "UPDATE credentials SET pin_failures=pin_failures+1,"
			 " pin_locked=CASE WHEN ?2>0 AND pin_failures+1>=?2 THEN 1"
			 " ELSE pin_locked END WHERE id=?1 RETURNING pin_failures,pin_locked",
    [SQ_CRED_PIN_RESET] = "UPDATE credentials SET pin_failures=0 WHERE id=?1",
    [SQ_CRED_SET_LOCKED] = "UPDATE credentials SET pin_locked=?2,"
			   " pin_failures=CASE WHEN ?2=0 THEN 0 ELSE pin_failures END"
			   " WHERE id=?1",
    [SQ_TOKEN_INSERT] = "INSERT INTO tokens(hash,kind,user_id,parent,expires,revoked)"
			" VALUES(?,?,?,?,?,?)",
    [SQ_TOKEN_SEL] = "SELECT hash,kind,user_id,parent,expires,revoked FROM tokens WHERE hash=?",
    [SQ_TOKEN_REVOKE] = "UPDATE tokens SET revoked=1 WHERE hash=? RETURNING kind",
    [SQ_TOKEN_REVOKE_CHILDREN] = "UPDATE tokens SET revoked=1 WHERE parent=?",
    [SQ_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires<?",
    [SQ_AUDIT_HEAD_SEL] = "SELECT seq,hash FROM audit_head WHERE id=1",
    [SQ_AUDIT_HEAD_SET] = "INSERT INTO audit_head(id,seq,hash) VALUES(1,?1,?2)"
			  " ON CONFLICT(id) DO UPDATE SET seq=?1, hash=?2",
    [SQ_AUDIT_INSERT] = "INSERT INTO audit(" AUDIT_COLS ") VALUES(?,?,?,?,?,?,?,?,?)",
    [SQ_AUDIT_ITER] = "SELECT " AUDIT_COLS " FROM audit WHERE seq>=? ORDER BY seq",
    [SQ_META_GET] = "SELECT value FROM meta WHERE key=?",
    [SQ_META_SET] = "INSERT INTO meta(key,value) VALUES(?1,?2)"
		    " ON CONFLICT(key) DO UPDATE SET value=?2",
    [SQ_USER_SET_OTP] = "UPDATE users SET otp_key=?2 WHERE id=?1",
};

typedef struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *st[SQ_NSTMT];
	struct sq_conn *next;
} sq_conn;

typedef struct {
	char path[SQ_PATH_MAX];
	pthread_mutex_t mu;
	sq_conn *idle;
	unsigned n_idle;
} sq_store;

/* ---- connections ---- */

static void sq_conn_close(sq_conn *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < SQ_NSTMT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

static int sq_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		log_err("store: sqlite: %s", err != NULL ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int64_t sq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool sq_is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static sq_conn *sq_conn_open(const char *path)
{
	sq_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return NULL;
	rc = sqlite3_open_v2(path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
				 SQLITE_OPEN_PRIVATECACHE,
			     NULL);
	if (rc != SQLITE_OK) {
		log_err("store: cannot open database: %s",
			c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sq_conn_close(c);
		return NULL;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQ_BUSY_MS);
	/* Switching a new database to WAL needs an exclusive lock, which a
	 * second process opening it at the same moment may hold: retry. */
	{
		int64_t deadline = sq_now_ms() + SQ_BUSY_MS;
		/* SQLITE_PROTOCOL: a transient WAL-index race with another
		 * process opening the same database (cisresd's SAM process). */
		while ((rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) !=
			   SQLITE_OK &&
		       (sq_is_busy(rc) || (rc & 0xff) == SQLITE_PROTOCOL) && sq_now_ms() < deadline)
			usleep(5000);
		if (rc != SQLITE_OK) {
			log_err("store: cannot enable WAL: %s", sqlite3_errmsg(c->db));
			sq_conn_close(c);
			return NULL;
		}
	}
	if (sq_exec(c->db, "PRAGMA synchronous=FULL") != 0 ||
	    sq_exec(c->db, "PRAGMA foreign_keys=ON") != 0 ||
	    sq_exec(c->db, "PRAGMA trusted_schema=OFF") != 0 ||
	    /* Overwritten and deleted values (secrets replaced, SADs spent)
	     * are zeroed in the file, not left in free space. */
	    sq_exec(c->db, "PRAGMA secure_delete=ON") != 0) {
		sq_conn_close(c);
		return NULL;
	}
	return c;
}

static sq_conn *sq_get(sq_store *st)
{
	sq_conn *c;

	pthread_mutex_lock(&st->mu);
	c = st->idle;
	if (c != NULL) {
		st->idle = c->next;
		st->n_idle--;
	}
	pthread_mutex_unlock(&st->mu);
	if (c == NULL)
		c = sq_conn_open(st->path);
	if (c != NULL)
		c->next = NULL;
	return c;
}

static void sq_put(sq_store *st, sq_conn *c)
{
	if (c == NULL)
		return;
	if (!sqlite3_get_autocommit(c->db)) {
		/* An operation left a transaction open: never hand it on. */
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_lock(&st->mu);
	if (st->n_idle < SQ_POOL_IDLE_MAX) {
		c->next = st->idle;
		st->idle = c;
		st->n_idle++;
		c = NULL;
	}
	pthread_mutex_unlock(&st->mu);
	sq_conn_close(c);
}

/* The cached statement, reset and unbound. */
static sqlite3_stmt *sq_stmt(sq_conn *c, enum sq_stmt_id id)
{
	sqlite3_stmt *s = c->st[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s,
				       NULL) != SQLITE_OK) {
			log_err("store: prepare failed: %s", sqlite3_errmsg(c->db));
			return NULL;
		}
		c->st[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void sq_done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Run a statement without results (BEGIN/COMMIT), retrying on BUSY until
 * the busy deadline. */
static int sq_run_retry(sq_conn *c, enum sq_stmt_id id)
{
	int64_t deadline = sq_now_ms() + SQ_BUSY_MS;
	sqlite3_stmt *s;
	int rc;

	for (;;) {
		s = sq_stmt(c, id);
		if (s == NULL)
			return STORE_ERR;
		rc = sqlite3_step(s);
		sq_done(s);
		if (rc == SQLITE_DONE)
			return STORE_OK;
		if (!sq_is_busy(rc) || sq_now_ms() >= deadline)
			break;
		usleep(2000);
	}
	log_err("store: %s failed: %s", sq_sql[id], sqlite3_errstr(rc));
	return STORE_ERR;
}

static int sq_begin(sq_conn *c)
{
	return sq_run_retry(c, SQ_BEGIN);
}

static int sq_commit(sq_conn *c)
{
	int rc = sq_run_retry(c, SQ_COMMIT);

	if (rc != STORE_OK && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void sq_rollback(sq_conn *c)
{
	sqlite3_stmt *s;

	if (sqlite3_get_autocommit(c->db))
		return;
	s = sq_stmt(c, SQ_ROLLBACK);
	if (s == NULL || sqlite3_step(s) != SQLITE_DONE)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	sq_done(s);
}

/* Map a step result of a write to a store code. */
static int sq_write_rc(sq_conn *c, int rc)
{
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return STORE_OK;
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return STORE_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return STORE_NOTFOUND;
	default:
		log_err("store: sqlite: %s", sqlite3_errmsg(c->db));
		return STORE_ERR;
	}
}

/* Bounded copy of a text column; -1 when it does not fit. */
static int sq_col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	int n = sqlite3_column_bytes(s, i);

	if (t == NULL) {
		out[0] = '\0';
		return 0;
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return 0;
}

/* Copy a blob column into a fixed buffer; exact length when want > 0. */
static int sq_col_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t cap, size_t *len)
{
	const void *b = sqlite3_column_blob(s, i);
	int n = sqlite3_column_bytes(s, i);

	if (n < 0 || (size_t)n > cap)
		return -1;
	if (n > 0)
		memcpy(out, b, (size_t)n);
	if (len != NULL)
		*len = (size_t)n;
	return 0;
}

/* A malloc'd copy of a blob column (NULL when empty). */
static int sq_col_blob_dup(sqlite3_stmt *s, int i, uint8_t **out, size_t *len)
{
	const void *b = sqlite3_column_blob(s, i);
	int n = sqlite3_column_bytes(s, i);

	*out = NULL;
	*len = 0;
	if (n <= 0)
		return 0;
	*out = malloc((size_t)n);
	if (*out == NULL)
		return -1;
	memcpy(*out, b, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static bool sq_text_ok(const char *t, size_t cap)
{
	return t != NULL && strnlen(t, cap) < cap;
}

/* ---- open / close / migrations ---- */

static int sq_migrate(sq_conn *c)
{
	sqlite3_stmt *s = NULL;
	int version = 0, rc, i;
	char buf[32];

	if (sq_exec(c->db, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY,"
			   " value TEXT NOT NULL)") != 0)
		return STORE_ERR;
	if (sq_begin(c) != STORE_OK)
		return STORE_ERR;
	rc = sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s,
				NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		char *end = NULL;
		long lv;
		errno = 0;
		lv = v != NULL ? strtol(v, &end, 10) : -1;
		if (v == NULL || errno != 0 || end == v || *end != '\0' || lv < 0 || lv > 100000)
			goto fail;
		version = (int)lv;
	} else if (rc != SQLITE_DONE) {
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (version > SQ_SCHEMA_VERSION) {
		log_err("store: database schema version %d is newer than this program (%d)",
			version, SQ_SCHEMA_VERSION);
		goto fail;
	}
	for (i = version; i < SQ_SCHEMA_VERSION; i++) {
		if (sq_exec(c->db, sq_migrations[i]) != 0)
			goto fail;
		snprintf(buf, sizeof(buf), "%d", i + 1);
		rc = sqlite3_prepare_v2(c->db,
					"INSERT INTO meta(key,value) VALUES('schema_version',?1)"
					" ON CONFLICT(key) DO UPDATE SET value=?1",
					-1, &s, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(s, 1, buf, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(s);
		s = NULL;
		if (i >= version && version > 0)
			log_info("store: migrated database schema to version %d", i + 1);
	}
	if (sq_commit(c) != STORE_OK)
		return STORE_ERR;
	return STORE_OK;
fail:
	if (s != NULL)
		sqlite3_finalize(s);
	if (sqlite3_errcode(c->db) != SQLITE_OK)
		log_err("store: schema migration failed: %s", sqlite3_errmsg(c->db));
	sq_rollback(c);
	return STORE_ERR;
}

static void sq_close(void *be)
{
	sq_store *st = be;
	sq_conn *c, *next;

	if (st == NULL)
		return;
	for (c = st->idle; c != NULL; c = next) {
		next = c->next;
		sq_conn_close(c);
	}
	pthread_mutex_destroy(&st->mu);
	free(st);
}

static int sq_open(const char *rest, void **be)
{
	sq_store *st;
	sq_conn *c;
	struct stat sb;
	int fd;

	if (rest[0] == '/' && rest[1] == '/')
		rest += 2; /* "sqlite:///abs/path" */
	if (rest[0] == '\0' || strcmp(rest, ":memory:") == 0 || strncmp(rest, "file:", 5) == 0) {
		log_err("store: sqlite: a file path is required");
		return STORE_ERR;
	}
	if (strlen(rest) >= SQ_PATH_MAX)
		return STORE_ERR;
	/* Create the file owner-only before SQLite does (it copies the mode
	 * to the -wal and -shm files). */
	fd = open(rest, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("store: cannot open %s: %s", rest, strerror(errno));
		return STORE_ERR;
	}
	/* The group is the service's (HTTP and SAM users share the store in
	 * root mode: privsep_own_state); others must have nothing. */
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 007) != 0)
		log_warn("store: %s is accessible to others (mode %03o)", rest,
			 (unsigned)(sb.st_mode & 0777));
	close(fd);

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return STORE_ERR;
	memcpy(st->path, rest, strlen(rest) + 1);
	pthread_mutex_init(&st->mu, NULL);
	c = sq_conn_open(st->path);
	if (c == NULL || sq_migrate(c) != STORE_OK) {
		sq_conn_close(c);
		sq_close(st);
		return STORE_ERR;
	}
	sq_put(st, c);
	*be = st;
	return STORE_OK;
}

/* Boilerplate for "check out a connection". */
#define SQ_CONN(be)                                                                                \
	sq_store *st = (be);                                                                       \
	sq_conn *c = sq_get(st);                                                                   \
	if (c == NULL)                                                                             \
	return STORE_ERR

/* ---- users ---- */

static int sq_user_row(sqlite3_stmt *s, store_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(s, 0);
	if (sq_col_text(s, 1, u->name, sizeof(u->name)) != 0 ||
	    sq_col_text(s, 2, u->display, sizeof(u->display)) != 0 ||
	    sq_col_text(s, 3, u->email, sizeof(u->email)) != 0 ||
	    sq_col_text(s, 4, u->pw_hash, sizeof(u->pw_hash)) != 0 ||
	    sq_col_blob(s, 5, u->otp_key, sizeof(u->otp_key), &u->otp_key_len) != 0) {
		sec_zero(u, sizeof(*u));
		return STORE_ERR;
	}
	u->login_otp = sqlite3_column_int(s, 6) != 0;
	u->otp_last_step = sqlite3_column_int64(s, 7);
	u->pw_failures = sqlite3_column_int(s, 8);
	u->locked = sqlite3_column_int(s, 9) != 0;
	u->created = sqlite3_column_int64(s, 10);
	return STORE_OK;
}

static int sq_user_add(void *be, store_user *u)
{
	sqlite3_stmt *s;
	int rc;

	if (!sq_text_ok(u->name, sizeof(u->name)) || u->name[0] == '\0' ||
	    !sq_text_ok(u->display, sizeof(u->display)) ||
	    !sq_text_ok(u->email, sizeof(u->email)) ||
	    !sq_text_ok(u->pw_hash, sizeof(u->pw_hash)) || u->otp_key_len > sizeof(u->otp_key))
		return STORE_ERR;
	SQ_CONN(be);
	s = sq_stmt(c, SQ_USER_INSERT);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, u->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, u->display, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, u->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, u->pw_hash, -1, SQLITE_STATIC);
	if (u->otp_key_len > 0)
		sqlite3_bind_blob(s, 5, u->otp_key, (int)u->otp_key_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_int(s, 6, u->login_otp ? 1 : 0);
	sqlite3_bind_int64(s, 7, u->otp_last_step);
	sqlite3_bind_int(s, 8, u->pw_failures);
	sqlite3_bind_int(s, 9, u->locked ? 1 : 0);
	sqlite3_bind_int64(s, 10, u->created);
	rc = sq_write_rc(c, sqlite3_step(s));
	if (rc == STORE_OK)
		u->id = sqlite3_last_insert_rowid(c->db);
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_user_sel(void *be, enum sq_stmt_id id, const char *name, int64_t uid, store_user *out)
{
	sqlite3_stmt *s;
	int rc;

	SQ_CONN(be);
	s = sq_stmt(c, id);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	if (name != NULL)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = sq_user_row(s, out);
	else if (rc == SQLITE_DONE)
		rc = STORE_NOTFOUND;
	else
		rc = sq_write_rc(c, rc);
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_user_get(void *be, const char *name, store_user *out)
{
	return sq_user_sel(be, SQ_USER_SEL_NAME, name, 0, out);
}

static int sq_user_get_id(void *be, int64_t id, store_user *out)
{
	return sq_user_sel(be, SQ_USER_SEL_ID, NULL, id, out);
}

static int sq_user_list(void *be, store_user **out, size_t *n)
{
	sqlite3_stmt *s;
	store_user *arr = NULL, *tmp;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	SQ_CONN(be);
	s = sq_stmt(c, SQ_USER_LIST);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			if (ncap > SIZE_MAX / sizeof(*arr))
				break;
			tmp = realloc(arr, ncap * sizeof(*arr));
			if (tmp == NULL)
				break;
			arr = tmp;
			cap = ncap;
		}
		if (sq_user_row(s, &arr[cnt]) != STORE_OK)
			break;
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		if (arr != NULL)
			sec_free(arr, cap * sizeof(*arr));
		rc = STORE_ERR;
	} else {
		*out = arr;
		*n = cnt;
		rc = STORE_OK;
	}
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

/* One UPDATE/DELETE keyed by an int64 id (param 1) with an optional
 * second parameter; NOTFOUND when no row changed. */
static int sq_simple_id(void *be, enum sq_stmt_id id, int64_t key, const char *text, int64_t ival,
			bool have_ival)
{
	sqlite3_stmt *s;
	int rc;

	SQ_CONN(be);
	s = sq_stmt(c, id);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_int64(s, 1, key);
	if (text != NULL)
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	else if (have_ival)
		sqlite3_bind_int64(s, 2, ival);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY || rc == SQLITE_CONSTRAINT_TRIGGER)
		rc = STORE_CONFLICT; /* ON DELETE RESTRICT: a user who still owns credentials */
	else
		rc = sq_write_rc(c, rc);
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0)
		rc = STORE_NOTFOUND;
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

/* Same, keyed by a text id (credentials). */
static int sq_simple_text(void *be, enum sq_stmt_id id, const char *key, const char *text,
			  int64_t ival, bool have_ival)
{
	sqlite3_stmt *s;
	int rc;

	if (!sq_text_ok(key, STORE_CRED_ID_MAX))
		return STORE_ERR;
	SQ_CONN(be);
	s = sq_stmt(c, id);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	else if (have_ival)
		sqlite3_bind_int64(s, 2, ival);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY || rc == SQLITE_CONSTRAINT_TRIGGER)
		rc = STORE_CONFLICT;
	else
		rc = sq_write_rc(c, rc);
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0)
		rc = STORE_NOTFOUND;
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_user_del(void *be, int64_t id)
{
	return sq_simple_id(be, SQ_USER_DEL, id, NULL, 0, false);
}

static int sq_user_set_password(void *be, int64_t id, const char *pw_hash)
{
	if (!sq_text_ok(pw_hash, STORE_HASH_MAX))
		return STORE_ERR;
	return sq_simple_id(be, SQ_USER_SET_PW, id, pw_hash, 0, false);
}

static int sq_user_set_otp(void *be, int64_t id, const uint8_t *otp_key, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	if (len > STORE_OTPKEY_MAX || (otp_key == NULL && len > 0))
		return STORE_ERR;
	SQ_CONN(be);
	s = sq_stmt(c, SQ_USER_SET_OTP);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	if (len > 0)
		sqlite3_bind_blob(s, 2, otp_key, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	rc = sq_write_rc(c, sqlite3_step(s));
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0)
		rc = STORE_NOTFOUND;
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_user_reset_failures(void *be, int64_t id)
{
	return sq_simple_id(be, SQ_USER_RESET, id, NULL, 0, false);
}

static int sq_user_set_locked(void *be, int64_t id, bool locked)
{
	return sq_simple_id(be, SQ_USER_SET_LOCKED, id, NULL, locked ? 1 : 0, true);
}

/* failures += 1 and lock at the threshold, in one write transaction.
 * key_text selects the credentials variant. */
static int sq_fail(void *be, enum sq_stmt_id id, int64_t key, const char *key_text, int threshold,
		   int *failures, bool *locked)
{
	sqlite3_stmt *s = NULL;
	int rc, f = 0;
	bool l = false;

	SQ_CONN(be);
	if (sq_begin(c) != STORE_OK) {
		rc = STORE_ERR;
		goto out;
	}
	s = sq_stmt(c, id);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	if (key_text != NULL)
		sqlite3_bind_text(s, 1, key_text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, key);
	sqlite3_bind_int(s, 2, threshold);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		f = sqlite3_column_int(s, 0);
		l = sqlite3_column_int(s, 1) != 0;
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? STORE_OK : sq_write_rc(c, rc);
	} else if (rc == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		rc = sq_write_rc(c, rc);
	}
	sq_done(s);
	if (rc == STORE_OK)
		rc = sq_commit(c);
out:
	if (rc != STORE_OK)
		sq_rollback(c);
	else {
		if (failures != NULL)
			*failures = f;
		if (locked != NULL)
			*locked = l;
	}
	sq_put(st, c);
	return rc;
}

static int sq_user_fail(void *be, int64_t id, int threshold, int *failures, bool *locked)
{
	return sq_fail(be, SQ_USER_FAIL, id, NULL, threshold, failures, locked);
}

static int sq_user_use_otp_step(void *be, int64_t id, int64_t step)
{
	sqlite3_stmt *s = NULL;
	int rc;

	SQ_CONN(be);
	if (sq_begin(c) != STORE_OK) {
		rc = STORE_ERR;
		goto out;
	}
	s = sq_stmt(c, SQ_USER_OTP_STEP);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, step);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0) {
		/* Unknown user, or the step was already used. */
		s = sq_stmt(c, SQ_USER_EXISTS);
		if (s == NULL) {
			rc = STORE_ERR;
			goto out;
		}
		sqlite3_bind_int64(s, 1, id);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_ROW ? STORE_CONFLICT
				      : (rc == SQLITE_DONE ? STORE_NOTFOUND : STORE_ERR);
		sq_done(s);
	}
	if (rc == STORE_OK)
		rc = sq_commit(c);
out:
	if (rc != STORE_OK)
		sq_rollback(c);
	sq_put(st, c);
	return rc;
}

/* ---- credentials ---- */

static int sq_cred_row(sqlite3_stmt *s, store_credential *o)
{
	memset(o, 0, sizeof(*o));
	if (sq_col_text(s, 0, o->id, sizeof(o->id)) != 0)
		goto bad;
	o->user_id = sqlite3_column_int64(s, 1);
	if (sq_col_blob(s, 2, o->key_id, sizeof(o->key_id), &o->key_id_len) != 0)
		goto bad;
	o->key_kind = sqlite3_column_int(s, 3);
	o->key_bits = sqlite3_column_int(s, 4);
	o->curve_nid = sqlite3_column_int(s, 5);
	if (sq_col_blob_dup(s, 6, &o->cert_der, &o->cert_len) != 0)
		goto bad;
	o->scal = sqlite3_column_int(s, 7);
	o->auth_otp = sqlite3_column_int(s, 8) != 0;
	o->multisign = sqlite3_column_int(s, 9);
	if (sq_col_text(s, 10, o->pin_hash, sizeof(o->pin_hash)) != 0)
		goto bad;
	o->pin_failures = sqlite3_column_int(s, 11);
	o->pin_locked = sqlite3_column_int(s, 12) != 0;
	o->enabled = sqlite3_column_int(s, 13) != 0;
	if (sq_col_text(s, 14, o->description, sizeof(o->description)) != 0)
		goto bad;
	o->created = sqlite3_column_int64(s, 15);
	return STORE_OK;
bad:
	store_credential_clear(o);
	return STORE_ERR;
}

static int sq_cred_add(void *be, const store_credential *cr)
{
	sqlite3_stmt *s;
	int rc;

	if (!sq_text_ok(cr->id, sizeof(cr->id)) || cr->id[0] == '\0' || cr->key_id_len == 0 ||
	    cr->key_id_len > sizeof(cr->key_id) ||
	    !sq_text_ok(cr->pin_hash, sizeof(cr->pin_hash)) ||
	    !sq_text_ok(cr->description, sizeof(cr->description)) ||
	    (cr->cert_der == NULL && cr->cert_len > 0) || cr->cert_len > INT32_MAX)
		return STORE_ERR;
	SQ_CONN(be);
	s = sq_stmt(c, SQ_CRED_INSERT);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, cr->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, cr->user_id);
	sqlite3_bind_blob(s, 3, cr->key_id, (int)cr->key_id_len, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, cr->key_kind);
	sqlite3_bind_int(s, 5, cr->key_bits);
	sqlite3_bind_int(s, 6, cr->curve_nid);
	if (cr->cert_len > 0)
		sqlite3_bind_blob(s, 7, cr->cert_der, (int)cr->cert_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 7);
	sqlite3_bind_int(s, 8, cr->scal);
	sqlite3_bind_int(s, 9, cr->auth_otp ? 1 : 0);
	sqlite3_bind_int(s, 10, cr->multisign);
	sqlite3_bind_text(s, 11, cr->pin_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 12, cr->pin_failures);
	sqlite3_bind_int(s, 13, cr->pin_locked ? 1 : 0);
	sqlite3_bind_int(s, 14, cr->enabled ? 1 : 0);
	sqlite3_bind_text(s, 15, cr->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 16, cr->created);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_cred_get(void *be, const char *id, store_credential *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!sq_text_ok(id, STORE_CRED_ID_MAX))
		return STORE_NOTFOUND;
	SQ_CONN(be);
	s = sq_stmt(c, SQ_CRED_SEL);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = sq_cred_row(s, out);
	else if (rc == SQLITE_DONE)
		rc = STORE_NOTFOUND;
	else
		rc = sq_write_rc(c, rc);
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_cred_list(void *be, int64_t user_id, store_credential **out, size_t *n)
{
	sqlite3_stmt *s;
	store_credential *arr = NULL, *tmp;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	SQ_CONN(be);
	s = sq_stmt(c, user_id > 0 ? SQ_CRED_LIST_USER : SQ_CRED_LIST_ALL);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	if (user_id > 0)
		sqlite3_bind_int64(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			if (ncap > SIZE_MAX / sizeof(*arr))
				break;
			tmp = realloc(arr, ncap * sizeof(*arr));
			if (tmp == NULL)
				break;
			arr = tmp;
			cap = ncap;
		}
		if (sq_cred_row(s, &arr[cnt]) != STORE_OK)
			break;
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		store_cred_list_free(arr, cnt);
		rc = STORE_ERR;
	} else {
		*out = arr;
		*n = cnt;
		rc = STORE_OK;
	}
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_cred_del(void *be, const char *id)
{
	return sq_simple_text(be, SQ_CRED_DEL, id, NULL, 0, false);
}

static int sq_cred_set_enabled(void *be, const char *id, bool enabled)
{
	return sq_simple_text(be, SQ_CRED_SET_ENABLED, id, NULL, enabled ? 1 : 0, true);
}

static int sq_cred_set_pin(void *be, const char *id, const char *pin_hash)
{
	if (!sq_text_ok(pin_hash, STORE_HASH_MAX))
		return STORE_ERR;
	return sq_simple_text(be, SQ_CRED_SET_PIN, id, pin_hash, 0, false);
}

static int sq_cred_set_cert(void *be, const char *id, const uint8_t *der, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	if (!sq_text_ok(id, STORE_CRED_ID_MAX) || len > INT32_MAX)
		return STORE_ERR;
	SQ_CONN(be);
	s = sq_stmt(c, SQ_CRED_SET_CERT);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (len > 0)
		sqlite3_bind_blob(s, 2, der, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	rc = sq_write_rc(c, sqlite3_step(s));
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0)
		rc = STORE_NOTFOUND;
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_cred_pin_fail(void *be, const char *id, int threshold, int *failures, bool *locked)
{
	if (!sq_text_ok(id, STORE_CRED_ID_MAX))
		return STORE_ERR;
	return sq_fail(be, SQ_CRED_PIN_FAIL, 0, id, threshold, failures, locked);
}

static int sq_cred_pin_reset(void *be, const char *id)
{
	return sq_simple_text(be, SQ_CRED_PIN_RESET, id, NULL, 0, false);
}

static int sq_cred_set_locked(void *be, const char *id, bool locked)
{
	return sq_simple_text(be, SQ_CRED_SET_LOCKED, id, NULL, locked ? 1 : 0, true);
}

/* ---- tokens ---- */

static int sq_token_put(void *be, const store_token *t)
{
	sqlite3_stmt *s;
	int rc;

	SQ_CONN(be);
	s = sq_stmt(c, SQ_TOKEN_INSERT);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_blob(s, 1, t->hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)t->kind);
	sqlite3_bind_int64(s, 3, t->user_id);
	if (t->has_parent)
		sqlite3_bind_blob(s, 4, t->parent, 32, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_int64(s, 5, t->expires);
	sqlite3_bind_int(s, 6, t->revoked ? 1 : 0);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_token_get(void *be, const uint8_t hash[32], store_token *out)
{
	sqlite3_stmt *s;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	SQ_CONN(be);
	s = sq_stmt(c, SQ_TOKEN_SEL);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = STORE_OK;
		if (sq_col_blob(s, 0, out->hash, 32, &len) != 0 || len != 32)
			rc = STORE_ERR;
		out->kind = (store_token_kind)sqlite3_column_int(s, 1);
		out->user_id = sqlite3_column_int64(s, 2);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			if (sq_col_blob(s, 3, out->parent, 32, &len) != 0 || len != 32)
				rc = STORE_ERR;
			out->has_parent = true;
		}
		out->expires = sqlite3_column_int64(s, 4);
		out->revoked = sqlite3_column_int(s, 5) != 0;
	} else if (rc == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		rc = sq_write_rc(c, rc);
	}
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_token_revoke(void *be, const uint8_t hash[32])
{
	sqlite3_stmt *s = NULL;
	int rc, kind = 0;

	SQ_CONN(be);
	if (sq_begin(c) != STORE_OK) {
		rc = STORE_ERR;
		goto out;
	}
	s = sq_stmt(c, SQ_TOKEN_REVOKE);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		kind = sqlite3_column_int(s, 0);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? STORE_OK : sq_write_rc(c, rc);
	} else if (rc == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		rc = sq_write_rc(c, rc);
	}
	sq_done(s);
	if (rc == STORE_OK && kind == STORE_TOKEN_REFRESH) {
		s = sq_stmt(c, SQ_TOKEN_REVOKE_CHILDREN);
		if (s == NULL) {
			rc = STORE_ERR;
			goto out;
		}
		sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
		rc = sq_write_rc(c, sqlite3_step(s));
		sq_done(s);
	}
	if (rc == STORE_OK)
		rc = sq_commit(c);
out:
	if (rc != STORE_OK)
		sq_rollback(c);
	sq_put(st, c);
	return rc;
}

static int sq_token_purge_expired(void *be, int64_t now)
{
	sqlite3_stmt *s;
	int rc;

	SQ_CONN(be);
	s = sq_stmt(c, SQ_TOKEN_PURGE);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_int64(s, 1, now);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

/* ---- audit ---- */

static int sq_head_read(sq_conn *c, int64_t *seq, uint8_t hash[32])
{
	sqlite3_stmt *s = sq_stmt(c, SQ_AUDIT_HEAD_SEL);
	size_t len = 0;
	int rc;

	if (s == NULL)
		return STORE_ERR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		rc = (sq_col_blob(s, 1, hash, 32, &len) == 0 && len == 32) ? STORE_OK : STORE_ERR;
	} else if (rc == SQLITE_DONE) {
		*seq = 0;
		memset(hash, 0, 32);
		rc = STORE_OK;
	} else {
		rc = sq_write_rc(c, rc);
	}
	sq_done(s);
	return rc;
}

static int sq_audit_insert(sq_conn *c, const store_audit *rec)
{
	sqlite3_stmt *s = sq_stmt(c, SQ_AUDIT_INSERT);
	int rc;

	if (s == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, rec->seq);
	sqlite3_bind_int64(s, 2, rec->time_us);
	sqlite3_bind_text(s, 3, rec->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, rec->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, rec->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, rec->outcome, -1, SQLITE_STATIC);
	if (rec->detail != NULL)
		sqlite3_bind_text(s, 7, rec->detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 7);
	sqlite3_bind_blob(s, 8, rec->prev, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 9, rec->hash, 32, SQLITE_STATIC);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
	return rc;
}

/* The whole batch in one BEGIN IMMEDIATE ... COMMIT: one fsync of the WAL
 * for n records; the head row is written once, for the last record. */
static int sq_audit_append_batch(void *be, store_audit *const *recs, size_t n,
				 store_audit_chain_fn chain, void *ctx)
{
	sqlite3_stmt *s = NULL;
	int64_t seq = 0;
	uint8_t prev[32];
	size_t i;
	int rc;

	if (n == 0)
		return STORE_OK;
	for (i = 0; i < n; i++) {
		const store_audit *rec = recs[i];

		if (rec == NULL || !sq_text_ok(rec->actor, sizeof(rec->actor)) ||
		    !sq_text_ok(rec->action, sizeof(rec->action)) ||
		    !sq_text_ok(rec->object, sizeof(rec->object)) ||
		    !sq_text_ok(rec->outcome, sizeof(rec->outcome)))
			return STORE_ERR;
	}
	SQ_CONN(be);
	if (sq_begin(c) != STORE_OK) {
		rc = STORE_ERR;
		goto out;
	}
	rc = sq_head_read(c, &seq, prev);
	if (rc != STORE_OK)
		goto out;
	for (i = 0; i < n && rc == STORE_OK; i++) {
		store_audit *rec = recs[i];

		rec->seq = ++seq;
		memcpy(rec->prev, prev, 32);
		chain(rec, ctx);
		memcpy(prev, rec->hash, 32);
		rc = sq_audit_insert(c, rec);
	}
	if (rc != STORE_OK)
		goto out;

	s = sq_stmt(c, SQ_AUDIT_HEAD_SET);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_blob(s, 2, prev, 32, SQLITE_STATIC);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
	if (rc == STORE_OK)
		rc = sq_commit(c);
out:
	if (rc != STORE_OK)
		sq_rollback(c);
	sq_put(st, c);
	return rc;
}

static int sq_audit_append(void *be, store_audit *rec, store_audit_chain_fn chain, void *ctx)
{
	store_audit *const one[1] = {rec};

	return sq_audit_append_batch(be, one, 1, chain, ctx);
}

static int sq_audit_iter(void *be, int64_t from_seq, store_audit_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	store_audit rec;
	size_t len;
	int rc;

	SQ_CONN(be);
	/* Its own statement (not the cached one): the callback may call back
	 * into the store on this thread, which then uses another connection. */
	rc = sqlite3_prepare_v2(c->db, sq_sql[SQ_AUDIT_ITER], -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_int64(s, 1, from_seq);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *d;
		int dn, stop;

		memset(&rec, 0, sizeof(rec));
		rec.seq = sqlite3_column_int64(s, 0);
		rec.time_us = sqlite3_column_int64(s, 1);
		/* Over-long text fields are a corrupted/tampered row: hand the
		 * verifier a truncated copy instead of failing, the hash
		 * check will flag it. */
		if (sq_col_text(s, 2, rec.actor, sizeof(rec.actor)) != 0 ||
		    sq_col_text(s, 3, rec.action, sizeof(rec.action)) != 0 ||
		    sq_col_text(s, 4, rec.object, sizeof(rec.object)) != 0 ||
		    sq_col_text(s, 5, rec.outcome, sizeof(rec.outcome)) != 0)
			memcpy(rec.outcome, "<corrupt>", sizeof("<corrupt>"));
		d = sqlite3_column_text(s, 6);
		dn = sqlite3_column_bytes(s, 6);
		if (d != NULL && dn >= 0) {
			rec.detail = malloc((size_t)dn + 1);
			if (rec.detail == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			memcpy(rec.detail, d, (size_t)dn);
			rec.detail[dn] = '\0';
		}
		len = 0;
		if (sq_col_blob(s, 7, rec.prev, 32, &len) != 0 || len != 32)
			memset(rec.prev, 0xff, 32);
		len = 0;
		if (sq_col_blob(s, 8, rec.hash, 32, &len) != 0 || len != 32)
			memset(rec.hash, 0xff, 32);
		stop = cb(&rec, ctx);
		free(rec.detail);
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	rc = rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
	sqlite3_finalize(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_audit_head(void *be, int64_t *seq, uint8_t hash[32])
{
	int rc;

	SQ_CONN(be);
	rc = sq_head_read(c, seq, hash);
	sq_put(st, c);
	return rc;
}

/* ---- meta ---- */

static int sq_meta_get(void *be, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *s;
	int rc;

	SQ_CONN(be);
	s = sq_stmt(c, SQ_META_GET);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = sq_col_text(s, 0, out, cap) == 0 ? STORE_OK : STORE_ERR;
	else if (rc == SQLITE_DONE)
		rc = STORE_NOTFOUND;
	else
		rc = sq_write_rc(c, rc);
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

static int sq_meta_set(void *be, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rc;

	if (strcmp(key, "schema_version") == 0)
		return STORE_ERR; /* owned by the migrations */
	SQ_CONN(be);
	s = sq_stmt(c, SQ_META_SET);
	if (s == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sq_write_rc(c, sqlite3_step(s));
	sq_done(s);
out:
	sq_put(st, c);
	return rc;
}

const store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_get_id = sq_user_get_id,
    .user_list = sq_user_list,
    .user_del = sq_user_del,
    .user_set_password = sq_user_set_password,
    .user_fail = sq_user_fail,
    .user_reset_failures = sq_user_reset_failures,
    .user_set_locked = sq_user_set_locked,
    .user_use_otp_step = sq_user_use_otp_step,
    .cred_add = sq_cred_add,
    .cred_get = sq_cred_get,
    .cred_list = sq_cred_list,
    .cred_del = sq_cred_del,
    .cred_set_enabled = sq_cred_set_enabled,
    .cred_set_pin = sq_cred_set_pin,
    .cred_set_cert = sq_cred_set_cert,
    .cred_pin_fail = sq_cred_pin_fail,
    .cred_pin_reset = sq_cred_pin_reset,
    .cred_set_locked = sq_cred_set_locked,
    .token_put = sq_token_put,
    .token_get = sq_token_get,
    .token_revoke = sq_token_revoke,
    .token_purge_expired = sq_token_purge_expired,
    .audit_append = sq_audit_append,
    .audit_iter = sq_audit_iter,
    .audit_head = sq_audit_head,
    .audit_append_batch = sq_audit_append_batch,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .user_set_otp = sq_user_set_otp,
};
