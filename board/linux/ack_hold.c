/* see ack_hold.h */
#include <string.h>

#include "ack_hold.h"
#include "bytes.h"

#define TCP_F_ACK 0x10

/* TCP/IPv4 with a 20-byte IP header: where the flow's addresses and ports are. */
static int tcp4(const uint8_t *f, size_t len)
{
    return len >= 14 + 20 + 20 && get_be16(f + 12) == 0x0800 && f[14] == 0x45 && f[14 + 9] == 6;
}

/* No data, no options, only ACK, not a fragment, nothing after the TCP header. */
static int pure_ack(const uint8_t *f, size_t len)
{
    return len == ACK_HOLD_FRAME && tcp4(f, len) && get_be16(f + 16) == 40 &&
           (get_be16(f + 20) & 0x3fff) == 0 && (f[34 + 12] >> 4) == 5 && f[34 + 13] == TCP_F_ACK;
}

/* Same addresses (IP 26..33) and ports (TCP 34..37). */
static int same_flow(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a + 26, b + 26, 12) == 0;
}

static void take_out(struct ack_hold *h, unsigned i, ack_hold_out out, void *arg)
{
    out(arg, h->frame[i], ACK_HOLD_FRAME);
    memmove(h->frame[i], h->frame[i + 1], (size_t)(h->n - i - 1) * ACK_HOLD_FRAME);
    h->n--;
}

/* see ack_hold.h */
int ack_hold_add(struct ack_hold *h, const uint8_t *f, size_t len, ack_hold_out out, void *arg)
{
    if (!tcp4(f, len)) {
        return 0;                        /* no connection of ours to keep in order */
    }
    unsigned i = 0;
    while (i < h->n && !same_flow(h->frame[i], f)) {
        i++;
    }
    if (!pure_ack(f, len)) {
        if (i < h->n) {
            take_out(h, i, out, arg);    /* the connection's ACK before its next frame */
        }
        return 0;
    }
    if (i < h->n) {
        const uint8_t *old = h->frame[i];
        int32_t more = (int32_t)(get_be32(f + 42) - get_be32(old + 42));
        int window = get_be16(f + 48) != get_be16(old + 48);
        if (more > 0 || (more == 0 && window)) {
            memcpy(h->frame[i], f, ACK_HOLD_FRAME);   /* superseded, in its place */
            return 1;
        }
        take_out(h, i, out, arg);        /* a duplicate ACK: both are sent, in order */
    }
    if (h->n == ACK_HOLD_SLOTS) {
        ack_hold_flush(h, out, arg);
    }
    memcpy(h->frame[h->n++], f, ACK_HOLD_FRAME);
    return 1;
}

/* see ack_hold.h */
void ack_hold_flush(struct ack_hold *h, ack_hold_out out, void *arg)
{
    for (unsigned i = 0; i < h->n; i++) {
        out(arg, h->frame[i], ACK_HOLD_FRAME);
    }
    h->n = 0;
}
