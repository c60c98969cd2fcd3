/* Linux board: start-up, shutdown and the loop's one sleep (ppoll over the console, the
 * netif and the stop signals). SIGTERM and SIGINT are blocked except inside ppoll, so a
 * stop request can only arrive while we sleep and is never lost between checks. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "board_linux.h"


static volatile sig_atomic_t stop_requested;
static sigset_t wait_mask;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* see board.h */
const char *board_name(void)
{
#if defined(__x86_64__)
    return "linux-x86_64";
#elif defined(__aarch64__)
    return "linux-aarch64";
#elif defined(__arm__)
    return "linux-armhf";
#else
    return "linux";
#endif
}

/* see board.h */
int board_init(const struct board_options *opt)
{
    int err = linux_console_open(opt->console);
    if (err) {
        return err;
    }
    err = linux_clock_init(opt->clock);
    if (err) {
        return err;
    }
    uint8_t probe[16];
    if (board_entropy(probe, sizeof probe) != BOARD_OK) {
        linux_err("board: the kernel gives no entropy (getrandom failed): refusing to start");
        return BOARD_ENOENTROPY;
    }
    err = linux_flash_open(opt->flash);
    if (err) {
        return err;
    }
    if (opt->net != NULL) {
        err = linux_eth_configure(opt->net, opt->mac);
        if (err) {
            return err;
        }
    }
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stream socket is an error return, not a death */
    return BOARD_OK;
}

/* see board.h */
void board_shutdown(void)
{
    eth_close();
    linux_flash_close();
    linux_console_close();
}

static char **saved_argv;

void linux_set_argv(char **argv)
{
    saved_argv = argv;
}

/* see board.h */
void board_reboot(void)
{
    board_shutdown();
    sigprocmask(SIG_SETMASK, &wait_mask, NULL);
    execv("/proc/self/exe", saved_argv);
    linux_err("reboot: cannot re-execute: %s", strerror(errno));
    _exit(1);
}

/* see board.h */
void board_mem_discard(void *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t b = ((uintptr_t)p + len) & ~(page - 1);
    if (b > a) {
        madvise((void *)a, b - a, MADV_DONTNEED);   /* partial pages hold other objects */
    }
}

/* see board.h */
void board_request_stop(void)
{
    stop_requested = 1;
}

/* see board.h */
void board_stop_taken(void)
{
    stop_requested = 0;
}

/* see board.h */
unsigned board_wait(uint32_t timeout_ms)
{
    struct pollfd pf[2];
    int n = 0, con_i = -1, eth_i = -1;
    int cfd = linux_console_fd();
    if (cfd >= 0) {
        pf[n] = (struct pollfd){ .fd = cfd, .events = POLLIN };
        con_i = n++;
    }
    eth_tx_flush();                 /* frames held back to be joined leave before we sleep */
    short ev = 0;
    int efd = eth_poll_fd(&ev);
    if (efd >= 0) {
        pf[n] = (struct pollfd){ .fd = efd, .events = ev };
        eth_i = n++;
    }
    struct timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L };
    unsigned events = 0;
    if (!stop_requested) {
        int r = ppoll(pf, (nfds_t)n, &ts, &wait_mask);
        if (r < 0 && errno != EINTR) {
            linux_err("%s: ppoll: %s", __func__, strerror(errno));
        }
        if (r > 0) {
            if (eth_i >= 0 && pf[eth_i].revents) {
                eth_poll_dispatch(pf[eth_i].revents);
            }
            if (con_i >= 0 && pf[con_i].revents) {
                events |= BOARD_EV_CONSOLE;
            }
        }
    }
    if (stop_requested) {
        events |= BOARD_EV_STOP;
    }
    return events;
}
