/* The firmware: boot, then one event loop. Everything runs here, on one thread: lwIP's
 * timers, received frames (handed in by board_wait), the console and the services.
 * Nothing blocks; the loop sleeps only in board_wait, until lwIP's next timer is due. */
#include <stdio.h>

#include "board.h"
#include "console.h"
#include "gateway.h"
#include "log.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "random.h"
#include "settings.h"
#include "status.h"
#include "svc_echo.h"

#ifndef GW_VERSION
#define GW_VERSION "dev"
#endif
const char gateway_version[] = GW_VERSION;

/* Longest sleep even with no timer due: the loop also polls loopback traffic. */
#define LOOP_MAX_SLEEP_MS 1000

/* Frames the gateway sent to itself wait on a loopback queue: do not sleep on them. */
static int loopback_pending(void)
{
    struct netif *n;
    NETIF_FOREACH(n) {
        if (n->loop_first != NULL) {
            return 1;
        }
    }
    return 0;
}

static void banner_mac(const struct netif *netif)
{
    if (netif != NULL) {
        const uint8_t *m = netif->hwaddr;
        log_info("net: mac %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    } else {
        log_warnx("net: no network device (see --net)");
    }
}

static int boot(struct netif **netif_out)
{
    if (rng_init() != 0) {
        return -1;
    }
    log_info("gateway %s on %s (lwIP %s)", gateway_version, board_name(), LWIP_VERSION_STRING);
    lwip_init();
    struct netif *netif = board_netif_add();
    banner_mac(netif);
    if (settings_mount() != 0) {
        return -1;
    }
    settings_apply_net(netif);
    int err = echo_start(ECHO_PORT);
    if (err != 0) {
        log_err("echo: cannot listen on port %d: %d", ECHO_PORT, err);
        return -1;
    }
    status_set_netif(netif);
    *netif_out = netif;
    return 0;
}

/* see gateway.h */
int gateway_main(const struct gateway_args *args)
{
    struct netif *netif = NULL;
    if (boot(&netif) != 0) {
        return 1;
    }
    if (args->batch != NULL) {
        unsigned bad = console_run_script(args->batch, args->batch_len);
        if (bad) {
            log_err("batch: stopped at line %u", bad);
        }
        return bad ? 1 : 0;
    }
    console_init();
    for (;;) {
        uint32_t sleep = sys_timeouts_sleeptime();
        if (sleep > LOOP_MAX_SLEEP_MS) {
            sleep = LOOP_MAX_SLEEP_MS;
        }
        if (loopback_pending()) {
            sleep = 0;
        }
        unsigned ev = board_wait(sleep);
        if (ev & BOARD_EV_CONSOLE) {
            console_poll();
        }
        console_tick();
        netif_poll_all();       /* loopback: the gateway talking to itself */
        sys_check_timeouts();
        if (ev & BOARD_EV_STOP) {
            log_info("gateway: stopping");
            break;
        }
    }
    return 0;
}
