/* The virt board's Ethernet port (virtio_net.c), for board_virt.c. */
#ifndef GW_VIRT_NET_H
#define GW_VIRT_NET_H

/* Find and start the virtio network device. mac: "xx:xx:xx:xx:xx:xx" or NULL for the
 * device's own. Returns 0 (also when there is no device: the box runs without a network),
 * or a board_err. */
int virt_net_init(const char *mac);
/* 1 when received frames wait (read before sleeping, with interrupts masked). */
int virt_net_rx_pending(void);
/* Hand waiting frames to lwIP (at most 64) and post their buffers again. */
void virt_net_poll(void);
/* Reset the device: it stops using the board's buffers (before a reset or power-off). */
void virt_net_stop(void);

#endif
