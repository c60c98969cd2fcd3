/* TLS over a kernel socket against OpenSSL's s_server on 127.0.0.1: the verdict matrix of
 * issue 5 end to end (what the server sends, what the store holds, the name we expect, the
 * exact verdict), mutual TLS with the device key, bidirectional data, a bulk echo through
 * socat, and sequential handshakes. The socket backend here is the model for the lwIP one:
 * two non-blocking calls and a poll on what the stream wants. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csr.h"
#include "keys.h"
#include "pem.h"
#include "test_tls_util.h"
#include "tls_client.h"
#include "tls_io_fd.h"
#include "trust.h"

extern char **environ;

static br_x509_trust_anchor ta[4];
static uint8_t arena[4 * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static struct tls_client ts;
static struct tls_chain chain;

/* ---- the peer: openssl s_server or socat, on a free port ---- */

struct peer {
    pid_t pid;
    int in;                      /* its stdin (s_server sends what we write there) */
    int port;
};

static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0
        || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* A case that fails a CHECK returns early: the peer it started is stopped by the next
 * peer_start() or at exit, never left running. */
static struct peer live;           /* a copy: the caller's struct may be gone */
static int live_running;

static void peer_stop(struct peer *p)
{
    close(p->in);
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
    live_running = 0;
}

static void stop_live(void)
{
    if (live_running) {
        peer_stop(&live);
    }
}

/* Starts "sh -c 'cd PKI && exec <cmd>'" with %d in cmd replaced by the port. */
static int peer_start(struct peer *p, const char *cmd)
{
    char line[1024], inner[768];
    static int registered;
    if (!registered) {
        atexit(stop_live);
        registered = 1;
    }
    stop_live();
    int pipefd[2];
    posix_spawn_file_actions_t fa;
    p->port = free_port();
    snprintf(inner, sizeof inner, cmd, p->port);
    snprintf(line, sizeof line, "cd '%s' && exec %s", pki_dir, inner);
    if (p->port < 0 || pipe(pipefd) != 0) {
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
    posix_spawn_file_actions_addclose(&fa, pipefd[1]);
    posix_spawn_file_actions_addopen(&fa, 1, pki_path("stream-peer.out"),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pki_path("stream-peer.err"),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    char *argv[] = { "sh", "-c", line, NULL };
    int err = posix_spawn(&p->pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[0]);
    p->in = pipefd[1];
    if (err) {
        close(p->in);
        return -1;
    }
    live = *p;
    live_running = 1;
    return 0;
}

/* The peer writes what it received to its stdout file; wait until a line shows up there. */
static int peer_printed(const char *line)
{
    for (int i = 0; i < 500; i++) {
        if (run_shell("grep -qx '%s' %s", line, pki_path("stream-peer.out")) == 0) {
            return 1;
        }
        usleep(20000);
    }
    return 0;
}

static int s_server(struct peer *p, const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "openssl s_server -quiet -accept 127.0.0.1:%%d -no-CAfile "
             "-no-CApath -no-CAstore %s", args);
    return peer_start(p, cmd);
}

/* ---- the kernel-socket backend ---- */

static int fd = -1;
static const struct tls_io sock_io = { tls_io_fd_send, tls_io_fd_recv, &fd };

/* Connects to the peer once it listens (it needs a moment to start, more under qemu). */
static int dial(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < 500; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            /* A flight of records goes out as several sends: without this, Nagle holds
             * the last one for the peer's delayed ACK (40 ms per handshake). */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return 0;
        }
        close(fd);
        fd = -1;
        usleep(20000);
    }
    return -1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The event loop's part: pump, then wait for what the stream wants, until done. */
static enum tls_state run_until(int (*done)(void), double timeout)
{
    double end = now_s() + timeout;
    enum tls_state st;
    while ((st = tls_client_pump(&ts)) != TLS_ST_FAILED && !done() && now_s() < end) {
        unsigned w = tls_client_wants(&ts);
        struct pollfd p = { .fd = fd, .events = (short)((w & TLS_WANT_READ ? POLLIN : 0)
                                                        | (w & TLS_WANT_WRITE ? POLLOUT : 0)) };
        poll(&p, 1, 50);
    }
    return st;
}

