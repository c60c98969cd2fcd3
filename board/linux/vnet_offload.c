/* Linux board: the virtio-net header offloads of TAP and AF_PACKET (vnet_offload.h). */
#include "vnet_offload.h"

#define VNET_F_NEEDS_CSUM 1          /* checksum partial: the kernel never computed it */
#define VNET_F_DATA_VALID 2          /* checksum checked by the kernel */
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_ECN 0x80

void vnet_offload_init(struct vnet_offload *vo, struct linux_netdev *dev,
                       const struct vnet_out *out, int tso)
{
    vo->dev = dev;
    vo->out = out;
    vo->tso = tso;
    vo->lent = 0;
    vo->merge.len = 0;
    vo->acks.n = 0;
    dev->rx_merged = tso;
    dev->tx_csum = tso;
}

void vnet_rx(struct linux_netdev *dev, const uint8_t *buf, size_t n)
{
    unsigned gso = n >= VNET_HDR_LEN ? buf[1] & ~VNET_GSO_ECN : ~0u;
    if (gso != VNET_GSO_NONE && gso != VNET_GSO_TCPV4) {
        dev->stats.rx_dropped++;           /* too short, or an offload we did not ask for */
        return;
    }
    eth_input_offload(dev, buf + VNET_HDR_LEN, n - VNET_HDR_LEN,
                      (buf[0] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) != 0);
}

static void sync_lent(struct vnet_offload *vo)
{
    if (vo->lent && vo->out->sync != NULL) {
        vo->out->sync(vo->dev);
    }
    vo->lent = 0;
}

static void merge_flush(struct vnet_offload *vo)
{
    uint8_t vnet[VNET_HDR_LEN];
    unsigned segs = vo->merge.segs;
    size_t len = tx_merge_take(&vo->merge, vnet);
    if (len == 0) {
        return;
    }
    vo->lent = 1;
    if (vo->out->write(vo->dev, vnet, vo->merge.frame, len, segs, 1) != 0) {
        vo->dev->stats.tx_dropped += segs; /* counted as sent when queued: TCP retransmits */
    }
}

/* A frame sent now, its TCP checksum left to the kernel as for merged ones. */
static int write_alone(struct vnet_offload *vo, uint8_t *frame, size_t len)
{
    uint8_t vnet[VNET_HDR_LEN];
    tx_merge_csum_partial(frame, len, vnet);
    return vo->out->write(vo->dev, vnet, frame, len, 1, 0);
}

/* A held ACK leaves: after its connection's merged data, if that is pending. */
static void send_held(void *arg, uint8_t *frame, size_t len)
{
    struct vnet_offload *vo = arg;
    if (tx_merge_holds_flow(&vo->merge, frame, len)) {
        merge_flush(vo);
    }
    if (write_alone(vo, frame, len) != 0) {
        vo->dev->stats.tx_dropped++;
    }
}

void vnet_tx_flush(struct vnet_offload *vo)
{
    merge_flush(vo);
    ack_hold_flush(&vo->acks, send_held, vo);
    if (vo->out->sync != NULL) {
        vo->out->sync(vo->dev);
    }
    vo->lent = 0;
}

int vnet_tx(struct vnet_offload *vo, uint8_t *frame, size_t len)
{
    static const uint8_t none[VNET_HDR_LEN];    /* a whole frame, checksums done */
    if (!vo->tso) {
        return vo->out->write(vo->dev, none, frame, len, 1, 0);
    }
    if (ack_hold_add(&vo->acks, frame, len, send_held, vo)) {
        return 0;
    }
    sync_lent(vo);                               /* the merge buffer is written below */
    enum tx_merge_verdict v = tx_merge_add(&vo->merge, frame, len);
    if (v == TX_MERGE_FLUSH) {
        merge_flush(vo);
        sync_lent(vo);
        v = tx_merge_add(&vo->merge, frame, len);
    }
    if (v == TX_MERGE_TAKEN) {
        return 0;
    }
    return write_alone(vo, frame, len);
}
