/* The console's commands that talk to the network: `tls probe` (a TLS handshake to any
 * host, its chain and verdict) and `mapping check` (connect, and handshake for a tls
 * mapping, to a mapping's internal host). Both dial (dial.h) without DNS: a console command
 * names an address or a host-table name. One runs at a time: its handler returns
 * CMDS_IN_PROGRESS, probe_poll() steps it on each turn of the loop and gives its result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "certtime.h"
#include "console_cmds.h"
#include "console_int.h"
#include "dial.h"
#include "hostport.h"
#include "keys.h"
#include "mappings.h"
#include "pem.h"
#include "secure_wipe.h"
#include "settings.h"
#include "tcp_stream.h"
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

/* One probe at a time; its connection is its own (not the endpoints' pool) and static, so
 * 50 probes in a row cost no more than one (RAM: sizeof pr, about 62 KiB, most of it the
 * TLS buffers). */
static struct {
    int running, result, closed;
    uint32_t closed_ms; /* when the dial closed */
    struct dial dial;
    struct endpoint_tls tls;
    struct tls_chain chain;
    struct device_key key;
    br_x509_certificate certs[TLS_CHAIN_MAX];
    uint8_t chain_der[CONFIG_CHAIN_MAX];
    char target[CONFIG_NAME_MAX + 8];
} pr;

