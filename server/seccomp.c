/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp-BPF deny-lists for the HTTP and the SAM process. */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) && !defined(__ILP32__)
#define SECCOMP_ARCH_NAME "x86_64"
#define SECCOMP_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SECCOMP_X32_BIT 0x40000000u /* __X32_SYSCALL_BIT */
#elif defined(__aarch64__) && !defined(__ILP32__)
#define SECCOMP_ARCH_NAME "aarch64"
#define SECCOMP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#undef SECCOMP_AUDIT_ARCH /* the argument offsets below assume little endian */
#endif

#define SECCOMP_PROG_MAX 256
/* The low 32 bits of the first system call argument. */
#define SECCOMP_ARG0_LO offsetof(struct seccomp_data, args[0])

static bool seccomp_on = true;

void seccomp_set_enabled(bool on)
{
	seccomp_on = on;
}

bool seccomp_enabled(void)
{
	return seccomp_on;
}

bool seccomp_sam_needs_inet(const char *hsm_module, const char *store_uri)
{
	const char *base;

	if (hsm_module == NULL || store_uri == NULL || strncmp(store_uri, "sqlite:", 7) != 0)
		return true;
	base = strrchr(hsm_module, '/');
	base = base != NULL ? base + 1 : hsm_module;
	return strncmp(base, "libsofthsm2", 11) != 0;
}

const char *seccomp_arch(void)
{
#ifdef SECCOMP_AUDIT_ARCH
	return SECCOMP_ARCH_NAME;
#else
	return NULL;
#endif
}

#ifdef SECCOMP_AUDIT_ARCH

/* Denied in both processes: debugging and reading other processes, the
 * kernel's administration, namespaces and mounts, the clock. */
static const int seccomp_deny_common[] = {
    __NR_ptrace,
    __NR_process_vm_readv,
    __NR_process_vm_writev,
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_init_module,
    __NR_finit_module,
    __NR_delete_module,
    __NR_mount,
    __NR_umount2,
#ifdef __NR_fsopen
    __NR_fsopen,
    __NR_fsconfig,
    __NR_fsmount,
    __NR_fspick,
    __NR_move_mount,
    __NR_open_tree,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
    __NR_pivot_root,
    __NR_chroot,
    __NR_swapon,
    __NR_swapoff,
    __NR_reboot,
    __NR_bpf,
    __NR_perf_event_open,
    __NR_keyctl,
    __NR_add_key,
    __NR_request_key,
    __NR_userfaultfd,
    __NR_personality,
    __NR_unshare,
    __NR_setns,
    __NR_open_by_handle_at,
    __NR_acct,
    __NR_settimeofday,
    __NR_clock_settime,
    __NR_clock_adjtime,
    __NR_adjtimex,
#ifdef __NR_iopl
    __NR_iopl,
#endif
#ifdef __NR_ioperm
    __NR_ioperm,
#endif
};

static const int seccomp_deny_exec[] = {
    __NR_execve,
    __NR_execveat,
};

/* The SAM process: no new processes (threads only). */
static const int seccomp_deny_fork[] = {
#ifdef __NR_fork
    __NR_fork,
#endif
#ifdef __NR_vfork
    __NR_vfork,
#endif
};

typedef struct {
	struct sock_filter f[SECCOMP_PROG_MAX];
	unsigned short n;
	bool overflow;
} seccomp_prog;

static void seccomp_emit(seccomp_prog *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	if (p->n >= SECCOMP_PROG_MAX) {
		p->overflow = true;
		return;
	}
	p->f[p->n].code = code;
	p->f[p->n].jt = jt;
	p->f[p->n].jf = jf;
	p->f[p->n].k = k;
	p->n++;
}

static void seccomp_ret(seccomp_prog *p, uint32_t action)
{
	seccomp_emit(p, BPF_RET | BPF_K, action, 0, 0);
}

/* With the system call number in A: nr fails with err. */
static void seccomp_deny(seccomp_prog *p, int nr, int err)
{
	seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
	seccomp_ret(p, SECCOMP_RET_ERRNO | ((uint32_t)err & SECCOMP_RET_DATA));
}