static int handshake_over(void)
{
    return ts.engine.state != TLS_ST_HANDSHAKE;
}

/* The records asked for by the next handshake (0: full size, the default). */
static unsigned record_max;

/* Dial the peer and handshake; the verdict is in ts.engine.verdict. */
static enum tls_state handshake(struct peer *p, const char *host, int64_t now,
                                       const br_x509_certificate *id, size_t id_len,
                                       const struct device_key *key)
{
    struct tls_client_config cfg = {
        .host = host, .anchors = store.ta, .anchors_num = store.count, .now = now,
        .client_chain = id, .client_chain_len = id_len, .client_key = key ? &key->sk : NULL,
        .capture = &chain, .record_max = record_max,
    };
    if (dial(p->port) != 0) {
        fprintf(stderr, "cannot reach the peer on port %d\n", p->port);
        return TLS_ST_FAILED;
    }
    if (tls_client_start(&ts, &cfg, &sock_io) != 0) {
        return TLS_ST_FAILED;
    }
    return run_until(handshake_over, 30);
}

static void hang_up(void)
{
    close(fd);
    fd = -1;
}

static int stored(const char *a, const char *b)
{
    static uint8_t der[4096];
    trust_init(&store, ta, 4, arena, sizeof arena);
    const char *names[2] = { a, b };
    for (int i = 0; i < 2 && names[i]; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s.der", names[i]);
        size_t len = pki_load(file, der, sizeof der);
        if (len == 0 || trust_add_der(&store, der, len) < 0) {
            return -1;
        }
    }
    return 0;
}

#define CHECK_VERDICT(want) do { \
        if (strcmp(ts.engine.verdict, want) != 0) { \
            fprintf(stderr, "verdict: %s\nwanted:  %s\n", ts.engine.verdict, want); \
        } \
        CHECK(strcmp(ts.engine.verdict, want) == 0); \
    } while (0)

/* One case of the matrix: server arguments, store, expected name, state and verdict. */
static int matrix_case(const char *server_args, const char *a, const char *b, const char *host,
                       int64_t now, enum tls_state want, const char *verdict)
{
    struct peer p;
    if (stored(a, b) != 0 || s_server(&p, server_args) != 0) {
        return 0;
    }
    enum tls_state st = handshake(&p, host, now, NULL, 0, NULL);
    hang_up();
    peer_stop(&p);
    if (st != want || strcmp(ts.engine.verdict, verdict) != 0) {
        fprintf(stderr, "server %s, host %s:\n  state %d, verdict: %s\n  wanted %d, %s\n",
                server_args, host, st, ts.engine.verdict, want, verdict);
        return 0;
    }
    return 1;
}

#define EC_CHAIN "-cert leaf-ec.pem -key leaf-ec.key -cert_chain inter.pem"
#define EC_LEAF "-cert leaf-ec.pem -key leaf-ec.key"

/* ---- the cases ---- */

static int got_pong(void);
static char rx[64];
static size_t rx_len;

static int got_pong(void)
{
    long n = tls_client_read(&ts, (uint8_t *)rx + rx_len, sizeof rx - 1 - rx_len);
    if (n > 0) {
        rx_len += (size_t)n;
        rx[rx_len] = 0;
    }
    return strchr(rx, '\n') != NULL || n < 0;
}

static void valid_chain_handshakes_and_data_flows_both_ways(void)
{
    struct peer p;
    CHECK_EQ(stored("root", NULL), 0);
    CHECK_EQ(s_server(&p, EC_CHAIN), 0);
    enum tls_state st = handshake(&p, "mail.example.test", TEST_NOW, NULL, 0, NULL);
    if (st != TLS_ST_OPEN) {
        peer_stop(&p);
    }
    CHECK_EQ(st, TLS_ST_OPEN);
    CHECK_VERDICT("ok: chain anchored at \"CN=Lab Root CA, O=Gateway Test Lab\"");
    CHECK_EQ(chain.count, 2);
    CHECK(strcmp(chain.cert[1].subject, "CN=Lab Intermediate CA, O=Gateway Test Lab") == 0);
    /* To the server (it prints it) and from it (it sends its stdin). */
    CHECK_EQ(tls_client_write(&ts, (const uint8_t *)"ping\n", 5), 5);
    CHECK_EQ(write(p.in, "pong\n", 5), 5);
    rx_len = 0;
    rx[0] = 0;
    run_until(got_pong, 30);
    int printed = peer_printed("ping");
    tls_client_close(&ts);
    hang_up();
    peer_stop(&p);
    CHECK(strcmp(rx, "pong\n") == 0);
    CHECK(printed);
}

