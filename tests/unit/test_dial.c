/* The dial (firmware/dial.c) as its owners see it, over lwIP's loopback: a name answered at
 * once, later or never, a connect that opens or is refused, a TLS handshake that starts and
 * fails, a connect short of memory that may be tried again, the cloud's share of the TLS
 * pool, a check closed as soon as it is open, an OPEN told before the close that came with
 * it, and an abort that forgets its DNS query. resolve.h is answered by this file (its host table and DNS need the settings):
 * "lo.test" and 127.0.0.1 at once, "slow.test" later, by the test's hand. */
#include <string.h>

#include "check.h"
#include "dial.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip_port.h"
#include "random.h"
#include "resolve.h"

#define HOLD_PORT 7100               /* accepts and keeps connections, never sends */
#define CLOSED_PORT 7101             /* nothing listens: RST */
#define NOW_VALID 1767225600         /* 2026-01-01: a believed clock for TLS */

/* ---- resolve.h, answered here ---- */

static struct {
    resolve_cb cb;
    void *arg;
    unsigned asked, cancelled;
} dns;

int resolve_now(const char *name, ip_addr_t *addr)
{
    if (strcmp(name, "lo.test") == 0 || strcmp(name, "127.0.0.1") == 0) {
        IP_ADDR4(addr, 127, 0, 0, 1);
        return 0;
    }
    return -1;
}

enum resolve_result resolve_name(const char *name, ip_addr_t *addr, resolve_cb cb, void *arg)
{
    if (resolve_now(name, addr) == 0) {
        return RESOLVE_DONE;
    }
    if (strcmp(name, "slow.test") == 0) {
        dns.cb = cb;
        dns.arg = arg;
        dns.asked++;
        return RESOLVE_PENDING;
    }
    return RESOLVE_UNKNOWN;
}

void resolve_cancel(resolve_cb cb, void *arg)
{
    if (dns.cb == cb && dns.arg == arg) {
        dns.cb = NULL;
        dns.cancelled++;
    }
}

/* The DNS server answers the pending query: addr, or none (NULL). */
static void dns_answer(const ip_addr_t *addr)
{
    resolve_cb cb = dns.cb;
    dns.cb = NULL;
    if (cb != NULL) {
        cb("slow.test", addr, dns.arg);
    }
}

/* ---- lwIP and a listener on it ---- */

static struct {
    struct tcp_pcb *conns[16];
    unsigned n;
} hold;

/* lwIP freed the pcb (the client's RST): forget it. */
static void on_hold_err(void *arg, err_t err)
{
    (void)err;
    *(struct tcp_pcb **)arg = NULL;
}

/* Data is taken and dropped; the client's FIN is answered with ours. */
static err_t on_hold_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)err;
    if (p == NULL) {
        *(struct tcp_pcb **)arg = NULL;
        tcp_arg(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_recv(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL || hold.n == sizeof hold.conns / sizeof hold.conns[0]) {
        return ERR_VAL;
    }
    hold.conns[hold.n] = pcb;
    tcp_arg(pcb, &hold.conns[hold.n]);
    tcp_err(pcb, on_hold_err);
    tcp_recv(pcb, on_hold_recv);
    hold.n++;
    return ERR_OK;
}

/* The listener lets go of every connection it holds: FIN to each. */
static void hold_release(void)
{
    for (unsigned i = 0; i < hold.n; i++) {
        struct tcp_pcb *pcb = hold.conns[i];
        if (pcb == NULL) {
            continue;
        }
        tcp_arg(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_recv(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
        }
        hold.conns[i] = NULL;
    }
    hold.n = 0;
}

static void setup_once(void)
{
    static int done;
    if (!done) {
        CHECK_EQ(rng_init(check_entropy), 0);
        lwip_port_init(check_now_ms, NULL);
        lwip_init();
        struct tcp_pcb *l = tcp_new();
        CHECK(l != NULL);
        CHECK_EQ(tcp_bind(l, IP_ADDR_ANY, HOLD_PORT), ERR_OK);
        l = tcp_listen(l);
        CHECK(l != NULL);
        tcp_accept(l, on_accept);
        done = 1;
    }
    memset(&dns, 0, sizeof dns);
}

/* Run lwIP (bounded in steps and time) while d's state is from; the state then. */
static enum dial_state run_while(struct dial *d, enum dial_state from)
{
    unsigned t0 = check_now_ms();
    enum dial_state s = dial_poll(d);
    for (int i = 0; i < 20000 && s == from && check_now_ms() - t0 < 20000; i++) {
        netif_poll_all();
        sys_check_timeouts();
        s = dial_poll(d);
    }
    return s;
}

static void tls_config(struct tls_client_config *cfg, int64_t now)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "lo.test";
    cfg->now = now;
}

/* ---- the cases ---- */

static void a_known_name_is_resolved_at_once_and_a_plain_connect_opens(void)
{
    setup_once();
    static struct dial d;
    dial_start(&d, "lo.test", "internal host lo.test", 0);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVED);
    CHECK_EQ(dns.asked, 0);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, NULL, NULL, 0), 0);
    CHECK_EQ(d.state, DIAL_CONNECTING);
    CHECK_EQ(run_while(&d, DIAL_CONNECTING), DIAL_OPEN);
    CHECK_EQ(endpoint_write(&d.ep, (const uint8_t *)"x", 1), 1);
    CHECK_EQ(dial_poll(&d), DIAL_OPEN);      /* stays open: nothing else happened */
    dial_close(&d);
    CHECK_EQ(d.state, DIAL_IDLE);
    hold_release();
}

