/* What the console shows: `show ...`, `trust list` and `mapping list`, and the certificates
 * a `trust import` paste added. Everything here reads the running configuration (or the
 * candidate, for `show config candidate`) and the services' state; nothing changes. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "console_int.h"
#include "endpoint.h"
#include "gateway.h"
#include "log_ring.h"
#include "mappings.h"
#include "settings.h"
#include "splice.h"
#include "status.h"
#include "store.h"
#include "svc_imap.h"
#include "tunnel.h"
#include "x509_info.h"

/* ---- certificates and the trust stores -------------------------------------------------- */

/* see console_int.h */
void show_cert(const char *indent, const uint8_t *der, size_t len)
{
    static struct x509_info xi;
    if (x509_info_parse(&xi, der, len) != 0) {
        cons_out("%scertificate of %zu bytes that cannot be read\n", indent, len);
        return;
    }
    cons_out("%ssubject     %s\n", indent, xi.subject);
    cons_out("%sissuer      %s\n", indent, xi.issuer);
    cons_out("%svalid       %s to %s\n", indent, xi.not_before_date, xi.not_after_date);
    cons_out("%ssha256      %s\n", indent, xi.fingerprint);
}

/* see console_int.h */
void show_trust_added(unsigned before)
{
    struct config_ctx *c = settings_ctx();
    unsigned added = c->candidate.ntrust - before;
    for (unsigned i = before; i < c->candidate.ntrust; i++) {
        const struct config_trust *t = &c->candidate.trust[i];
        cons_out("certificate %u:\n", i - before + 1);
        show_cert("  ", c->arena + t->arena_off, t->len);
    }
    int relay = before < c->candidate.ntrust && c->candidate.trust[before].relay;
    cons_out("%u certificate%s added to the candidate %strust store (commit to keep)\n", added,
        added == 1 ? "" : "s", relay ? "relay " : "");
}

/* Both trust stores: the tunnel's own anchors, then those of the internal servers. */
int show_trust(const struct cmd_args *a)
{
    static uint8_t der[CONFIG_CERT_MAX];
    static const char *const title[2] = {
        "trust store (tls mappings, IMAP receiver)", "relay trust store (the tunnel)" };
    const struct config *cf = settings_running();
    (void)a;
    for (int relay = 1; relay >= 0; relay--) {
        unsigned n = 0, shown = 0;
        for (unsigned i = 0; i < cf->ntrust; i++) {
            n += cf->trust[i].relay == relay;
        }
        cons_out("%s: %u certificate%s\n", title[relay], n, n == 1 ? "" : "s");
        for (unsigned i = 0; i < cf->ntrust; i++) {
            const struct config_trust *t = &cf->trust[i];
            size_t len = 0;
            if (t->relay != relay) {
                continue;
            }
            cons_out("%u:\n", ++shown);
            if (t->len > 0) {
                show_cert("  ", settings_ctx()->arena + t->arena_off, t->len);
            } else if (store_get(settings_store(), config_trust_key(t), der, sizeof der, &len)
                       == STORE_OK) {
                show_cert("  ", der, len);
            } else {
                cons_out("  (record unreadable)\n");
            }
        }
        if (relay && cf->tunnel.trust_shared) {
            cons_out("note: set tunnel trust shared: the trust store below vouches for relays "
                     "too, so any CA in it could stand in for the relay; import the relay's CA "
                     "with `trust import relay`, then `set tunnel trust separate`\n");
        } else if (relay && n == 0) {
            cons_out("note: the tunnel trusts no relay yet: import the relay's CA with "
                     "`trust import relay`\n");
        }
    }
    return 0;
}

/* ---- the services ----------------------------------------------------------------------- */

/* see console_int.h */
int show_tunnel(const struct cmd_args *a)
{
    const struct config *cf = settings_running();
    (void)a;
    cons_out("location:  %s\n", cf->tunnel.location[0] ? cf->tunnel.location : "(not set)");
    cons_out("key:       %s\n", cf->has_key ? "present" : "none (tunnel key generate)");
    cons_out("chain:     %s\n", cf->has_chain ? "present" : "none (tunnel cert import)");
    if (cf->tunnel.nrelays == 0) {
        cons_out("relays:    none (tunnel relay add HOST:PORT)\n");
        return 0;
    }
    tunnel_show(cons_out);
    return 0;
}