static void verdict_matrix_against_s_server(void)
{
    int64_t t = TEST_NOW;
    /* server sends only the leaf, the intermediate is in the store */
    CHECK(matrix_case(EC_LEAF, "inter", NULL, "mail.example.test", t, TLS_ST_OPEN,
                      "ok: chain anchored at \"CN=Lab Intermediate CA, O=Gateway Test Lab\""));
    /* server sends only the leaf and only the root is stored */
    CHECK(matrix_case(EC_LEAF, "root", NULL, "mail.example.test", t, TLS_ST_FAILED,
                      "unknown issuer \"CN=Lab Intermediate CA, O=Gateway Test Lab\" "
                      "(not in trust store)"));
    CHECK(matrix_case("-cert expired.pem -key expired.key -cert_chain inter.pem", "root", NULL,
                      "mail.example.test", t, TLS_ST_FAILED, "expired 2021-01-01"));
    CHECK(matrix_case("-cert notyet.pem -key notyet.key -cert_chain inter.pem", "root", NULL,
                      "mail.example.test", t, TLS_ST_FAILED, "not yet valid until 2030-01-01"));
    CHECK(matrix_case("-cert wrongname.pem -key wrongname.key -cert_chain inter.pem", "root",
                      NULL, "mail.example.test", t, TLS_ST_FAILED,
                      "name mismatch: wanted mail.example.test, certificate has "
                      "other.example.test"));
    CHECK(matrix_case("-cert selfsigned.pem -key selfsigned.key", "root", "inter",
                      "mail.example.test", t, TLS_ST_FAILED,
                      "self-signed certificate \"CN=mail.example.test, O=Gateway Test Lab\" "
                      "(not in trust store)"));
    CHECK(matrix_case("-cert ip.pem -key ip.key -cert_chain inter.pem", "root", NULL,
                      "127.0.0.1", t, TLS_ST_OPEN,
                      "ok: chain anchored at \"CN=Lab Root CA, O=Gateway Test Lab\""));
    CHECK(matrix_case("-cert leaf-rsa.pem -key leaf-rsa.key -cert_chain inter.pem", "root",
                      NULL, "mail.example.test", t, TLS_ST_OPEN,
                      "ok: chain anchored at \"CN=Lab Root CA, O=Gateway Test Lab\""));
    /* the gateway's clock is not set yet */
    CHECK(matrix_case(EC_CHAIN, "root", NULL, "mail.example.test", 0, TLS_ST_FAILED,
                      "clock not set (1970-01-01): certificates cannot be checked yet"));
}

static int load_identity(struct device_key *key, br_x509_certificate id[2], const char *cn)
{
    static uint8_t text[8192], der[8192];
    static struct pem_decoder dec;
    struct pem_cert c[2];
    char pem[CSR_PEM_MAX];
    if (key_generate(key) != 0) {
        return -1;
    }
    int n = csr_build_pem(key, cn, pem, sizeof pem);
    if (n < 0 || write_file(pki_path("stream-device.csr"), pem, (size_t)n) != 0
        || run_shell("cd %s && openssl x509 -req -in stream-device.csr -CA inter.pem"
                     " -CAkey inter.key -CAcreateserial -days 30 -out stream-device.pem"
                     " 2>/dev/null", pki_dir) != 0) {
        return -1;
    }
    size_t len = pki_load("stream-device.pem", text, sizeof text);
    len += pki_load("inter.pem", text + len, sizeof text - len);
    if (pem_decode_certs(&dec, text, len, der, sizeof der, c, 2) != 2
        || key_matches_cert(key, c[0].der, c[0].len) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        id[i].data = (unsigned char *)(uintptr_t)c[i].der;
        id[i].data_len = c[i].len;
    }
    return 0;
}

