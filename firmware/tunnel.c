/* see tunnel.h */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "dial.h"
#include "gateway.h"
#include "hello_delivery.h"
#include "keys.h"
#include "lwip/netif.h"
#include "log.h"
#include "pem.h"
#include "random.h"
#include "secure_wipe.h"
#include "settings.h"
#include "splice.h"
#include "tls_conn.h"
#include "tunnel.h"

/* ---- limits (memory per relay link in the comment) ------------------------------------ */
#define LINK_STREAMS SPLICE_MAX          /* yamux slots: 1024 x 80 B */
#define LINK_RX_POOL (512u * 1024u)      /* received, not yet spliced on: 512 KiB */
#define LINK_OUT_CAP (64u * 1024u)       /* yamux output queue: 64 KiB */
#define LINK_READ_CHUNK 4096             /* TLS plaintext handed to yamux per step */
#define LINK_SND_BUF GW_TCP_SND_BUF_WAN  /* TCP send buffer: a WAN's round trip (lwipopts.h) */
/* TCP receive window: the relays' tunnels share TCP_WND (lwipopts.h; the pbuf pool holds it
 * beside the splices' share), whole segments each: 256,960 B for one relay, 64,240 for 4. */
#define LINK_RCV_WND(nrelays) (TCP_WND / TCP_MSS / (nrelays) * TCP_MSS)
_Static_assert(LINK_RCV_WND(CONFIG_RELAYS_MAX) >= GW_TCP_WND_LAN,
               "each relay's tunnel gets at least the window of a LAN connection");
#define LINK_MEM YAMUX_MEM_SIZE(LINK_STREAMS, LINK_RX_POOL, LINK_OUT_CAP)
#define OWNED_MAX 16                     /* gateway-opened streams at once (deliveries); each
                                            link keeps as many slots for them: streams the
                                            relay opens never take the mail's */
#define HELLO_WAIT_MS 10000              /* the relay answers hello within this */

enum link_state {
    LINK_OFF,            /* not configured */
    LINK_WAIT,           /* backing off until retry_at */
    LINK_DIAL,           /* the relay's name, TCP connect, the TLS handshake (l->dial) */
    LINK_HELLO,          /* yamux up, hello sent, waiting for the answer */
    LINK_UP,             /* streams flow */
};
static const char *const state_names[] = { "off", "waiting to retry", "connecting", "hello",
                                           "up" };

struct link {
    enum link_state state;
    unsigned idx;
    struct config_hostport relay;
    struct dial dial;                /* its address: dial.addr */
    struct endpoint_tls tls;         /* the link's own TLS connection, outside the pool */
    struct yamux_session ys;
    struct yamux_stream *hello;
    uint8_t hello_buf[HELLO_MSG_MAX];
    size_t hello_len, hello_off;     /* out: bytes written; in: bytes read */
    uint8_t in[LINK_READ_CHUNK];
    size_t in_off, in_len;           /* plaintext read from TLS, not yet taken by yamux */
    unsigned failures;               /* consecutive: the backoff exponent */
    uint32_t since_ms, retry_at_ms, up_since_ms;
    uint32_t attempts, ups;
    uint8_t delivery_version;        /* what the hello answer agreed: 1, or 2 (hash trailer) */
    uint16_t deliveries;             /* the location's deliveries in flight the relay admits */
    char last_error[VERDICT_MAX];
};

struct owned {
    struct yamux_stream *st;
    struct link *link;
    tunnel_stream_cb cb;
    void *arg;
};

static struct link links[CONFIG_RELAYS_MAX];
static _Alignas(8) uint8_t link_mem[CONFIG_RELAYS_MAX][LINK_MEM];
static struct owned owned[OWNED_MAX];

/* The device identity, loaded at start: BearSSL keeps references during handshakes. */
static struct {
    int loaded;
    struct device_key key;
    br_x509_certificate certs[TLS_CHAIN_MAX];
    size_t ncerts;
    uint8_t der[CONFIG_CHAIN_MAX];
    char location[CONFIG_NAME_MAX];
} id;

