/* Fuzz the gateway's receive path from the wire: frames as a TAP or AF_PACKET socket hands
 * them over (a virtio-net header, then Ethernet; merged TCP/IPv4 packets up to 64 KiB) go
 * through vnet_rx, the board's netif and its receive reserve (the tunnel's urgency test)
 * into lwIP (ARP, IPv4 with reassembly, ICMP, UDP, TCP with tcp_guard and the out-of-order
 * limit) and the echo service on port 7; lwIP's timers run when the input says. No crash, no
 * lwIP assertion, and after each input, once every connection is aborted and the ARP,
 * reassembly and loopback queues are empty, every pbuf is back in its pool and the heap as
 * it was: nothing a peer sends pins memory past its connections.
 *
 * The input is a list of records, each an op byte and what it names (op & 3):
 *   0  a frame: u16 length (big-endian), then the virtio-net header (10 bytes) and the
 *      Ethernet frame (so at most 65,525 bytes of it). With op bit 2 set the frame is
 *      aimed: sent to our MAC and 10.9.0.1 with a valid IPv4 header checksum, and a TCP
 *      segment's acknowledgment number counts from the ISN of its connection (a fuzzer
 *      cannot guess ISNs; its sequence numbers are its own).
 *   1  TCP's fast timer; with op bit 2 the slow one too
 *   2  the end of a loop turn: the connections' writes leave (tcp_stream_flush), and what
 *      the gateway sent to itself (a frame from its own address) arrives
 *   3  the ARP and reassembly timers */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "board_linux.h"
#include "log.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip_port.h"
#include "random.h"
#include "svc_echo.h"
#include "tcp_stream.h"
#include "tunnel.h"
#include "vnet_offload.h"

#define OUR_IP 0x0a090001u               /* 10.9.0.1 */
#define ISN_SLOTS 16

static struct netif *nif;
static struct linux_netdev wire;         /* the device whose counters vnet_rx keeps */

/* The ISN of each connection lwIP accepted this input, by the peer's port and ours. */
static struct isn { uint16_t peer, us; uint32_t iss; } isns[ISN_SLOTS];
static unsigned n_isns;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A connection just accepted (SYN_RCVD) has not had its SYN acknowledged: lastack is its
 * ISN. */
static void learn_isns(void)
{
    for (struct tcp_pcb *p = tcp_active_pcbs; p != NULL; p = p->next) {
        if (p->state != SYN_RCVD) {
            continue;
        }
        unsigned i = 0;
        while (i < n_isns && !(isns[i].peer == p->remote_port && isns[i].us == p->local_port)) {
            i++;
        }
        if (i == n_isns) {
            if (n_isns == ISN_SLOTS) {
                continue;
            }
            n_isns++;
        }
        isns[i] = (struct isn){ p->remote_port, p->local_port, p->lastack };
    }
}

static void aim(uint8_t *f, size_t len)
{
    if (len < 14) {
        return;
    }
    memcpy(f, nif->hwaddr, 6);
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) {
        return;
    }
    uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20 || len < 14 + ihl) {
        return;
    }
    wr32(ip + 16, OUR_IP);
    if (ip[9] == 6 && len >= 14 + ihl + 20) {
        uint8_t *th = ip + ihl;
        uint16_t peer = (uint16_t)(th[0] << 8 | th[1]), us = (uint16_t)(th[2] << 8 | th[3]);
        for (unsigned i = 0; i < n_isns; i++) {
            if (isns[i].peer == peer && isns[i].us == us) {
                wr32(th + 8, rd32(th + 8) + isns[i].iss);
            }
        }
    }
    ip[10] = ip[11] = 0;
    uint32_t sum = 0;
    for (size_t i = 0; i < ihl; i += 2) {
        sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
}

static unsigned pool_used(unsigned type)
{
    return lwip_stats.memp[type]->used;
}

/* Every connection goes, then the queues that hold frames for a while age out. */
static void abort_all(void)
{
    while (tcp_active_pcbs != NULL) {
        tcp_abort(tcp_active_pcbs);
    }
    while (tcp_tw_pcbs != NULL) {
        tcp_abort(tcp_tw_pcbs);
    }
    tcp_stream_flush();
}

static void drain(void)
{
    abort_all();
    for (int i = 0; i < IP_REASS_MAXAGE + 1; i++) {
        ip_reass_tmr();      /* may answer "time exceeded", to a peer or to ourselves */
    }
    for (int i = 0; i < 8 && lwip_port_loopback_pending(); i++) {
        netif_poll_all();    /* what we sent ourselves, and our RSTs to it: they settle */
        abort_all();
    }
    etharp_cleanup_netif(nif);   /* what waited for an ARP answer */
}

/* What the gateway sends leaves at once (no peer reads it): ISNs come from lwIP's state. */
static err_t sent(struct netif *n, struct pbuf *p)
{
    (void)n;
    (void)p;
    return ERR_OK;
}

static void start(void)
{
    if (rng_init(board_entropy) != 0 ||
        linux_eth_configure("stream:/nonexistent/fuzz-net-input.sock", "02:00:00:00:00:01")) {
        abort();
    }
    log_set_level(LOG_ERR);
    lwip_port_init(board_now_ms, NULL);
    lwip_init();
    nif = board_netif_add();
    if (nif == NULL || echo_start(ECHO_PORT) != 0) {
        abort();
    }
    nif->linkoutput = sent;
    ip4_addr_t a, m, g;
    IP4_ADDR(&a, 10, 9, 0, 1);
    IP4_ADDR(&m, 255, 255, 255, 0);
    IP4_ADDR(&g, 10, 9, 0, 254);
    netif_set_addr(nif, &a, &m, &g);
    netif_set_up(nif);
    netif_set_link_up(nif);
    board_set_rx_urgent(tunnel_frame_urgent);
    wire.rx_merged = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t frame[VNET_HDR_LEN + ETH_GSO_FRAME_MAX];
    if (!ready) {
        start();
        ready = 1;
    }
    unsigned pool_before = pool_used(MEMP_PBUF_POOL);
    mem_size_t heap_before = lwip_stats.mem.used;
    n_isns = 0;
    size_t at = 0;
    while (at < size) {
        uint8_t op = data[at++];
        switch (op & 3) {
        case 0: {
            if (size - at < 2) {
                at = size;
                break;
            }
            size_t len = (size_t)(data[at] << 8 | data[at + 1]);
            at += 2;
            if (len > size - at) {
                len = size - at;
            }
            memcpy(frame, data + at, len);
            at += len;
            if (op & 4) {
                if (len >= VNET_HDR_LEN) {
                    aim(frame + VNET_HDR_LEN, len - VNET_HDR_LEN);
                }
            }
            vnet_rx(&wire, frame, len);
            learn_isns();
            break;
        }
        case 1:
            tcp_fasttmr();
            if (op & 4) {
                tcp_slowtmr();
            }
            break;
        case 2:
            tcp_stream_flush();
            netif_poll_all();
            break;
        default:
            etharp_tmr();
            ip_reass_tmr();
            break;
        }
    }
    drain();
    struct echo_stats es;
    echo_get_stats(&es);
    if (pool_used(MEMP_PBUF_POOL) != pool_before || lwip_stats.mem.used != heap_before ||
        pool_used(MEMP_TCP_SEG) != 0 || pool_used(MEMP_REASSDATA) != 0 ||
        pool_used(MEMP_ARP_QUEUE) != 0 || lwip_port_loopback_pending() || es.active != 0) {
        abort();   /* a pbuf, segment or connection outlived every connection */
    }
    return 0;
}
