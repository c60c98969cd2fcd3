/* Linux board: Ethernet over a UNIX stream socket in QEMU's stream netdev framing, as
 * served by passt (unprivileged user-mode networking) and by QEMU itself. The socket is
 * non-blocking: partial reads go through the frame decoder, partial writes wait in a
 * bounded queue; a closed peer takes the link down and we reconnect once a second. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <poll.h>

#include "board_linux.h"
#include "stream_framing.h"

/* Output waiting for the socket: 32 KiB (about 21 full frames). A frame that does not fit
 * is dropped like on a NIC with a full TX ring; TCP above retransmits it. */
#define STREAM_TXQ_BYTES (32 * 1024)
#define STREAM_RX_CHUNK 16384   /* bytes read per read() call */
#define STREAM_RX_BUDGET 8      /* read() calls per wake-up */

static struct {
    struct sframe_rx rx;
    uint8_t txq[STREAM_TXQ_BYTES];
    size_t tx_head, tx_len;
    int announced_down;
} st;

static void stream_deliver(void *arg, const uint8_t *frame, size_t len)
{
    eth_input(arg, frame, len);
}

static int stream_connect(struct linux_netdev *dev, int quiet)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, dev->arg, strlen(dev->arg) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        linux_err("stream: socket: %s", strerror(errno));
        return BOARD_EIO;
    }
    /* A local connect() completes or fails at once; only then go non-blocking. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (!quiet) {
            linux_err("stream: cannot connect to %s: %s", dev->arg, strerror(errno));
        }
        close(fd);
        return BOARD_EIO;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return BOARD_EIO;
    }
    sframe_rx_init(&st.rx);
    st.tx_head = st.tx_len = 0;
    dev->fd = fd;
    return BOARD_OK;
}

static int stream_open(struct linux_netdev *dev, const char *path)
{
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        linux_err("stream: socket path too long: %s", path);
        return BOARD_EINVAL;
    }
    /* The peer (passt, QEMU) may start after us: begin with the link down and let the
     * link check connect once a second. */
    if (stream_connect(dev, 0) != BOARD_OK) {
        dev->fd = -1;
        st.announced_down = 1;
        log_warnx("stream: will retry %s every second", path);
    }
    return BOARD_OK;
}

static void stream_drop(struct linux_netdev *dev, const char *why)
{
    log_warnx("stream: %s: %s", dev->arg, why);
    close(dev->fd);
    dev->fd = -1;
    dev->stats.rx_dropped += st.rx.dropped;
}

static void stream_rx_ready(struct linux_netdev *dev)
{
    static uint8_t buf[STREAM_RX_CHUNK];
    for (int i = 0; i < STREAM_RX_BUDGET && dev->fd >= 0; i++) {
        ssize_t n = read(dev->fd, buf, sizeof buf);
        if (n > 0) {
            sframe_rx_feed(&st.rx, buf, (size_t)n, stream_deliver, dev);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        stream_drop(dev, n == 0 ? "peer closed the socket" : strerror(errno));
    }
}

static void stream_flush(struct linux_netdev *dev)
{
    while (st.tx_len > 0 && dev->fd >= 0) {
        ssize_t n = write(dev->fd, st.txq + st.tx_head, st.tx_len);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                stream_drop(dev, strerror(errno));
            }
            return;
        }
        st.tx_head += (size_t)n;
        st.tx_len -= (size_t)n;
    }
    if (st.tx_len == 0) {
        st.tx_head = 0;
    }
}

static int stream_tx(struct linux_netdev *dev, uint8_t *frame, size_t len)
{
    if (dev->fd < 0 || SFRAME_HDR + len > STREAM_TXQ_BYTES - st.tx_len) {
        return -1;
    }
    /* Keep the queue linear so each frame normally leaves in one write() with its header,
     * as QEMU sends them: passt 2023-03 stalls on frames split across reads. */
    if (st.tx_head + st.tx_len + SFRAME_HDR + len > STREAM_TXQ_BYTES) {
        memmove(st.txq, st.txq + st.tx_head, st.tx_len);
        st.tx_head = 0;
    }
    size_t n = sframe_encode(st.txq + st.tx_head + st.tx_len,
                             STREAM_TXQ_BYTES - st.tx_head - st.tx_len, frame, len);
    if (n == 0) {
        return -1;
    }
    st.tx_len += n;
    stream_flush(dev);
    return 0;
}

static short stream_poll_extra(struct linux_netdev *dev)
{
    (void)dev;
    return st.tx_len > 0 ? POLLOUT : 0;
}

static int stream_link_check(struct linux_netdev *dev)
{
    if (dev->fd < 0) {
        if (stream_connect(dev, st.announced_down) != BOARD_OK) {
            st.announced_down = 1;
            return 0;
        }
        log_info("stream: reconnected to %s", dev->arg);
    }
    st.announced_down = 0;
    return 1;
}

const struct linux_netdev_ops netdev_stream_ops = {
    .kind = "stream",
    .open = stream_open,
    .rx_ready = stream_rx_ready,
    .tx = stream_tx,
    .poll_extra = stream_poll_extra,
    .tx_ready = stream_flush,
    .link_check = stream_link_check,
    .close = linux_netdev_close_fd,
};