/* What the running tunnels were started from: a commit restarts them only if it changed. */
static struct {
    struct config_hostport relays[CONFIG_RELAYS_MAX];
    unsigned nrelays;
    char location[CONFIG_NAME_MAX];
    uint8_t chain_fp[32];           /* a new key always comes with a new chain */
    uint8_t trust_fp[32];           /* the relay anchors: a link a CA vouched for that is no
                                       longer trusted for relays must not stay up */
} started;

/* ---- identity ------------------------------------------------------------------------ */

static void identity_drop(void)
{
    key_wipe(&id.key);
    secure_wipe(&id, sizeof id);
}

/* Load key and chain of the running config. 0, or -1 with why (a verdict for show tunnel). */
static int identity_load(const char **why)
{
    const struct config *cf = settings_running();
    identity_drop();
    if (!cf->tunnel.location[0]) {
        *why = "no location (tunnel location ID)";
        return -1;
    }
    if (!cf->has_key || !cf->has_chain) {
        *why = "no device identity (tunnel key generate, tunnel csr, tunnel cert import)";
        return -1;
    }
    int n = settings_device_chain(cf, id.der, sizeof id.der, id.certs, TLS_CHAIN_MAX, why);
    if (n <= 0) {
        return -1;
    }
    id.ncerts = (size_t)n;
    if (settings_device_key(cf, &id.key) != 0) {
        identity_drop();
        *why = "the device key cannot be read";
        return -1;
    }
    snprintf(id.location, sizeof id.location, "%s", cf->tunnel.location);
    id.loaded = 1;
    return 0;
}

/* ---- link life ------------------------------------------------------------------------ */

static void set_error(struct link *l, const char *fmt, const char *detail)
{
    snprintf(l->last_error, sizeof l->last_error, fmt, detail);
}

/* Exponential backoff with jitter: 1, 2, 4 ... 60 s, each drawn from [d/2, d], so a fleet
 * that lost its relay at once does not come back at once. */
static uint32_t backoff_ms(unsigned failures)
{
    uint32_t d = TUNNEL_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && d < TUNNEL_BACKOFF_MAX_MS; i++) {
        d *= 2;
    }
    if (d > TUNNEL_BACKOFF_MAX_MS) {
        d = TUNNEL_BACKOFF_MAX_MS;
    }
    return d / 2 + rng_u32() % (d / 2 + 1);
}

static void owned_gone(struct link *l)
{
    for (unsigned i = 0; i < OWNED_MAX; i++) {
        struct owned *o = &owned[i];
        if (o->st != NULL && o->link == l) {
            tunnel_stream_cb cb = o->cb;
            struct yamux_stream *st = o->st;
            void *arg = o->arg;
            memset(o, 0, sizeof *o);
            cb(st, TUNNEL_EV_GONE, arg);
        }
    }
}

/* Tear the link down (streams die with the session) and schedule the next attempt. */
static void link_down(struct link *l, const char *why)
{
    int was_up = l->state == LINK_UP;
    if (why != NULL) {
        set_error(l, "%s", why);
    }
    if (l->state >= LINK_HELLO) {
        splice_link_down(l);
        owned_gone(l);
        l->hello = NULL;
    }
    dial_abort(&l->dial);
    l->failures++;
    uint32_t wait = backoff_ms(l->failures);
    l->state = LINK_WAIT;
    l->since_ms = board_now_ms();
    l->retry_at_ms = l->since_ms + wait;
    l->in_len = l->in_off = 0;
    if (was_up) {
        log_warnx("tunnel: relay %s:%u down: %s; retry in %u ms", l->relay.host, l->relay.port,
                  l->last_error, (unsigned)wait);
    } else {
        log_warnx("tunnel: relay %s:%u: %s; retry in %u ms", l->relay.host, l->relay.port,
                  l->last_error, (unsigned)wait);
    }
}

/* The relay's address is known: mutual TLS with the device identity. */
static void link_connect(struct link *l)
{
    const char *why = NULL;
    struct tls_client_config cfg;
    l->attempts++;
    if (!id.loaded && identity_load(&why) != 0) {
        link_down(l, why);
        return;
    }
    why = settings_tls_client(&cfg, l->relay.host, SETTINGS_PEER_RELAY);
    if (why != NULL) {
        link_down(l, why);
        return;
    }
    cfg.client_chain = id.certs;
    cfg.client_chain_len = id.ncerts;
    cfg.client_key = &id.key.sk;
    l->since_ms = board_now_ms();
    if (dial_connect(&l->dial, l->relay.port, &cfg, &l->tls, 0) != 0) {
        link_down(l, dial_verdict(&l->dial));
    }
}

