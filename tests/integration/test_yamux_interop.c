/* Our yamux against an independent implementation (tests/interop/yamux_peer.mjs, js-libp2p's
 * @chainsafe/libp2p-yamux) over a plain TCP socket on 127.0.0.1:
 *
 *   test_yamux_interop (--listen PORT | --connect PORT) --streams N --bytes B --big BIG
 *
 * The side that connects is the yamux client (odd stream IDs), as the gateway is. Both
 * peers run the same script: open N streams of 1..B bytes and 2 of BIG bytes, each with its
 * own pattern, half-close, and check that exactly those bytes come back before the peer's
 * FIN; echo every stream the peer opens, forwarding its FIN after the last byte. Exit 0 once
 * our N + 2 streams are verified and the peer's N + 2 echoed; 1 on any error or after 120 s.
 * A small receive pool (1 MiB, fewer than the windows of all streams together) makes the
 * back-pressure path part of the run. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "yamux.h"

#define MAX_STREAMS 600

struct job {
    int used, mine;              /* mine: we opened it (verify), else echo */
    struct yamux_stream *st;
    unsigned k;                  /* our stream number (pattern seed) */
    size_t size, sent, got;
    uint8_t pend[16384];         /* echo: read, not yet written back */
    size_t pend_off, pend_len;
    int eof, closed;
    uint64_t t0;
};

static struct job jobs[MAX_STREAMS];
static struct yamux_session ys;
static int fd = -1;
static unsigned nstreams = 100, verified, echoed;
static size_t bytes = 65536, big = 16u << 20;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static uint8_t pat(unsigned k, size_t i)
{
    return (uint8_t)((k * 31u + i * 7u + (i >> 8)) & 0xffu);
}

static size_t size_of(unsigned k)
{
    return k < nstreams ? (size_t)(k * 7919u) % bytes + 1 : big;
}

static void fail(const char *fmt, unsigned k)
{
    printf("c: ");
    printf(fmt, k);
    printf("\n");
    exit(1);
}

static struct job *job_new(struct yamux_stream *st, int mine, unsigned k)
{
    for (unsigned i = 0; i < MAX_STREAMS; i++) {
        if (!jobs[i].used) {
            struct job *j = &jobs[i];
            memset(j, 0, offsetof(struct job, pend));
            j->used = 1;
            j->st = st;
            j->mine = mine;
            j->k = k;
            j->size = mine ? size_of(k) : 0;
            j->t0 = now_ms();
            st->user = j;
            return j;
        }
    }
    fail("too many streams (%u)", MAX_STREAMS);
    return NULL;
}

/* One pass over a stream; returns 1 when something moved. */
static int job_pump(struct job *j)
{
    uint8_t buf[16384];
    int moved = 0;
    long n;
    if (j->mine) {
        while (j->sent < j->size) {
            size_t m = j->size - j->sent < sizeof buf ? j->size - j->sent : sizeof buf;
            for (size_t i = 0; i < m; i++) {
                buf[i] = pat(j->k, j->sent + i);
            }
            n = yamux_write(j->st, buf, m);
            if (n < 0) {
                fail("stream %u: write failed", j->k);
            }
            if (n == 0) {
                break;
            }
            j->sent += (size_t)n;
            moved = 1;
        }
        if (j->sent == j->size && !j->closed) {
            yamux_close(j->st);
            j->closed = 1;
        }
        while ((n = yamux_read(j->st, buf, sizeof buf)) > 0) {
            for (long i = 0; i < n; i++) {
                if (j->got + (size_t)i >= j->size || buf[i] != pat(j->k, j->got + (size_t)i)) {
                    fail("stream %u: echoed bytes differ", j->k);
                }
            }
            j->got += (size_t)n;
            moved = 1;
        }
        if (n == YAMUX_EOF) {
            if (j->got != j->size) {
                fail("stream %u: FIN before all bytes came back", j->k);
            }
            if (j->size == big) {
                printf("c: stream %u: %zu MiB echoed byte-exact in %.2f s\n", j->k, big >> 20,
                       (double)(now_ms() - j->t0) / 1000.0);
            }
            yamux_release(j->st);
            j->used = 0;
            verified++;
            return 1;
        }
        if (n < 0) {
            fail("stream %u: reset", j->k);
        }
        return moved;
    }
    /* echo */
    for (;;) {
        if (j->pend_off < j->pend_len) {
            n = yamux_write(j->st, j->pend + j->pend_off, j->pend_len - j->pend_off);
            if (n < 0) {
                fail("echo stream %u: write failed", j->st->id);
            }
            j->pend_off += (size_t)n;
            moved |= n > 0;
            if (j->pend_off < j->pend_len) {
                break;
            }
            j->pend_off = j->pend_len = 0;
        }
        if (j->eof) {
            break;
        }
        n = yamux_read(j->st, j->pend, sizeof j->pend);
        if (n == YAMUX_EOF) {
            j->eof = 1;
        } else if (n < 0) {
            fail("echo stream %u: reset", j->st->id);
        } else if (n == 0) {
            break;
        } else {
            j->pend_len = (size_t)n;
        }
        moved = 1;
    }
    if (j->eof && j->pend_len == 0 && !j->closed) {
        yamux_close(j->st);
        j->closed = 1;
        moved = 1;
    }
    if (j->closed && j->st->state == YAMUX_S_CLOSED) {
        yamux_release(j->st);
        j->used = 0;
        echoed++;
        return 1;
    }
    return moved;
}

