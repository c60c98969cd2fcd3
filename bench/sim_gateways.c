/* sim_gateways: many idle gateways in one process, to see how many tunnels one relay holds
 * and what each costs it (bench/run.sh, relay scale). Each simulated gateway is the
 * gateway's own protocol code on a kernel socket: TLS client with its certificate
 * (tls_client), yamux client, hello on the first stream; then it stays idle and answers
 * the relay's keepalive pings.
 *
 *   sim_gateways --relay ADDR:PORT --ca ROOT.der --name RELAYNAME --key KEY.pem
 *                --certs DIR --count N [--conc C] [--secs S]
 *
 * Gateway i (0 <= i < N) presents DIR/sim<i>.pem (leaf, then intermediate) and says hello as
 * location "sim<i>"; all share KEY.pem. At most C handshakes are in flight at once (the
 * relay closes handshakes beyond its own cap). Prints "tunnels up=K refused=R secs=T" when
 * every gateway has an answer, then holds the tunnels and prints "lost N" as the relay drops
 * any, until SIGTERM or S seconds (default 300). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hello_delivery.h"
#include "log.h"
#include "pem.h"
#include "random.h"
#include "tls_client.h"
#include "trust.h"
#include "yamux.h"

#define SIM_MAX 4096
#define SIM_CHAIN_MAX 4
#define SIM_DER_MAX 8192
/* Per simulated gateway: struct tls_client (~52 KiB) + this yamux block (~6 KiB). */
#define SIM_STREAMS 4
#define SIM_RX_POOL (4u * 1024)
#define SIM_OUT (2u * 1024)

enum sim_state { SIM_WAIT, SIM_HANDSHAKE, SIM_HELLO, SIM_UP, SIM_DONE };

struct sim {
    enum sim_state state;
    int fd;
    int counted;                 /* answered: up or refused */
    char loc[HELLO_LOCATION_MAX + 1];
    struct tls_client ts;
    struct yamux_session ys;
    void *ymem;
    struct yamux_stream *hello_st;
    uint8_t hin[HELLO_MSG_MAX];
    size_t hin_len;
    uint64_t deadline;
    br_x509_certificate chain[SIM_CHAIN_MAX];
    size_t chain_len;
    uint8_t der[SIM_DER_MAX];
};