/* TLS is up: start yamux and say hello on the first stream. */
static void link_hello(struct link *l)
{
    struct yamux_config yc = {
        .client = 1, .max_streams = LINK_STREAMS, .own_reserve = OWNED_MAX,
        .window = YAMUX_INITIAL_WINDOW, .rx_pool = LINK_RX_POOL, .out_cap = LINK_OUT_CAP,
        .keepalive_ms = TUNNEL_KEEPALIVE_MS, .dead_ms = TUNNEL_DEAD_MS, .name = NULL,
    };
    char name[YAMUX_NAME_MAX];
    snprintf(name, sizeof name, "relay %s:%u", l->relay.host, l->relay.port);
    yc.name = name;
    if (yamux_init(&l->ys, &yc, link_mem[l->idx], sizeof link_mem[l->idx], board_now_ms()) != 0
        || (l->hello = yamux_open(&l->ys)) == NULL) {
        link_down(l, "yamux cannot start");
        return;
    }
    struct hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.location, sizeof h.location, "%s", id.location);
    snprintf(h.hostname, sizeof h.hostname, "%s", settings_hostname());
    snprintf(h.firmware, sizeof h.firmware, "gateway %s", gateway_version);
    h.delivery_version = DELIVERY_VERSION_MAX;  /* the relay picks; one from before says none */
    long n = hello_encode(l->hello_buf, sizeof l->hello_buf, &h);
    if (n <= 0) {
        link_down(l, "hello cannot be encoded (location ID invalid?)");
        return;
    }
    l->hello_len = (size_t)n;
    l->hello_off = 0;
    tcp_stream_set_sndbuf(&l->tls.conn.tcp, LINK_SND_BUF);
    tcp_stream_set_window(&l->tls.conn.tcp, LINK_RCV_WND(started.nrelays ? started.nrelays : 1));
    l->state = LINK_HELLO;
    l->since_ms = board_now_ms();
}

/* Hello out, the answer in: 1 when something moved. */
static int hello_step(struct link *l)
{
    int moved = 0;
    if (l->state == LINK_HELLO && l->hello_off < l->hello_len) {
        long w = yamux_write(l->hello, l->hello_buf + l->hello_off, l->hello_len - l->hello_off);
        if (w > 0) {
            l->hello_off += (size_t)w;
            moved = 1;
            if (l->hello_off == l->hello_len) {
                l->hello_len = 0;    /* hello_buf now collects the answer */
                l->hello_off = 0;
            }
        }
        return moved;
    }
    long n;
    while (l->hello_off < sizeof l->hello_buf &&
           (n = yamux_read(l->hello, l->hello_buf + l->hello_off,
                           sizeof l->hello_buf - l->hello_off)) > 0) {
        l->hello_off += (size_t)n;
        moved = 1;
    }
    if (l->state == LINK_UP) {       /* after the answer: wait for the relay's FIN */
        if (yamux_read(l->hello, l->hello_buf, 0) < 0) {
            yamux_close(l->hello);
            yamux_release(l->hello);
            l->hello = NULL;
        }
        l->hello_off = 0;
        return moved;
    }
    struct hello_answer a;
    long m = answer_parse(l->hello_buf, l->hello_off, HELLO_K_HELLO_ANSWER, &a);
    if (m < 0 || (m == 0 && yamux_read(l->hello, l->hello_buf, 0) < 0)) {
        link_down(l, m < 0 ? "relay sent a bad hello answer" : "relay closed the hello stream");
        return 1;
    }
    if (m == 0) {
        return moved;
    }
    if (a.status != HELLO_ST_OK) {
        char v[VERDICT_MAX + HELLO_TEXT_MAX];
        snprintf(v, sizeof v, "relay refused hello: %s", a.text);
        link_down(l, v);
        return 1;
    }
    l->state = LINK_UP;
    l->delivery_version = a.delivery_version == 2 ? 2 : 1;
    l->deliveries = a.deliveries ? a.deliveries : DELIVERY_WINDOW_DEFAULT;
    l->up_since_ms = board_now_ms();
    l->failures = 0;
    l->ups++;
    l->last_error[0] = '\0';
    log_info("tunnel: relay %s:%u up (location %s, handshake %u ms): %s", l->relay.host,
             l->relay.port, id.location, (unsigned)l->tls.conn.handshake_ms, a.text);
    return 1;
}

