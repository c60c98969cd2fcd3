/* bench_delay: a WAN link in user space for the bench's mail path (issue 21).
 *
 *   bench_delay --tap IFNAME --listen PATH [--port N] [--delay-ms MS] [--queue FRAMES]
 *
 * The kernel of the bench machine has no sch_netem (only htb, tbf, pfifo, ingress), so
 * `tc netem` cannot add the delay. Instead the gateway runs with `--net stream:PATH` (QEMU's
 * stream netdev framing, board/linux/stream_framing.h) and this program serves PATH: every
 * Ethernet frame is forwarded between that socket and the TAP device IFNAME (its host side,
 * e.g. gwtap0 with 192.0.2.1). Frames of TCP or UDP with port N (default 7443, the relay's
 * tunnel) as source or destination wait MS (default 25) in a FIFO, each way: gateway <->
 * relay sees 2 x MS of round trip while gateway <-> Dovecot (the site's LAN) passes at
 * once, as on a real site. Fragments after the first carry no ports and pass at once (TCP
 * here never fragments).
 *
 * Each direction's delay queue holds FRAMES frames (default 2048, about 3 MiB: 25 ms of
 * 1 Gbit/s); a frame arriving at a full queue is dropped and counted, as a router would.
 * Frames towards the gateway that are not delayed go straight into the socket's output
 * buffer; when that is full the TAP is not read (its own queue holds them, then the kernel
 * drops as at a NIC). Times are CLOCK_MONOTONIC; one thread, ppoll() with nanosecond
 * timeouts. One client at a time: a closed client's queued frames are discarded and the
 * next one accepted. Prints "bench_delay: serving ..." when ready, and its counters on
 * SIGUSR1 and at exit (SIGTERM, SIGINT). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stream_framing.h"

/* From <linux/if_tun.h>, which musl's include path does not carry (as netif_tap.c). */
#define DL_TUNSETIFF _IOW('T', 202, int)
#define DL_TUNSETOFFLOAD _IOW('T', 208, unsigned int)
#define DL_IFF_TAP 0x0002
#define DL_IFF_NO_PI 0x1000

#define DL_QUEUE_DEFAULT 2048          /* frames per direction: 2048 x 1.5 KiB = 3 MiB */
#define DL_QUEUE_MAX 65536
/* Framed bytes waiting for the gateway's socket, behind the socket's own buffer. Small: the
 * site's LAN and WAN share this one wire to the gateway, and a delayed frame (the relay's
 * ACK) due now waits behind whatever LAN data is queued here. */
#define DL_OUT_BYTES (64 * 1024)
#define DL_RX_CHUNK 65536              /* bytes read from the socket per read() */
#define DL_RX_BUDGET 8                 /* socket read() calls per wake-up */
#define DL_TAP_BUDGET 64               /* TAP frames read per wake-up */
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_VLAN 0x8100

struct dl_frame {
    uint64_t due_ns;
    uint16_t len;
    uint8_t data[SFRAME_MAX];
};

/* A FIFO: the delay is the same for every frame, so due times leave in order. */
struct dl_queue {
    struct dl_frame *slot;
    size_t cap, head, count, max_count;
    uint64_t delayed, dropped;
    uint64_t late_max_ns;              /* the largest wait past a frame's due time */
};

struct dl_stats {
    uint64_t up, down;                 /* frames from the gateway, to the gateway */
    uint64_t tap_tx_dropped;           /* the TAP refused a frame (write error) */
    uint64_t bad;                      /* oversize frames from the TAP, bad framing */
};

static struct {
    int tap, lsock, client;
    uint16_t port;
    uint64_t delay_ns;
    struct dl_queue upq, downq;        /* up: gateway -> TAP; down: TAP -> gateway */
    struct sframe_rx rx;
    uint8_t out[DL_OUT_BYTES];
    size_t out_head, out_len;
    struct dl_stats st;
} dl;

