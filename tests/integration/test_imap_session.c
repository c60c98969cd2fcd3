/* A small IMAP receiver made of the gateway's own IMAP engine (proto/imap_client) and TLS
 * (tls/tls_client) on a kernel socket, for test_imap_session.sh: it runs the engine against
 * Dovecot (and against hostile scripted servers) without lwIP or the tunnel.
 *
 *   test_imap_session --connect ADDR:PORT --mode starttls|tls|plain --host NAME --ca CA.der
 *                    --user U --pass P [--folder F] [--after seen|delete|move:FOLDER]
 *                    --out DIR [--idle] [--trace FILE] [--timeout SECONDS]
 *
 * It logs in, then repeats: UID SEARCH, UID FETCH each UID into DIR/UID (streamed to the
 * file piece by piece), the after-action on the batch as one UID set; until a search finds
 * nothing. With --idle it then IDLEs, prints "idling", and on new mail fetches it and
 * stops. It ends with LOGOUT and prints "fetched N messages, B bytes" (exit 0), or the
 * engine's verdict (exit 1). --trace writes the server's plaintext bytes (seeds for the
 * fuzz corpus). The password is never printed. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "imap_client.h"
#include "random.h"
#include "tls_client.h"
#include "tls_io_fd.h"
#include "trust.h"

static int fd = -1, tls_on, idle_wanted, idled;
static struct tls_client ts;
static struct imap_client c;
static const char *out_dir;
static FILE *trace;
static int body_fd = -1;
static unsigned long fetched;
static unsigned long long bytes;
static unsigned next_uid;          /* index into c.uids being fetched */
static uint32_t done_uids[IMAP_BATCH_MAX];
static unsigned ndone;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void die(const char *what)
{
    printf("verdict: %s\n", what);
    exit(1);
}

/* ---- the socket, plain or TLS ---- */

static long io_read(uint8_t *p, size_t len)
{
    if (!tls_on) {
        long n = tls_io_fd_recv(&fd, p, len);
        if (n > 0 && trace) {
            fwrite(p, 1, (size_t)n, trace);
        }
        return n;
    }
    tls_client_pump(&ts);
    return tls_client_read(&ts, p, len);
}

static long io_write(const uint8_t *p, size_t len)
{
    if (!tls_on) {
        return tls_io_fd_send(&fd, p, len);
    }
    long n = tls_client_write(&ts, p, len);
    tls_client_pump(&ts);
    return n;
}

