/* Linux board: a TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). One read() is one frame. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "board_linux.h"
#include "ifutil.h"

/* From <linux/if_tun.h>, which musl's include path does not carry. */
#define GW_TUNSETIFF _IOW('T', 202, int)
#define GW_IFF_TAP 0x0002
#define GW_IFF_NO_PI 0x1000

#define TAP_RX_BUDGET 64  /* frames per wake-up, so the console and timers stay served */

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
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = GW_IFF_TAP | GW_IFF_NO_PI;
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(fd, GW_TUNSETIFF, &ifr) != 0) {
        linux_err("tap: cannot attach to %s: %s", ifname, strerror(errno));
        close(fd);
        return BOARD_EIO;
    }
    dev->fd = fd;
    return BOARD_OK;
}

static void tap_rx_ready(struct linux_netdev *dev)
{
    static uint8_t buf[ETH_FRAME_MAX + 1];
    for (int i = 0; i < TAP_RX_BUDGET; i++) {
        ssize_t n = read(dev->fd, buf, sizeof buf);
        if (n <= 0) {
            return; /* EAGAIN: drained */
        }
        eth_input(dev, buf, (size_t)n); /* n > ETH_FRAME_MAX: truncated, dropped there */
    }
}

static int tap_tx(struct linux_netdev *dev, const uint8_t *frame, size_t len)
{
    ssize_t n = write(dev->fd, frame, len);
    return n == (ssize_t)len ? 0 : -1;
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
    .link_check = tap_link_check,
    .close = linux_netdev_close_fd,
};
