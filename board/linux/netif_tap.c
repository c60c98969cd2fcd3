/* Linux board: a TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). One read() is one frame.
 *
 * With a virtio-net header (IFF_VNET_HDR) and the offloads TUN_F_CSUM | TUN_F_TSO4, the host
 * hands over one flow's TCP/IPv4 segments merged into a frame of up to 64 KiB, as it would to
 * a virtual machine's NIC, and skips computing checksums that never cross a wire. Profiled
 * under `make bench`: a read() per 1.5 KiB frame and an ACK per two was the gateway's largest
 * cost (the syscalls, not the work); merged, a 64 KiB read costs one syscall and one ACK.
 * Sending, tx_merge.h joins one flow's segments the same way, and every TCP frame leaves
 * with its checksum for the host to complete (NEEDS_CSUM): lwIP computes none for this
 * netif (netif_eth.c), which was 7-8 % of the gateway's profile under `make bench` and
 * wasted on merged frames, whose checksum is written anew anyway. Other frames carry an
 * all-zero header (complete frame, checksums computed by lwIP). A kernel without these
 * falls back to plain frames and lwIP's checksums. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ack_hold.h"
#include "board_linux.h"
#include "ifutil.h"
#include "tx_merge.h"

/* From <linux/if_tun.h> and <linux/virtio_net.h>, which musl's include path does not carry. */
#define GW_TUNSETIFF _IOW('T', 202, int)
#define GW_TUNSETOFFLOAD _IOW('T', 208, unsigned int)
#define GW_IFF_TAP 0x0002
#define GW_IFF_NO_PI 0x1000
#define GW_IFF_VNET_HDR 0x4000
#define GW_TUN_F_CSUM 0x01
#define GW_TUN_F_TSO4 0x02
#define VNET_F_NEEDS_CSUM 1          /* checksum partial: the host never computed it */
#define VNET_F_DATA_VALID 2          /* checksum checked by the host */
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_ECN 0x80
#define VNET_HDR_LEN 10              /* struct virtio_net_hdr: flags, gso_type, 4 x u16 */

#define TAP_RX_BUDGET 64  /* frames per wake-up, so the console and timers stay served */

struct tap_state {
    int vnet;                        /* frames carry a virtio-net header */
    int tso;                         /* ... and the host takes merged frames (tx_merge.h) */
    struct tx_merge merge;
    struct ack_hold acks;            /* one pure ACK per connection until the turn ends */
};
static struct tap_state tap_state;

static int tap_attach(int fd, const char *ifname, short flags)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = flags;
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    return ioctl(fd, GW_TUNSETIFF, &ifr);
}

static int tap_open(struct linux_netdev *dev, const char *ifname)
{
    if (!linux_ifname_valid(ifname)) {
        linux_err("tap: '%s' is not an interface name", ifname);
        return BOARD_EINVAL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        linux_err("tap: cannot open /dev/net/tun: %s", strerror(errno));
        return BOARD_EIO;
    }
    struct tap_state *ts = &tap_state;
    ts->vnet = tap_attach(fd, ifname, GW_IFF_TAP | GW_IFF_NO_PI | GW_IFF_VNET_HDR) == 0;
    if (!ts->vnet && tap_attach(fd, ifname, GW_IFF_TAP | GW_IFF_NO_PI) != 0) {
        linux_err("tap: cannot attach to %s: %s", ifname, strerror(errno));
        close(fd);
        return BOARD_EIO;
    }
    ts->tso = ts->vnet &&
              ioctl(fd, GW_TUNSETOFFLOAD, (unsigned long)(GW_TUN_F_CSUM | GW_TUN_F_TSO4)) == 0;
    if (ts->vnet && !ts->tso) {
        log_warnx("tap: %s: no offloads (%s): one frame per segment", ifname, strerror(errno));
    }
    ts->merge.len = 0;
    ts->acks.n = 0;
    dev->rx_merged = ts->tso;
    dev->tx_csum = ts->tso;
    dev->fd = fd;
    dev->priv = ts;
    return BOARD_OK;
}

