/* The one Ethernet port: a virtio network device (virtio 1.2, 5.1) over virtio-mmio, as
 * the lwIP netif. Only what the driver uses is negotiated: the MAC address and the link
 * status (and VERSION_1 on the modern transport); no checksum or segmentation offloads,
 * no merged receive buffers, so every frame is one buffer behind a 10-byte header (12 with
 * VERSION_1).
 *
 * Receive: RX_BUFS buffers stay posted; the device's interrupt only wakes board_wait,
 * which hands the returned frames to lwIP (copied into pool pbufs, under the receive
 * reserve every board keeps: eth_rx.h) and posts the buffers again. Send: each frame is
 * copied into a free buffer of TX_BUFS; when all are in flight, the send waits a bounded
 * time for the device to return one, then drops (lwIP's TCP sends again). */
#include <stdio.h>
#include <string.h>

#include "aarch64_cpu.h"
#include "board.h"
#include "eth_netif.h"
#include "eth_rx.h"
#include "log.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "virt.h"
#include "virt_net.h"
#include "virtio_mmio.h"

#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define VIRTIO_NET_S_LINK_UP 1

#define ETH_FRAME_MAX 1518           /* 1500 MTU + header + a VLAN tag; longer is dropped */
#define NET_HDR_MAX 12
#define BUF_SIZE 1536                /* header + the longest frame, rounded */
/* 64 receive buffers: a burst of a TCP window's worth of segments from passt waits in
 * them rather than being dropped by the device (~96 KiB). 64 send buffers: a turn of the
 * loop may send a whole window before the device catches up (~96 KiB). */
#define RX_BUFS 64
#define TX_BUFS 64
#define RX_PER_WAKE 64               /* frames handed to lwIP per board_wait, as on Linux */
#define TX_WAIT_MS 20                /* for a send buffer to come back, at most */
#define LINK_CHECK_MS 1000

static struct virtio_dev net;
static struct virtq rxq, txq;
static uint8_t rx_ring[2 * VIRTQ_ALIGN] __attribute__((aligned(VIRTQ_ALIGN)));
static uint8_t tx_ring[2 * VIRTQ_ALIGN] __attribute__((aligned(VIRTQ_ALIGN)));
static uint8_t rx_buf[RX_BUFS][BUF_SIZE] __attribute__((aligned(64)));
static uint8_t tx_buf[TX_BUFS][BUF_SIZE] __attribute__((aligned(64)));
static uint8_t tx_free[TX_BUFS];     /* 1: not with the device */
static unsigned hdr_len;
static int present;
static struct netif eth_netif;
static uint8_t eth_mac[6];
static struct board_netif_stats stats;
static unsigned bad_returns;         /* used entries naming no buffer of ours (a debugger's) */

static void net_irq(void *arg)
{
    (void)arg;
    vmmio_irq_ack(&net);   /* the wfi in board_wait has woken: that is all it is for */
}

static int post_rx(unsigned i)
{
    return virtq_add(&rxq, (uint64_t)(uintptr_t)rx_buf[i], BUF_SIZE, 1, rx_buf[i]);
}

static int link_up(void)
{
    if (!(net.features & VIRTIO_NET_F_STATUS)) {
        return 1;   /* a device without link status is always up */
    }
    return (vmmio_config8(&net, 6) & VIRTIO_NET_S_LINK_UP) != 0;
}

/* see virt_net.h */
int virt_net_init(const char *mac)
{
    if (vmmio_find(&virt_hw, VIRTIO_ID_NET, &net) != 0) {
        return 0;
    }
    if (vmmio_negotiate(&net, VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS) != 0) {
        log_err("net: the virtio network device refused our features");
        return BOARD_EIO;
    }
    hdr_len = (net.features & VIRTIO_F_VERSION_1) ? 12 : 10;
    if (virtq_size(RX_BUFS) > sizeof rx_ring || virtq_size(TX_BUFS) > sizeof tx_ring ||
        vmmio_queue(&net, 0, &rxq, rx_ring, RX_BUFS) == 0 ||
        vmmio_queue(&net, 1, &txq, tx_ring, TX_BUFS) == 0) {
        vmmio_reset(&net);
        log_err("net: the virtio network device has no usable queues");
        return BOARD_EIO;
    }
    if (mac != NULL) {
        unsigned v[6];
        char tail;
        if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &tail) != 6 || (v[0] & 1)) {
            vmmio_reset(&net);
            log_err("net: '%s' is not a unicast MAC address (xx:xx:xx:xx:xx:xx)", mac);
            return BOARD_EINVAL;
        }
        for (int i = 0; i < 6; i++) {
            eth_mac[i] = (uint8_t)v[i];
        }
    } else if (net.features & VIRTIO_NET_F_MAC) {
        for (unsigned i = 0; i < 6; i++) {
            eth_mac[i] = vmmio_config8(&net, i);   /* the port's own address */
        }
    } else {
        if (board_entropy(eth_mac, sizeof eth_mac) != BOARD_OK) {
            vmmio_reset(&net);
            return BOARD_ENOENTROPY;
        }
        eth_mac[0] = (uint8_t)((eth_mac[0] & 0xfc) | 0x02);   /* locally administered */
    }
    for (unsigned i = 0; i < (unsigned)rxq.num && i < RX_BUFS; i++) {
        post_rx(i);
    }
    for (unsigned i = 0; i < TX_BUFS; i++) {
        tx_free[i] = 1;
    }
    gic_attach(net.irq, net.edge, net_irq, 0);
    vmmio_ready(&net);
    vmmio_notify(&net, 0, &rxq);
    present = 1;
    return 0;
}

