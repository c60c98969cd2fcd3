/* see status.h */
#include <inttypes.h>
#include <stdio.h>

#include "board.h"
#include "certtime.h"
#include "lwip/ip4_addr.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwipopts.h"
#include "settings.h"
#include "status.h"
#include "svc_echo.h"
#include "timesync.h"

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

static void print_memory(status_out_fn out)
{
    out("memory:   %-16s %8s %8s %8s %8s\n", "pool", "used", "peak", "limit", "failed");
    out("          %-16s %8u %8u %8u %8u  (bytes)\n", "heap",
        (unsigned)lwip_stats.mem.used, (unsigned)lwip_stats.mem.max,
        (unsigned)lwip_stats.mem.avail, (unsigned)lwip_stats.mem.err);
    for (int i = 0; i < MEMP_MAX; i++) {
        const struct stats_mem *m = lwip_stats.memp[i];
        if (m == NULL) {
            continue;
        }
        out("          %-16s %8u %8u %8u %8u\n", m->name, (unsigned)m->used, (unsigned)m->max,
            (unsigned)m->avail, (unsigned)m->err);
    }
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
}