static void server_requiring_client_certificate_accepts_the_device_identity(void)
{
    static struct device_key key;
    br_x509_certificate id[2];
    struct peer p;
    CHECK_EQ(load_identity(&key, id, "loc-mtls"), 0);
    CHECK_EQ(stored("root", NULL), 0);
    /* -Verify: a client certificate is required, chained to the lab root. */
    CHECK_EQ(peer_start(&p, "openssl s_server -quiet -accept 127.0.0.1:%d " EC_CHAIN
                            " -Verify 2 -CAfile root.pem -verify_return_error"), 0);
    CHECK_EQ(handshake(&p, "mail.example.test", TEST_NOW, id, 2, &key), TLS_ST_OPEN);
    CHECK_EQ(tls_client_write(&ts, (const uint8_t *)"hello from loc-mtls\n", 20), 20);
    CHECK(peer_printed("hello from loc-mtls"));
    hang_up();
    /* Without an identity the server refuses. */
    enum tls_state st = handshake(&p, "mail.example.test", TEST_NOW, NULL, 0, NULL);
    hang_up();
    peer_stop(&p);
    CHECK_EQ(st, TLS_ST_FAILED);
    CHECK(strncmp(ts.engine.verdict, "handshake failed: server sent fatal alert ", 42) == 0);
    printf("no client certificate: %s\n", ts.engine.verdict);
}

static void server_closing_during_handshake_is_named(void)
{
    struct peer p;
    CHECK_EQ(stored("root", NULL), 0);
    /* A plain TCP peer that reads the ClientHello and hangs up. */
    CHECK_EQ(peer_start(&p, "socat TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr SYSTEM:'head -c 1'"),
             0);
    CHECK_EQ(handshake(&p, "mail.example.test", TEST_NOW, NULL, 0, NULL), TLS_ST_FAILED);
    hang_up();
    peer_stop(&p);
    CHECK_VERDICT("handshake failed: server closed the connection");
}

/* ---- bulk and repetition ---- */

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

static uint64_t sent, received, total;
static int mismatch;

static int echoed_all(void)
{
    static uint8_t buf[16384];
    while (sent < total) {
        size_t chunk = total - sent < sizeof buf ? (size_t)(total - sent) : sizeof buf;
        for (size_t i = 0; i < chunk; i++) {
            buf[i] = pattern(sent + i);
        }
        long n = tls_client_write(&ts, buf, chunk);
        if (n <= 0) {
            break;
        }
        sent += (uint64_t)n;
    }
    long n;
    while ((n = tls_client_read(&ts, buf, sizeof buf)) > 0) {
        for (long i = 0; i < n; i++) {
            mismatch |= buf[i] != pattern(received + (uint64_t)i);
        }
        received += (uint64_t)n;
    }
    return received == total || mismatch || n < 0;
}

static void bulk_data_is_echoed_byte_exact(void)
{
    struct peer p;
    total = (uint64_t)64 << 20;
    const char *env = getenv("GW_TLS_BULK_MIB");
    if (env) {
        total = (uint64_t)strtoul(env, NULL, 10) << 20;
    }
    CHECK_EQ(stored("root", NULL), 0);
    CHECK_EQ(peer_start(&p, "socat OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,"
                            "cert=chain-ec.pem,key=leaf-ec.key,verify=0 PIPE"), 0);
    CHECK_EQ(handshake(&p, "mail.example.test", TEST_NOW, NULL, 0, NULL), TLS_ST_OPEN);
    sent = received = 0;
    mismatch = 0;
    double t0 = now_s();
    run_until(echoed_all, 300);
    double dt = now_s() - t0;
    br_ssl_session_parameters sp;
    br_ssl_engine_get_session_parameters(&ts.cc.eng, &sp);
    tls_client_close(&ts);
    hang_up();
    peer_stop(&p);
    CHECK_EQ(mismatch, 0);
    CHECK_EQ(received, total);
    printf("bulk: %llu MiB echoed in %.2f s (%.1f MiB/s each way), suite 0x%04x\n",
           (unsigned long long)(total >> 20), dt, (double)(total >> 20) / dt,
           (unsigned)sp.cipher_suite);
}