/* ---- moving bytes -------------------------------------------------------------------- */

/* TLS plaintext into yamux, as far as its receive pool takes it. -1: the link failed. */
static int link_input(struct link *l)
{
    int moved = 0;
    for (;;) {
        if (l->in_off == l->in_len) {
            long n = endpoint_read(&l->dial.ep, l->in, sizeof l->in);
            if (n == 0) {
                return moved;
            }
            if (n < 0) {
                link_down(l, n == TCP_STREAM_EOF ? "relay closed the connection"
                                                 : tls_conn_verdict(&l->tls.conn)[0]
                                                       ? tls_conn_verdict(&l->tls.conn)
                                                       : "connection lost");
                return -1;
            }
            l->in_off = 0;
            l->in_len = (size_t)n;
        }
        long c = yamux_input(&l->ys, l->in + l->in_off, l->in_len - l->in_off);
        if (c < 0) {
            link_down(l, "yamux protocol error from the relay (GoAway sent)");
            return -1;
        }
        l->in_off += (size_t)c;
        moved |= c > 0;
        if (l->in_off < l->in_len) {
            return moved;            /* pool full: TCP's window holds the relay back */
        }
    }
}

/* yamux's output queue into TLS. */
static int link_output(struct link *l)
{
    int moved = 0;
    const uint8_t *p;
    size_t n;
    while ((n = yamux_out_peek(&l->ys, &p)) > 0) {
        long w = endpoint_write(&l->dial.ep, p, n);
        if (w < 0) {
            link_down(l, "connection lost while sending");
            return -1;
        }
        if (w == 0) {
            break;
        }
        yamux_out_consume(&l->ys, (size_t)w);
        moved = 1;
    }
    return moved;
}

static int owned_on(const struct link *l)
{
    for (unsigned i = 0; i < OWNED_MAX; i++) {
        if (owned[i].st != NULL && owned[i].link == l) {
            return 1;
        }
    }
    return 0;
}

static void dispatch(struct link *l)
{
    struct yamux_stream *st;
    unsigned ev;
    while (l->state == LINK_UP && (st = yamux_accept(&l->ys)) != NULL) {
        splice_accept(st, l);
    }
    /* Splices and hello are stepped every turn and need no events; only streams that the
     * gateway opened are told, so the queue of news is drained only when one exists (the
     * splices' news stay queued meanwhile: each stream at most once, yamux.h). */
    while (owned_on(l) && (st = yamux_poll(&l->ys, &ev)) != NULL) {
        for (unsigned i = 0; i < OWNED_MAX; i++) {
            if (owned[i].st == st) {
                owned[i].cb(st, ev, owned[i].arg);
                break;
            }
        }
    }
}

/* The box has somewhere to dial from: a link and an address (DHCP may still be asking). A
 * dial before that only fails ("host unreachable") and costs a backoff step. */
static int net_ready(void)
{
    const struct netif *n = netif_default;
    return n != NULL && netif_is_up(n) && netif_is_link_up(n)
           && !ip4_addr_isany_val(*netif_ip4_addr(n));
}

/* The dial to the relay, one step: 1 when it moved. */
static int link_dial(struct link *l)
{
    switch (dial_poll(&l->dial)) {
    case DIAL_RESOLVED:
        link_connect(l);
        return 1;
    case DIAL_FAILED:
        link_down(l, dial_verdict(&l->dial));
        return 1;
    case DIAL_OPEN:
        link_hello(l);
        return 1;
    default:
        return 0;
    }
}

static void link_attempt(struct link *l)
{
    dial_start(&l->dial, l->relay.host, "relay name", 0);
    l->state = LINK_DIAL;
    l->since_ms = board_now_ms();
    link_dial(l);
}

/* One link, one turn: its state, then what the relay sent (into yamux, hello, new streams).
 * The splices move next and link_flush() sends what they wrote. */
