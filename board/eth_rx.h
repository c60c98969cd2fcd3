/* The receive reserve every board's Ethernet netif keeps (board_set_rx_urgent, board.h):
 * whether a received frame may take pool pbufs, or must be shed because only the reserve is
 * left and the firmware does not call it urgent. One implementation, so the Linux netifs
 * and the bare-metal virtio one shed exactly alike. */
#ifndef GW_ETH_RX_H
#define GW_ETH_RX_H

#include <stddef.h>
#include <stdint.h>

/* Pool pbufs a copy of len bytes takes. */
unsigned eth_rx_pbufs_for(size_t len);
/* 1 when the frame (len bytes on the wire, copy_len of them going into pool pbufs) must be
 * shed: fewer than BOARD_RX_RESERVE + extra_reserve + its own pbufs would stay free and
 * the firmware's urgency test says no. 0: take it. */
int eth_rx_shed(const uint8_t *frame, size_t len, size_t copy_len, unsigned extra_reserve);

#endif