static void dial(const char *addr)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon) {
        die("--connect wants ADDR:PORT");
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &a.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        die("connect failed");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static br_x509_trust_anchor ta[2];
static uint8_t arena[2 * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static const char *tls_host;

static void load_ca(const char *path)
{
    static uint8_t der[8192];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(der, 1, sizeof der, f) : 0;
    if (f) {
        fclose(f);
    }
    trust_init(&store, ta, 2, arena, sizeof arena);
    if (n == 0 || trust_add_der(&store, der, n) < 0) {
        die("cannot load --ca (DER)");
    }
}

/* TLS on the connection as it is: the handshake, bounded in time. */
static void start_tls(void)
{
    struct tls_client_config cfg = {
        .host = tls_host, .anchors = store.ta, .anchors_num = store.count,
        .now = (int64_t)time(NULL),
    };
    static const struct tls_io io = { tls_io_fd_send, tls_io_fd_recv, &fd };
    if (tls_client_start(&ts, &cfg, &io) != 0) {
        die("tls: no client");
    }
    uint64_t end = now_ms() + 10000;
    while (tls_client_pump(&ts) == TLS_ST_HANDSHAKE && now_ms() < end) {
        unsigned w = tls_client_wants(&ts);
        struct pollfd p = { fd, (short)((w & TLS_WANT_READ ? POLLIN : 0)
                                        | (w & TLS_WANT_WRITE ? POLLOUT : 0)), 0 };
        poll(&p, 1, 50);
    }
    if (ts.engine.state != TLS_ST_OPEN) {
        printf("verdict: tls: %s\n", ts.engine.verdict);
        exit(1);
    }
    tls_on = 1;
}

/* STARTTLS: bytes the server sent after its OK are refused, never carried into TLS (the
 * engine refuses those in the same read; these are ones still in the socket). */
static void starttls_now(size_t unread)
{
    uint8_t b;
    if (unread || recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1) {
        imap_client_abort(&c, "bytes arrived after the STARTTLS OK, before TLS: refused");
        die(c.verdict);
    }
    start_tls();
    imap_client_tls_done(&c);
}

/* ---- the receiver's story ---- */

enum phase { P_LOGIN, P_SEARCH, P_FETCH, P_DISPOSE, P_IDLE, P_LOGOUT };
static enum phase phase;

static void search(void)
{
    phase = P_SEARCH;
    imap_client_search(&c);
}

/* The command that finished decides the next one. */
static void on_ready(void)
{
    switch (phase) {
    case P_LOGIN:
    case P_DISPOSE:
    case P_IDLE:
        search();
        return;
    case P_SEARCH:
        next_uid = ndone = 0;
        if (c.nuids) {
            phase = P_FETCH;
            imap_client_fetch(&c, c.uids[0]);
        } else if (idle_wanted && !idled) {
            idled = 1;
            phase = P_IDLE;
            printf("idling\n");
            fflush(stdout);
            if (imap_client_idle(&c) != 0) {
                die("the server has no IDLE");
            }
        } else {
            phase = P_LOGOUT;
            imap_client_logout(&c);
        }
        return;
    case P_FETCH:
        if (c.body_found) {
            fetched++;
            done_uids[ndone++] = c.fetch_uid;
        }
        if (++next_uid < c.nuids) {
            imap_client_fetch(&c, c.uids[next_uid]);
        } else if (ndone) {
            phase = P_DISPOSE;
            printf("after-action on %u messages\n", ndone);
            imap_client_dispose(&c, done_uids, ndone);
        } else {
            search();
        }
        return;
    default:
        return;
    }
}

static void on_event(const struct imap_cevent *ev)
{
    char path[512];
    switch (ev->type) {
    case IC_EV_READY:
        on_ready();
        break;
    case IC_EV_NEWMAIL:
        printf("new mail while idle\n");
        imap_client_idle_done(&c);
        break;
    case IC_EV_BODY_BEGIN:
        snprintf(path, sizeof path, "%s/%u", out_dir, (unsigned)c.fetch_uid);
        body_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (body_fd < 0) {
            die("cannot write to --out");
        }
        break;
    case IC_EV_BODY_DATA:
        if (write(body_fd, ev->p, ev->len) != (ssize_t)ev->len) {
            die("write to --out failed");
        }
        bytes += ev->len;
        break;
    case IC_EV_BODY_END:
        close(body_fd);
        body_fd = -1;
        break;
    case IC_EV_CLOSED:
        printf("fetched %lu messages, %llu bytes\n", fetched, bytes);
        exit(0);
    case IC_EV_FAILED:
        die(c.verdict);
        break;
    default:
        break;
    }
}

/* ---- the loop ---- */

static uint8_t rx[16384];
static size_t rx_len, rx_off;

/* Everything received goes to the engine; STARTTLS stops the feeding. */
static void feed(void)
{
    for (unsigned guard = 0; guard < 1000000; guard++) {
        struct imap_cevent ev;
        long k = imap_client_feed(&c, rx + rx_off, rx_len - rx_off, &ev);
        if (k < 0) {
            die(c.verdict);
        }
        rx_off += (size_t)k;
        if (ev.type == IC_EV_NONE) {
            break;
        }
        if (ev.type == IC_EV_STARTTLS) {
            starttls_now(rx_len - rx_off);
            continue;
        }
        on_event(&ev);
    }
    if (rx_off == rx_len) {
        rx_off = rx_len = 0;
    }
}

static void flush_out(void)
{
    const uint8_t *p;
    size_t n;
    while ((n = imap_client_out(&c, &p)) > 0) {
        long w = io_write(p, n);
        if (w < 0) {
            die("connection lost while sending");
        }
        if (w == 0) {
            return;
        }
        imap_client_out_done(&c, (size_t)w);
    }
}

static void run(uint64_t deadline)
{
    while (now_ms() < deadline) {
        flush_out();
        long r = io_read(rx + rx_len, sizeof rx - rx_len);
        if (r == TLS_IO_EOF || r == TLS_IO_ERROR) {
            imap_client_abort(&c, "connection closed by the server");
            die(c.verdict);
        }
        if (r > 0) {
            rx_len += (size_t)r;
            feed();
            continue;
        }
        feed();     /* pending events (a quoted body) need no bytes */
        struct pollfd pf = { fd, POLLIN, 0 };
        if (tls_on && (tls_client_wants(&ts) & TLS_WANT_WRITE)) {
            pf.events |= POLLOUT;
        }
        poll(&pf, 1, 50);
    }
    imap_client_abort(&c, "test timeout");
    die(c.verdict);
}

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *mode = "starttls", *ca = NULL, *after = "delete";
    struct imap_client_config cfg = { .folder = "INBOX" };
    int timeout = 120;
    if (rng_init(check_entropy) != 0) {
        fprintf(stderr, "no entropy\n");
        return 1;
    }
    for (int i = 1; i + 1 < argc || (i < argc && !strcmp(argv[i], "--idle")); i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--idle")) { idle_wanted = 1; i--; continue; }
        if (!strcmp(k, "--connect")) connect_to = v;
        else if (!strcmp(k, "--mode")) mode = v;
        else if (!strcmp(k, "--host")) tls_host = v;
        else if (!strcmp(k, "--ca")) ca = v;
        else if (!strcmp(k, "--user")) cfg.user = v;
        else if (!strcmp(k, "--pass")) cfg.pass = v;
        else if (!strcmp(k, "--folder")) cfg.folder = v;
        else if (!strcmp(k, "--after")) after = v;
        else if (!strcmp(k, "--out")) out_dir = v;
        else if (!strcmp(k, "--timeout")) timeout = atoi(v);
        else if (!strcmp(k, "--trace")) trace = fopen(v, "wb");
        else die("unknown option");
    }
    if (!connect_to || !cfg.user || !cfg.pass || !out_dir) {
        die("usage: --connect ADDR:PORT --user U --pass P --out DIR [...]");
    }
    cfg.after = !strcmp(after, "seen") ? IMAP_DO_SEEN
              : !strncmp(after, "move:", 5) ? IMAP_DO_MOVE : IMAP_DO_DELETE;
    cfg.move_to = !strncmp(after, "move:", 5) ? after + 5 : NULL;
    cfg.starttls = !strcmp(mode, "starttls");
    if (strcmp(mode, "plain") != 0) {
        if (!ca || !tls_host) {
            die("--mode starttls|tls needs --ca and --host");
        }
        load_ca(ca);
    }
    imap_client_init(&c, &cfg);
    dial(connect_to);
    if (!strcmp(mode, "tls")) {
        start_tls();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    run(now_ms() + (uint64_t)timeout * 1000);
    return 1;
}