/* Records as s_server (OpenSSL) traces them: a 12,000-byte line each way against
 * `openssl s_server -trace`, which logs every record's length and its ServerHello. */
static int got_12000(void)
{
    static uint8_t buf[4096];
    long n;
    while ((n = tls_client_read(&ts, buf, sizeof buf)) > 0) {
        received += (uint64_t)n;
    }
    return received >= 12001 || n < 0;
}

/* Sends and receives the line; 0 when the trace says the ServerHello agreed to 4 KiB
 * records (mfl 1) or to nothing (mfl 0), and the largest application record each way was
 * at most (small 1) or above (small 0) 4096 + 24 bytes. */
static int line_each_way(int mfl, int small)
{
    static uint8_t line[12001];
    struct peer p;
    memset(line, 'm', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    if (stored("root", NULL) != 0 || run_shell("rm -f %s", pki_path("stream-peer.out")) != 0) {
        return -1;
    }
    /* line-buffered, or the trace is still in stdio's buffer when the server is stopped */
    if (peer_start(&p, "stdbuf -oL openssl s_server -quiet -trace -accept 127.0.0.1:%d "
                       "-no-CAfile -no-CApath -no-CAstore " EC_CHAIN) != 0) {
        return -1;
    }
    if (handshake(&p, "mail.example.test", TEST_NOW, NULL, 0, NULL) != TLS_ST_OPEN) {
        peer_stop(&p);
        return -1;
    }
    size_t off = 0;
    for (int i = 0; i < 100 && off < sizeof line; i++) {
        long n = tls_client_write(&ts, line + off, sizeof line - off);
        if (n < 0) {
            break;
        }
        off += (size_t)n;
        tls_client_pump(&ts);
        usleep(10000);
    }
    int ok = off == sizeof line && write(p.in, line, sizeof line) == (long)sizeof line;
    received = 0;
    run_until(got_12000, 30);
    ok = ok && received == sizeof line;
    tls_client_close(&ts);
    hang_up();
    peer_stop(&p);
    if (!ok) {
        return -1;
    }
    return run_shell("awk '"
                     "/ServerHello, Length/ { sh = 1 } "
                     "/ClientKeyExchange|Certificate,/ { sh = 0 } "
                     "sh && /max_fragment_length := 2\\^12 / { mfl = 1 } "
                     "/^Sent Record/ { d = \"sent\" } "
                     "/^Received Record/ { d = \"received\" } "
                     "/^  Content Type = / { ad = /ApplicationData/ } "
                     "/^  Length = / && ad { if ($3 > m[d]) m[d] = $3 } "
                     "END { printf \"max fragment length 4096 agreed: %%s; largest "
                     "application record from s_server %%d B, from us %%d B\\n\", "
                     "mfl ? \"yes\" : \"no\", m[\"sent\"], m[\"received\"]; "
                     "small = m[\"sent\"] > 0 && m[\"sent\"] <= 4120 && "
                     "m[\"received\"] > 0 && m[\"received\"] <= 4120; "
                     "large = m[\"sent\"] > 4120 && m[\"received\"] > 4120; "
                     "exit !(mfl == %d && (%d ? small : large)) }' %s",
                     mfl, small, pki_path("stream-peer.out"));
}

/* RFC 6066: asked for 4 KiB records, s_server (OpenSSL) agrees in its ServerHello, then
 * both sides keep to it: a 12,000-byte line each way travels as records of at most 4 KiB
 * plus the AEAD's 24 bytes. */
static void max_fragment_length_is_negotiated_and_kept(void)
{
    record_max = 4096;
    int r = line_each_way(1, 1);
    record_max = 0;
    CHECK_EQ(r, 0);
}

/* By default nothing is asked: the same line travels in full-size records both ways. */
static void full_size_records_by_default(void)
{
    CHECK_EQ(line_each_way(0, 0), 0);
}

static void fifty_sequential_handshakes_succeed(void)
{
    struct peer p;
    CHECK_EQ(stored("root", NULL), 0);
    CHECK_EQ(s_server(&p, EC_CHAIN), 0);
    double t0 = now_s();
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        ok += handshake(&p, "mail.example.test", TEST_NOW, NULL, 0, NULL) == TLS_ST_OPEN;
        tls_client_close(&ts);
        hang_up();
    }
    double dt = now_s() - t0;
    peer_stop(&p);
    CHECK_EQ(ok, 50);
    printf("handshakes: 50 in %.2f s, %.1f ms each (P-256 ECDHE, ECDSA chain of 2)\n", dt,
           dt * 1000 / 50);
    printf("RAM per connection: %zu bytes (record buffers %u, client context %zu, verifier "
           "%zu)\n", sizeof(struct tls_client), (unsigned)TLS_CLIENT_BUF,
           sizeof(br_ssl_client_context), sizeof(struct tls_verify));
}

