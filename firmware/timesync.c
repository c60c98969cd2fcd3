/* see timesync.h */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "certtime.h"
#include "config.h"
#include "log.h"
#include "resolve.h"
#include "lwip/apps/sntp.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "settings.h"
#include "timesync.h"

/* While SNTP waits for the netif's link and address: look again this often. */
#define TIMESYNC_NETIF_POLL_MS 500

enum timesync_state {
    TIMESYNC_OFF,        /* no server configured, or no network device */
    TIMESYNC_UNKNOWN,    /* the name is neither a literal nor in the host table, and no DNS */
    TIMESYNC_RESOLVING,  /* a DNS query for the name is out */
    TIMESYNC_WAIT_NET,   /* configured; the netif has no link or no address yet */
    TIMESYNC_ASKING,     /* requests out, no answer believed yet */
    TIMESYNC_SYNCED,     /* an answer set the clock */
    TIMESYNC_REFUSED,    /* the last answer was behind the floor: not believed */
};

static struct {
    enum timesync_state state;
    struct netif *netif;
    char server[CONFIG_NAME_MAX];
    int by_dns;                    /* the address came from DNS (else literal or host table) */
    ip_addr_t addr;
    uint32_t asked_ms;             /* when SNTP started */
    uint32_t answer_ms;            /* when the last answer came */
    int64_t refused;               /* the last refused answer's time */
    const char *refused_why;
    int64_t step;                  /* the last answer's correction of a valid clock */
    int step_known;                /* 0: the clock was not valid before that answer */
    unsigned answers;
} ts;

static int netif_ready(const struct netif *n)
{
    return n != NULL && netif_is_up(n) && netif_is_link_up(n) &&
           !ip4_addr_isany_val(*netif_ip4_addr(n));
}

/* lwIP timer: start SNTP once a request can leave; the first one must not be dropped for
 * want of a link, or TLS would wait a whole receive timeout (15 s) for the retry. */
static void start_when_ready(void *arg)
{
    (void)arg;
    if (ts.state != TIMESYNC_WAIT_NET) {
        return;
    }
    if (!netif_ready(ts.netif)) {
        sys_timeout(TIMESYNC_NETIF_POLL_MS, start_when_ready, NULL);
        return;
    }
    sntp_setserver(0, &ts.addr);
    sntp_setoperatingmode(SNTP_OPMODE_POLL);
    ts.state = TIMESYNC_ASKING;
    ts.asked_ms = board_now_ms();
    sntp_init();
    log_info("time: asking %s by SNTP", ts.server);
}

static void resolved(const char *name, const ip_addr_t *addr, void *arg);

static void stop(void)
{
    sys_untimeout(start_when_ready, NULL);
    resolve_cancel(resolved, NULL);
    if (sntp_enabled()) {
        sntp_stop();
    }
    ts.state = TIMESYNC_OFF;
}

/* A DNS answer for the server's name (resolve.h): start, or say it has no address. */
static void resolved(const char *name, const ip_addr_t *addr, void *arg)
{
    (void)arg;
    if (ts.state != TIMESYNC_RESOLVING || strcmp(name, ts.server) != 0) {
        return;
    }
    if (addr == NULL) {
        ts.state = TIMESYNC_UNKNOWN;
        log_warnx("time: ntp server %s: DNS has no address for it", name);
        return;
    }
    ts.addr = *addr;
    ts.state = TIMESYNC_WAIT_NET;
    start_when_ready(NULL);
}

/* see timesync.h */
void timesync_apply(const struct config *cf, struct netif *netif)
{
    const char *name = cf->net.ntp;
    ip_addr_t addr;
    int running = ts.state != TIMESYNC_OFF && ts.state != TIMESYNC_UNKNOWN;
    if (running && ts.netif == netif && strcmp(ts.server, name) == 0) {
        /* the same name: keep the client unless the host table now says otherwise (a DNS
         * name is looked up again only when the name changes) */
        if (ts.by_dns || ts.state == TIMESYNC_RESOLVING ||
            (resolve_name(name, &addr, NULL, NULL) == RESOLVE_DONE &&
             ip_addr_cmp(&addr, &ts.addr))) {
            return;
        }
    }
    stop();
    ts.netif = netif;
    snprintf(ts.server, sizeof ts.server, "%s", name);
    ts.by_dns = 0;
    ip_addr_set_zero(&ts.addr);
    if (name[0] == '\0' || netif == NULL) {
        return;
    }
    switch (resolve_name(name, &addr, resolved, NULL)) {
    case RESOLVE_DONE:
        ts.addr = addr;
        ts.state = TIMESYNC_WAIT_NET;
        start_when_ready(NULL);
        break;
    case RESOLVE_PENDING:
        ts.by_dns = 1;
        ts.state = TIMESYNC_RESOLVING;
        break;
    case RESOLVE_UNKNOWN:
        ts.state = TIMESYNC_UNKNOWN;
        log_warnx("time: ntp server %s: not an IPv4 address nor a name in the host table, "
                  "and %s", name, cf->net.has_dns ? "DNS cannot be asked now" :
                  "no DNS server configured");
        break;
    }
}