static void seccomp_deny_list(seccomp_prog *p, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		seccomp_deny(p, nrs[i], EPERM);
}

/* clone: allowed with CLONE_THREAD (pthread_create), else EPERM. The
 * flags are the first argument on x86_64 and aarch64. */
static void seccomp_clone_threads_only(seccomp_prog *p)
{
	seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4);
	seccomp_emit(p, BPF_LD | BPF_W | BPF_ABS, SECCOMP_ARG0_LO, 0, 0);
	seccomp_emit(p, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
	seccomp_ret(p, SECCOMP_RET_ALLOW);
	seccomp_ret(p, SECCOMP_RET_ERRNO | EPERM);
}

/* socket: AF_UNIX (and AF_INET/AF_INET6 with inet) allowed, else EPERM. */
static void seccomp_socket_families(seccomp_prog *p, bool inet)
{
	seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, inet ? 6 : 4);
	seccomp_emit(p, BPF_LD | BPF_W | BPF_ABS, SECCOMP_ARG0_LO, 0, 0);
	seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, inet ? 2 : 0, inet ? 0 : 1);
	if (inet) {
		seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, 0);
		seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1);
	}
	seccomp_ret(p, SECCOMP_RET_ALLOW);
	seccomp_ret(p, SECCOMP_RET_ERRNO | EPERM);
}

static void seccomp_build(seccomp_prog *p, seccomp_profile prof, bool allow_inet)
{
	p->n = 0;
	p->overflow = false;
	/* Another ABI (i386 through int 0x80 on x86_64) has other numbers. */
	seccomp_emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	seccomp_emit(p, BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_AUDIT_ARCH, 1, 0);
	seccomp_ret(p, SECCOMP_RET_ERRNO | EPERM);
	seccomp_emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef SECCOMP_X32_BIT
	/* x32 system calls share the arch value and carry this bit. */
	seccomp_emit(p, BPF_JMP | BPF_JGE | BPF_K, SECCOMP_X32_BIT, 0, 1);
	seccomp_ret(p, SECCOMP_RET_ERRNO | EPERM);
#endif
	seccomp_deny_list(p, seccomp_deny_common,
			  sizeof(seccomp_deny_common) / sizeof(seccomp_deny_common[0]));
	seccomp_deny_list(p, seccomp_deny_exec,
			  sizeof(seccomp_deny_exec) / sizeof(seccomp_deny_exec[0]));
	if (prof == SECCOMP_PROFILE_SAM) {
		seccomp_deny_list(p, seccomp_deny_fork,
				  sizeof(seccomp_deny_fork) / sizeof(seccomp_deny_fork[0]));
		/* Its arguments are in memory, out of the filter's reach: ENOSYS
		 * makes glibc use clone, whose flags the filter checks. */
		seccomp_deny(p, __NR_clone3, ENOSYS);
		seccomp_clone_threads_only(p);
		seccomp_socket_families(p, allow_inet);
	}
	seccomp_ret(p, SECCOMP_RET_ALLOW);
}

int seccomp_install(seccomp_profile prof, bool allow_inet)
{
	static seccomp_prog prog; /* ~2 KiB: not on the stack */
	struct sock_fprog fp;

	if (!seccomp_on)
		return 1;
	if (prof != SECCOMP_PROFILE_HTTP && prof != SECCOMP_PROFILE_SAM &&
	    prof != SECCOMP_PROFILE_MONITOR) {
		errno = EINVAL;
		return -1;
	}
	seccomp_build(&prog, prof, allow_inet);
	if (prog.overflow) {
		errno = E2BIG;
		return -1;
	}
	fp.len = prog.n;
	fp.filter = prog.f;
	/* All threads at once; the HTTP process has its worker threads. */
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp) == 0)
		return 0;
	return -1;
}

#else /* no system call table for this architecture */

int seccomp_install(seccomp_profile prof, bool allow_inet)
{
	(void)prof;
	(void)allow_inet;
	if (!seccomp_on)
		return 1;
	errno = ENOSYS;
	return -1;
}

#endif