static void a_name_dns_answers_later_resolves_then_a_refused_connect_says_why(void)
{
    setup_once();
    static struct dial d;
    ip_addr_t lo;
    IP_ADDR4(&lo, 127, 0, 0, 1);
    dial_start(&d, "slow.test", "relay name", 0);
    CHECK_EQ(dns.asked, 1);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVING);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVING); /* no answer yet: it waits */
    dns_answer(&lo);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVED);
    CHECK(ip_addr_cmp(&d.addr, &lo));
    CHECK_EQ(dial_connect(&d, CLOSED_PORT, NULL, NULL, 0), 0);
    CHECK_EQ(run_while(&d, DIAL_CONNECTING), DIAL_FAILED);
    CHECK_EQ(d.ep.fail, EP_FAIL_REFUSED);
    CHECK(strcmp(dial_verdict(&d), "connect failed: connection refused") == 0);
    CHECK_EQ(dial_poll(&d), DIAL_FAILED);    /* final */
    dial_abort(&d);
}

static void dns_without_an_address_fails_with_a_verdict_that_names_the_host(void)
{
    setup_once();
    static struct dial d;
    dial_start(&d, "slow.test", "internal host slow.test", 0);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVING);
    dns_answer(NULL);
    CHECK_EQ(dial_poll(&d), DIAL_FAILED);
    CHECK_EQ(d.ep.fail, EP_FAIL_UNREACHABLE);
    CHECK(strcmp(dial_verdict(&d), "internal host slow.test: DNS found no address") == 0);
}

static void an_unknown_name_fails_at_once_with_dns_or_without(void)
{
    setup_once();
    static struct dial d;
    dial_start(&d, "nowhere.test", "relay name", 0);
    CHECK_EQ(dial_poll(&d), DIAL_FAILED);
    CHECK(strcmp(dial_verdict(&d), "relay name: not in the host table and no DNS server "
                                   "(host add NAME A.B.C.D)") == 0);
    dial_start(&d, "slow.test", "tls probe: slow.test", DIAL_NO_DNS);
    CHECK_EQ(dns.asked, 0);                  /* a console command never waits for DNS */
    CHECK_EQ(dial_poll(&d), DIAL_FAILED);
    CHECK(strcmp(dial_verdict(&d), "tls probe: slow.test: not an IPv4 address nor a name in "
                                   "the host table (host add NAME A.B.C.D)") == 0);
    dial_start(&d, "127.0.0.1", "tls probe: 127.0.0.1", DIAL_NO_DNS);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVED);
}

static void an_abort_while_resolving_forgets_the_query(void)
{
    setup_once();
    static struct dial d;
    ip_addr_t lo;
    IP_ADDR4(&lo, 127, 0, 0, 1);
    dial_start(&d, "slow.test", "relay name", 0);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVING);
    dial_abort(&d);
    CHECK_EQ(dns.cancelled, 1);
    CHECK_EQ(d.state, DIAL_IDLE);
    dns_answer(&lo);                         /* (nobody listens any more) */
    CHECK_EQ(dial_poll(&d), DIAL_IDLE);
    /* a new start while resolving forgets the old query too */
    dial_start(&d, "slow.test", "relay name", 0);
    dial_start(&d, "lo.test", "relay name", 0);
    CHECK_EQ(dns.cancelled, 2);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVED);
}