/* see console_int.h */
int show_mappings(const struct cmd_args *a)
{
    const struct config *cf = settings_running();
    (void)a;
    if (cf->nmappings == 0) {
        cons_out("no mappings\n");
        return 0;
    }
    for (unsigned i = 0; i < cf->nmappings; i++) {
        const struct config_mapping *m = &cf->mappings[i];
        const struct mapping_stats *s = mappings_stats((int)i);
        cons_out("%s:%u -> %s:%u %s%s%s\n", m->virt.host, m->virt.port, m->internal.host,
                 m->internal.port, m->tls ? "tls" : "tcp", m->sni[0] ? " sni " : "", m->sni);
        cons_out("    connections %u, active %u, failed %u, bytes in %llu, out %llu\n",
                 (unsigned)s->connections, (unsigned)s->active, (unsigned)s->failures,
                 (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out);
        if (s->last_error[0]) {
            cons_out("    last error: %s\n", s->last_error);
        }
    }
    return 0;
}

/* see console_int.h */
int show_imap(const struct cmd_args *a)
{
    static const char *const sec[] = { "starttls", "tls", "off" };
    const struct config *cf = settings_running();
    (void)a;
    cons_out("server:    %s:%u, security %s\n",
             cf->imap.server.host[0] ? cf->imap.server.host : "-", cf->imap.server.port,
             sec[cf->imap.security]);
    cons_out("enabled:   %s\n", cf->imap.enabled ? "yes" : "no");
    imap_show(cons_out);
    return 0;
}

static void show_flash(void)
{
    struct store_stat ss;
    store_stat(settings_store(), &ss);
    uint32_t emin = UINT32_MAX, emax = 0;
    for (uint32_t b = 0; b < ss.blocks; b++) {
        uint32_t ec, seq;
        if (store_block_info(settings_store(), b, &ec, &seq) == STORE_OK) {
            emin = ec < emin ? ec : emin;
            emax = ec > emax ? ec : emax;
        }
    }
    cons_out("flash:    %u KiB in %u blocks, %u live records (%u B), %u B free, "
        "erase counts %u..%u%s\n",
        (unsigned)(ss.geo.size / 1024), (unsigned)ss.blocks, (unsigned)ss.live_records,
        (unsigned)ss.live_bytes, (unsigned)ss.free_bytes, emin == UINT32_MAX ? 0 : emin,
        (unsigned)emax, ss.corrupt ? ", DAMAGE FOUND (see log)" : "");
}

/* see console_int.h */
int show_status(const struct cmd_args *a)
{
    const struct config *cf = settings_running();
    (void)a;
    status_print(cons_out);
    show_flash();
    cons_out("config:   %s\n",
             config_changed(settings_ctx()) ? "uncommitted changes" : "committed");
    cons_out("tunnel:   %u of %u relay%s up, %u streams open (limit %u), TLS endpoints %u of %u\n",
             tunnel_up_count(), cf->tunnel.nrelays, cf->tunnel.nrelays == 1 ? "" : "s",
             splice_in_use(), SPLICE_MAX, endpoint_tls_in_use(), ENDPOINT_TLS_MAX);
    imap_show(cons_out);
    return 0;
}

/* ---- the configuration, the log, the version -------------------------------------------- */

/* see console_int.h */
int show_config(const struct cmd_args *a)
{
    const struct config *cf = settings_running();
    unsigned flags = 0;
    if (a->argc == 3 && strcmp(a->argv[2], "candidate") == 0) {
        cf = &settings_ctx()->candidate;
    } else if (a->argc == 3 && strcmp(a->argv[2], "secrets") == 0) {
        flags = CONFIG_PRINT_SECRETS;
    }
    config_print(settings_ctx(), cf, flags, cons_write, NULL);
    return 0;
}

/* see console_int.h */
int show_log(const struct cmd_args *a)
{
    (void)a;
    log_ring_foreach(cons_write, NULL);
    return 0;
}

/* see console_int.h */
int show_version(const struct cmd_args *a)
{
    (void)a;
    cons_out("gateway %s on %s\n", gateway_version, board_name());
    return 0;
}

/* see console_int.h */
int show_unknown(const struct cmd_args *a)
{
    if (a->argc == 3 && strcmp(a->argv[1], "config") == 0) {
        return cons_fail("show config %s: expected 'candidate', 'secrets' or nothing",
                         a->argv[2]);
    }
    return cons_fail("show %s: expected config [candidate|secrets], status, log, version, "
                "mappings, trust, tunnel or imap", a->argc > 1 ? a->argv[1] : "(nothing)");
}
