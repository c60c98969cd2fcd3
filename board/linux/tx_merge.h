/* Sending one flow's TCP/IPv4 segments as one frame: the transmit half of the TAP offloads
 * (netif_tap.c), as a virtual machine's NIC driver does with TSO.
 *
 * lwIP's tcp_output() emits a window's worth of MSS-sized segments back to back, and each
 * write() to a TAP is one system call: profiled under `make bench`, those calls were the
 * gateway's largest cost. Consecutive data segments of one connection (same addresses,
 * ports, ACK, window and options; sequence numbers that follow on; every one but the last a
 * full gso_size) are joined here into one frame of up to 64 KiB, sent with a virtio-net
 * header that asks the host to cut it back into those same segments (or, delivered locally,
 * to take it whole). Its TCP checksum becomes the pseudo-header sum the header's NEEDS_CSUM
 * asks for; the host completes it (for every TCP frame: lwIP computes none for the TAP). Only the first segment's IP ID is kept (the host numbers
 * the rest), and PSH moves to the last segment, as with any TSO.
 *
 * Anything else (ARP, UDP, SYN, FIN, RST, pure ACKs) is sent on its own: another flow's at
 * once, the pending flow's only after its merged frame, so no connection sees reordering.
 * The merged frame leaves when it is full, when its flow sends something that cannot join,
 * and at the latest when the loop goes back to sleep (eth_tx_flush from board_wait).
 *
 * Memory: one struct tx_merge, 64 KiB + 24 bytes. */
#ifndef GW_TX_MERGE_H
#define GW_TX_MERGE_H

#include <stddef.h>
#include <stdint.h>

#define TX_MERGE_FRAME_MAX (14 + 65535)  /* Ethernet header + the largest IPv4 packet */
#define TX_MERGE_VNET_LEN 10             /* struct virtio_net_hdr */

struct tx_merge {
    size_t len;                  /* bytes in frame; 0: nothing pending */
    unsigned segs;               /* segments joined */
    uint16_t gso_size;           /* payload of each segment but the last */
    uint16_t l4_off;             /* where the TCP header starts */
    uint16_t hdr_len;            /* Ethernet + IP + TCP headers */
    int closed;                  /* a shorter segment came: nothing more may follow */
    uint8_t frame[TX_MERGE_FRAME_MAX];
};

enum tx_merge_verdict {
    TX_MERGE_TAKEN,              /* copied into the pending frame */
    TX_MERGE_ALONE,              /* send it now, as it is; the pending frame may wait */
    TX_MERGE_FLUSH,              /* send the pending frame first, then offer this again */
};

enum tx_merge_verdict tx_merge_add(struct tx_merge *m, const uint8_t *frame, size_t len);

/* The pending frame, ready to send after the virtio-net header written to vnet: its length
 * (0: nothing pending). The merge is empty afterwards; frame stays valid until the next add.
 * Its TCP checksum is left to the host (NEEDS_CSUM), one segment or many: the TAP's netif
 * has lwIP compute none (netif_tap.c). */
size_t tx_merge_take(struct tx_merge *m, uint8_t vnet[TX_MERGE_VNET_LEN]);
/* 1 when a merged frame is pending for frame's connection (same addresses and ports). */
int tx_merge_holds_flow(const struct tx_merge *m, const uint8_t *frame, size_t len);

/* A frame sent alone (TX_MERGE_ALONE): for TCP/IPv4, write the pseudo-header sum into its
 * checksum field and into vnet the header that has the host complete it; anything else gets
 * an all-zero header (lwIP's checksums). Returns 1 for a TCP frame. */
int tx_merge_csum_partial(uint8_t *frame, size_t len, uint8_t vnet[TX_MERGE_VNET_LEN]);

#endif
