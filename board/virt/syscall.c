/* The system-call shim: musl, unmodified, makes Linux system calls with `svc #0` (number in
 * x8, arguments in x0-x5, result or -errno in x0); there is no kernel, so the board serves
 * the few a freestanding firmware makes: console output (stdio, and musl's isatty probe),
 * memory for malloc (brk, anonymous mmap), clocks, randomness, sleeping, exit, and the
 * signal and thread bookkeeping musl does at start and in abort(). Anything else is
 * answered -ENOSYS and named once on the console, so a new need shows itself.
 *
 * Only descriptors 0, 1 and 2 exist: the console. Files, sockets and the flash are not
 * reached through system calls on this board; the firmware uses board.h for those.
 * Trap context: no C library calls (the header files give only numbers and types). */
#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "aarch64_cpu.h"
#include "virt.h"
#include "virt_clock.h"

/* Numbers named once when first refused (Linux's are all below 512 on aarch64; a larger one
 * is named each time). */
static uint8_t named[512 / 8];

static long sys_write(long fd, const void *buf, size_t len)
{
    if (fd < 0 || fd > 2) {
        return -EBADF;
    }
    pl011_write(buf, len);
    return (long)len;
}

static long sys_writev(long fd, const struct iovec *iov, long n)
{
    if (fd < 0 || fd > 2) {
        return -EBADF;
    }
    if (n < 0 || n > 1024) {
        return -EINVAL;
    }
    long total = 0;
    for (long i = 0; i < n; i++) {
        pl011_write(iov[i].iov_base, iov[i].iov_len);
        total += (long)iov[i].iov_len;
    }
    return total;
}

static long sys_read(long fd, void *buf, size_t len)
{
    if (fd != 0) {
        return -EBADF;
    }
    size_t n = pl011_read(buf, len);
    return n ? (long)n : -EAGAIN;
}

static long sys_ioctl(long fd, unsigned long req, void *arg)
{
    if (fd < 0 || fd > 2) {
        return -EBADF;
    }
    if (req == TIOCGWINSZ) {
        /* The console is a serial terminal: say so (musl line-buffers stdout then). */
        struct winsize *ws = arg;
        ws->ws_row = 24;
        ws->ws_col = 80;
        ws->ws_xpixel = 0;
        ws->ws_ypixel = 0;
        return 0;
    }
    return -ENOTTY;
}

static long sys_mmap(uintptr_t addr, size_t len, long prot, long flags, long fd)
{
    (void)prot;   /* no protection: the whole heap is read-write */
    if (!(flags & MAP_ANONYMOUS) || fd != -1) {
        return -ENODEV;
    }
    uintptr_t out;
    long err = virt_heap_mmap(&virt_heap, addr, len, (flags & MAP_FIXED) != 0, &out);
    return err ? err : (long)out;
}

/* Sleep until the counter reaches deadline, letting interrupt handlers run meanwhile. */
static void sleep_until(uint64_t deadline)
{
    while (timer_ticks() < deadline) {
        timer_wake_at_ticks(deadline);
        wfi();
        irq_unmask();
        isb();
        irq_mask();
    }
}

static long sleep_for(const struct timespec *ts)
{
    if (ts == 0) {
        return -EINVAL;   /* an endless ppoll: nothing here could ever end it */
    }
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
        return -EINVAL;
    }
    uint64_t ns = (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
    sleep_until(timer_ticks() + timer_ns_to_ticks(ns));
    return 0;
}

static long sys_clock_gettime(long clk, struct timespec *ts)
{
    switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE: {
        uint64_t ns;
        ts->tv_sec = virt_clock_realtime(&ns);
        ts->tv_nsec = (long)ns;
        return 0;
    }
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME: {
        uint64_t ns = timer_ns();
        ts->tv_sec = (time_t)(ns / 1000000000u);
        ts->tv_nsec = (long)(ns % 1000000000u);
        return 0;
    }
    default:
        return -EINVAL;
    }
}

static long sys_clock_getres(long clk, struct timespec *ts)
{
    if (clk < 0 || clk > CLOCK_BOOTTIME) {
        return -EINVAL;
    }
    if (ts != 0) {
        ts->tv_sec = 0;
        ts->tv_nsec = (long)(1000000000u / timer_freq() + 1);
    }
    return 0;
}

