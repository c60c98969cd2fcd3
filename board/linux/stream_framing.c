/* see stream_framing.h */
#include <string.h>

#include "stream_framing.h"

/* see stream_framing.h */
void sframe_rx_init(struct sframe_rx *rx)
{
    memset(rx, 0, sizeof *rx);
}

/* see stream_framing.h */
void sframe_rx_feed(struct sframe_rx *rx, const uint8_t *p, size_t len,
                    sframe_deliver_fn deliver, void *arg)
{
    while (len > 0) {
        if (rx->hdr_got < SFRAME_HDR) {
            rx->hdr[rx->hdr_got++] = *p++;
            len--;
            if (rx->hdr_got == SFRAME_HDR) {
                rx->flen = (uint32_t)rx->hdr[0] << 24 | (uint32_t)rx->hdr[1] << 16 |
                           (uint32_t)rx->hdr[2] << 8 | rx->hdr[3];
                rx->got = 0;
                if (rx->flen == 0) {
                    rx->dropped++;
                    rx->hdr_got = 0;
                }
            }
            continue;
        }
        size_t want = rx->flen - rx->got;
        size_t take = len < want ? len : want;
        if (rx->flen <= SFRAME_MAX) {
            memcpy(rx->frame + rx->got, p, take);
        }
        rx->got += (uint32_t)take;
        p += take;
        len -= take;
        if (rx->got == rx->flen) {
            if (rx->flen <= SFRAME_MAX) {
                deliver(arg, rx->frame, rx->flen);
            } else {
                rx->dropped++;
            }
            rx->hdr_got = 0;
        }
    }
}

/* see stream_framing.h */
size_t sframe_encode(uint8_t *out, size_t cap, const uint8_t *frame, size_t len)
{
    if (len > UINT32_MAX || cap < SFRAME_HDR || cap - SFRAME_HDR < len) {
        return 0;
    }
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memcpy(out + SFRAME_HDR, frame, len);
    return SFRAME_HDR + len;
}
