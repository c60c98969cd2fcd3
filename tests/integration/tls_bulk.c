/* tls_bulk: bulk data through one TLS connection of the gateway's own stack: tls_conn
 * (tls_client on the pump of tls_engine) on lwIP TCP, on the Linux board's TAP netif,
 * driven by the same kind of loop as the firmware (board_wait, sys_check_timeouts).
 *
 *   tls_bulk --net tap:IF --addr A.B.C.D/NN --server A.B.C.D:PORT --name NAME --ca ROOT.pem
 *            --mode echo|get PATH --mib N
 *
 * echo: writes N MiB of a counting pattern and checks every byte that comes back (an echo
 * server: socat OPENSSL-LISTEN ... PIPE); get: sends "GET PATH HTTP/1.0" and counts the
 * reply until the server closes (openssl s_server -WWW). The server's chain is checked
 * against ROOT.pem with the host's clock, as always. Prints one line:
 *
 *   tls_bulk: echo 64 MiB in 1.23 s: 52.0 MiB/s each way, byte-exact
 *
 * and exits 0, or 1 with the reason (verdict, mismatch, timeout). Test and bench tool:
 * test_tls_bulk.sh and bench/bench_tls.sh run it in a network namespace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "lwip/init.h"
#include "lwip_port.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "pem.h"
#include "random.h"
#include "tls_conn.h"
#include "trust.h"

#define BULK_PEM_MAX (64 * 1024)      /* the root file */
#define BULK_DER_MAX (16 * 1024)
#define BULK_CERTS_MAX 4
#define BULK_CHUNK 16384              /* bytes per tls_conn_write / read call */
#define BULK_TIMEOUT_MS (300u * 1000) /* the whole run */
#define BULK_LINK_MS (10u * 1000)     /* the TAP link must come up within this */
#define BULK_SLEEP_MAX_MS 100

static struct {
    const char *mode, *path;
    uint64_t total;                   /* echo: bytes to send and get back */
    uint64_t sent, received;
    int mismatch, opened, ended, failed;
    struct tls_conn conn;
} b;

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

static void on_event(struct tls_conn *c, unsigned events, void *arg)
{
    (void)c;
    (void)arg;
    if (events & TLS_CONN_OPEN) {
        b.opened = 1;
    }
    if (events & (TLS_CONN_CLOSED | TLS_CONN_FAILED)) {
        b.ended = 1;
        b.failed = (events & TLS_CONN_FAILED) != 0;
    }
}

/* Write what the connection takes, read what waits; called after every wake-up. */
static void drive(void)
{
    static uint8_t buf[BULK_CHUNK];
    if (!b.opened || b.ended) {
        return;
    }
    while (strcmp(b.mode, "echo") == 0 && b.sent < b.total) {
        size_t n = b.total - b.sent < sizeof buf ? (size_t)(b.total - b.sent) : sizeof buf;
        for (size_t i = 0; i < n; i++) {
            buf[i] = pattern(b.sent + i);
        }
        long w = tls_conn_write(&b.conn, buf, n);
        if (w <= 0) {
            break;
        }
        b.sent += (uint64_t)w;
    }
    long r;
    while ((r = tls_conn_read(&b.conn, buf, sizeof buf)) > 0) {
        if (strcmp(b.mode, "echo") == 0) {
            for (long i = 0; i < r; i++) {
                b.mismatch |= buf[i] != pattern(b.received + (uint64_t)i);
            }
        }
        b.received += (uint64_t)r;
    }
    if (r == TLS_IO_EOF && strcmp(b.mode, "get") == 0) {
        tls_conn_close(&b.conn);
    }
}