static long sys_getrandom(void *buf, size_t len)
{
    if (!virt_rng_present()) {
        return -ENOSYS;   /* no entropy source: fail, never weak bytes */
    }
    if (len > 256) {
        len = 256;        /* Linux also returns short reads; musl's getentropy loops */
    }
    return virt_rng_read(buf, len) == 0 ? (long)len : -EIO;
}

static void zero_bytes(void *p, size_t n)
{
    volatile uint8_t *b = p;
    while (n--) {
        *b++ = 0;
    }
}

static long unserved(uint64_t nr, uint64_t pc)
{
    if (nr >= sizeof named * 8 || !(named[nr / 8] & (1u << (nr % 8)))) {
        if (nr < sizeof named * 8) {
            named[nr / 8] = (uint8_t)(named[nr / 8] | (1u << (nr % 8)));
        }
        virt_puts("\nboard: system call ");
        virt_putdec(nr);
        virt_puts(" is not served on this board (from pc ");
        virt_puthex(pc);
        virt_puts("): answered ENOSYS\n");
    }
    return -ENOSYS;
}

/* see virt.h */
void virt_syscall(struct trap_frame *tf)
{
    uint64_t *a = tf->x;
    uint64_t nr = tf->x[8];
    long r;
    switch (nr) {
    case SYS_write:
        r = sys_write((long)a[0], (const void *)a[1], a[2]);
        break;
    case SYS_writev:
        r = sys_writev((long)a[0], (const struct iovec *)a[1], (long)a[2]);
        break;
    case SYS_read:
        r = sys_read((long)a[0], (void *)a[1], a[2]);
        break;
    case SYS_ioctl:
        r = sys_ioctl((long)a[0], a[1], (void *)a[2]);
        break;
    case SYS_close:
    case SYS_fcntl:
        r = (long)a[0] >= 0 && a[0] <= 2 ? 0 : -EBADF;
        break;
    case SYS_brk:
        r = (long)virt_heap_brk(&virt_heap, a[0]);
        break;
    case SYS_mmap:
        r = sys_mmap(a[0], a[1], (long)a[2], (long)a[3], (long)a[4]);
        break;
    case SYS_munmap:
        r = virt_heap_munmap(&virt_heap, a[0], a[1]);
        break;
    case SYS_mremap:
        r = -ENOMEM;      /* musl's realloc then copies */
        break;
    case SYS_mprotect:
    case SYS_madvise:
        r = 0;
        break;
    case SYS_clock_gettime:
        r = sys_clock_gettime((long)a[0], (struct timespec *)a[1]);
        break;
    case SYS_clock_getres:
        r = sys_clock_getres((long)a[0], (struct timespec *)a[1]);
        break;
    case SYS_getrandom:
        r = sys_getrandom((void *)a[0], a[1]);
        break;
    case SYS_ppoll:
        /* No descriptor ever becomes ready by waiting: ppoll is a sleep. */
        r = sleep_for((const struct timespec *)a[2]);
        break;
    case SYS_nanosleep:
        r = sleep_for((const struct timespec *)a[0]);
        break;
    case SYS_clock_nanosleep:
        r = (a[1] & TIMER_ABSTIME) ? -EINVAL : sleep_for((const struct timespec *)a[2]);
        break;
    case SYS_sched_yield:
        r = 0;
        break;
    case SYS_exit:
    case SYS_exit_group:
        virt_exit((int)a[0]);
    case SYS_set_tid_address:
    case SYS_gettid:
    case SYS_getpid:
        r = 1;            /* one process, one thread */
        break;
    case SYS_getppid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
        r = 0;
        break;
    case SYS_rt_sigprocmask:
        if (a[2] != 0) {
            zero_bytes((void *)a[2], a[3]);
        }
        r = 0;
        break;
    case SYS_rt_sigaction:
        /* Nothing ever delivers a signal here; old handlers read as SIG_DFL. */
        if (a[2] != 0) {
            zero_bytes((void *)a[2], 24 + a[3]);
        }
        r = 0;
        break;
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
        /* raise() and abort(): as fatal as the signal would be under Linux. */
        virt_panic("the firmware raised a signal (abort)", nr,
                   nr == SYS_tgkill ? a[2] : a[1]);
    default:
        r = unserved(nr, tf->elr);
        break;
    }
    tf->x[0] = (uint64_t)r;
}