/* The relay's buffered socket: small asks (a record header, then its body) and large ones get
 * the stream's bytes in order, one recv serves several asks, EOF comes only once the buffer
 * is drained; sends are gathered until a flush, and a full socket keeps them pending. */
static void buffered_io_keeps_order_and_reports_eof_last(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static uint8_t data[3 * TLS_IO_FD_RBUF], got[sizeof data];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7 + (i >> 8));
    }
    CHECK_EQ(write(sv[1], data, 100), 100);
    static struct tls_io_fd_buf b;
    memset(&b, 0, sizeof b);
    b.fd = sv[0];
    CHECK_EQ(tls_io_fd_buf_recv(&b, got, 5), 5);            /* reads all 100 at once */
    CHECK_EQ(b.rlen, 100);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got + 5, 50), 50);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got + 55, 1000), 45);   /* what is buffered, no more */
    CHECK_EQ(tls_io_fd_buf_recv(&b, got + 100, 10), 0);     /* nothing now */
    CHECK_EQ(write(sv[1], data + 100, sizeof data - 100), (long)(sizeof data - 100));
    size_t have = 100;
    for (int i = 0; i < 1000 && have < sizeof data; i++) {
        size_t ask = i % 3 == 0 ? 5 : i % 3 == 1 ? 4120 : sizeof data;   /* large: direct */
        long n = tls_io_fd_buf_recv(&b, got + have, ask < sizeof data - have ? ask
                                                                             : sizeof data - have);
        CHECK(n > 0);
        have += (size_t)n;
    }
    CHECK_EQ(have, sizeof data);
    CHECK(memcmp(got, data, sizeof data) == 0);

    /* Sending: gathered, out at the flush, in order. */
    CHECK_EQ(tls_io_fd_buf_send(&b, data, 3000), 3000);
    CHECK_EQ(tls_io_fd_buf_send(&b, data + 3000, 4000), 4000);
    CHECK_EQ(recv(sv[1], got, sizeof got, MSG_DONTWAIT), -1);   /* nothing sent yet */
    CHECK_EQ(tls_io_fd_buf_pending(&b), 7000);
    CHECK_EQ(tls_io_fd_buf_flush(&b), 0);
    CHECK_EQ(tls_io_fd_buf_pending(&b), 0);
    CHECK_EQ(recv(sv[1], got, sizeof got, MSG_DONTWAIT), 7000);
    CHECK(memcmp(got, data, 7000) == 0);
    /* A socket that takes nothing more: the gathered bytes stay pending, none is lost. */
    int small = 4096;
    CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    size_t queued = 0;
    for (int i = 0; i < 10000; i++) {
        long n = tls_io_fd_buf_send(&b, data + queued % 1000, 1000);
        CHECK(n >= 0);
        if (n == 0) {
            break;
        }
        queued += (size_t)n;
    }
    CHECK(tls_io_fd_buf_pending(&b) > 0);
    size_t out = 0;
    for (int i = 0; i < 100000 && out < queued; i++) {
        long n = recv(sv[1], got + out % 1000, 1000 - out % 1000, MSG_DONTWAIT);
        if (n > 0) {
            for (long k = 0; k < n; k++) {
                CHECK_EQ(got[(out + (size_t)k) % 1000], data[(out + (size_t)k) % 1000]);
            }
            out += (size_t)n;
        }
        CHECK_EQ(tls_io_fd_buf_flush(&b), 0);
    }
    CHECK_EQ(out, queued);
    CHECK_EQ(tls_io_fd_buf_pending(&b), 0);

    CHECK_EQ(write(sv[1], "xyz", 3), 3);
    close(sv[1]);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got, 1), 1);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got + 1, 1), 1);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got + 2, 1), 1);
    CHECK(memcmp(got, "xyz", 3) == 0);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got, 1), TLS_IO_EOF);
    close(sv[0]);
}

