/* The console's commands that talk to the network: `tls probe` (a TLS handshake to any
 * host, its chain and verdict) and `mapping check` (connect, and handshake for a tls
 * mapping, to a mapping's internal host). One runs at a time: its handler returns
 * CMDS_IN_PROGRESS, the event loop drives it, probe_poll() gives its result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "certtime.h"
#include "console_cmds.h"
#include "console_int.h"
#include "endpoint.h"
#include "hostport.h"
#include "keys.h"
#include "mappings.h"
#include "pem.h"
#include "resolve.h"
#include "secure_wipe.h"
#include "settings.h"
#include "tls_conn.h"

/* The one probe_poll() answers for: the last started. */
static enum { PROBE_TLS, PROBE_MAPPING } last;

/* HOST:PORT in place: the port (1..65535) with s cut to HOST, or 0 (s as it was). */
static unsigned long split_hostport(char *s)
{
    char host[CONFIG_LINE_MAX];
    uint16_t port;
    if (hostport_split(s, host, sizeof host, &port) != 0) {
        return 0;
    }
    s[strlen(host)] = '\0';
    return port;
}

/* ---- tls probe ------------------------------------------------------------------------ */

/* One probe at a time; its connection is static so 50 probes in a row cost no more than
 * one (RAM: sizeof pr, about 62 KiB, most of it the TLS buffers). */
static struct {
    int running, result;
    struct tls_conn conn;
    struct tls_chain chain;
    struct device_key key;
    br_x509_certificate certs[TLS_CHAIN_MAX];
    uint8_t chain_der[CONFIG_CHAIN_MAX];
    struct pem_decoder pem;
    char target[CONFIG_NAME_MAX + 8];
} pr;

static void probe_report(void)
{
    const struct tls_chain *ch = &pr.chain;
    const char *v = tls_conn_verdict(&pr.conn);
    if (ch->count > 0) {
        cons_out("server chain (%u certificate%s):\n", ch->count, ch->count == 1 ? "" : "s");
    } else if (pr.conn.tcp_up) {
        cons_out("server chain: none received\n");
    }
    for (unsigned i = 0; i < ch->count && i < TLS_CHAIN_MAX; i++) {
        const struct tls_cert_facts *f = &ch->cert[i];
        char nb[CERTTIME_DATE_LEN], na[CERTTIME_DATE_LEN];
        if (!f->known) {
            cons_out("  %u: %zu bytes, not described (too big or unreadable)\n", i + 1, f->der_len);
            continue;
        }
        certtime_date(f->not_before, nb);
        certtime_date(f->not_after, na);
        cons_out("  %u: subject  %s\n", i + 1, f->subject);
        cons_out("     issuer   %s\n", f->issuer);
        cons_out("     valid    %s to %s, %s%s\n", nb, na, f->key_text, f->is_ca ? ", CA" : "");
    }
    if (!pr.conn.failed || pr.conn.handshake_ms) {
        cons_out("handshake: %u ms\n", (unsigned)pr.conn.handshake_ms);
    }
    cons_out("verdict: %s\n", v);
}

static void probe_end(void)
{
    key_wipe(&pr.key);
    secure_wipe(pr.chain_der, sizeof pr.chain_der);
    probe_report();
    pr.result = strncmp(tls_conn_verdict(&pr.conn), "ok", 2) == 0
                    ? 0 : cons_fail("tls probe %s: failed", pr.target);
    pr.running = 0;
}

static void probe_event(struct tls_conn *c, unsigned events, void *arg)
{
    (void)arg;
    if (events & TLS_CONN_OPEN) {
        tls_conn_close(c);          /* the handshake was the point: close cleanly */
        return;
    }
    if (events & (TLS_CONN_CLOSED | TLS_CONN_FAILED)) {
        probe_end();
    }
}

