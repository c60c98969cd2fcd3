/* Linux board: a TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). One read() is one frame.
 *
 * With a virtio-net header (IFF_VNET_HDR) and the offloads TUN_F_CSUM | TUN_F_TSO4, frames
 * move merged and with their checksums left open both ways (vnet_offload.h), as to a
 * virtual machine's NIC. Profiled under `make bench`: a read() per 1.5 KiB frame and an ACK
 * per two was the gateway's largest cost (the syscalls, not the work); merged, a 64 KiB read
 * costs one syscall and one ACK, and lwIP's checksums (7-8 % of the profile) are gone. A
 * kernel without these falls back to plain frames and lwIP's checksums. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "board_linux.h"
#include "ifutil.h"
#include "vnet_offload.h"

/* From <linux/if_tun.h>, which musl's include path does not carry. */
#define GW_TUNSETIFF _IOW('T', 202, int)
#define GW_TUNSETOFFLOAD _IOW('T', 208, unsigned int)
#define GW_IFF_TAP 0x0002
#define GW_IFF_NO_PI 0x1000
#define GW_IFF_VNET_HDR 0x4000
#define GW_TUN_F_CSUM 0x01
#define GW_TUN_F_TSO4 0x02

#define TAP_RX_BUDGET 64  /* frames per wake-up, so the console and timers stay served */

struct tap_state {
    int vnet;                        /* frames carry a virtio-net header */
    struct vnet_offload vo;
};
static struct tap_state tap_state;

/* One frame after its virtio-net header: a TAP takes each with one writev(). */
static int tap_write(struct linux_netdev *dev, const uint8_t *vnet, const uint8_t *frame,
                     size_t len, unsigned segs, int borrowed)
{
    (void)segs;
    (void)borrowed;
    struct iovec iov[2] = { { (void *)vnet, VNET_HDR_LEN }, { (void *)frame, len } };
    return writev(dev->fd, iov, 2) == (ssize_t)(VNET_HDR_LEN + len) ? 0 : -1;
}

static const struct vnet_out tap_out = { .write = tap_write };

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
    int tso = ts->vnet &&
              ioctl(fd, GW_TUNSETOFFLOAD, (unsigned long)(GW_TUN_F_CSUM | GW_TUN_F_TSO4)) == 0;
    if (ts->vnet && !tso) {
        log_warnx("tap: %s: no offloads (%s): one frame per segment", ifname, strerror(errno));
    }
    vnet_offload_init(&ts->vo, dev, &tap_out, tso);
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
        vnet_rx(dev, buf, (size_t)n);
    }
}

static int tap_tx(struct linux_netdev *dev, uint8_t *frame, size_t len)
{
    struct tap_state *ts = dev->priv;
    if (!ts->vnet) {
        return write(dev->fd, frame, len) == (ssize_t)len ? 0 : -1;
    }
    return vnet_tx(&ts->vo, frame, len);
}

static void tap_tx_flush(struct linux_netdev *dev)
{
    struct tap_state *ts = dev->priv;
    if (ts->vnet) {
        vnet_tx_flush(&ts->vo);
    }
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