static void a_tls_dial_shows_its_handshake_and_fails_when_the_server_leaves(void)
{
    setup_once();
    static struct dial d;
    static struct endpoint_tls own;
    struct tls_client_config cfg;
    tls_config(&cfg, NOW_VALID);
    dial_start(&d, "lo.test", "relay name", 0);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, &cfg, &own, 0), 0);
    CHECK_EQ(run_while(&d, DIAL_CONNECTING), DIAL_HANDSHAKING);
    CHECK_EQ(endpoint_tls_in_use(), 0);      /* its own connection, not the pool's */
    hold_release();                          /* the server goes away mid-handshake */
    CHECK_EQ(run_while(&d, DIAL_HANDSHAKING), DIAL_FAILED);
    CHECK_EQ(d.ep.fail, EP_FAIL_TLS);
    CHECK(dial_verdict(&d)[0] != '\0' && strncmp(dial_verdict(&d), "ok", 2) != 0);
    CHECK_EQ(own.used, 0);                   /* free for the next attempt */
}

/* A commit that changes the trust store fails every pool handshake still under way: BearSSL
 * holds the anchors it was given for the whole handshake, and they are rebuilt in place. */
static void a_trust_change_fails_the_handshakes_under_way(void)
{
    setup_once();
    static struct dial d;
    struct tls_client_config cfg;
    tls_config(&cfg, NOW_VALID);
    dial_start(&d, "lo.test", "internal host lo.test", 0);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, &cfg, NULL, ENDPOINT_SHARED), 0);
    CHECK_EQ(run_while(&d, DIAL_CONNECTING), DIAL_HANDSHAKING);
    endpoint_trust_changed();
    CHECK_EQ(run_while(&d, DIAL_HANDSHAKING), DIAL_FAILED);
    CHECK_EQ(d.ep.fail, EP_FAIL_TLS);
    CHECK(strcmp(dial_verdict(&d), "the trust store changed during the handshake") == 0);
    CHECK_EQ(endpoint_tls_in_use(), 0);
    hold_release();
}

static void tls_without_a_valid_time_fails_at_once(void)
{
    setup_once();
    static struct dial d;
    struct tls_client_config cfg;
    tls_config(&cfg, 0);
    dial_start(&d, "lo.test", "internal host lo.test", 0);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, &cfg, NULL, 0), -1);
    CHECK_EQ(d.state, DIAL_FAILED);
    CHECK_EQ(d.ep.fail, EP_FAIL_TLS);
    CHECK(strcmp(dial_verdict(&d), "time not valid yet") == 0);
    CHECK_EQ(endpoint_tls_in_use(), 0);
}

static void a_connect_short_of_memory_stays_resolved_and_may_be_tried_again(void)
{
    setup_once();
    static struct dial d;
    static struct endpoint_tls own;
    struct tls_client_config cfg;
    tls_config(&cfg, NOW_VALID);
    dial_start(&d, "lo.test", "relay name", 0);
    own.used = 1;                            /* its last close still going out */
    CHECK_EQ(dial_connect(&d, HOLD_PORT, &cfg, &own, 0), -1);
    CHECK_EQ(d.ep.fail, EP_FAIL_NOMEM);
    CHECK_EQ(dial_poll(&d), DIAL_RESOLVED);
    own.used = 0;
    CHECK_EQ(dial_connect(&d, HOLD_PORT, &cfg, &own, 0), 0);
    CHECK_EQ(run_while(&d, DIAL_CONNECTING), DIAL_HANDSHAKING);
    dial_abort(&d);
    CHECK_EQ(own.used, 0);
    hold_release();
}

static void the_cloud_streams_leave_the_last_tls_slot_to_the_receiver(void)
{
    setup_once();
    static struct dial d[ENDPOINT_TLS_MAX + 1];
    struct tls_client_config cfg;
    tls_config(&cfg, NOW_VALID);
    for (unsigned i = 0; i < ENDPOINT_TLS_MAX - ENDPOINT_TLS_RESERVED; i++) {
        dial_start(&d[i], "lo.test", "internal host lo.test", 0);
        CHECK_EQ(dial_connect(&d[i], HOLD_PORT, &cfg, NULL, ENDPOINT_SHARED), 0);
    }
    unsigned k = ENDPOINT_TLS_MAX - ENDPOINT_TLS_RESERVED;
    dial_start(&d[k], "lo.test", "internal host lo.test", 0);
    CHECK_EQ(dial_connect(&d[k], HOLD_PORT, &cfg, NULL, ENDPOINT_SHARED), -1);
    CHECK_EQ(dial_poll(&d[k]), DIAL_RESOLVED);   /* the owner tries again later */
    CHECK(strcmp(dial_verdict(&d[k]), "no TLS slot free (the last is kept for the IMAP "
                                      "receiver)") == 0);
    CHECK_EQ(dial_connect(&d[k], HOLD_PORT, &cfg, NULL, 0), 0);  /* the receiver gets it */
    CHECK_EQ(endpoint_tls_in_use(), ENDPOINT_TLS_MAX);
    for (unsigned i = 0; i <= k; i++) {
        dial_abort(&d[i]);
    }
    CHECK_EQ(endpoint_tls_in_use(), 0);
    for (int i = 0; i < 100; i++) {
        netif_poll_all();
        sys_check_timeouts();
    }
    hold_release();
}

