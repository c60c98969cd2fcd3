/* Linux board: an AF_PACKET raw socket on a NIC the kernel does not address, for a Linux
 * box whose Ethernet port belongs to the gateway. The NIC goes promiscuous (our MAC is not
 * the kernel's).
 *
 * With a virtio-net header on every frame (PACKET_VNET_HDR) the socket takes the offloads
 * a TAP has (vnet_offload.h): the NIC's GRO and a veth peer's TSO hand over one flow's
 * segments merged into frames of up to 64 KiB, and what we send merged or with its TCP
 * checksum left open the kernel cuts and completes (in the NIC when it can). Frames move
 * in batches, a system call for several: recvmmsg() takes up to PACKET_RX_BATCH at a time,
 * and what a turn sends goes out with one sendmmsg() when the loop is about to sleep (or
 * when the batch is full). Profiled under `make bench` on a TAP, which takes a read() and a
 * write() per frame, those two system calls per frame were half the gateway's time in the
 * 100-stream download.
 *
 * GRO is switched on for that (a veth then also runs NAPI, which keeps each flow's frames in
 * order). A kernel without PACKET_VNET_HDR gets plain frames: GRO is switched off then
 * (merged frames would exceed the MTU) and every frame is sent with its own send(). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "board_linux.h"
#include "ifutil.h"
#include "vnet_offload.h"

#define PACKET_RX_BUDGET 64               /* frames per wake-up: console and timers served */
#define PACKET_RX_BATCH 4                 /* frames per recvmmsg(), each slot a 64 KiB frame */
#define PACKET_RX_SLOT (VNET_HDR_LEN + ETH_GSO_FRAME_MAX + 1)
#define PACKET_TX_BATCH 32                /* frames per sendmmsg() */
#define PACKET_TX_COPY (16 * 1024)        /* copies of the batch's small frames */
#define PACKET_RCVBUF (4 * 1024 * 1024) /* kernel memory: what our windows may put in flight */
#define GW_ETH_P_ALL 0x0003
/* From <linux/if_packet.h>, which musl's include path does not carry. */
#define GW_PACKET_STATISTICS 6
struct gw_tpacket_stats { unsigned int tp_packets, tp_drops; };

/* Memory: 4 receive slots (262 KiB, pages touched only as frames fill them), the merge
 * buffer (64 KiB, vnet_offload) and the send batch (about 20 KiB). */
struct packet_state {
    int vnet;                             /* frames carry a virtio-net header */
    struct vnet_offload vo;
    unsigned tx_n;                        /* frames in the send batch */
    size_t tx_used;                       /* bytes of tx_copy in use */
    struct mmsghdr tx_msg[PACKET_TX_BATCH];
    struct iovec tx_iov[PACKET_TX_BATCH][2];
    uint8_t tx_vnet[PACKET_TX_BATCH][VNET_HDR_LEN];
    unsigned tx_segs[PACKET_TX_BATCH];   /* lwIP's frames in each: counted if dropped */
    uint8_t tx_copy[PACKET_TX_COPY];
};
static struct packet_state packet_state;
static uint8_t packet_rx_slot[PACKET_RX_BATCH][PACKET_RX_SLOT];

/* The system call itself: musl's sendmmsg() on 64-bit machines is a loop of sendmsg() (its
 * struct msghdr pads msg_iovlen and msg_controllen to the kernel's widths, and a caller's
 * padding might not be zero). Ours is zeroed (packet_write), so the kernel reads it as its
 * own. */
static int packet_sendmmsg(int fd, struct mmsghdr *msg, unsigned n)
{
    return (int)syscall(SYS_sendmmsg, fd, msg, n, 0);
}

/* Sends the batch; what the socket refuses is dropped and counted (TCP retransmits). */
static void packet_sync(struct linux_netdev *dev)
{
    struct packet_state *ps = dev->priv;
    unsigned done = 0;
    while (done < ps->tx_n) {
        int r = packet_sendmmsg(dev->fd, ps->tx_msg + done, ps->tx_n - done);
        if (r > 0) {
            done += (unsigned)r;
            continue;
        }
        if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
            break;                        /* the queue is full: the rest with it */
        }
        dev->stats.tx_dropped += ps->tx_segs[done++];  /* this frame alone was refused */
    }
    for (; done < ps->tx_n; done++) {
        dev->stats.tx_dropped += ps->tx_segs[done];
    }
    ps->tx_n = 0;
    ps->tx_used = 0;
}

/* One frame after its header into the batch: the merged frame by reference (vnet_offload
 * syncs before writing it again), any other copied. */
static int packet_write(struct linux_netdev *dev, const uint8_t *vnet, const uint8_t *frame,
                        size_t len, unsigned segs, int borrowed)
{
    struct packet_state *ps = dev->priv;
    if (!borrowed && len > PACKET_TX_COPY) {
        return -1;                        /* never: lwIP's frames are at most ETH_FRAME_MAX */
    }
    if (ps->tx_n == PACKET_TX_BATCH || (!borrowed && ps->tx_used + len > PACKET_TX_COPY)) {
        packet_sync(dev);
    }
    unsigned i = ps->tx_n++;
    if (!borrowed) {
        memcpy(ps->tx_copy + ps->tx_used, frame, len);
        frame = ps->tx_copy + ps->tx_used;
        ps->tx_used += len;
    }
    memcpy(ps->tx_vnet[i], vnet, VNET_HDR_LEN);
    ps->tx_iov[i][0] = (struct iovec){ ps->tx_vnet[i], VNET_HDR_LEN };
    ps->tx_iov[i][1] = (struct iovec){ (void *)frame, len };
    memset(&ps->tx_msg[i], 0, sizeof ps->tx_msg[i]);
    ps->tx_msg[i].msg_hdr.msg_iov = ps->tx_iov[i];
    ps->tx_msg[i].msg_hdr.msg_iovlen = 2;
    ps->tx_segs[i] = segs;
    return 0;
}

