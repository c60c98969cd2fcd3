/* Holding each connection's pure ACKs to the end of the loop's turn, so that one ACK per
 * connection leaves where lwIP would send several: the receive half of what tx_merge.h does
 * for data.
 *
 * In a turn the gateway reads a batch of frames, then its services read what arrived. lwIP
 * acknowledges a connection's data as it arrives (every second segment) and again when the
 * reader frees window (tcp_recved), each as its own frame: with 100 connections downloading,
 * about one write() per frame read (`make bench`). Every ACK a connection's later ACK
 * supersedes is a system call, and on the host a sender's wake-up, for nothing.
 *
 * A pure ACK (TCP/IPv4, no data, no options, no flag but ACK) is held, one per connection.
 * A later one replaces it when it acknowledges more or announces another window: the newer
 * says all the older said. An equal one is a duplicate ACK, which the peer counts to detect
 * a loss, so the held one leaves first and the new one is held. Any other frame of a
 * connection with an ACK held makes that ACK leave first: no connection sees its frames
 * reordered. The rest leave when the table is full and at the end of the turn
 * (eth_tx_flush from board_wait), after the merged data frame.
 *
 * Memory: one struct ack_hold, ACK_HOLD_SLOTS x 54 bytes (1.7 KiB). */
#ifndef GW_ACK_HOLD_H
#define GW_ACK_HOLD_H

#include <stddef.h>
#include <stdint.h>

#define ACK_HOLD_SLOTS 32
#define ACK_HOLD_FRAME 54                /* Ethernet + IPv4 + TCP, no options */

/* Sends one frame now (the device's write, after any merged frame of the same flow). */
typedef void (*ack_hold_out)(void *arg, uint8_t *frame, size_t len);

struct ack_hold {
    unsigned n;                          /* slots in use, in the order they were taken */
    uint8_t frame[ACK_HOLD_SLOTS][ACK_HOLD_FRAME];
};

/* A frame on its way out: 1 when it was held (the caller sends nothing), 0 when the caller
 * sends it now (its connection's held ACK, if any, went out first through out). */
int ack_hold_add(struct ack_hold *h, const uint8_t *f, size_t len, ack_hold_out out, void *arg);
/* Sends every held ACK, oldest first. */
void ack_hold_flush(struct ack_hold *h, ack_hold_out out, void *arg);

#endif