static struct sim *sims;
static unsigned nsim, conc = 16, secs = 300;
static const char *relay_addr, *ca_file, *relay_name, *key_file, *cert_dir;
static struct sockaddr_in raddr;
static br_x509_trust_anchor ta[2];
static uint8_t arena[2 * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static br_skey_decoder_context skey;
static unsigned n_up, n_refused, n_lost, in_flight;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void die(const char *what)
{
    fprintf(stderr, "sim_gateways: %s\n", what);
    exit(2);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static void skey_push(void *ctx, const void *p, size_t len)
{
    br_skey_decoder_push(ctx, p, len);
}

static void load_key(void)
{
    size_t len;
    uint8_t *p = slurp(key_file, &len);
    if (p == NULL) {
        die("cannot read --key");
    }
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    for (size_t off = 0; off < len;) {
        off += br_pem_decoder_push(&pc, p + off, len - off);
        if (br_pem_decoder_event(&pc) == BR_PEM_BEGIN_OBJ) {
            int in_key = strstr(br_pem_decoder_name(&pc), "PRIVATE KEY") != NULL;
            if (in_key) {
                br_skey_decoder_init(&skey);
            }
            br_pem_decoder_setdest(&pc, in_key ? skey_push : NULL, &skey);
        }
    }
    free(p);
    if (br_skey_decoder_key_type(&skey) != BR_KEYTYPE_EC) {
        die("--key: not an EC private key");
    }
}

static void load_sim(struct sim *s, unsigned i)
{
    static struct pem_decoder d;
    struct pem_cert certs[SIM_CHAIN_MAX];
    char path[1024];
    size_t len;
    snprintf(s->loc, sizeof s->loc, "sim%u", i);
    snprintf(path, sizeof path, "%s/%s.pem", cert_dir, s->loc);
    uint8_t *p = slurp(path, &len);
    int n = p ? pem_decode_certs(&d, p, len, s->der, sizeof s->der, certs, SIM_CHAIN_MAX) : -1;
    free(p);
    if (n <= 0) {
        fprintf(stderr, "sim_gateways: cannot load %s\n", path);
        exit(2);
    }
    for (int k = 0; k < n; k++) {
        s->chain[k].data = (unsigned char *)(uintptr_t)certs[k].der;
        s->chain[k].data_len = certs[k].len;
    }
    s->chain_len = (size_t)n;
    s->fd = -1;
}

static long sock_send(void *arg, const uint8_t *p, size_t len)
{
    ssize_t n = send(((struct sim *)arg)->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : TLS_IO_ERROR;
    }
    return n;
}

static long sock_recv(void *arg, uint8_t *p, size_t len)
{
    ssize_t n = recv(((struct sim *)arg)->fd, p, len, MSG_DONTWAIT);
    if (n == 0) {
        return TLS_IO_EOF;
    }
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : TLS_IO_ERROR;
    }
    return n;
}

/* ---- one simulated gateway ---- */

static void sim_end(struct sim *s, int refused)
{
    if (s->state == SIM_HANDSHAKE || s->state == SIM_HELLO) {
        in_flight--;
    }
    if (!s->counted) {
        s->counted = 1;
        n_refused += refused;
    } else if (s->state == SIM_UP) {
        n_up--;
        n_lost++;
        printf("lost %s\n", s->loc);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    free(s->ymem);
    s->ymem = NULL;
    s->state = SIM_DONE;
}

static void sim_start(struct sim *s)
{
    int one = 1;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    in_flight++;
    s->state = SIM_HANDSHAKE;
    s->deadline = now_ms() + 30000;
    if (connect(s->fd, (struct sockaddr *)&raddr, sizeof raddr) != 0) {
        sim_end(s, 1);
        return;
    }
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    struct tls_client_config cfg = {
        .host = relay_name, .anchors = store.ta, .anchors_num = store.count,
        .now = (int64_t)time(NULL), .client_chain = s->chain, .client_chain_len = s->chain_len,
        .client_key = br_skey_decoder_get_ec(&skey),
    };
    if (tls_client_start(&s->ts, &cfg, &(struct tls_io){ sock_send, sock_recv, s }) != 0) {
        sim_end(s, 1);
    }
}

static void sim_hello(struct sim *s)
{
    struct yamux_config yc = {
        .client = 1, .max_streams = SIM_STREAMS, .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = SIM_RX_POOL, .out_cap = SIM_OUT, .keepalive_ms = 0, .dead_ms = 0,
        .name = s->loc,
    };
    size_t need = yamux_mem_size(&yc);
    s->ymem = malloc(need);
    yamux_init(&s->ys, &yc, s->ymem, need, (uint32_t)now_ms());
    struct hello h = { .hostname = "sim-gateway", .firmware = "bench" };
    snprintf(h.location, sizeof h.location, "%s", s->loc);
    uint8_t msg[HELLO_MSG_MAX];
    long n = hello_encode(msg, sizeof msg, &h);
    s->hello_st = yamux_open(&s->ys);
    yamux_write(s->hello_st, msg, (size_t)n);
    yamux_close(s->hello_st);
    s->state = SIM_HELLO;
}

static void sim_pump(struct sim *s)
{
    static uint8_t in[16384];
    if (s->state == SIM_HANDSHAKE) {
        enum tls_state st = tls_client_pump(&s->ts);
        if (st == TLS_ST_OPEN) {
            sim_hello(s);
        } else if (st != TLS_ST_HANDSHAKE || now_ms() > s->deadline) {
            sim_end(s, 1);
            return;
        }
    }
    if (s->state != SIM_HELLO && s->state != SIM_UP) {
        return;
    }
    for (int round = 0; round < 16; round++) {
        tls_client_pump(&s->ts);
        long n = tls_client_read(&s->ts, in, sizeof in);
        if (n < 0 || yamux_tick(&s->ys, (uint32_t)now_ms()) != YAMUX_OK) {
            sim_end(s, 1);
            return;
        }
        for (long off = 0; off < n;) {
            long k = yamux_input(&s->ys, in + off, (size_t)(n - off));
            if (k <= 0) {
                sim_end(s, 1);
                return;
            }
            off += k;
        }
        struct yamux_stream *st;
        while ((st = yamux_accept(&s->ys)) != NULL) {
            yamux_reset(st);            /* an idle gateway: no mappings */
            yamux_release(st);
        }
        unsigned ev;
        while (yamux_poll(&s->ys, &ev) != NULL) {
        }
        long r;
        while (s->hello_st && (r = yamux_read(s->hello_st, s->hin + s->hin_len,
                                              sizeof s->hin - s->hin_len)) > 0) {
            s->hin_len += (size_t)r;
        }
        struct hello_answer a;
        if (s->state == SIM_HELLO
            && answer_parse(s->hin, s->hin_len, HELLO_K_HELLO_ANSWER, &a) > 0) {
            if (a.status != HELLO_ST_OK) {
                sim_end(s, 1);
                return;
            }
            yamux_release(s->hello_st);
            s->hello_st = NULL;
            s->state = SIM_UP;
            s->counted = 1;
            in_flight--;
            n_up++;
        }
        const uint8_t *p;
        size_t len;
        int wrote = 0;
        while ((len = yamux_out_peek(&s->ys, &p)) > 0) {
            long w = tls_client_write(&s->ts, p, len);
            if (w < 0) {
                sim_end(s, 1);
                return;
            }
            if (w == 0) {
                break;
            }
            yamux_out_consume(&s->ys, (size_t)w);
            wrote = 1;
        }
        if (n == 0 && !wrote) {
            break;
        }
    }
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void log_to_stderr(enum log_level level, const char *line, size_t len)
{
    (void)level;
    if (write(2, line, len) < 0) {
        return;
    }
}

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        die("an option is missing its value");
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    log_set_sink(log_to_stderr);
    if (rng_init(check_entropy) != 0) {
        fprintf(stderr, "no entropy\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--relay") == 0) {
            relay_addr = value(argc, argv, &i);
        } else if (strcmp(a, "--ca") == 0) {
            ca_file = value(argc, argv, &i);
        } else if (strcmp(a, "--name") == 0) {
            relay_name = value(argc, argv, &i);
        } else if (strcmp(a, "--key") == 0) {
            key_file = value(argc, argv, &i);
        } else if (strcmp(a, "--certs") == 0) {
            cert_dir = value(argc, argv, &i);
        } else if (strcmp(a, "--count") == 0) {
            nsim = (unsigned)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--conc") == 0) {
            conc = (unsigned)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--secs") == 0) {
            secs = (unsigned)atoi(value(argc, argv, &i));
        } else {
            die("unknown option");
        }
    }
    if (!relay_addr || !ca_file || !relay_name || !key_file || !cert_dir || nsim == 0
        || nsim > SIM_MAX || conc == 0) {
        die("usage: --relay ADDR:PORT --ca ROOT.der --name NAME --key KEY.pem --certs DIR "
            "--count N (<= 4096) [--conc C] [--secs S]");
    }
    char host[64];
    const char *colon = strrchr(relay_addr, ':');
    if (colon == NULL || (size_t)(colon - relay_addr) >= sizeof host) {
        die("--relay ADDR:PORT");
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - relay_addr), relay_addr);
    raddr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    if (inet_pton(AF_INET, host, &raddr.sin_addr) != 1) {
        die("--relay ADDR:PORT");
    }
    size_t len;
    uint8_t *p = slurp(ca_file, &len);
    trust_init(&store, ta, 2, arena, sizeof arena);
    if (p == NULL || trust_add_der(&store, p, len) < 0) {
        die("cannot load --ca (DER)");
    }
    free(p);
    load_key();
    sims = calloc(nsim, sizeof *sims);
    struct pollfd *pfd = calloc(nsim, sizeof *pfd);
    unsigned *idx = calloc(nsim, sizeof *idx);
    if (sims == NULL || pfd == NULL || idx == NULL) {
        die("out of memory");
    }
    for (unsigned i = 0; i < nsim; i++) {
        load_sim(&sims[i], i);
    }
    uint64_t t0 = now_ms(), end = t0 + (uint64_t)secs * 1000u;
    unsigned next = 0;
    int reported = 0;
    while (!stop && now_ms() < end) {
        while (next < nsim && in_flight < conc) {
            sim_start(&sims[next++]);
        }
        if (!reported && next == nsim && in_flight == 0) {
            printf("tunnels up=%u refused=%u secs=%.2f\n", n_up, n_refused, (now_ms() - t0) / 1e3);
            reported = 1;
        }
        unsigned np = 0;
        for (unsigned i = 0; i < nsim; i++) {
            struct sim *s = &sims[i];
            if (s->fd < 0) {
                continue;
            }
            unsigned w = tls_client_wants(&s->ts);
            pfd[np] = (struct pollfd){ s->fd, (short)((w & TLS_WANT_READ ? POLLIN : 0)
                                                      | (w & TLS_WANT_WRITE ? POLLOUT : 0)), 0 };
            idx[np++] = i;
        }
        poll(pfd, np, reported ? 500 : 20);
        for (unsigned k = 0; k < np; k++) {
            if (pfd[k].revents || !reported) {
                sim_pump(&sims[idx[k]]);
            }
        }
    }
    if (!reported) {
        printf("tunnels up=%u refused=%u secs=%.2f (time bound hit, %u still pending)\n", n_up,
               n_refused, (now_ms() - t0) / 1e3, in_flight);
    }
    printf("exit: up=%u lost=%u\n", n_up, n_lost);
    return 0;
}
