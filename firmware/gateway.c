/* The firmware: boot, then one event loop. Everything runs here, on one thread: lwIP's
 * timers, received frames (handed in by board_wait), the console and the services.
 * Nothing blocks; the loop sleeps only in board_wait, until lwIP's next timer is due. */
#include <stdio.h>

#include "board.h"
#include "console.h"
#include "console_cmds.h"
#include "gateway.h"
#include "log.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip_port.h"
#include "random.h"
#include "settings.h"
#include "status.h"
#include "svc_echo.h"
#include "svc_imap.h"
#include "tcp_stream.h"
#include "timesync.h"
#include "tunnel.h"

#include "gw_version.h"           /* GW_VERSION, written at each build (cmake/version.cmake) */

const char gateway_version[] = GW_VERSION;

/* Longest sleep even with no timer due: the loop also polls loopback traffic. */
#define LOOP_MAX_SLEEP_MS 1000
/* After a stop request, how long the tunnels' GoAway, close_notify and FIN may take to
 * leave (TCP may wait for the relay's ACKs to make room); a second request cuts it short. */
#define STOP_GRACE_MS 500
/* --batch with --net: how long the network may take to come up (DHCP included). */
#define BATCH_NET_WAIT_MS 15000

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
    if (rng_init(board_entropy) != 0) {
        return -1;
    }
    log_info("gateway %s on %s (lwIP %s)", gateway_version, board_name(), LWIP_VERSION_STRING);
    lwip_port_init(board_now_ms, timesync_sntp_set);
    lwip_port_set_discard(board_mem_discard);
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
    board_set_rx_urgent(tunnel_frame_urgent);
    tunnel_start();
    imap_svc_start();
    *netif_out = netif;
    return 0;
}

/* One turn of the loop: sleep until a frame, console bytes or lwIP's next timer (no longer
 * than max_sleep ms), then run what is due. Returns the board's events. */
static unsigned loop_once(int console, uint32_t max_sleep)
{
    static int busy;                 /* the services moved bytes last turn: look again now */
    uint32_t sleep = sys_timeouts_sleeptime();
    if (sleep > max_sleep) {
        sleep = max_sleep;
    }
    if (lwip_port_loopback_pending() || busy) {   /* do not sleep on frames to ourselves */
        sleep = 0;
    }
    unsigned ev = board_wait(sleep);
    if (console && (ev & BOARD_EV_CONSOLE)) {
        console_poll();
    }
    if (console) {
        console_tick();
        settings_time_tick();   /* a running box keeps its last-known-good time */
    }
    netif_poll_all();       /* loopback: the gateway talking to itself */
    sys_check_timeouts();
    busy = tunnel_poll();
    busy |= imap_svc_poll();
    tcp_stream_flush();     /* this turn's writes leave as full segments, before we sleep */
    lwip_port_trim();       /* a pool quiet for a second gives its pages back */
    return ev;
}

static int restart_asked;
static enum gateway_restart_kind restart_kind;

/* see gateway.h */
void gateway_restart(enum gateway_restart_kind kind)
{
    restart_kind = kind;             /* the only one: the console reads nothing after it */
    restart_asked = 1;
}

/* see gateway.h */
int gateway_restarting(void)
{
    return restart_asked;
}

/* A batch's network command in progress: the loop runs without the console. */
static int batch_stop;
static void batch_step(void)
{
    if (loop_once(0, LOOP_MAX_SLEEP_MS) & BOARD_EV_STOP) {
        batch_stop = 1;
        cmds_cancel();
    }
}

/* --batch with --net: the script's network commands need a link and an address first. */
static void batch_wait_net(const struct netif *netif)
{
    uint32_t start = board_now_ms();
    while (netif != NULL && !(netif_is_up(netif) && netif_is_link_up(netif) &&
                              !ip4_addr_isany_val(*netif_ip4_addr(netif)))) {
        if (board_now_ms() - start > BATCH_NET_WAIT_MS) {
            log_warnx("batch: no network address after %u s: running the script anyway",
                      BATCH_NET_WAIT_MS / 1000);
            return;
        }
        if (loop_once(0, LOOP_MAX_SLEEP_MS) & BOARD_EV_STOP) {
            return;
        }
    }
}

/* The loop runs on, frames read and sent, until the tunnels are closed and the relays
 * acknowledged the FIN after their close_notify, or the grace is over; then what the last
 * turn held leaves. Handing the bytes to the device is not enough: a bare-metal board's
 * NIC may still hold them when the reset comes. Returns 1 when a stop request (a second
 * signal, or the first during a restart) cut it short. */
static int stop_tunnels(void)
{
    board_stop_taken();
    tunnel_stop();
    uint32_t t0 = board_now_ms(), spent;
    while ((tunnel_closing() || tcp_stream_fin_unacked()) &&
           (spent = board_now_ms() - t0) < STOP_GRACE_MS) {
        if (loop_once(0, STOP_GRACE_MS - spent) & BOARD_EV_STOP) {
            return 1;
        }
    }
    return (board_wait(0) & BOARD_EV_STOP) != 0;
}

/* see gateway.h */
int gateway_main(const struct gateway_args *args)
{
    struct netif *netif = NULL;
    if (boot(&netif) != 0) {
        return 1;
    }
    if (args->batch != NULL) {
        batch_wait_net(netif);
        unsigned bad = console_run_script_loop(args->batch, args->batch_len, batch_step);
        if (bad) {
            log_err("batch: stopped at line %u", bad);
        }
        return bad || batch_stop ? 1 : 0;
    }
    console_init();
    unsigned ev = 0;
    while (!restart_asked && !((ev = loop_once(1, LOOP_MAX_SLEEP_MS)) & BOARD_EV_STOP)) {
    }
    int stop = (ev & BOARD_EV_STOP) != 0;    /* a signal in the reboot's turn: stop */
    log_info(stop ? "gateway: stopping" : "gateway: restarting");
    stop |= stop_tunnels();
    /* The erase that was confirmed happens even if a signal came meanwhile. */
    if (restart_asked && restart_kind == GATEWAY_FACTORY_RESET && settings_factory_reset() != 0) {
        log_err("factory-reset failed: the gateway %s on its flash as it is",
                stop ? "stops" : "restarts");
    }
    if (!stop) {
        board_reboot();
    }
    return 0;
}