static void tap_rx_ready(struct linux_netdev *dev)
{
    static uint8_t buf[VNET_HDR_LEN + ETH_GSO_FRAME_MAX + 1];
    const struct tap_state *ts = dev->priv;
    for (int i = 0; i < TAP_RX_BUDGET; i++) {
        ssize_t n = read(dev->fd, buf, ts->vnet ? sizeof buf : ETH_FRAME_MAX + 1);
        if (n <= 0) {
            return; /* EAGAIN: drained */
        }
        if (!ts->vnet) {
            eth_input(dev, buf, (size_t)n); /* n > ETH_FRAME_MAX: truncated, dropped there */
            continue;
        }
        unsigned gso = buf[1] & ~VNET_GSO_ECN;
        if (n < VNET_HDR_LEN || (gso != VNET_GSO_NONE && gso != VNET_GSO_TCPV4)) {
            dev->stats.rx_dropped++;           /* an offload we did not ask for */
            continue;
        }
        eth_input_offload(dev, buf + VNET_HDR_LEN, (size_t)n - VNET_HDR_LEN,
                          (buf[0] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) != 0);
    }
}

/* One frame after its virtio-net header. */
static int tap_write(struct linux_netdev *dev, const uint8_t *vnet, const uint8_t *frame,
                     size_t len)
{
    struct iovec iov[2] = { { (void *)vnet, TX_MERGE_VNET_LEN }, { (void *)frame, len } };
    return writev(dev->fd, iov, 2) == (ssize_t)(TX_MERGE_VNET_LEN + len) ? 0 : -1;
}

static void tap_merge_flush(struct linux_netdev *dev)
{
    struct tap_state *ts = dev->priv;
    uint8_t vnet[TX_MERGE_VNET_LEN];
    unsigned segs = ts->merge.segs;
    size_t len = tx_merge_take(&ts->merge, vnet);
    if (len > 0 && tap_write(dev, vnet, ts->merge.frame, len) != 0) {
        dev->stats.tx_dropped += segs;  /* counted as sent when queued: TCP retransmits */
    }
}

/* A frame sent now, its TCP checksum left to the host (dev->tx_csum) as for merged ones. */
static int tap_write_alone(struct linux_netdev *dev, uint8_t *frame, size_t len)
{
    uint8_t vnet[TX_MERGE_VNET_LEN];
    tx_merge_csum_partial(frame, len, vnet);
    return tap_write(dev, vnet, frame, len);
}

/* A held ACK leaves: after its connection's merged data, if that is pending. */
static void tap_send_held(void *arg, uint8_t *frame, size_t len)
{
    struct linux_netdev *dev = arg;
    struct tap_state *ts = dev->priv;
    if (tx_merge_holds_flow(&ts->merge, frame, len)) {
        tap_merge_flush(dev);
    }
    if (tap_write_alone(dev, frame, len) != 0) {
        dev->stats.tx_dropped++;
    }
}

/* The end of the turn: the merged frame, then the held ACKs. */
static void tap_tx_flush(struct linux_netdev *dev)
{
    struct tap_state *ts = dev->priv;
    tap_merge_flush(dev);
    ack_hold_flush(&ts->acks, tap_send_held, dev);
}

static int tap_tx(struct linux_netdev *dev, uint8_t *frame, size_t len)
{
    struct tap_state *ts = dev->priv;
    static const uint8_t none[TX_MERGE_VNET_LEN];    /* a whole frame, checksums done */
    if (!ts->vnet) {
        return write(dev->fd, frame, len) == (ssize_t)len ? 0 : -1;
    }
    if (!ts->tso) {
        return tap_write(dev, none, frame, len);
    }
    if (ack_hold_add(&ts->acks, frame, len, tap_send_held, dev)) {
        return 0;
    }
    enum tx_merge_verdict v = tx_merge_add(&ts->merge, frame, len);
    if (v == TX_MERGE_FLUSH) {
        tap_merge_flush(dev);
        v = tx_merge_add(&ts->merge, frame, len);
    }
    if (v == TX_MERGE_TAKEN) {
        return 0;
    }
    return tap_write_alone(dev, frame, len);
}

static int tap_link_check(struct linux_netdev *dev)
{
    int flags = linux_if_flags(dev->arg);
    return flags >= 0 && (flags & IFF_UP);
}

const struct linux_netdev_ops netdev_tap_ops = {
    .kind = "tap",
    .open = tap_open,
    .rx_ready = tap_rx_ready,
    .tx = tap_tx,
    .tx_flush = tap_tx_flush,
    .link_check = tap_link_check,
    .close = linux_netdev_close_fd,
};