static int load_root(const char *path, struct trust_store *ts)
{
    static uint8_t pem[BULK_PEM_MAX], der[BULK_DER_MAX];
    static struct pem_decoder dec;
    static struct pem_cert certs[BULK_CERTS_MAX];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "tls_bulk: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t len = fread(pem, 1, sizeof pem, f);
    fclose(f);
    int n = pem_decode_certs(&dec, pem, len, der, sizeof der, certs, BULK_CERTS_MAX);
    for (int i = 0; i < n; i++) {
        if (trust_add_der(ts, certs[i].der, certs[i].len) < 0) {
            n = -1;
        }
    }
    if (n <= 0) {
        fprintf(stderr, "tls_bulk: %s: no usable certificate\n", path);
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One turn of the firmware's loop. */
static void loop_once(void)
{
    uint32_t sleep = sys_timeouts_sleeptime();
    board_wait(sleep > BULK_SLEEP_MAX_MS ? BULK_SLEEP_MAX_MS : sleep);
    sys_check_timeouts();
    drive();
}

static int usage(void)
{
    fprintf(stderr, "usage: tls_bulk --net tap:IF --addr A.B.C.D/NN --server A.B.C.D:PORT "
                    "--name NAME --ca ROOT.pem --mode echo|get PATH --mib N\n");
    return 2;
}

int main(int argc, char **argv)
{
    static br_x509_trust_anchor ta[BULK_CERTS_MAX];
    static uint8_t ta_arena[BULK_CERTS_MAX * TRUST_ARENA_PER_ANCHOR];
    const char *net = NULL, *addr = NULL, *server = NULL, *name = NULL, *ca = NULL;
    unsigned long mib = 64;
    b.mode = "echo";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--net") == 0) {
            net = v;
        } else if (strcmp(k, "--addr") == 0) {
            addr = v;
        } else if (strcmp(k, "--server") == 0) {
            server = v;
        } else if (strcmp(k, "--name") == 0) {
            name = v;
        } else if (strcmp(k, "--ca") == 0) {
            ca = v;
        } else if (strcmp(k, "--mib") == 0) {
            mib = strtoul(v, NULL, 10);
        } else if (strcmp(k, "--mode") == 0 && strcmp(v, "echo") == 0) {
            b.mode = v;
        } else if (strcmp(k, "--mode") == 0 && strcmp(v, "get") == 0 && i + 2 < argc) {
            b.mode = v;
            b.path = argv[++i + 1];
        } else {
            return usage();
        }
    }
    char ipbuf[16];
    const char *slash = addr ? strchr(addr, '/') : NULL;
    const char *colon = server ? strrchr(server, ':') : NULL;
    if (!net || !slash || !colon || !name || !ca || mib == 0 ||
        (size_t)(slash - addr) >= sizeof ipbuf) {
        return usage();
    }
    b.total = (uint64_t)mib << 20;

    struct board_options bo = { .console = "stdio", .net = net };
    if (board_init(&bo) != BOARD_OK || rng_init(board_entropy) != 0) {
        return 1;
    }
    lwip_port_init(board_now_ms, NULL);
    lwip_init();
    struct netif *netif = board_netif_add();
    if (netif == NULL) {
        return 1;
    }
    ip4_addr_t ip, mask, gw;
    memcpy(ipbuf, addr, (size_t)(slash - addr));
    ipbuf[slash - addr] = '\0';
    unsigned prefix = (unsigned)atoi(slash + 1);
    if (!ip4addr_aton(ipbuf, &ip) || prefix == 0 || prefix > 32) {
        return usage();
    }
    ip4_addr_set_u32(&mask, lwip_htonl(0xffffffffu << (32 - prefix)));
    ip4_addr_set_zero(&gw);
    netif_set_addr(netif, &ip, &mask, &gw);
    netif_set_up(netif);
    netif_set_default(netif);

    struct trust_store store;
    trust_init(&store, ta, BULK_CERTS_MAX, ta_arena, sizeof ta_arena);
    if (load_root(ca, &store) != 0) {
        return 1;
    }
    char host[64];
    ip_addr_t dst;
    snprintf(host, sizeof host, "%.*s", (int)(colon - server), server);
    if (!ipaddr_aton(host, &dst)) {
        return usage();
    }
    uint16_t port = (uint16_t)atoi(colon + 1);

    uint32_t t0 = board_now_ms();
    while (!netif_is_link_up(netif) && board_now_ms() - t0 < BULK_LINK_MS) {
        loop_once();
    }
    struct tls_client_config cfg = {
        .host = name, .anchors = store.ta, .anchors_num = store.count, .now = time(NULL),
    };
    if (tls_conn_open(&b.conn, &dst, port, &cfg, on_event, NULL) != 0) {
        fprintf(stderr, "tls_bulk: %s\n", tls_conn_verdict(&b.conn));
        return 1;
    }
    while (!b.opened && !b.ended) {
        loop_once();
    }
    if (!b.opened) {
        fprintf(stderr, "tls_bulk: %s\n", tls_conn_verdict(&b.conn));
        return 1;
    }
    double start = now_s();
    t0 = board_now_ms();
    if (strcmp(b.mode, "get") == 0) {
        char req[256];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", b.path);
        if (n <= 0 || (size_t)n >= sizeof req || tls_conn_write(&b.conn, (const uint8_t *)req,
                                                                   (size_t)n) != n) {
            fprintf(stderr, "tls_bulk: the request does not fit\n");
            return 1;
        }
    }
    int done = 0;
    while (!b.ended && !b.mismatch && board_now_ms() - t0 < BULK_TIMEOUT_MS) {
        loop_once();
        if (!done && strcmp(b.mode, "echo") == 0 && b.received >= b.total) {
            done = 1;
            tls_conn_close(&b.conn);
        }
    }
    double dt = now_s() - start;
    int ok = !b.mismatch && !b.failed &&
             (strcmp(b.mode, "echo") == 0 ? b.received == b.total : b.received >= b.total);
    double mb = (double)b.received / (1024.0 * 1024.0);
    if (strcmp(b.mode, "echo") == 0) {
        printf("tls_bulk: echo %.0f MiB in %.2f s: %.1f MiB/s each way, %s\n", mb, dt, mb / dt,
               b.mismatch ? "MISMATCH" : b.received == b.total ? "byte-exact" : "INCOMPLETE");
    } else {
        printf("tls_bulk: get %.1f MiB in %.2f s: %.1f MiB/s\n", mb, dt, mb / dt);
    }
    if (!ok) {
        fprintf(stderr, "tls_bulk: failed: %s (received %llu of %llu bytes)\n",
                b.failed ? tls_conn_verdict(&b.conn) : b.mismatch ? "bytes differ" :
                "timed out or cut short", (unsigned long long)b.received,
                (unsigned long long)b.total);
    }
    board_shutdown();
    return ok ? 0 : 1;
}