static int link_step(struct link *l, uint32_t now)
{
    int moved = 0;
    switch (l->state) {
    case LINK_WAIT:
        if ((int32_t)(now - l->retry_at_ms) >= 0 && !net_ready()) {
            if (l->last_error[0] == 0) {
                set_error(l, "%s", "waiting for a network address (link down or DHCP pending)");
            }
            return 0;
        }
        if ((int32_t)(now - l->retry_at_ms) >= 0) {
            link_attempt(l);
            moved = 1;
        }
        return moved;
    case LINK_DIAL:
        moved = link_dial(l);
        if (l->state != LINK_HELLO) {
            return moved;
        }
        break;
    case LINK_HELLO:
    case LINK_UP:
        break;
    default:
        return 0;
    }
    enum dial_state ds = dial_poll(&l->dial);
    if (ds == DIAL_FAILED || ds == DIAL_CLOSED) {
        link_down(l, ds == DIAL_FAILED && dial_verdict(&l->dial)[0]
                         ? dial_verdict(&l->dial) : "relay closed the connection");
        return 1;
    }
    if (l->state == LINK_HELLO && (int32_t)(now - l->since_ms) > HELLO_WAIT_MS) {
        link_down(l, "relay did not answer hello within 10 s");
        return 1;
    }
    if (yamux_tick(&l->ys, now) == YAMUX_EDEAD) {
        link_down(l, "no answer to keepalive ping for 15 s: link dead");
        return 1;
    }
    int r = link_input(l);
    if (r < 0) {
        return 1;
    }
    moved |= r;
    if (l->hello != NULL) {
        moved |= hello_step(l);
        if (l->state == LINK_WAIT) {
            return 1;
        }
    }
    dispatch(l);
    return moved;
}

/* yamux's output (hello, window updates, the splices' data) into TLS; a session that ended
 * takes the link down once its last frames are out. */
static int link_flush(struct link *l)
{
    if (l->state != LINK_HELLO && l->state != LINK_UP) {
        return 0;
    }
    int r = link_output(l);
    if (r < 0) {
        return 1;
    }
    if (l->ys.state != YAMUX_SS_OPEN && yamux_out_pending(&l->ys) == 0) {
        link_down(l, l->ys.goaway_recv >= 0 ? "relay sent GoAway" : "yamux session failed");
        return 1;
    }
    return r;
}

/* ---- the interface ------------------------------------------------------------------- */

/* The SHA-256 of what vouches for relays: each relay anchor (and, while the trust store is
 * shared, every anchor), in order. */
static void relay_trust_fingerprint(const struct config *cf, uint8_t fp[32])
{
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, &cf->tunnel.trust_shared, sizeof cf->tunnel.trust_shared);
    for (unsigned i = 0; i < cf->ntrust; i++) {
        if (cf->trust[i].relay || cf->tunnel.trust_shared) {
            br_sha256_update(&h, cf->trust[i].sha256, 32);
        }
    }
    br_sha256_out(&h, fp);
}

static int config_changed_since_start(const struct config *cf)
{
    uint8_t fp[32], tfp[32];
    settings_chain_fingerprint(cf, fp);
    relay_trust_fingerprint(cf, tfp);
    return cf->tunnel.nrelays != started.nrelays ||
           memcmp(cf->tunnel.relays, started.relays, sizeof started.relays) != 0 ||
           strcmp(cf->tunnel.location, started.location) != 0 ||
           memcmp(fp, started.chain_fp, sizeof fp) != 0 ||
           memcmp(tfp, started.trust_fp, sizeof tfp) != 0;
}