/* see virt_net.h */
int virt_net_rx_pending(void)
{
    return present && virtq_pending(&rxq);
}

static void input_frame(const uint8_t *frame, size_t len)
{
    if (len < 14 || len > ETH_FRAME_MAX) {
        stats.rx_dropped++;
        return;
    }
    if (eth_rx_shed(frame, len, len, 0)) {
        stats.rx_dropped++;
        stats.rx_shed++;
        return;
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (p == NULL) {
        stats.rx_dropped++;   /* pool exhausted: the sender will retransmit */
        return;
    }
    pbuf_take(p, frame, (u16_t)len);
    stats.rx_frames++;
    stats.rx_bytes += len;
    if (eth_netif.input(p, &eth_netif) != ERR_OK) {
        pbuf_free(p);
        stats.rx_dropped++;
    }
}

/* see virt_net.h */
void virt_net_poll(void)
{
    if (!present) {
        return;
    }
    unsigned n = 0, reposted = 0;
    uint32_t len;
    void *token;
    while (n < RX_PER_WAKE && virtq_get(&rxq, &len, &token, &bad_returns)) {
        n++;
        const uint8_t *buf = token;
        if (len > hdr_len && len <= BUF_SIZE) {
            input_frame(buf + hdr_len, len - hdr_len);
        } else {
            stats.rx_dropped++;
        }
        reposted += post_rx((unsigned)((buf - rx_buf[0]) / BUF_SIZE)) == 0;
    }
    if (reposted) {
        vmmio_notify(&net, 0, &rxq);
    }
}

static void reclaim_tx(void)
{
    uint32_t len;
    void *token;
    while (virtq_get(&txq, &len, &token, &bad_returns)) {
        tx_free[((uint8_t *)token - tx_buf[0]) / BUF_SIZE] = 1;
    }
}

static int tx_slot(void)
{
    uint64_t deadline = 0;
    for (;;) {
        reclaim_tx();
        for (int i = 0; i < TX_BUFS; i++) {
            if (tx_free[i]) {
                return i;
            }
        }
        /* All with the device: QEMU sends them from its own thread; wait a little. */
        if (deadline == 0) {
            deadline = timer_ms() + TX_WAIT_MS;
        } else if (timer_ms() > deadline) {
            return -1;
        }
    }
}

static err_t eth_linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    if (p->tot_len > ETH_FRAME_MAX || !netif_is_link_up(&eth_netif)) {
        stats.tx_dropped++;
        return ERR_IF;
    }
    int slot = tx_slot();
    if (slot < 0) {
        stats.tx_dropped++;
        return ERR_IF;
    }
    uint8_t *buf = tx_buf[slot];
    memset(buf, 0, hdr_len);   /* no offloads: flags and GSO type 0 */
    u16_t len = pbuf_copy_partial(p, buf + hdr_len, p->tot_len, 0);
    tx_free[slot] = 0;
    if (virtq_add(&txq, (uint64_t)(uintptr_t)buf, hdr_len + len, 0, buf) != 0) {
        tx_free[slot] = 1;
        stats.tx_dropped++;
        return ERR_IF;
    }
    vmmio_notify(&net, 1, &txq);
    stats.tx_frames++;
    stats.tx_bytes += len;
    return ERR_OK;
}

static err_t eth_netif_init(struct netif *netif)
{
    return eth_netif_describe(netif, eth_linkoutput, eth_mac);
}

static void link_timer(void *arg)
{
    (void)arg;
    int up = link_up();
    if (up && !netif_is_link_up(&eth_netif)) {
        log_info("%s: link up on virtio-net (%s transport)", __func__,
                 net.version == 1 ? "legacy" : "modern");
        netif_set_link_up(&eth_netif);
    } else if (!up && netif_is_link_up(&eth_netif)) {
        log_warnx("%s: link down on virtio-net", __func__);
        netif_set_link_down(&eth_netif);
    }
    sys_timeout(LINK_CHECK_MS, link_timer, NULL);
}

/* see board.h */
struct netif *board_netif_add(void)
{
    if (!present) {
        return NULL;
    }
    if (netif_add(&eth_netif, NULL, NULL, NULL, NULL, eth_netif_init, netif_input) == NULL) {
        log_err("%s: lwIP refused the netif", __func__);
        return NULL;
    }
    netif_set_default(&eth_netif);
    link_timer(NULL);
    return &eth_netif;
}

/* see board.h */
void board_netif_stats(struct board_netif_stats *st)
{
    *st = stats;
}

/* see virt_net.h */
void virt_net_stop(void)
{
    if (present) {
        vmmio_reset(&net);   /* the device lets go of our buffers before a reset or off */
        present = 0;
    }
}
