/* Internals shared by the files of the Linux board; the firmware sees only board.h. */
#ifndef GW_BOARD_LINUX_H
#define GW_BOARD_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "log.h"

#define linux_err(...) log_err(__VA_ARGS__)

int linux_flash_open(const char *path);
void linux_flash_close(void);
/* The command line, kept for board_reboot(). */
void linux_set_argv(char **argv);

/* The wall clock's start (board_options.clock); BOARD_EINVAL for bad text (logged). */
int linux_clock_init(const char *spec);

int linux_console_open(const char *spec);
void linux_console_close(void);
int linux_console_fd(void); /* -1 once closed */

/* A Linux Ethernet device under the common lwIP netif (netif_eth.c). Each backend
 * (TAP, AF_PACKET, QEMU stream) fills in the operations. */
#define ETH_FRAME_MAX 1518        /* 1500 MTU + 14 header + 4 VLAN tag; larger is dropped */
/* ... except a merged TCP/IPv4 frame a TAP with offloads hands over (one IPv4 packet of up
 * to 64 KiB: the kernel's segments of one flow, before it would have split them). */
#define ETH_GSO_FRAME_MAX (14 + 65535)

struct linux_netdev;
struct linux_netdev_ops {
    const char *kind;
    /* Open the device named by arg; sets dev->fd. Returns BOARD_OK or an error (logged). */
    int (*open)(struct linux_netdev *dev, const char *arg);
    /* The fd is readable: read frames (a bounded number) and pass each to eth_input(). */
    void (*rx_ready)(struct linux_netdev *dev);
    /* Send one whole frame. Returns 0 when sent or queued, -1 when dropped. The frame is
     * the caller's scratch copy: a backend may complete headers in place (checksums). */
    int (*tx)(struct linux_netdev *dev, uint8_t *frame, size_t len);
    /* Send what tx held back to join later frames (before the loop sleeps). Optional. */
    void (*tx_flush)(struct linux_netdev *dev);
    /* Poll events wanted besides POLLIN (POLLOUT while output is backed up). */
    short (*poll_extra)(struct linux_netdev *dev);
    /* The fd is writable: continue queued output. Optional. */
    void (*tx_ready)(struct linux_netdev *dev);
    /* Once a second: 1 when the link carries frames, 0 when not. May reopen the device. */
    int (*link_check)(struct linux_netdev *dev);
    void (*close)(struct linux_netdev *dev);
};

struct linux_netdev {
    const struct linux_netdev_ops *ops;
    int fd;
    char arg[108];                /* interface name or socket path */
    void *priv;                   /* backend state */
    int rx_merged;                /* may hand over merged frames (TAP offloads): the rx
                                     reserve then holds one of them */
    int tx_csum;                  /* completes sent TCP checksums (TAP offloads): lwIP
                                     leaves them out */
    struct board_netif_stats stats;
};

extern const struct linux_netdev_ops netdev_tap_ops;
extern const struct linux_netdev_ops netdev_stream_ops;
extern const struct linux_netdev_ops netdev_packet_ops;

/* The close operation of backends whose whole state is their fd. */
void linux_netdev_close_fd(struct linux_netdev *dev);

/* Hand one received frame to lwIP (copied into a pool pbuf; dropped and counted if none). */
void eth_input(struct linux_netdev *dev, const uint8_t *frame, size_t len);
/* The same for a device with offloads (TAP with a virtio-net header): the frame may be a
 * merged IPv4 packet up to ETH_GSO_FRAME_MAX, and csum_vouched says the host's stack made it
 * in memory and vouches for its TCP/UDP checksum (partial or checked: lwIP skips the check). */
void eth_input_offload(struct linux_netdev *dev, const uint8_t *frame, size_t len,
                       int csum_vouched);

/* netif_eth.c: choose the backend from "kind:arg" (before lwIP starts), the poll set
 * contribution of the netdev, and its dispatch. */
int linux_eth_configure(const char *net, const char *mac);
int eth_poll_fd(short *events);
void eth_poll_dispatch(short revents);
void eth_tx_flush(void);
void eth_close(void);


#endif
