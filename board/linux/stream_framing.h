/* QEMU's stream netdev framing (also spoken by passt): each Ethernet frame on a stream
 * socket is preceded by its length as a 4-byte big-endian integer. The decoder accepts the
 * byte stream in pieces of any size (partial reads), and drops empty or oversize frames
 * (passt offers MTUs up to 65520; we run 1500) by skipping their bytes, never by losing
 * the framing. */
#ifndef GW_STREAM_FRAMING_H
#define GW_STREAM_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define SFRAME_MAX 1518   /* largest frame delivered: 1500 MTU + Ethernet header + VLAN */
#define SFRAME_HDR 4

struct sframe_rx {
    uint8_t hdr[SFRAME_HDR];
    uint8_t hdr_got;      /* header bytes seen of the current frame */
    uint32_t flen;        /* length of the current frame, once the header is complete */
    uint32_t got;         /* bytes of the current frame seen so far */
    uint64_t dropped;     /* empty or oversize frames skipped */
    uint8_t frame[SFRAME_MAX];  /* 1.5 KiB */
};

typedef void (*sframe_deliver_fn)(void *arg, const uint8_t *frame, size_t len);

void sframe_rx_init(struct sframe_rx *rx);
/* Consume all of p[0..len), calling deliver for each complete frame in order. */
void sframe_rx_feed(struct sframe_rx *rx, const uint8_t *p, size_t len,
                    sframe_deliver_fn deliver, void *arg);
/* Write header and frame to out; returns the bytes written, 0 when out is too small. */
size_t sframe_encode(uint8_t *out, size_t cap, const uint8_t *frame, size_t len);

#endif