/* Our chain and key for a server that asks for a client certificate. */
static int probe_client_identity(struct tls_client_config *cfg)
{
    struct config_ctx *c = settings_ctx();
    const struct config *cf = settings_running();
    size_t len = 0;
    static char pem[CONFIG_CHAIN_MAX];
    struct pem_cert certs[TLS_CHAIN_MAX];
    if (!cf->has_key || !cf->has_chain) {
        return cons_fail("tls probe: client: needs the device key and chain (tunnel key generate, "
                    "tunnel cert import, commit)");
    }
    if (config_get_chain(c, cf, (uint8_t *)pem, sizeof pem, &len) != CONFIG_OK) {
        return cons_fail("tls probe: client: the device chain cannot be read");
    }
    int n = pem_decode_certs(&pr.pem, (const uint8_t *)pem, len, pr.chain_der,
                             sizeof pr.chain_der, certs, TLS_CHAIN_MAX);
    if (n <= 0) {
        return cons_fail("tls probe: client: the device chain cannot be decoded");
    }
    for (int i = 0; i < n; i++) {
        pr.certs[i].data = (unsigned char *)certs[i].der;
        pr.certs[i].data_len = certs[i].len;
    }
    if (settings_device_key(cf, &pr.key) != 0) {
        return cons_fail("tls probe: client: the device key cannot be read");
    }
    cfg->client_chain = pr.certs;
    cfg->client_chain_len = (size_t)n;
    cfg->client_key = &pr.key.sk;
    return 0;
}

/* HOST: an IPv4 literal or a name of the static host table. */
static int probe_resolve(const char *host, ip_addr_t *addr)
{
    const struct config *cf = settings_running();
    if (ipaddr_aton(host, addr) && IP_IS_V4(addr)) {
        return 0;
    }
    for (unsigned i = 0; i < cf->nhosts; i++) {
        if (strcasecmp(cf->hosts[i].name, host) == 0) {
            const uint8_t *b = cf->hosts[i].addr;
            IP_ADDR4(addr, b[0], b[1], b[2], b[3]);
            return 0;
        }
    }
    return -1;
}

/* see console_int.h */
int probe_tls(const struct cmd_args *a)
{
    int argc = a->argc;
    char **argv = a->argv;
    struct tls_client_config cfg = { 0 };
    const char *name = NULL;
    int client = 0, relay = 0;
    ip_addr_t addr;
    last = PROBE_TLS;
    if (argc < 3 || strcmp(argv[1], "probe") != 0) {
        return cons_fail("tls %s: expected probe HOST:PORT [name NAME] [client] [relay]",
                    argc > 1 ? argv[1] : "(nothing)");
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "client") == 0) {
            client = 1;
        } else if (strcmp(argv[i], "relay") == 0) {
            relay = 1;
        } else {
            return cons_fail("tls probe: %s: expected name NAME, client or relay", argv[i]);
        }
    }
    unsigned long port = split_hostport(argv[2]);
    if (port == 0) {
        return cons_fail("tls probe: %s: expected HOST:PORT", argv[2]);
    }
    if (probe_resolve(argv[2], &addr) != 0) {
        return cons_fail("tls probe: %s: not an IPv4 address nor a name in the host table "
                    "(host add NAME A.B.C.D)", argv[2]);
    }
    memset(&pr.chain, 0, sizeof pr.chain);
    snprintf(pr.target, sizeof pr.target, "%s:%lu", argv[2], port);
    cfg.host = name ? name : argv[2];
    if (relay) {
        settings_relay_anchors(&cfg.anchors, &cfg.anchors_num);   /* as the tunnel checks */
    } else {
        settings_trust_anchors(&cfg.anchors, &cfg.anchors_num);
    }
    settings_time(&cfg.now);
    cfg.capture = &pr.chain;
    if (client && probe_client_identity(&cfg) != 0) {
        key_wipe(&pr.key);
        return -1;
    }
    if (tls_conn_open(&pr.conn, &addr, (uint16_t)port, &cfg, probe_event, NULL) != 0) {
        probe_end();
        return pr.result;
    }
    pr.running = 1;
    pr.result = 0;
    return CMDS_IN_PROGRESS;
}

