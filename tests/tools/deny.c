/* deny: run a command with some system calls refused, as a container runtime's seccomp
 * profile would refuse them. Used by tests/capsule.rs to check that `run --capsule` fails
 * closed where the kernel features it needs are not available.
 *
 *   deny [--landlock] [--unshare] -- PROGRAM ARGS...
 *
 * --landlock: landlock_create_ruleset, landlock_add_rule, landlock_restrict_self fail with
 *             ENOSYS (a kernel without Landlock);
 * --unshare:  unshare fails with EPERM, and clone3 with ENOSYS (so that libc falls back
 *             to clone), as Docker's default profile does for unprivileged containers.
 * Compiled by the test with the system C compiler; x86_64 and aarch64. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sched.h>

#define DENY(nr, err) \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((err) & SECCOMP_RET_DATA))

int main(int argc, char **argv) {
    int landlock = 0, unshare_ = 0, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--landlock") == 0) landlock = 1;
        else if (strcmp(argv[i], "--unshare") == 0) unshare_ = 1;
        else { fprintf(stderr, "deny: unknown option %s\n", argv[i]); return 64; }
    }
    if (i + 1 >= argc) { fprintf(stderr, "usage: deny [--landlock] [--unshare] -- PROGRAM ARGS...\n"); return 64; }
    struct sock_filter filter[32];
    int n = 0;
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    if (landlock) {
        struct sock_filter f[] = {
            DENY(__NR_landlock_create_ruleset, ENOSYS),
            DENY(__NR_landlock_add_rule, ENOSYS),
            DENY(__NR_landlock_restrict_self, ENOSYS),
        };
        memcpy(&filter[n], f, sizeof f); n += sizeof f / sizeof f[0];
    }
    if (unshare_) {
        struct sock_filter f[] = {
            DENY(__NR_unshare, EPERM),
            DENY(__NR_clone3, ENOSYS),
        };
        memcpy(&filter[n], f, sizeof f); n += sizeof f / sizeof f[0];
    }
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("deny: no_new_privs"); return 70; }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) { perror("deny: seccomp"); return 70; }
    execvp(argv[i + 1], &argv[i + 1]);
    perror("deny: exec");
    return 127;
}
