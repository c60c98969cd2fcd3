/* Boot smoke test of the virt board: an image with this main instead of the firmware's,
 * booted by qemu-system-aarch64 -kernel. It goes through everything musl needs from the
 * board's system-call shim: stdio (writev, the isatty probe), malloc (brk, mmap, munmap),
 * both clocks, a sleep (ppoll -> wfi), getrandom when there is an rng, and exit(0), which
 * powers the machine off (QEMU exits 0). test_virt_smoke.sh reads what it prints.
 * With -append "overflow" it recurses until the stack's guard page stops it; with
 * "unserved" it makes a system call the board does not serve; with "console N" it leaves
 * the console unread for 3 s (the board's 4 KiB receive ring fills and holds the sender
 * back), then reads N bytes and prints their sum. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failed;

/* Deep recursion the compiler cannot turn into a loop: each frame keeps a live buffer.
 * The bound is far beyond any stack this board has. */
static int recurse(int depth, int bound)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    return depth < bound ? recurse(depth + 1, bound) + frame[0] : 0;
}

static void check(int ok, const char *what)
{
    printf("smoke: %s: %s\n", what, ok ? "ok" : "FAILED");
    failed |= !ok;
}

int main(int argc, char **argv)
{
    printf("hello from musl at EL1, argv[0] %s, %d argument%s\n", argv[0], argc - 1,
           argc == 2 ? "" : "s");
    for (int i = 1; i < argc; i++) {
        printf("  argv[%d] %s\n", i, argv[i]);
    }
    if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
        printf("smoke: recursing until the stack runs out\n");
        fflush(stdout);
        return recurse(0, 1 << 30);
    }
    if (argc > 2 && strcmp(argv[1], "console") == 0) {
        long want = atol(argv[2]), got = 0;
        unsigned long sum = 0;
        printf("smoke: not reading the console for 3 s\n");
        fflush(stdout);
        struct timespec pause = { 3, 0 }, tick = { 0, 10 * 1000000 };
        nanosleep(&pause, NULL);
        for (int idle = 0; got < want && idle < 500; ) {
            unsigned char buf[256];
            ssize_t n = read(0, buf, sizeof buf);
            if (n <= 0) {
                idle++;
                nanosleep(&tick, NULL);
                continue;
            }
            idle = 0;
            for (ssize_t i = 0; i < n; i++) {
                sum = sum * 31 + buf[i];
            }
            got += n;
        }
        printf("smoke: read %ld bytes, sum %lu\n", got, sum);
        return got == want ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "unserved") == 0) {
        long r = syscall(999);
        int e = errno;
        long again = syscall(999);
        printf("smoke: system call 999: %ld (%s), again %ld\n", r, strerror(e), again);
        return r == -1 && e == ENOSYS && again == -1 ? 0 : 1;
    }
    char *small = malloc(100);
    char *big = malloc(3u << 20);   /* mmap'ed by malloc */
    check(small != NULL && big != NULL, "malloc small and 3 MiB");
    if (small != NULL && big != NULL) {
        memset(small, 'a', 100);
        memset(big, 'b', 3u << 20);
        check(big[(3u << 20) - 1] == 'b' && small[99] == 'a', "memory holds what was written");
    }
    free(big);
    free(small);
    char *again = calloc(1, 2u << 20);
    check(again != NULL && again[12345] == 0, "calloc after free reads zero");
    free(again);

    struct timespec m0, m1, rt;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    struct timespec nap = { 0, 50 * 1000000 };
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    long ms = (m1.tv_sec - m0.tv_sec) * 1000 + (m1.tv_nsec - m0.tv_nsec) / 1000000;
    printf("smoke: the sleep took %ld ms\n", ms);
    check(ms >= 50 && ms < 1000, "a 50 ms sleep takes 50 ms");
    clock_gettime(CLOCK_REALTIME, &rt);
    printf("smoke: wall clock %lld (the RTC)\n", (long long)rt.tv_sec);
    check(rt.tv_sec > 1600000000, "the wall clock comes from the RTC");

    unsigned char r[32];
    ssize_t n = getrandom(r, sizeof r, 0);
    printf("smoke: getrandom: %s\n", n == (ssize_t)sizeof r ? "32 bytes" :
           errno == ENOSYS ? "no entropy source (ENOSYS)" : strerror(errno));
    printf("smoke: %s\n", failed ? "FAILED" : "all ok");
    return failed;
}