static const struct vnet_out packet_out = { .write = packet_write, .sync = packet_sync };

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
    struct packet_state *ps = &packet_state;
    int one = 1;
    /* Before bind: no frame may be queued without its header. */
    ps->vnet = setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
    int vnet_errno = errno;
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(GW_ETH_P_ALL);
    sll.sll_ifindex = (int)idx;
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)idx;
    mr.mr_type = PACKET_MR_PROMISC;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        linux_err("packet: cannot bind to %s: %s", ifname, strerror(errno));
        close(fd);
        return BOARD_EIO;
    }
    /* Our own transmissions must not come back as input (older kernels: filtered below). */
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    /* The socket's queue is all the kernel holds for us (a TAP queues 1000 frames of up to
     * 64 KiB): the default, about 200 KiB, is three merged frames, and a burst into all our
     * receive windows at once (the tunnel's 256 KiB and the splices' share of the pool, about
     * 2 MiB together) overflowed it. Beyond net.core.rmem_max needs CAP_NET_ADMIN. */
    int rcvbuf = PACKET_RCVBUF, got = 0;
    socklen_t gl = sizeof got;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);  /* capped */
    }
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got / 2 < rcvbuf) {
        log_warnx("packet: %s: receive queue %d KiB, not %d (no CAP_NET_ADMIN beyond "
                  "net.core.rmem_max)", ifname, got / 2 / 1024, rcvbuf / 1024);
    }
    if (!ps->vnet) {
        log_warnx("packet: %s: no virtio-net header (%s): one frame per segment", ifname,
                  strerror(vnet_errno));
        if (linux_if_set_gro(ifname, 0) != 0) {
            log_warnx("packet: cannot turn off GRO on %s (%s); large merged frames will be "
                      "dropped", ifname, strerror(errno));
        }
    } else if (linux_if_set_gro(ifname, 1) != 0) {
        log_info("packet: %s keeps GRO off (%s): one frame per segment received", ifname,
                 strerror(errno));
    }
    vnet_offload_init(&ps->vo, dev, &packet_out, ps->vnet);
    ps->tx_n = 0;
    ps->tx_used = 0;
    dev->fd = fd;
    dev->priv = ps;
    return BOARD_OK;
}

static void packet_rx_ready(struct linux_netdev *dev)
{
    const struct packet_state *ps = dev->priv;
    size_t slot = ps->vnet ? PACKET_RX_SLOT : ETH_FRAME_MAX + 1;
    struct mmsghdr msg[PACKET_RX_BATCH];
    struct iovec iov[PACKET_RX_BATCH];
    struct sockaddr_ll from[PACKET_RX_BATCH];
    for (int taken = 0; taken < PACKET_RX_BUDGET;) {
        memset(msg, 0, sizeof msg);
        for (unsigned i = 0; i < PACKET_RX_BATCH; i++) {
            iov[i] = (struct iovec){ packet_rx_slot[i], slot };
            msg[i].msg_hdr.msg_iov = &iov[i];
            msg[i].msg_hdr.msg_iovlen = 1;
            msg[i].msg_hdr.msg_name = &from[i];
            msg[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        int n = recvmmsg(dev->fd, msg, PACKET_RX_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (n < 0 && errno == EINVAL && ps->vnet) {
            /* a merged frame the virtio-net header cannot describe (UDP GSO, say): the
             * kernel dropped it; the frames behind it are still there */
            dev->stats.rx_dropped++;
            taken++;
            continue;
        }
        if (n <= 0) {
            return;                        /* EAGAIN: drained */
        }
        for (int i = 0; i < n; i++) {
            size_t len = msg[i].msg_len;   /* MSG_TRUNC: the real length */
            if (from[i].sll_pkttype == PACKET_OUTGOING) {
                continue;
            }
            if (len > slot - 1) {
                dev->stats.rx_dropped++;   /* larger than any frame we take */
                continue;
            }
            if (ps->vnet) {
                vnet_rx(dev, packet_rx_slot[i], len);
            } else {
                eth_input(dev, packet_rx_slot[i], len);
            }
        }
        if (n < PACKET_RX_BATCH) {
            return;                        /* the socket ran dry within this call */
        }
        taken += n;
    }
}

static int packet_tx(struct linux_netdev *dev, uint8_t *frame, size_t len)
{
    struct packet_state *ps = dev->priv;
    if (!ps->vnet) {
        return send(dev->fd, frame, len, 0) == (ssize_t)len ? 0 : -1;
    }
    return vnet_tx(&ps->vo, frame, len);
}

static void packet_tx_flush(struct linux_netdev *dev)
{
    struct packet_state *ps = dev->priv;
    if (ps->vnet) {
        vnet_tx_flush(&ps->vo);
    }
}

static int packet_link_check(struct linux_netdev *dev)
{
    /* Frames the kernel dropped with the socket's queue full (the count restarts on read). */
    struct gw_tpacket_stats st;
    socklen_t sl = sizeof st;
    if (getsockopt(dev->fd, SOL_PACKET, GW_PACKET_STATISTICS, &st, &sl) == 0) {
        dev->stats.rx_dropped += st.tp_drops;
    }
    int flags = linux_if_flags(dev->arg);
    return flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
}

const struct linux_netdev_ops netdev_packet_ops = {
    .kind = "packet",
    .open = packet_open,
    .rx_ready = packet_rx_ready,
    .tx = packet_tx,
    .tx_flush = packet_tx_flush,
    .link_check = packet_link_check,
    .close = linux_netdev_close_fd,
};