/* see tunnel.h */
void tunnel_start(void)
{
    const struct config *cf = settings_running();
    const char *why = NULL;
    static int ever;
    if (ever && !config_changed_since_start(cf)) {
        return;
    }
    ever = 1;
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        struct link *l = &links[i];
        if (l->state != LINK_OFF) {
            link_down(l, "configuration changed");
            l->state = LINK_OFF;
        }
    }
    memset(&started, 0, sizeof started);
    memcpy(started.relays, cf->tunnel.relays, sizeof started.relays);
    started.nrelays = cf->tunnel.nrelays;
    snprintf(started.location, sizeof started.location, "%s", cf->tunnel.location);
    settings_chain_fingerprint(cf, started.chain_fp);
    relay_trust_fingerprint(cf, started.trust_fp);
    if (cf->tunnel.nrelays == 0) {
        identity_drop();
        return;
    }
    int ok = identity_load(&why) == 0;
    for (unsigned i = 0; i < cf->tunnel.nrelays; i++) {
        struct link *l = &links[i];
        memset(l, 0, sizeof *l);
        l->idx = i;
        l->relay = cf->tunnel.relays[i];
        l->state = LINK_WAIT;
        l->retry_at_ms = board_now_ms();        /* first attempt now */
        if (!ok) {
            set_error(l, "%s", why);
        }
    }
    log_info("tunnel: %u relay%s, location %s%s%s", cf->tunnel.nrelays,
             cf->tunnel.nrelays == 1 ? "" : "s", cf->tunnel.location[0] ? cf->tunnel.location : "-",
             ok ? "" : ": ", ok ? "" : why);
}

/* see tunnel.h */
void tunnel_stop(void)
{
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        struct link *l = &links[i];
        if (l->state == LINK_HELLO || l->state == LINK_UP) {
            yamux_goaway(&l->ys, YAMUX_GOAWAY_NORMAL);
            if (link_output(l) >= 0) {         /* else link_down closed it already */
                int all = yamux_out_pending(&l->ys) == 0;    /* the GoAway is the last */
                splice_link_down(l);
                owned_gone(l);
                dial_close(&l->dial);           /* close_notify, then the FIN */
                log_info("tunnel: relay %s:%u: closing (the gateway stops)%s", l->relay.host,
                         l->relay.port, all ? "" : "; no room left for GoAway");
            }
        } else {
            dial_abort(&l->dial);
        }
        l->state = LINK_OFF;
    }
}

/* see tunnel.h */
int tunnel_closing(void)
{
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        if (links[i].tls.conn.state != TLS_CONN_IDLE) {
            return 1;
        }
    }
    return 0;
}

/* see tunnel.h */
int tunnel_poll(void)
{
    uint32_t now = board_now_ms();
    int moved = 0;
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        moved |= link_step(&links[i], now);
    }
    moved |= splice_poll(now);       /* once a turn, the splices of every link */
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        moved |= link_flush(&links[i]);
    }
    return moved;
}

/* see tunnel.h */
int tunnel_frame_urgent(const uint8_t *f, size_t len)
{
    if (len >= 14 && f[12] == 0x08 && f[13] == 0x06) {
        return 1;                    /* ARP: without it nothing reaches the relay */
    }
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6) {
        return 0;                    /* not IPv4 TCP */
    }
    size_t ihl = (size_t)(f[14] & 0x0f) * 4;
    if (ihl < 20 || len < 14 + ihl + 4) {
        return 0;
    }
    uint16_t sport = (uint16_t)(f[14 + ihl] << 8 | f[14 + ihl + 1]);
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        const struct link *l = &links[i];
        int dialled = l->state > LINK_DIAL ||
                      (l->state == LINK_DIAL && l->dial.state >= DIAL_CONNECTING);
        if (dialled && l->relay.port == sport && IP_IS_V4(&l->dial.addr) &&
            memcmp(&ip_2_ip4(&l->dial.addr)->addr, f + 14 + 12, 4) == 0) {
            return 1;
        }
    }
    return 0;
}

/* see tunnel.h */
unsigned tunnel_up_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        n += links[i].state == LINK_UP;
    }
    return n;
}

static struct owned *owned_free(void)
{
    for (unsigned i = 0; i < OWNED_MAX; i++) {
        if (owned[i].st == NULL) {
            return &owned[i];
        }
    }
    return NULL;
}

/* see tunnel.h */
int tunnel_can_open(void)
{
    if (owned_free() == NULL) {
        return 0;
    }
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        if (links[i].state == LINK_UP && yamux_can_open(&links[i].ys)) {
            return 1;
        }
    }
    return 0;
}