/* see timesync.h */
void timesync_sntp_set(uint32_t unix_seconds)
{
    int64_t t = unix_seconds, before;
    char day[CERTTIME_DATE_LEN];
    certtime_date(t, day);
    ts.answer_ms = board_now_ms();
    const char *why = settings_time_check(t);
    if (why != NULL) {
        /* A server that answers 1970 or a time behind our floor is broken or lying;
         * believing it would let expired certificates pass. */
        if (ts.state != TIMESYNC_REFUSED || ts.refused != t) {
            log_warnx("time: %s answered %s %02u:%02u:%02u UTC: not believed (%s)", ts.server,
                      day, (unsigned)(t / 3600 % 24), (unsigned)(t / 60 % 60),
                      (unsigned)(t % 60), why);
        }
        ts.state = TIMESYNC_REFUSED;
        ts.refused = t;
        ts.refused_why = why;
        return;
    }
    int was_valid = settings_time(&before);
    board_set_wallclock(t);
    ts.step = was_valid ? t - before : 0;
    ts.step_known = was_valid;
    ts.answers++;
    if (ts.state != TIMESYNC_SYNCED || ts.step > 1 || ts.step < -1) {
        if (was_valid) {
            log_info("time: set by SNTP from %s: %s %02u:%02u:%02u UTC (stepped %+lld s)",
                     ts.server, day, (unsigned)(t / 3600 % 24), (unsigned)(t / 60 % 60),
                     (unsigned)(t % 60), (long long)ts.step);
        } else {
            log_info("time: set by SNTP from %s: %s %02u:%02u:%02u UTC (was not valid)",
                     ts.server, day, (unsigned)(t / 3600 % 24), (unsigned)(t / 60 % 60),
                     (unsigned)(t % 60));
        }
    }
    ts.state = TIMESYNC_SYNCED;
    settings_time_keep(t);
}

/* see timesync.h */
const char *timesync_source(void)
{
    return ts.answers > 0 ? "sntp" : "board clock";
}

/* see timesync.h */
void timesync_status(char *buf, size_t len)
{
    char ip[IPADDR_STRLEN_MAX], a[IPADDR_STRLEN_MAX + 8];
    uint32_t now = board_now_ms();
    ipaddr_ntoa_r(&ts.addr, ip, sizeof ip);
    snprintf(a, sizeof a, "%s%s", ip, ts.by_dns ? " by DNS" : "");
    switch (ts.state) {
    case TIMESYNC_OFF:
        snprintf(buf, len, "%s", ts.server[0] == '\0' ?
                 "off: no server configured (set net ntp HOST)" : "off: no network device");
        break;
    case TIMESYNC_UNKNOWN:
        snprintf(buf, len, "server %s: not an IPv4 address nor a name in the host table "
                 "(host add NAME A.B.C.D), and %s", ts.server,
                 settings_running()->net.has_dns ? "DNS gave no address for it" :
                 "no DNS server configured");
        break;
    case TIMESYNC_RESOLVING:
        snprintf(buf, len, "server %s: asking DNS for its address", ts.server);
        break;
    case TIMESYNC_WAIT_NET:
        snprintf(buf, len, "server %s (%s): waiting for the link and an address", ts.server,
                 a);
        break;
    case TIMESYNC_ASKING:
        snprintf(buf, len, "server %s (%s): asking since %u s, no answer yet", ts.server, a,
                 (unsigned)((now - ts.asked_ms) / 1000));
        break;
    case TIMESYNC_SYNCED: {
        char step[32] = "set a clock that was not valid";
        if (ts.step_known) {
            snprintf(step, sizeof step, "step %+lld s", (long long)ts.step);
        }
        snprintf(buf, len, "server %s (%s): last answer %u s ago (%s), %u answers", ts.server,
                 a, (unsigned)((now - ts.answer_ms) / 1000), step, ts.answers);
        break;
    }
    case TIMESYNC_REFUSED: {
        char day[CERTTIME_DATE_LEN];
        certtime_date(ts.refused, day);
        snprintf(buf, len, "server %s (%s): answered %s, not believed (%s)", ts.server, a, day,
                 ts.refused_why);
        break;
    }
    }
}