/* ---- mapping check --------------------------------------------------------------------- */

/* One check at a time (RAM: an endpoint, ~0.3 KiB, plus a TLS slot while it runs). */
static struct {
    int running, result, map;
    uint32_t started_ms;
    ip_addr_t addr;
    struct endpoint ep;
} mc;

static void check_done(int ok, const char *verdict)
{
    const struct config_mapping *m = mappings_get(mc.map);
    char a[16];
    ipaddr_ntoa_r(&mc.addr, a, sizeof a);
    cons_out("%s:%u -> %s:%u (%s) %s: %s (%u ms)\n", m->virt.host, m->virt.port,
             m->internal.host, m->internal.port, a, m->tls ? "tls" : "tcp", verdict,
             (unsigned)(board_now_ms() - mc.started_ms));
    if (!ok) {
        snprintf(mappings_stats(mc.map)->last_error, VERDICT_MAX, "%s", verdict);
    }
    mc.result = ok ? 0 : cons_fail("mapping check %s:%u: failed", m->virt.host, m->virt.port);
    mc.running = 0;
}

static void on_check(struct endpoint *e, unsigned events, void *arg)
{
    (void)arg;
    if (events & EP_FAILED) {
        check_done(0, endpoint_verdict(e));
    } else if (events & EP_OPEN) {
        char v[VERDICT_MAX + 16];
        snprintf(v, sizeof v, "%s", mappings_get(mc.map)->tls ? endpoint_verdict(e)
                                                              : "ok: connected");
        endpoint_close(e);
        check_done(1, v);
    }
}

/* see console_int.h */
int probe_mapping(const struct cmd_args *a)
{
    int argc = a->argc;
    char **argv = a->argv;
    struct tls_client_config cfg = { 0 };
    last = PROBE_MAPPING;
    unsigned long port = argc == 3 ? split_hostport(argv[2]) : 0;
    if (port == 0) {
        return mc.result = cons_fail("mapping check: expected VHOST:VPORT");
    }
    mc.map = mappings_find(argv[2], (uint16_t)port);
    if (mc.map < 0) {
        return mc.result = cons_fail("mapping check %s:%lu: no mapping for that host and port "
                                     "(mapping list)", argv[2], port);
    }
    const struct config_mapping *m = mappings_get(mc.map);
    if (resolve_name(m->internal.host, &mc.addr, NULL, NULL) != RESOLVE_DONE) {
        /* DNS answers would come later: the check names what the table lacks instead */
        return mc.result = cons_fail("mapping check: internal host %s: not an address nor in "
                                     "the host table (host add NAME A.B.C.D)", m->internal.host);
    }
    if (m->tls) {
        cfg.host = mappings_tls_name(mc.map);
        settings_trust_anchors(&cfg.anchors, &cfg.anchors_num);
        settings_time(&cfg.now);
    }
    mc.started_ms = board_now_ms();
    mc.running = 1;
    if (endpoint_open(&mc.ep, &mc.addr, m->internal.port, m->tls ? &cfg : NULL, on_check,
                      NULL) != 0) {
        check_done(0, endpoint_verdict(&mc.ep));
        return mc.result;
    }
    return CMDS_IN_PROGRESS;
}

/* see console_int.h */
int probe_poll(void)
{
    if (last == PROBE_MAPPING) {
        return mc.running ? CMDS_IN_PROGRESS : mc.result;
    }
    return pr.running ? CMDS_IN_PROGRESS : pr.result;
}

/* see console_int.h */
void probe_cancel(void)
{
    if (pr.running) {
        tls_conn_abort(&pr.conn);
        pr.running = 0;
        key_wipe(&pr.key);
        pr.result = cons_fail("tls probe %s: cancelled", pr.target);
    }
}