static volatile sig_atomic_t dl_stop, dl_report;

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        dl_report = 1;
    } else {
        dl_stop = 1;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether the frame is TCP or UDP over IPv4 or IPv6 with port as source or destination. */
static int dl_matches(const uint8_t *f, size_t len, uint16_t port)
{
    size_t off = 14, l4;
    uint8_t proto;
    if (len < off) {
        return 0;
    }
    uint16_t type = be16(f + 12);
    if (type == ETH_P_VLAN && len >= 18) {
        type = be16(f + 16);
        off = 18;
    }
    if (type == ETH_P_IPV4) {
        if (len < off + 20 || f[off] >> 4 != 4) {
            return 0;
        }
        size_t ihl = (size_t)(f[off] & 0x0f) * 4;
        if (ihl < 20 || (be16(f + off + 6) & 0x1fff) != 0) {
            return 0;   /* a later fragment: no ports in it */
        }
        proto = f[off + 9];
        l4 = off + ihl;
    } else if (type == ETH_P_IPV6) {
        if (len < off + 40) {
            return 0;
        }
        proto = f[off + 6];   /* TCP or UDP right after the fixed header; others pass */
        l4 = off + 40;
    } else {
        return 0;
    }
    if ((proto != 6 && proto != 17) || len < l4 + 4) {
        return 0;
    }
    return be16(f + l4) == port || be16(f + l4 + 2) == port;
}

static int dl_queue_init(struct dl_queue *q, size_t cap)
{
    memset(q, 0, sizeof *q);
    q->slot = calloc(cap, sizeof *q->slot);
    q->cap = cap;
    return q->slot != NULL ? 0 : -1;
}

static void dl_queue_push(struct dl_queue *q, const uint8_t *f, size_t len, uint64_t due)
{
    if (q->count == q->cap) {
        q->dropped++;
        return;
    }
    struct dl_frame *s = &q->slot[(q->head + q->count) % q->cap];
    s->due_ns = due;
    s->len = (uint16_t)len;
    memcpy(s->data, f, len);
    q->count++;
    q->delayed++;
    if (q->count > q->max_count) {
        q->max_count = q->count;
    }
}

static struct dl_frame *dl_queue_due(struct dl_queue *q, uint64_t now)
{
    if (q->count == 0 || q->slot[q->head].due_ns > now) {
        return NULL;
    }
    struct dl_frame *s = &q->slot[q->head];
    if (now - s->due_ns > q->late_max_ns) {
        q->late_max_ns = now - s->due_ns;
    }
    return s;
}

static void dl_queue_pop(struct dl_queue *q)
{
    q->head = (q->head + 1) % q->cap;
    q->count--;
}

static void dl_tap_write(const uint8_t *f, size_t len)
{
    if (write(dl.tap, f, len) != (ssize_t)len) {
        dl.st.tap_tx_dropped++;
    }
}

static size_t dl_out_room(void)
{
    return DL_OUT_BYTES - dl.out_len;
}

/* Append one frame with its length header; the caller checked the room. */
static void dl_out_put(const uint8_t *f, size_t len)
{
    if (dl.out_head + dl.out_len + SFRAME_HDR + len > DL_OUT_BYTES) {
        memmove(dl.out, dl.out + dl.out_head, dl.out_len);
        dl.out_head = 0;
    }
    dl.out_len += sframe_encode(dl.out + dl.out_head + dl.out_len,
                                DL_OUT_BYTES - dl.out_head - dl.out_len, f, len);
}

static void dl_client_close(const char *why)
{
    fprintf(stderr, "bench_delay: client gone: %s\n", why);
    close(dl.client);
    dl.client = -1;
    dl.out_head = dl.out_len = 0;
    dl.downq.head = dl.downq.count = 0;
    dl.upq.head = dl.upq.count = 0;
}

static void dl_flush(void)
{
    while (dl.out_len > 0 && dl.client >= 0) {
        ssize_t n = write(dl.client, dl.out + dl.out_head, dl.out_len);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                dl_client_close(strerror(errno));
            }
            return;
        }
        dl.out_head += (size_t)n;
        dl.out_len -= (size_t)n;
    }
    if (dl.out_len == 0) {
        dl.out_head = 0;
    }
}

