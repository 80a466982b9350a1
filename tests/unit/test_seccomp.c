/* SPDX-License-Identifier: Apache-2.0 */
/* server/seccomp.c: each filter is installed in a forked child, which
 * checks that the denied calls fail with EPERM and that what the process
 * needs still works (threads, files, memory, AF_UNIX sockets, a SoftHSM
 * key generation and signature); the parent checks the child's status. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "hsm.h"
#include "seccomp.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-seccomp"
#define SO_PIN "so-pin-0000"
#define USER_PIN "user-pin-1234"

static char tmpdir[] = "/tmp/cisres-test-seccomp-XXXXXX";

/* In the child: report the failed check and exit non-zero. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "test_seccomp.c:%d: check failed: %s (errno %d)\n",        \
				__LINE__, #cond, errno);                                           \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* The call failed with exactly this errno. */
#define DENIED(call, err)                                                                          \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(call);                                                            \
		CHECK(r_ == -1 && errno == (err));                                                 \
	} while (0)

static int group_setup(void **state)
{

	(void)state;
	if (testlib_softhsm(tmpdir) != 0)
		return -1;
	return hsm_create_token(testlib_module(), TOKEN_LABEL, SO_PIN, USER_PIN) == HSM_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	testlib_rmtree(tmpdir);
	return 0;
}

/* Run body in a child with the filter p installed; the child's exit
 * status must be 0. */
static void in_child(seccomp_profile p, bool inet, void (*body)(void))
{
	int status = 0;
	pid_t pid;

	if (seccomp_arch() == NULL)
		skip();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
		CHECK(seccomp_install(p, inet) == 0);
		body();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Seccomp: 2 (filter) in /proc/self/status. */
static int seccomp_mode(void)
{
	char line[256];
	int mode = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Seccomp:", 8) == 0)
			mode = (int)strtol(line + 8, NULL, 10);
	}
	fclose(f);
	return mode;
}

/* ---- what both filters deny ---- */

static void check_common_denied(void)
{
	char buf[16] = {0}, dst[16];
	struct iovec local = {dst, sizeof(dst)}, remote = {buf, sizeof(buf)};
	char *const argv[] = {(char *)"/bin/true", NULL};
	char *const envp[] = {NULL};

	CHECK(seccomp_mode() == 2);
	DENIED(ptrace(PTRACE_PEEKDATA, getppid(), NULL, NULL), EPERM);
	DENIED(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
	DENIED(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), EPERM);
	DENIED(process_vm_writev(getpid(), &local, 1, &remote, 1, 0), EPERM);
	DENIED(execve("/bin/true", argv, envp), EPERM);
	DENIED(syscall(__NR_execveat, AT_FDCWD, "/bin/true", argv, envp, 0), EPERM);
	DENIED(unshare(CLONE_NEWUSER), EPERM);
	DENIED(syscall(__NR_mount, "none", tmpdir, "tmpfs", 0UL, NULL), EPERM);
	DENIED(chroot(tmpdir), EPERM);
	DENIED(syscall(__NR_bpf, 0, NULL, 0), EPERM);
	DENIED(syscall(__NR_perf_event_open, NULL, 0, -1, -1, 0UL), EPERM);
	DENIED(syscall(__NR_keyctl, 0, 0, 0, 0, 0), EPERM);
	DENIED(syscall(__NR_personality, 0xffffffffUL), EPERM);
	DENIED(syscall(__NR_init_module, NULL, 0UL, ""), EPERM);
}

/* What a process of ours needs: files, memory, AF_UNIX sockets, time. */
static void check_basics_allowed(void)
{
	char path[512], back[8] = {0};
	int fd, sv[2];
	void *m;
	struct timespec ts;

	snprintf(path, sizeof(path), "%s/file-%ld", tmpdir, (long)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "seccomp", 7) == 7);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(read(fd, back, 7) == 7 && memcmp(back, "seccomp", 7) == 0);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED && memcmp(m, "seccomp", 7) == 0);
	CHECK(munmap(m, 4096) == 0);
	close(fd);
	CHECK(unlink(path) == 0);
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	memset(m, 0x5a, 1 << 20);
	CHECK(munmap(m, 1 << 20) == 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	close(fd);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[0], "x", 1) == 1 && read(sv[1], back, 1) == 1 && back[0] == 'x');
	close(sv[0]);
	close(sv[1]);
	CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
}