/* Full 16 KiB records (16,413 bytes on the wire with AES-GCM): one recv() serves the header
 * and body asks of two records and the next header, and four records' sends are gathered
 * into one send() (issue 21: with 8 and 16 KiB buffers every record took two recv()s and one
 * send() of its own). FIONREAD tells what the socket still holds after each step. */
static void buffered_io_serves_full_records_with_few_system_calls(void)
{
    enum { REC = 16413 };
    int sv[2], left = -1;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int big = 1 << 20;
    CHECK_EQ(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
    CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
    static uint8_t data[4 * REC], got[sizeof data];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 13 + (i >> 9));
    }
    static struct tls_io_fd_buf b;
    memset(&b, 0, sizeof b);
    b.fd = sv[0];
    CHECK_EQ(write(sv[1], data, 2 * REC + 5), 2 * REC + 5);
    CHECK_EQ(tls_io_fd_buf_recv(&b, got, 5), 5);            /* the first header: one recv */
    CHECK_EQ(ioctl(sv[0], FIONREAD, &left), 0);
    CHECK_EQ(left, 0);                                      /* took both records and more */
    size_t have = 5;
    for (int i = 0; i < 3; i++) {                           /* body, header, body */
        size_t ask = i == 1 ? 5 : REC - 5;
        CHECK_EQ(tls_io_fd_buf_recv(&b, got + have, ask), (long)ask);
        have += ask;
    }
    CHECK_EQ(tls_io_fd_buf_recv(&b, got + have, 5), 5);     /* the third header, buffered */
    have += 5;
    CHECK_EQ(have, 2 * REC + 5);
    CHECK(memcmp(got, data, have) == 0);

    /* Four full records gathered, nothing on the wire until the flush sends them at once. */
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(tls_io_fd_buf_send(&b, data + (size_t)i * REC, REC), REC);
    }
    CHECK_EQ(ioctl(sv[1], FIONREAD, &left), 0);
    CHECK_EQ(left, 0);
    CHECK_EQ(tls_io_fd_buf_pending(&b), 4 * REC);
    CHECK_EQ(tls_io_fd_buf_flush(&b), 0);
    CHECK_EQ(tls_io_fd_buf_pending(&b), 0);
    size_t out = 0;
    for (int i = 0; i < 100 && out < sizeof data; i++) {
        ssize_t r = recv(sv[1], got + out, sizeof got - out, MSG_DONTWAIT);
        CHECK(r > 0);
        out += (size_t)r;
    }
    CHECK_EQ(out, sizeof data);
    CHECK(memcmp(got, data, sizeof data) == 0);
    close(sv[0]);
    close(sv[1]);
}

TLS_TEST_MAIN(
    { "buffered_io_keeps_order_and_reports_eof_last",
      buffered_io_keeps_order_and_reports_eof_last },
    { "buffered_io_serves_full_records_with_few_system_calls",
      buffered_io_serves_full_records_with_few_system_calls },
    { "valid_chain_handshakes_and_data_flows_both_ways",
      valid_chain_handshakes_and_data_flows_both_ways },
    { "verdict_matrix_against_s_server", verdict_matrix_against_s_server },
    { "server_requiring_client_certificate_accepts_the_device_identity",
      server_requiring_client_certificate_accepts_the_device_identity },
    { "server_closing_during_handshake_is_named", server_closing_during_handshake_is_named },
    { "full_size_records_by_default", full_size_records_by_default },
    { "max_fragment_length_is_negotiated_and_kept",
      max_fragment_length_is_negotiated_and_kept },
    { "bulk_data_is_echoed_byte_exact", bulk_data_is_echoed_byte_exact },
    { "fifty_sequential_handshakes_succeed", fifty_sequential_handshakes_succeed })