/* A frame from the gateway: into the delay queue, or to the TAP now. */
static void dl_up_frame(void *arg, const uint8_t *f, size_t len)
{
    (void)arg;
    dl.st.up++;
    if (dl_matches(f, len, dl.port)) {
        dl_queue_push(&dl.upq, f, len, now_ns() + dl.delay_ns);
    } else {
        dl_tap_write(f, len);
    }
}

static void dl_read_client(void)
{
    static uint8_t buf[DL_RX_CHUNK];
    for (int i = 0; i < DL_RX_BUDGET && dl.client >= 0; i++) {
        ssize_t n = read(dl.client, buf, sizeof buf);
        if (n > 0) {
            sframe_rx_feed(&dl.rx, buf, (size_t)n, dl_up_frame, NULL);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        dl_client_close(n == 0 ? "closed" : strerror(errno));
    }
}

static void dl_read_tap(void)
{
    static uint8_t buf[65536];
    for (int i = 0; i < DL_TAP_BUDGET && dl_out_room() >= SFRAME_HDR + SFRAME_MAX; i++) {
        ssize_t n = read(dl.tap, buf, sizeof buf);
        if (n <= 0) {
            return;
        }
        if ((size_t)n > SFRAME_MAX) {
            dl.st.bad++;
            continue;
        }
        dl.st.down++;
        if (dl.client < 0) {
            continue;   /* no gateway: the wire is unplugged */
        }
        if (dl_matches(buf, (size_t)n, dl.port)) {
            dl_queue_push(&dl.downq, buf, (size_t)n, now_ns() + dl.delay_ns);
        } else {
            dl_out_put(buf, (size_t)n);
        }
    }
}

/* Frames whose time has come leave; returns the nanoseconds to the next due frame, or -1. */
static int64_t dl_release(void)
{
    uint64_t now = now_ns();
    struct dl_frame *s;
    while ((s = dl_queue_due(&dl.upq, now)) != NULL) {
        dl_tap_write(s->data, s->len);
        dl_queue_pop(&dl.upq);
    }
    while (dl_out_room() >= SFRAME_HDR + SFRAME_MAX && (s = dl_queue_due(&dl.downq, now)) != NULL) {
        dl_out_put(s->data, s->len);
        dl_queue_pop(&dl.downq);
    }
    int64_t next = -1;
    const struct dl_queue *qs[2] = { &dl.upq, &dl.downq };
    for (int i = 0; i < 2; i++) {
        if (qs[i]->count == 0) {
            continue;
        }
        uint64_t due = qs[i]->slot[qs[i]->head].due_ns;
        int64_t wait = due > now ? (int64_t)(due - now) : 0;
        if (next < 0 || wait < next) {
            next = wait;
        }
    }
    return next;
}

static void dl_print_stats(void)
{
    fprintf(stderr, "bench_delay: stats: up=%llu down=%llu delayed_up=%llu delayed_down=%llu "
            "dropped_queue_full=%llu dropped_tap=%llu bad=%llu max_queued_up=%zu "
            "max_queued_down=%zu late_up_max_us=%llu late_down_max_us=%llu\n",
            (unsigned long long)dl.st.up, (unsigned long long)dl.st.down,
            (unsigned long long)dl.upq.delayed, (unsigned long long)dl.downq.delayed,
            (unsigned long long)(dl.upq.dropped + dl.downq.dropped),
            (unsigned long long)dl.st.tap_tx_dropped,
            (unsigned long long)(dl.st.bad + dl.rx.dropped), dl.upq.max_count,
            dl.downq.max_count, (unsigned long long)(dl.upq.late_max_ns / 1000),
            (unsigned long long)(dl.downq.late_max_ns / 1000));
}

static int dl_open_tap(const char *ifname)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = DL_IFF_TAP | DL_IFF_NO_PI;
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    /* No offloads: a gateway that used this TAP before (with a virtio-net header) left
     * checksum and TSO offloads on the device, and without the header the kernel would hand
     * over frames with checksums never computed, and segments merged beyond the MTU. */
    if (ioctl(fd, DL_TUNSETIFF, &ifr) != 0 || ioctl(fd, DL_TUNSETOFFLOAD, 0UL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int dl_listen(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_delay --tap IFNAME --listen PATH [--port N] [--delay-ms MS] "
            "[--queue FRAMES]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *ifname = NULL, *path = NULL;
    long port = 7443, queue = DL_QUEUE_DEFAULT;
    double delay_ms = 25;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tap") == 0) {
            ifname = argv[i + 1];
        } else if (strcmp(argv[i], "--listen") == 0) {
            path = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            port = strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--delay-ms") == 0) {
            delay_ms = strtod(argv[i + 1], NULL);
        } else if (strcmp(argv[i], "--queue") == 0) {
            queue = strtol(argv[i + 1], NULL, 10);
        } else {
            usage();
        }
    }
    if (argc % 2 == 0 || ifname == NULL || path == NULL || port < 1 || port > 65535 ||
        !(delay_ms >= 0 && delay_ms <= 10000) || queue < 1 || queue > DL_QUEUE_MAX) {
        usage();
    }
    dl.port = (uint16_t)port;
    dl.delay_ns = (uint64_t)(delay_ms * 1e6);
    dl.client = -1;
    sframe_rx_init(&dl.rx);
    if (dl_queue_init(&dl.upq, (size_t)queue) != 0 || dl_queue_init(&dl.downq, (size_t)queue) != 0) {
        fprintf(stderr, "bench_delay: no memory for %ld frames\n", queue);
        return 1;
    }
    dl.tap = dl_open_tap(ifname);
    if (dl.tap < 0) {
        fprintf(stderr, "bench_delay: cannot attach to TAP %s: %s\n", ifname, strerror(errno));
        return 1;
    }
    dl.lsock = dl_listen(path);
    if (dl.lsock < 0) {
        fprintf(stderr, "bench_delay: cannot listen on %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* The signals are blocked except inside ppoll(), so none slips in between the check of
     * the flags and the wait. */
    sigset_t block, during;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &during);
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGINT);
    sigdelset(&during, SIGUSR1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "bench_delay: serving %s <-> tap %s: port %u delayed %.3f ms each way, "
            "queue %ld frames per direction\n", path, ifname, dl.port, delay_ms, queue);

    while (!dl_stop) {
        if (dl_report) {
            dl_report = 0;
            dl_print_stats();
        }
        int64_t wait = dl_release();
        dl_flush();
        struct pollfd pfd[2] = {
            { .fd = dl.tap, .events = dl_out_room() >= SFRAME_HDR + SFRAME_MAX ? POLLIN : 0 },
            { .fd = dl.client >= 0 ? dl.client : dl.lsock, .events = POLLIN },
        };
        if (dl.client >= 0 && dl.out_len > 0) {
            pfd[1].events |= POLLOUT;
        }
        struct timespec ts = { (time_t)(wait / 1000000000), (long)(wait % 1000000000) };
        int n = ppoll(pfd, 2, wait >= 0 ? &ts : NULL, &during);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "bench_delay: poll: %s\n", strerror(errno));
            break;
        }
        if (dl.client < 0 && (pfd[1].revents & POLLIN)) {
            dl.client = accept4(dl.lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (dl.client >= 0) {
                sframe_rx_init(&dl.rx);
                fprintf(stderr, "bench_delay: client connected\n");
            }
        } else if (dl.client >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            dl_read_client();
        }
        if (pfd[0].revents & POLLIN) {
            dl_read_tap();
        }
    }
    dl_print_stats();
    unlink(path);
    return 0;
}