static void *thread_body(void *arg)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	*(int *)arg = fd >= 0 ? 42 : -1;
	return arg;
}

static void check_threads_allowed(void)
{
	pthread_t t[4];
	int out[4] = {0};

	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, thread_body, &out[i]) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(out[i] == 42);
	}
}

/* ---- the SAM filter ---- */

static void sam_body(void)
{
	int fd;

	check_common_denied();
	check_basics_allowed();
	check_threads_allowed();
	DENIED(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	DENIED(socket(AF_INET6, SOCK_DGRAM, 0), EPERM);
	DENIED(socket(AF_NETLINK, SOCK_RAW, 0), EPERM);
	DENIED(socket(AF_PACKET, SOCK_RAW, 0), EPERM);
	DENIED(fork(), EPERM);
	DENIED(syscall(__NR_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL), EPERM);
	DENIED(syscall(__NR_clone3, NULL, (size_t)0), ENOSYS);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(fd >= 0);
	close(fd);
}

static void test_sam_filter(void **state)
{
	(void)state;
	in_child(SECCOMP_PROFILE_SAM, false, sam_body);
}

static void sam_inet_body(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	close(fd);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK(fd >= 0 || errno == EAFNOSUPPORT);
	if (fd >= 0)
		close(fd);
	DENIED(socket(AF_NETLINK, SOCK_RAW, 0), EPERM);
	DENIED(fork(), EPERM);
	DENIED(
	    execve("/bin/true", (char *const[]){(char *)"/bin/true", NULL}, (char *const[]){NULL}),
	    EPERM);
}

static void test_sam_filter_inet(void **state)
{
	(void)state;
	in_child(SECCOMP_PROFILE_SAM, true, sam_inet_body);
}

/* The SAM's real work under its filter: SoftHSM loaded, a key pair
 * generated (files written in the token directory), a signature made
 * and checked. */
static void sam_hsm_body(void)
{
	hsm_config cfg = {0};
	hsm_key_spec spec = {KEY_EC, 0, NID_X9_62_prime256v1};
	static const uint8_t id[] = {0x5e, 0xcc, 0x01};
	uint8_t digest[32], sig[256];
	size_t siglen = 0;
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *vc;
	hsm *h = NULL;

	cfg.module_path = testlib_module();
	cfg.token_label = TOKEN_LABEL;
	cfg.pin = USER_PIN;
	cfg.pin_len = strlen(USER_PIN);
	cfg.pool_size = 2;
	CHECK(hsm_open(&cfg, &h) == HSM_OK);
	CHECK(hsm_generate_keypair(h, &spec, id, sizeof(id), "seccomp", &pub) == HSM_OK);
	memset(digest, 0x11, sizeof(digest));
	CHECK(hsm_sign(h, id, sizeof(id), HSM_MECH_ECDSA, NULL, digest, sizeof(digest), sig,
		       sizeof(sig), &siglen) == HSM_OK);
	vc = EVP_PKEY_CTX_new(pub, NULL);
	CHECK(vc != NULL && EVP_PKEY_verify_init(vc) == 1);
	CHECK(EVP_PKEY_verify(vc, sig, siglen, digest, sizeof(digest)) == 1);
	EVP_PKEY_CTX_free(vc);
	CHECK(hsm_destroy_keypair(h, id, sizeof(id)) == HSM_OK);
	EVP_PKEY_free(pub);
	hsm_close(h);
	DENIED(socket(AF_INET, SOCK_STREAM, 0), EPERM);
}

static void test_sam_filter_softhsm(void **state)
{
	(void)state;
	in_child(SECCOMP_PROFILE_SAM, false, sam_hsm_body);
}

/* ---- the HTTP filter ---- */

static void http_body(void)
{
	int fd, status = 0;
	pid_t p;

	check_common_denied();
	check_basics_allowed();
	check_threads_allowed();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	close(fd);
	/* no fork restriction here: only exec */
	p = fork();
	CHECK(p >= 0);
	if (p == 0)
		_exit(7);
	CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 7);
}

