/* Linux board: the one Ethernet netif, glued to lwIP. Backends only move frames; this file
 * owns the lwIP side (pbufs, link state, MAC address) so all three behave the same. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "board_linux.h"
#include "eth_netif.h"
#include "eth_rx.h"
#include "lwip/etharp.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define LINK_CHECK_MS 1000

static struct netif eth_netif;
static struct linux_netdev eth_dev = { .fd = -1 };
static uint8_t eth_mac[6];
static int eth_active;

void linux_netdev_close_fd(struct linux_netdev *dev)
{
    if (dev->fd >= 0) {
        close(dev->fd);
    }
    dev->fd = -1;
}

/* lwIP's checksum work on this netif: all of it, but the sent TCP checksums when the device
 * completes them (a TAP with offloads: netif_tap.c). */
static u16_t csum_ctrl(const struct linux_netdev *dev)
{
    return (u16_t)(NETIF_CHECKSUM_ENABLE_ALL & ~(dev->tx_csum ? NETIF_CHECKSUM_GEN_TCP : 0));
}

static void input_frame(struct linux_netdev *dev, const uint8_t *frame, size_t len,
                        int csum_vouched)
{
    /* lwIP's pbuf lengths are 16 bits: a merged 64 KiB IPv4 packet goes to ip4_input without
     * its Ethernet header (what ethernet_input does for a unicast IPv4 frame anyway). */
    size_t skip = 0;
    if (len < 14 || len > ETH_GSO_FRAME_MAX) {
        dev->stats.rx_dropped++;
        return;
    }
    if (len > ETH_FRAME_MAX) {
        if (frame[12] != 0x08 || frame[13] != 0x00 || memcmp(frame, eth_mac, 6) != 0) {
            dev->stats.rx_dropped++;
            return;
        }
        skip = 14;
    }
    /* The last pbufs are for urgent frames only, and one of those may be a merged frame. */
    unsigned extra = dev->rx_merged ? eth_rx_pbufs_for(ETH_GSO_FRAME_MAX - 14) : 0;
    if (eth_rx_shed(frame, len, len - skip, extra)) {
        dev->stats.rx_dropped++;
        dev->stats.rx_shed++;
        return;
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(len - skip), PBUF_POOL);
    if (p == NULL) {
        dev->stats.rx_dropped++; /* pool exhausted: the sender will retransmit */
        return;
    }
    pbuf_take(p, frame + skip, (u16_t)(len - skip));
    dev->stats.rx_frames++;
    dev->stats.rx_bytes += len;
    if (csum_vouched) {
        NETIF_SET_CHECKSUM_CTRL(&eth_netif, csum_ctrl(dev) &
                                ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP));
    }
    err_t err = skip ? ip4_input(p, &eth_netif) : eth_netif.input(p, &eth_netif);
    NETIF_SET_CHECKSUM_CTRL(&eth_netif, csum_ctrl(dev));
    if (err != ERR_OK) {
        pbuf_free(p);
        dev->stats.rx_dropped++;
    }
}

void eth_input(struct linux_netdev *dev, const uint8_t *frame, size_t len)
{
    if (len > ETH_FRAME_MAX) {
        dev->stats.rx_dropped++;
        return;
    }
    input_frame(dev, frame, len, 0);
}

void eth_input_offload(struct linux_netdev *dev, const uint8_t *frame, size_t len,
                       int csum_vouched)
{
    input_frame(dev, frame, len, csum_vouched);
}

static err_t eth_linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    static uint8_t frame[ETH_FRAME_MAX];
    if (p->tot_len > sizeof frame || !netif_is_link_up(&eth_netif)) {
        eth_dev.stats.tx_dropped++;
        return ERR_IF;
    }
    /* A frame in one pbuf (every TCP segment tcp_write made: headers and data together)
     * goes as it is, saving a copy of each byte sent; a chain is joined first. The device
     * may fill in the TCP checksum field, which lwIP clears before every (re)send. */
    uint8_t *data = p->payload;
    u16_t len = p->len;
    if (p->next != NULL) {
        data = frame;
        len = pbuf_copy_partial(p, frame, p->tot_len, 0);
    }
    if (eth_dev.ops->tx(&eth_dev, data, len) != 0) {
        eth_dev.stats.tx_dropped++;
        return ERR_IF;
    }
    eth_dev.stats.tx_frames++;
    eth_dev.stats.tx_bytes += len;
    return ERR_OK;
}

