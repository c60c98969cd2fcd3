/* see status.h */
#include <inttypes.h>
#include <stdio.h>

#include "board.h"
#include "certtime.h"
#include "lwip/ip4_addr.h"
#include "endpoint.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "lwip_port.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwipopts.h"
#include "settings.h"
#include "status.h"
#include "svc_echo.h"
#include "timesync.h"
#include "tls_engine.h"
#include "tunnel.h"

static struct netif *status_netif;

void status_set_netif(struct netif *netif)
{
    status_netif = netif;
}

static void print_net(status_out_fn out)
{
    struct netif *n = status_netif;
    if (n == NULL) {
        out("net:      no network device\n");
        return;
    }
    char a[16];
    ip4addr_ntoa_r(netif_ip4_addr(n), a, sizeof a);
    out("net:      %c%c link %s, address %s, mac %02x:%02x:%02x:%02x:%02x:%02x\n",
        n->name[0], n->name[1], netif_is_link_up(n) ? "up" : "down",
        ip4_addr_isany_val(*netif_ip4_addr(n)) ? "none yet" : a,
        n->hwaddr[0], n->hwaddr[1], n->hwaddr[2], n->hwaddr[3], n->hwaddr[4], n->hwaddr[5]);
    struct board_netif_stats st;
    board_netif_stats(&st);
    out("frames:   rx %" PRIu64 " (%" PRIu64 " B, %" PRIu64 " dropped, %" PRIu64 " of them shed "
        "for the tunnel), tx %" PRIu64 " (%" PRIu64 " B, %" PRIu64 " dropped)\n",
        st.rx_frames, st.rx_bytes, st.rx_dropped, st.rx_shed, st.tx_frames, st.tx_bytes,
        st.tx_dropped);
}

/* lwIP's pools and heap: use, peak, limit, failures, and the RAM each holds now (KiB): a
 * pool's pages are touched as it first uses them and given back after a quiet second
 * (net/port/memp_lazy.c), the heap's from its start up to its peak use. */
static void print_memory(status_out_fn out)
{
    size_t held = 0, limit = 0;
    out("memory:   %-16s %8s %8s %8s %8s %8s\n", "pool", "used", "peak", "limit", "failed",
        "KiB now");
    out("          %-16s %8u %8u %8u %8u %8u  (bytes)\n", "heap",
        (unsigned)lwip_stats.mem.used, (unsigned)lwip_stats.mem.max,
        (unsigned)lwip_stats.mem.avail, (unsigned)lwip_stats.mem.err,
        (unsigned)(lwip_stats.mem.max + 1023) / 1024);
    held += lwip_stats.mem.max;
    limit += lwip_stats.mem.avail;
    for (int i = 0; i < MEMP_MAX; i++) {
        const struct stats_mem *m = lwip_stats.memp[i];
        if (m == NULL) {
            continue;
        }
        size_t now = lwip_port_pool_committed((unsigned)i);
        out("          %-16s %8u %8u %8u %8u %8u\n", m->name, (unsigned)m->used,
            (unsigned)m->max, (unsigned)m->avail, (unsigned)m->err, (unsigned)(now + 1023) / 1024);
        held += now;
        limit += (size_t)memp_pools[i]->num * memp_pools[i]->size;
    }
    out("ram:      lwIP %u KiB now of %u KiB at its limits; TLS connections %u in use "
        "(%u KiB each, record buffers touched as used)\n", (unsigned)(held + 1023) / 1024,
        (unsigned)(limit + 1023) / 1024, tunnel_up_count() + endpoint_tls_in_use(),
        (unsigned)(sizeof(struct tls_conn) + 1023) / 1024);
}

/* The time certificates are checked against, where it comes from, the floor, and SNTP. */
static void print_time(status_out_fn out)
{
    int64_t now, lkg = settings_time_lkg();
    char day[CERTTIME_DATE_LEN], floor[CERTTIME_DATE_LEN + 16] = "none yet";
    char sntp[TIMESYNC_STATUS_MAX];
    if (lkg > 0) {
        certtime_date(lkg, day);
        snprintf(floor, sizeof floor, "%s", day);
    }
    if (settings_time(&now)) {
        certtime_date(now, day);
        out("time:     valid, %s %02u:%02u:%02u UTC (source: %s; last known good %s)\n", day,
            (unsigned)(now / 3600 % 24), (unsigned)(now / 60 % 60), (unsigned)(now % 60),
            timesync_source(), floor);
    } else {
        out("time:     not valid yet: %s; TLS waits (source: %s; last known good %s)\n",
            settings_time_why(), timesync_source(), floor);
    }
    timesync_status(sntp, sizeof sntp);
    out("sntp:     %s\n", sntp);
}

/* see status.h */
void status_print(status_out_fn out)
{
    uint32_t s = board_now_ms() / 1000;
    out("uptime:   %ud %02u:%02u:%02u\n", (unsigned)(s / 86400), (unsigned)(s / 3600 % 24),
        (unsigned)(s / 60 % 60), (unsigned)(s % 60));
    print_time(out);
    print_net(out);
    struct echo_stats es;
    echo_get_stats(&es);
    out("echo:     port %u, %u active of %u, %u accepted, %u refused, %" PRIu64 " bytes\n",
        ECHO_PORT, (unsigned)es.active, ECHO_MAX_CONNS, (unsigned)es.accepted,
        (unsigned)es.refused, es.bytes);
    print_memory(out);
    /* the suite in use on the tunnel, and what this CPU would run each AEAD with */
    char what[160];
    if (tunnel_tls_describe(what, sizeof what)) {
        out("tls:      tunnel %s\n", what);
    } else {
        out("tls:      tunnel not up\n");
    }
    tls_describe_impls(what, sizeof what);
    out("          %s\n", what);
}
