/* The tunnel and the mappings at the console: `show tunnel`, `show mappings` with their
 * counters, `mapping check VHOST:VPORT`, and what a commit restarts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "console_cmds.h"
#include "console_int.h"
#include "endpoint.h"
#include "mappings.h"
#include "resolve.h"
#include "settings.h"
#include "svc_imap.h"
#include "tunnel.h"

static void out_va(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out_va(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cons_out("%s", buf);
}

/* see console_int.h */
void show_tunnel(const struct config *cf)
{
    cons_out("location:  %s\n", cf->tunnel.location[0] ? cf->tunnel.location : "(not set)");
    cons_out("key:       %s\n", cf->has_key ? "present" : "none (tunnel key generate)");
    cons_out("chain:     %s\n", cf->has_chain ? "present" : "none (tunnel cert import)");
    if (cf->tunnel.nrelays == 0) {
        cons_out("relays:    none (tunnel relay add HOST:PORT)\n");
        return;
    }
    tunnel_show(out_va);
}

/* see console_int.h */
void show_mappings(const struct config *cf)
{
    if (cf->nmappings == 0) {
        cons_out("no mappings\n");
        return;
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
}

/* see console_int.h */
void services_after_commit(const struct config *before)
{
    const struct config *now = settings_running();
    if (before->nmappings != now->nmappings ||
        memcmp(before->mappings, now->mappings, sizeof now->mappings) != 0) {
        mappings_reset();
    }
    tunnel_start();                  /* restarts the tunnels only if their settings changed */
    imap_svc_start();                /* restarts the receiver only if its settings changed */
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
int cmd_mapping_check(int argc, char **argv)
{
    struct tls_client_config cfg = { 0 };
    char *colon = argc == 3 ? strrchr(argv[2], ':') : NULL;
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == argv[2] || end == colon + 1 || *end || port == 0 ||
        port > 65535) {
        return mc.result = cons_fail("mapping check: expected VHOST:VPORT");
    }
    *colon = '\0';
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
int mapping_check_poll(void)
{
    return mc.running ? CMDS_IN_PROGRESS : mc.result;
}