static err_t eth_netif_init(struct netif *netif)
{
    return eth_netif_describe(netif, eth_linkoutput, eth_mac);
}

static void eth_link_timer(void *arg)
{
    (void)arg;
    int up = eth_dev.ops->link_check(&eth_dev);
    if (up && !netif_is_link_up(&eth_netif)) {
        log_info("%s: link up on %s:%s", __func__, eth_dev.ops->kind, eth_dev.arg);
        netif_set_link_up(&eth_netif);
    } else if (!up && netif_is_link_up(&eth_netif)) {
        log_warnx("%s: link down on %s:%s", __func__, eth_dev.ops->kind, eth_dev.arg);
        netif_set_link_down(&eth_netif);
    }
    sys_timeout(LINK_CHECK_MS, eth_link_timer, NULL);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6) {
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = (uint8_t)v[i];
    }
    return (mac[0] & 1) ? -1 : 0; /* a multicast address cannot be a station's */
}

int linux_eth_configure(const char *net, const char *mac)
{
    static const struct { const char *prefix; const struct linux_netdev_ops *ops; } kinds[] = {
        { "tap:", &netdev_tap_ops },
        { "stream:", &netdev_stream_ops },
        { "packet:", &netdev_packet_ops },
    };
    const struct linux_netdev_ops *ops = NULL;
    const char *arg = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(net, kinds[i].prefix, n) == 0) {
            ops = kinds[i].ops;
            arg = net + n;
        }
    }
    if (ops == NULL) {
        linux_err("net: '%s': expected tap:IF, stream:PATH or packet:IF", net);
        return BOARD_EINVAL;
    }
    if (*arg == '\0' || strlen(arg) >= sizeof eth_dev.arg) {
        linux_err("net: '%s': missing or too long device name", net);
        return BOARD_EINVAL;
    }
    if (mac != NULL) {
        if (parse_mac(mac, eth_mac) != 0) {
            linux_err("net: '%s' is not a unicast MAC address (xx:xx:xx:xx:xx:xx)", mac);
            return BOARD_EINVAL;
        }
    } else {
        /* Locally administered, unicast: 02:xx:xx:xx:xx:xx. */
        if (board_entropy(eth_mac, sizeof eth_mac) != BOARD_OK) {
            return BOARD_ENOENTROPY;
        }
        eth_mac[0] = (uint8_t)((eth_mac[0] & 0xfc) | 0x02);
    }
    eth_dev.ops = ops;
    strcpy(eth_dev.arg, arg);
    eth_active = 1;
    return BOARD_OK;
}

/* see board.h */
struct netif *board_netif_add(void)
{
    if (!eth_active) {
        return NULL;
    }
    if (eth_dev.ops->open(&eth_dev, eth_dev.arg) != BOARD_OK) {
        eth_active = 0;
        return NULL;
    }
    if (netif_add(&eth_netif, NULL, NULL, NULL, NULL, eth_netif_init, netif_input) == NULL) {
        linux_err("%s: lwIP refused the netif", __func__);
        return NULL;
    }
    NETIF_SET_CHECKSUM_CTRL(&eth_netif, csum_ctrl(&eth_dev));
    netif_set_default(&eth_netif);
    eth_link_timer(NULL);
    return &eth_netif;
}

/* see board.h */
void board_netif_stats(struct board_netif_stats *st)
{
    *st = eth_dev.stats;
}

int eth_poll_fd(short *events)
{
    if (!eth_active || eth_dev.fd < 0) {
        return -1;
    }
    *events = (short)(POLLIN | (eth_dev.ops->poll_extra ? eth_dev.ops->poll_extra(&eth_dev) : 0));
    return eth_dev.fd;
}

void eth_poll_dispatch(short revents)
{
    if ((revents & POLLOUT) && eth_dev.ops->tx_ready) {
        eth_dev.ops->tx_ready(&eth_dev);
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        eth_dev.ops->rx_ready(&eth_dev);
    }
}

void eth_tx_flush(void)
{
    if (eth_active && eth_dev.fd >= 0 && eth_dev.ops->tx_flush) {
        eth_dev.ops->tx_flush(&eth_dev);
    }
}

void eth_close(void)
{
    eth_tx_flush();
    if (eth_active && eth_dev.fd >= 0) {
        eth_dev.ops->close(&eth_dev);
    }
    eth_active = 0;
}