static void test_http_filter(void **state)
{
	(void)state;
	in_child(SECCOMP_PROFILE_HTTP, false, http_body);
}

/* ---- the monitor filter: it forks SAM processes (execve is in the
 * common checks) ---- */

static void monitor_body(void)
{
	int status = 0;
	pid_t p;

	check_common_denied();
	check_basics_allowed();
	p = fork();
	CHECK(p >= 0);
	if (p == 0)
		_exit(7);
	CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 7);
}

static void test_monitor_filter(void **state)
{
	(void)state;
	in_child(SECCOMP_PROFILE_MONITOR, false, monitor_body);
}

/* ---- all threads, off switch, control ---- */

static pthread_barrier_t barrier;

static void *late_thread(void *arg)
{
	int fd;

	(void)arg;
	pthread_barrier_wait(&barrier); /* the main thread installs the filter */
	pthread_barrier_wait(&barrier);
	errno = 0;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0) {
		close(fd);
		return (void *)1; /* not filtered: wrong */
	}
	return errno == EPERM ? NULL : (void *)2;
}

/* A thread that runs before the filter is installed gets it too (TSYNC),
 * as the libmicrohttpd threads of the HTTP process. */
static void test_filter_covers_running_threads(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	if (seccomp_arch() == NULL)
		skip();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		void *ret = (void *)3;

		CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
		CHECK(pthread_create(&t, NULL, late_thread, NULL) == 0);
		pthread_barrier_wait(&barrier);
		CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
		CHECK(seccomp_install(SECCOMP_PROFILE_SAM, false) == 0);
		pthread_barrier_wait(&barrier);
		CHECK(pthread_join(t, &ret) == 0);
		CHECK(ret == NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --no-seccomp: nothing installed, the same calls behave as without. */
static void test_disabled(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		seccomp_set_enabled(false);
		CHECK(!seccomp_enabled());
		CHECK(seccomp_install(SECCOMP_PROFILE_SAM, false) == 1);
		CHECK(seccomp_mode() == 0);
		/* not traced by anyone: ESRCH, not the filter's EPERM */
		DENIED(ptrace(PTRACE_PEEKDATA, getpid(), NULL, NULL), ESRCH);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(fd >= 0);
		close(fd);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Without PR_SET_NO_NEW_PRIVS (and without CAP_SYS_ADMIN) the kernel
 * refuses: the error reaches the caller. */
static void test_needs_no_new_privs(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	if (seccomp_arch() == NULL)
		skip();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* root holds CAP_SYS_ADMIN, which would do instead: become nobody */
		if (geteuid() == 0)
			CHECK(setresgid(65534, 65534, 65534) == 0 &&
			      setresuid(65534, 65534, 65534) == 0);
		DENIED(seccomp_install(SECCOMP_PROFILE_HTTP, false), EACCES);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The SAM keeps AF_INET only for a network HSM or a network store. */
static void test_sam_needs_inet(void **state)
{
	(void)state;
	assert_false(seccomp_sam_needs_inet("/usr/lib/softhsm/libsofthsm2.so", "sqlite:/x/c.db"));
	assert_false(seccomp_sam_needs_inet("libsofthsm2.so", "sqlite:c.db"));
	assert_true(seccomp_sam_needs_inet("/opt/vendor/libCryptoki2_64.so", "sqlite:/x/c.db"));
	assert_true(seccomp_sam_needs_inet("/usr/lib/softhsm/libsofthsm2.so",
					   "postgresql://db.example.org/cisres"));
	assert_true(seccomp_sam_needs_inet(NULL, "sqlite:/x/c.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sam_filter),
	    cmocka_unit_test(test_sam_filter_inet),
	    cmocka_unit_test(test_sam_filter_softhsm),
	    cmocka_unit_test(test_http_filter),
	    cmocka_unit_test(test_monitor_filter),
	    cmocka_unit_test(test_filter_covers_running_threads),
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_needs_no_new_privs),
	    cmocka_unit_test(test_sam_needs_inet),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