static void probe_report(void)
{
    const struct tls_chain *ch = &pr.chain;
    const struct tls_conn *conn = &pr.tls.conn;
    const char *v = tls_conn_verdict(conn);
    if (ch->count > 0) {
        cons_out("server chain (%u certificate%s):\n", ch->count, ch->count == 1 ? "" : "s");
    } else if (conn->tcp_up) {
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
    if (!conn->failed || conn->handshake_ms) {
        cons_out("handshake: %u ms\n", (unsigned)conn->handshake_ms);
    }
    cons_out("verdict: %s\n", v);
}

static void probe_end(void)
{
    key_wipe(&pr.key);
    secure_wipe(pr.chain_der, sizeof pr.chain_der);
    probe_report();
    pr.result = strncmp(tls_conn_verdict(&pr.tls.conn), "ok", 2) == 0
                    ? 0 : cons_fail("tls probe %s: failed", pr.target);
    pr.running = 0;
}

/* How long a probe waits for the peer to acknowledge its FIN. */
#define PROBE_FIN_WAIT_MS 1000

/* The probe, one step: the handshake was the point, so the endpoint closed it cleanly as
 * soon as it was open (ENDPOINT_CLOSE_ON_OPEN); the report comes once the close is done and
 * the peer has acknowledged our FIN (at most PROBE_FIN_WAIT_MS), so the segment it rode in
 * is back in its pool when the next command (`show status`) looks. */
static void probe_step(void)
{
    if (!pr.closed) {
        enum dial_state s = dial_poll(&pr.dial);
        if (s != DIAL_CLOSED && s != DIAL_FAILED) {
            return;
        }
        pr.closed = 1;
        pr.closed_ms = board_now_ms();
    }
    if (!tcp_stream_fin_unacked() || board_now_ms() - pr.closed_ms >= PROBE_FIN_WAIT_MS) {
        probe_end();
    }
}

/* Our chain and key for a server that asks for a client certificate. */
static int probe_client_identity(struct tls_client_config *cfg)
{
    const struct config *cf = settings_running();
    const char *why = NULL;
    if (!cf->has_key || !cf->has_chain) {
        return cons_fail("tls probe: client: needs the device key and chain (tunnel key generate, "
                    "tunnel cert import, commit)");
    }
    int n = settings_device_chain(cf, pr.chain_der, sizeof pr.chain_der, pr.certs,
                                  TLS_CHAIN_MAX, &why);
    if (n <= 0) {
        return cons_fail("tls probe: client: %s", why);
    }
    if (settings_device_key(cf, &pr.key) != 0) {
        return cons_fail("tls probe: client: the device key cannot be read");
    }
    cfg->client_chain = pr.certs;
    cfg->client_chain_len = (size_t)n;
    cfg->client_key = &pr.key.sk;
    return 0;
}

/* see console_int.h */
int probe_tls(const struct cmd_args *a)
{
    int argc = a->argc;
    char **argv = a->argv;
    struct tls_client_config cfg;
    char what[CONFIG_LINE_MAX + 16];
    const char *name = NULL;
    int client = 0, relay = 0;
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
    snprintf(what, sizeof what, "tls probe: %s", argv[2]);
    dial_start(&pr.dial, argv[2], what, DIAL_NO_DNS);
    if (dial_poll(&pr.dial) == DIAL_FAILED) {
        return cons_fail("%s", dial_verdict(&pr.dial));
    }
    memset(&pr.chain, 0, sizeof pr.chain);
    snprintf(pr.target, sizeof pr.target, "%s:%lu", argv[2], port);
    /* as the tunnel (relay) or a tls mapping checks; what cannot be used (no time, no
     * relay anchors) the handshake's verdict says */
    settings_tls_client(&cfg, name ? name : argv[2],
                        relay ? SETTINGS_PEER_RELAY : SETTINGS_PEER_SERVER);
    cfg.capture = &pr.chain;
    if (client && probe_client_identity(&cfg) != 0) {
        key_wipe(&pr.key);
        return -1;
    }
    if (dial_connect(&pr.dial, (uint16_t)port, &cfg, &pr.tls, ENDPOINT_CLOSE_ON_OPEN) != 0) {
        probe_end();
        return pr.result;
    }
    pr.running = 1;
    pr.result = 0;
    pr.closed = 0;
    return CMDS_IN_PROGRESS;
}

/* ---- mapping check --------------------------------------------------------------------- */

/* One check at a time (RAM: a dial, ~0.3 KiB, plus a TLS slot of the pool while it runs). */
static struct {
    int running, result, map;
    uint32_t started_ms;
    struct dial dial;
} mc;

static void check_done(int ok, const char *verdict)
{
    const struct config_mapping *m = mappings_get(mc.map);
    char a[16];
    ipaddr_ntoa_r(&mc.dial.addr, a, sizeof a);
    cons_out("%s:%u -> %s:%u (%s) %s: %s (%u ms)\n", m->virt.host, m->virt.port,
             m->internal.host, m->internal.port, a, m->tls ? "tls" : "tcp", verdict,
             (unsigned)(board_now_ms() - mc.started_ms));
    if (!ok) {
        snprintf(mappings_stats(mc.map)->last_error, VERDICT_MAX, "%s", verdict);
    }
    mc.result = ok ? 0 : cons_fail("mapping check %s:%u: failed", m->virt.host, m->virt.port);
    mc.running = 0;
}

/* The check, one step: open is ok (and closed at once), failed says why. */
static void check_step(void)
{
    switch (dial_poll(&mc.dial)) {
    case DIAL_FAILED:
        check_done(0, dial_verdict(&mc.dial));
        return;
    case DIAL_OPEN: {
        char v[VERDICT_MAX + 16];
        snprintf(v, sizeof v, "%s", mappings_get(mc.map)->tls ? dial_verdict(&mc.dial)
                                                              : "ok: connected");
        dial_close(&mc.dial);
        check_done(1, v);
        return;
    }
    default:
        return;
    }
}

/* see console_int.h */
int probe_mapping(const struct cmd_args *a)
{
    int argc = a->argc;
    char **argv = a->argv;
    struct tls_client_config cfg;
    char what[CONFIG_NAME_MAX + 32];
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
    snprintf(what, sizeof what, "mapping check: internal host %s", m->internal.host);
    dial_start(&mc.dial, m->internal.host, what, DIAL_NO_DNS);
    if (dial_poll(&mc.dial) == DIAL_FAILED) {
        return mc.result = cons_fail("%s", dial_verdict(&mc.dial));
    }
    if (m->tls) {
        /* as the stream would: without a valid time the handshake says so */
        settings_tls_client(&cfg, mappings_tls_name(mc.map), SETTINGS_PEER_SERVER);
    }
    mc.started_ms = board_now_ms();
    mc.running = 1;
    if (dial_connect(&mc.dial, m->internal.port, m->tls ? &cfg : NULL, NULL,
                     ENDPOINT_CLOSE_ON_OPEN) != 0) {
        check_done(0, dial_verdict(&mc.dial));
        return mc.result;
    }
    return CMDS_IN_PROGRESS;
}

/* see console_int.h */
int probe_poll(void)
{
    if (last == PROBE_MAPPING) {
        if (mc.running) {
            check_step();
        }
        return mc.running ? CMDS_IN_PROGRESS : mc.result;
    }
    if (pr.running) {
        probe_step();
    }
    return pr.running ? CMDS_IN_PROGRESS : pr.result;
}

/* see console_int.h */
void probe_cancel(void)
{
    if (pr.running && pr.closed) {
        probe_end();                 /* done but for the FIN's acknowledgement: the report */
    } else if (pr.running) {
        dial_abort(&pr.dial);
        pr.running = 0;
        key_wipe(&pr.key);
        pr.result = cons_fail("tls probe %s: cancelled", pr.target);
    }
}