/* see tunnel.h */
struct yamux_stream *tunnel_open(tunnel_stream_cb cb, void *arg)
{
    static unsigned next;            /* spread deliveries over live tunnels */
    struct owned *o = owned_free();
    for (unsigned k = 0; o != NULL && k < CONFIG_RELAYS_MAX; k++) {
        struct link *l = &links[(next + k) % CONFIG_RELAYS_MAX];
        if (l->state != LINK_UP) {
            continue;
        }
        struct yamux_stream *st = yamux_open(&l->ys);
        if (st == NULL) {
            continue;
        }
        next = (next + k + 1) % CONFIG_RELAYS_MAX;
        o->st = st;
        o->link = l;
        o->cb = cb;
        o->arg = arg;
        return st;
    }
    return NULL;
}

/* The least of what the links that are up agreed, each read by field(); 1 when none is up. */
static unsigned min_over_up_links(unsigned (*field)(const struct link *))
{
    unsigned v = 0;
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        if (links[i].state == LINK_UP && (v == 0 || field(&links[i]) < v)) {
            v = field(&links[i]);
        }
    }
    return v ? v : 1;
}

static unsigned link_delivery_version(const struct link *l)
{
    return l->delivery_version;
}

static unsigned link_deliveries(const struct link *l)
{
    return l->deliveries;
}

/* see tunnel.h */
unsigned tunnel_delivery_version_min(void)
{
    return min_over_up_links(link_delivery_version);
}

/* see tunnel.h */
unsigned tunnel_deliveries_min(void)
{
    return min_over_up_links(link_deliveries);
}

/* see tunnel.h */
unsigned tunnel_delivery_version(const struct yamux_stream *st)
{
    for (unsigned i = 0; i < OWNED_MAX; i++) {
        if (owned[i].st == st && owned[i].link != NULL) {
            return owned[i].link->delivery_version;
        }
    }
    return 1;
}

/* see tunnel.h */
void tunnel_release(struct yamux_stream *st)
{
    for (unsigned i = 0; i < OWNED_MAX; i++) {
        if (owned[i].st == st) {
            memset(&owned[i], 0, sizeof owned[i]);
            yamux_release(st);
        }
    }
}

/* see tunnel.h */
int tunnel_tls_describe(char *buf, size_t len)
{
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        if (links[i].state == LINK_UP) {
            tls_engine_describe(&links[i].tls.conn.tls.engine, buf, len);
            return 1;
        }
    }
    return 0;
}

/* see tunnel.h */
void tunnel_show(void (*out)(const char *fmt, ...))
{
    uint32_t now = board_now_ms();
    for (unsigned i = 0; i < CONFIG_RELAYS_MAX; i++) {
        const struct link *l = &links[i];
        if (l->state == LINK_OFF) {
            continue;
        }
        out("relay %u:   %s:%u  %s", i + 1, l->relay.host, l->relay.port,
            l->state == LINK_DIAL && l->dial.state == DIAL_RESOLVING ? "resolving"
                                                                     : state_names[l->state]);
        if (l->state == LINK_UP) {
            out(" for %u s, rtt %u ms, streams %u, bytes in %llu, out %llu\n",
                (unsigned)((now - l->up_since_ms) / 1000), (unsigned)l->ys.rtt_ms,
                yamux_stream_count(&l->ys), (unsigned long long)l->ys.stats.bytes_in,
                (unsigned long long)l->ys.stats.bytes_out);
        } else if (l->state == LINK_WAIT) {
            int32_t left = (int32_t)(l->retry_at_ms - now);
            out(" (in %u s, attempt %u)\n", left > 0 ? (unsigned)(left + 999) / 1000 : 0,
                (unsigned)l->attempts + 1);
        } else {
            out("\n");
        }
        if (l->state == LINK_UP) {
            char what[120];
            tls_engine_describe(&l->tls.conn.tls.engine, what, sizeof what);
            out("           tls: %s\n", what);
            if (l->ys.goaway_recv >= 0) {
                out("           going away: the relay sent GoAway (it stops); no new delivery "
                    "on it\n");
            }
            if (l->ys.stats.streams_refused) {
                out("           %llu of the relay's streams refused (it may have %u open)\n",
                    (unsigned long long)l->ys.stats.streams_refused, LINK_STREAMS - OWNED_MAX);
            }
        }
        if (l->last_error[0]) {
            out("           last error: %s\n", l->last_error);
        }
    }
    out("streams:   %u open (limit %u), %u refused since boot\n", splice_in_use(), SPLICE_MAX,
        splice_refused());
}
