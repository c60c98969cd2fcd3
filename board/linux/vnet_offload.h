/* The virtio-net header offloads, shared by the two kernel devices that carry them: a TAP
 * with IFF_VNET_HDR (netif_tap.c) and an AF_PACKET socket with PACKET_VNET_HDR
 * (netif_packet.c). Every frame in either direction starts with a struct virtio_net_hdr.
 *
 * Receiving, the kernel hands over one flow's TCP/IPv4 segments merged into one frame of up
 * to 64 KiB (GSO_TCPV4: a TAP's host stack, a veth's peer, a NIC's GRO) and says when the
 * checksum needs no check (partial or already checked): lwIP skips its check for just those
 * frames (eth_input_offload). Sending, tx_merge.h joins one flow's segments the same way and
 * ack_hold.h keeps one pure ACK per connection per turn; every TCP frame leaves with its
 * checksum for the kernel to complete (NEEDS_CSUM), since lwIP computes none on such a
 * device (dev->tx_csum).
 *
 * The backend only writes: at once (a TAP, one write() a frame) or into a batch it sends
 * with one system call (AF_PACKET's sendmmsg). A batching backend may keep a pointer to the
 * merged frame instead of copying 64 KiB; vnet_offload then has it sync before the merge
 * buffer is written again. */
#ifndef GW_VNET_OFFLOAD_H
#define GW_VNET_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "ack_hold.h"
#include "board_linux.h"
#include "tx_merge.h"

#define VNET_HDR_LEN TX_MERGE_VNET_LEN   /* struct virtio_net_hdr: flags, gso_type, 4 x u16 */

struct vnet_out {
    /* One frame after its header. borrowed: frame stays valid until sync (the merged
     * frame); otherwise it is valid only during the call. Returns 0 when sent or queued. */
    int (*write)(struct linux_netdev *dev, const uint8_t *vnet, const uint8_t *frame,
                 size_t len, unsigned segs, int borrowed);
    /* Sends what write queued. Optional: a backend that writes at once has nothing. */
    void (*sync)(struct linux_netdev *dev);
};

struct vnet_offload {
    struct linux_netdev *dev;
    const struct vnet_out *out;
    int tso;                             /* the kernel takes merged frames */
    int lent;                            /* merge.frame was given to write, not yet synced */
    struct tx_merge merge;
    struct ack_hold acks;                /* one pure ACK per connection until the turn ends */
};

/* Ready to send through out; tso as the kernel agreed (0: every frame alone, all-zero
 * header, lwIP's checksums). */
void vnet_offload_init(struct vnet_offload *vo, struct linux_netdev *dev,
                       const struct vnet_out *out, int tso);

/* One frame received after its virtio-net header (n bytes in all); an offload we did not
 * ask for is dropped and counted. */
void vnet_rx(struct linux_netdev *dev, const uint8_t *buf, size_t n);

/* A frame from lwIP (the caller's scratch: checksum fields may be completed in place). */
int vnet_tx(struct vnet_offload *vo, uint8_t *frame, size_t len);

/* The end of the turn: the merged frame, the held ACKs, then the backend's batch. */
void vnet_tx_flush(struct vnet_offload *vo);

#endif