static int sock_open(int listen_mode, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_mode) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) {
            return -1;
        }
        printf("c: listening\n");
        fflush(stdout);
        int c = accept(s, NULL, NULL);
        close(s);
        s = c;
    } else {
        int ok = -1;
        for (int i = 0; i < 100 && ok != 0; i++) {
            ok = connect(s, (struct sockaddr *)&a, sizeof a);
            if (ok != 0) {
                close(s);
                s = socket(AF_INET, SOCK_STREAM, 0);
                usleep(50000);
            }
        }
        if (ok != 0) {
            return -1;
        }
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    return s;
}

static void log_to_stderr(enum log_level level, const char *line, size_t len)
{
    (void)level;
    if (write(2, line, len) < 0) {
        return;
    }
}

int main(int argc, char **argv)
{
    static uint8_t in[65536];
    int listen_mode = -1, port = 0;
    log_set_sink(log_to_stderr);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0 || strcmp(argv[i], "--connect") == 0) {
            listen_mode = argv[i][2] == 'l';
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--streams") == 0) {
            nstreams = (unsigned)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--bytes") == 0) {
            bytes = (size_t)atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--big") == 0) {
            big = (size_t)atol(argv[i + 1]);
        }
    }
    if (listen_mode < 0 || nstreams + 2 > MAX_STREAMS / 2 || bytes == 0) {
        fprintf(stderr, "usage: test_yamux_interop (--listen|--connect) PORT --streams N "
                "--bytes B --big BIG\n");
        return 2;
    }
    fd = sock_open(listen_mode, port);
    if (fd < 0) {
        fail("cannot reach the peer (port %u)", (unsigned)port);
    }
    struct yamux_config cfg = {
        .client = !listen_mode, .max_streams = MAX_STREAMS, .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = 1u << 20, .out_cap = 256u * 1024, .keepalive_ms = 1000, .dead_ms = 10000,
        .name = "interop",
    };
    void *mem = malloc(yamux_mem_size(&cfg));
    yamux_init(&ys, &cfg, mem, yamux_mem_size(&cfg), (uint32_t)now_ms());
    for (unsigned k = 0; k < nstreams + 2; k++) {
        struct yamux_stream *st = yamux_open(&ys);
        if (st == NULL) {
            fail("cannot open stream %u", k);
        }
        job_new(st, 1, k);
    }
    size_t in_len = 0, in_off = 0;
    uint64_t deadline = now_ms() + 120000;
    int peer_eof = 0;
    while (verified < nstreams + 2 || echoed < nstreams + 2 || yamux_out_pending(&ys)) {
        if (now_ms() > deadline) {
            fail("deadline passed (%u streams verified)", verified);
        }
        if (yamux_tick(&ys, (uint32_t)now_ms()) != YAMUX_OK) {
            fail("session failed (state %u)", ys.state);
        }
        int progress = 1;
        for (int round = 0; round < 1000 && progress; round++) {
            progress = 0;
            if (in_off == in_len && !peer_eof) {
                ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
                if (n == 0) {
                    peer_eof = 1;
                } else if (n > 0) {
                    in_len = (size_t)n;
                    in_off = 0;
                } else if (errno != EAGAIN) {
                    fail("connection failed (errno %u)", (unsigned)errno);
                }
            }
            if (in_off < in_len) {
                long k = yamux_input(&ys, in + in_off, in_len - in_off);
                if (k < 0) {
                    fail("protocol error from the peer (%u)", 0);
                }
                in_off += (size_t)k;
                progress |= k > 0;
            }
            struct yamux_stream *st;
            while ((st = yamux_accept(&ys)) != NULL) {
                job_new(st, 0, st->id);
            }
            unsigned ev;
            while ((st = yamux_poll(&ys, &ev)) != NULL) {
                for (int k = 0; k < 256 && st->user && job_pump(st->user); k++) {
                    progress = 1;
                }
            }
            for (unsigned i = 0; i < MAX_STREAMS; i++) {    /* sweep */
                if (jobs[i].used && job_pump(&jobs[i])) {
                    progress = 1;
                }
            }
            const uint8_t *p;
            size_t len;
            while ((len = yamux_out_peek(&ys, &p)) > 0) {
                ssize_t w = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w <= 0) {
                    if (w < 0 && errno != EAGAIN) {
                        fail("send failed (errno %u)", (unsigned)errno);
                    }
                    break;
                }
                yamux_out_consume(&ys, (size_t)w);
                progress = 1;
            }
        }
        if (peer_eof && (verified < nstreams + 2 || echoed < nstreams + 2)) {
            fail("peer closed the connection with %u of our streams verified", verified);
        }
        struct pollfd pfd = { fd, (short)((in_off == in_len ? POLLIN : 0)
                                          | (yamux_out_pending(&ys) ? POLLOUT : 0)), 0 };
        poll(&pfd, 1, 20);
    }
    printf("c: verified %u own streams, echoed %u of the peer's; pool stalls %u, rtt %u ms\n",
           verified, echoed, ys.stats.input_stalls, ys.rtt_ms);
    /* Let the peer finish its side before we hang up (5 s at most). */
    for (int i = 0; i < 250 && !peer_eof; i++) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        poll(&pfd, 1, 20);
        ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
        peer_eof = n == 0 || (n < 0 && errno != EAGAIN);
    }
    close(fd);
    return 0;
}