static void a_check_is_closed_as_soon_as_it_is_open(void)
{
    setup_once();
    static struct dial d;
    dial_start(&d, "lo.test", "mapping check: internal host lo.test", DIAL_NO_DNS);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, NULL, NULL, ENDPOINT_CLOSE_ON_OPEN), 0);
    CHECK_EQ(run_while(&d, DIAL_CONNECTING), DIAL_OPEN);
    CHECK(strcmp(dial_verdict(&d), "ok") == 0);
    CHECK(endpoint_write(&d.ep, (const uint8_t *)"x", 1) < 0);  /* nothing goes out */
    for (int i = 0; i < 1000 && hold.n > 0 && hold.conns[hold.n - 1] != NULL; i++) {
        netif_poll_all();
        sys_check_timeouts();
    }
    CHECK(hold.n > 0 && hold.conns[hold.n - 1] == NULL);   /* the server saw our FIN */
    dial_close(&d);
    hold_release();
}

static void an_open_that_came_with_a_close_is_told_first(void)
{
    setup_once();
    static struct dial d;
    dial_start(&d, "lo.test", "internal host lo.test", 0);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, NULL, NULL, 0), 0);
    /* the endpoint tells both in one callback (a TLS peer that closes at once) */
    d.ep.cb(&d.ep, EP_OPEN | EP_WRITABLE | EP_CLOSED, d.ep.arg);
    CHECK_EQ(d.live, 0);                     /* the endpoint let go */
    CHECK_EQ(dial_poll(&d), DIAL_OPEN);
    CHECK_EQ(dial_poll(&d), DIAL_CLOSED);
    CHECK_EQ(dial_poll(&d), DIAL_CLOSED);
    endpoint_abort(&d.ep);                   /* the real connect attempt, behind the play */
    /* a failure outranks an open that came with it */
    dial_start(&d, "lo.test", "internal host lo.test", 0);
    CHECK_EQ(dial_connect(&d, HOLD_PORT, NULL, NULL, 0), 0);
    d.ep.cb(&d.ep, EP_OPEN | EP_FAILED, d.ep.arg);
    CHECK_EQ(dial_poll(&d), DIAL_FAILED);
    endpoint_abort(&d.ep);
    for (int i = 0; i < 100; i++) {
        netif_poll_all();
        sys_check_timeouts();
    }
    hold_release();
}

CHECK_MAIN(
    { "a_known_name_is_resolved_at_once_and_a_plain_connect_opens",
      a_known_name_is_resolved_at_once_and_a_plain_connect_opens },
    { "a_name_dns_answers_later_resolves_then_a_refused_connect_says_why",
      a_name_dns_answers_later_resolves_then_a_refused_connect_says_why },
    { "dns_without_an_address_fails_with_a_verdict_that_names_the_host",
      dns_without_an_address_fails_with_a_verdict_that_names_the_host },
    { "an_unknown_name_fails_at_once_with_dns_or_without",
      an_unknown_name_fails_at_once_with_dns_or_without },
    { "an_abort_while_resolving_forgets_the_query",
      an_abort_while_resolving_forgets_the_query },
    { "a_tls_dial_shows_its_handshake_and_fails_when_the_server_leaves",
      a_tls_dial_shows_its_handshake_and_fails_when_the_server_leaves },
    { "tls_without_a_valid_time_fails_at_once", tls_without_a_valid_time_fails_at_once },
    { "a_trust_change_fails_the_handshakes_under_way",
      a_trust_change_fails_the_handshakes_under_way },
    { "a_connect_short_of_memory_stays_resolved_and_may_be_tried_again",
      a_connect_short_of_memory_stays_resolved_and_may_be_tried_again },
    { "the_cloud_streams_leave_the_last_tls_slot_to_the_receiver",
      the_cloud_streams_leave_the_last_tls_slot_to_the_receiver },
    { "a_check_is_closed_as_soon_as_it_is_open", a_check_is_closed_as_soon_as_it_is_open },
    { "an_open_that_came_with_a_close_is_told_first",
      an_open_that_came_with_a_close_is_told_first })
