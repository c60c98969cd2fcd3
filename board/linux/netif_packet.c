/* Linux board: an AF_PACKET raw socket on a NIC the kernel does not address, for a Linux
 * box whose Ethernet port belongs to the gateway. The NIC goes promiscuous (our MAC is not
 * the kernel's) and GRO is switched off (merged frames would exceed the MTU). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "board_linux.h"
#include "ifutil.h"

#define PACKET_RX_BUDGET 64
#define GW_ETH_P_ALL 0x0003

static int packet_open(struct linux_netdev *dev, const char *ifname)
{
    if (!linux_ifname_valid(ifname)) {
        linux_err("packet: '%s' is not an interface name", ifname);
        return BOARD_EINVAL;
    }
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) {
        linux_err("packet: no interface %s", ifname);
        return BOARD_EIO;
    }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(GW_ETH_P_ALL));
    if (fd < 0) {
        linux_err("packet: socket: %s", strerror(errno));
        return BOARD_EIO;
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(GW_ETH_P_ALL);
    sll.sll_ifindex = (int)idx;
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)idx;
    mr.mr_type = PACKET_MR_PROMISC;
    int one = 1;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        linux_err("packet: cannot bind to %s: %s", ifname, strerror(errno));
        close(fd);
        return BOARD_EIO;
    }
    /* Our own transmissions must not come back as input (older kernels: filtered below). */
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    if (linux_if_disable_gro(ifname) != 0) {
        log_warnx("packet: cannot turn off GRO on %s (%s); large merged frames will be dropped",
                  ifname, strerror(errno));
    }
    dev->fd = fd;
    return BOARD_OK;
}

static void packet_rx_ready(struct linux_netdev *dev)
{
    static uint8_t buf[ETH_FRAME_MAX + 1];
    for (int i = 0; i < PACKET_RX_BUDGET; i++) {
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(dev->fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            return;
        }
        if (from.sll_pkttype == PACKET_OUTGOING) {
            continue;
        }
        eth_input(dev, buf, (size_t)n); /* MSG_TRUNC: n is the real length, oversize dropped */
    }
}

static int packet_tx(struct linux_netdev *dev, uint8_t *frame, size_t len)
{
    ssize_t n = send(dev->fd, frame, len, 0);
    return n == (ssize_t)len ? 0 : -1;
}

static int packet_link_check(struct linux_netdev *dev)
{
    int flags = linux_if_flags(dev->arg);
    return flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
}

const struct linux_netdev_ops netdev_packet_ops = {
    .kind = "packet",
    .open = packet_open,
    .rx_ready = packet_rx_ready,
    .tx = packet_tx,
    .link_check = packet_link_check,
    .close = linux_netdev_close_fd,
};
