/* see tx_merge.h */
#include <string.h>

#include "bytes.h"
#include "tx_merge.h"

#define TX_MERGE_SEGS_MAX 64         /* segments in one frame (44 fill 64 KiB at MSS 1460) */
#define TCP_F_PSH 0x08
#define TCP_F_ACK 0x10

static uint32_t fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/* The parts of a frame this file looks at. */
struct seg {
    uint16_t l4_off, hdr_len;
    uint32_t payload;
    uint32_t seq;
};

/* A TCP/IPv4 segment with data and no flags but ACK and PSH, headers whole: 1 and *s. */
static int data_segment(const uint8_t *f, size_t len, struct seg *s)
{
    if (len < 14 + 20 + 20 || len > TX_MERGE_FRAME_MAX || get_be16(f + 12) != 0x0800) {
        return 0;
    }
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ihl != 20 || ip[9] != 6 || (get_be16(ip + 6) & 0x3fff) != 0 ||
        get_be16(ip + 2) != len - 14) {
        return 0;                    /* options, fragments or padding: not ours to touch */
    }
    const uint8_t *th = ip + ihl;
    size_t thl = (size_t)(th[12] >> 4) * 4;
    if (thl < 20 || 14 + ihl + thl >= len || (th[13] & ~TCP_F_PSH) != TCP_F_ACK) {
        return 0;
    }
    s->l4_off = (uint16_t)(14 + ihl);
    s->hdr_len = (uint16_t)(14 + ihl + thl);
    s->payload = (uint32_t)(len - s->hdr_len);
    s->seq = get_be32(th + 4);
    return 1;
}

/* Same addresses and ports: one TCP connection (the frame is IPv4 TCP, maybe not data). */
static int same_flow(const struct tx_merge *m, const uint8_t *f, size_t len)
{
    if (len < 14 + 20 + 4 || get_be16(f + 12) != 0x0800 || f[14] != 0x45 || f[14 + 9] != 6) {
        return 0;
    }
    return memcmp(f + 26, m->frame + 26, 8) == 0 && memcmp(f + 34, m->frame + 34, 4) == 0;
}

/* see tx_merge.h */
int tx_merge_holds_flow(const struct tx_merge *m, const uint8_t *f, size_t len)
{
    return m->len > 0 && same_flow(m, f, len);
}

/* see tx_merge.h */
enum tx_merge_verdict tx_merge_add(struct tx_merge *m, const uint8_t *f, size_t len)
{
    struct seg s = { 0, 0, 0, 0 };
    int data = data_segment(f, len, &s);
    if (m->len == 0) {
        if (!data) {
            return TX_MERGE_ALONE;
        }
        memcpy(m->frame, f, len);
        m->len = len;
        m->segs = 1;
        m->gso_size = (uint16_t)s.payload;
        m->l4_off = s.l4_off;
        m->hdr_len = s.hdr_len;
        m->closed = 0;
        return TX_MERGE_TAKEN;
    }
    if (!same_flow(m, f, len)) {
        return data ? TX_MERGE_FLUSH : TX_MERGE_ALONE;   /* one flow pending at a time */
    }
    if (!data) {
        return TX_MERGE_FLUSH;       /* the flow's ACK, FIN, RST...: after its data */
    }
    const uint8_t *th = f + s.l4_off, *mth = m->frame + m->l4_off;
    uint32_t pending = (uint32_t)(m->len - m->hdr_len);
    if (m->closed || s.hdr_len != m->hdr_len || s.payload > m->gso_size ||
        m->segs >= TX_MERGE_SEGS_MAX || m->len + s.payload > TX_MERGE_FRAME_MAX ||
        s.seq != get_be32(mth + 4) + pending ||
        memcmp(f, m->frame, 14) != 0 ||                         /* MACs, type */
        f[15] != m->frame[15] || f[22] != m->frame[22] ||       /* TOS, TTL */
        memcmp(th + 8, mth + 8, 4) != 0 ||                      /* ACK number */
        memcmp(th + 14, mth + 14, 2) != 0 ||                    /* window */
        memcmp(th + 20, mth + 20, s.hdr_len - s.l4_off - 20u) != 0) {   /* options */
        return TX_MERGE_FLUSH;
    }
    memcpy(m->frame + m->len, f + s.hdr_len, s.payload);
    m->len += s.payload;
    m->segs++;
    m->frame[m->l4_off + 13] |= th[13] & TCP_F_PSH;
    m->closed = s.payload < m->gso_size;
    return TX_MERGE_TAKEN;
}

/* NEEDS_CSUM: the TCP checksum field holds the pseudo-header sum, not inverted; the host
 * adds the segment's bytes from csum_start (and adjusts the length for each segment it cuts
 * from a merged frame). */
static void csum_partial(uint8_t *f, size_t len, uint16_t l4_off, uint8_t vnet[TX_MERGE_VNET_LEN])
{
    const uint8_t *ip = f + 14;
    uint32_t sum = get_be16(ip + 12) + get_be16(ip + 14) + get_be16(ip + 16) +
                   get_be16(ip + 18) + 6 + (uint32_t)(len - l4_off);
    put_be16(f + l4_off + 16, (uint16_t)fold(sum));
    vnet[0] = 1;                     /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
    /* hdr_len, gso_size (GSO only), csum_start, csum_offset: native byte order (a legacy
     * TAP header) */
    uint16_t v[2] = { l4_off, 16 };
    memcpy(vnet + 6, v, sizeof v);
}

/* see tx_merge.h */
int tx_merge_csum_partial(uint8_t *f, size_t len, uint8_t vnet[TX_MERGE_VNET_LEN])
{
    memset(vnet, 0, TX_MERGE_VNET_LEN);
    if (len < 14 + 20 || get_be16(f + 12) != 0x0800 || (f[14] >> 4) != 4 || f[14 + 9] != 6 ||
        (get_be16(f + 14 + 6) & 0x3fff) != 0) {
        return 0;                    /* not TCP/IPv4, or a fragment: lwIP's checksums */
    }
    size_t ihl = (size_t)(f[14] & 0x0f) * 4;
    size_t ip_len = get_be16(f + 14 + 2);
    if (ihl < 20 || ip_len < ihl + 20 || 14 + ip_len > len) {
        return 0;                    /* malformed: sent as it is */
    }
    csum_partial(f, 14 + ip_len, (uint16_t)(14 + ihl), vnet);
    return 1;
}

/* see tx_merge.h */
size_t tx_merge_take(struct tx_merge *m, uint8_t vnet[TX_MERGE_VNET_LEN])
{
    size_t len = m->len;
    memset(vnet, 0, TX_MERGE_VNET_LEN);
    m->len = 0;
    if (len == 0) {
        return 0;
    }
    csum_partial(m->frame, len, m->l4_off, vnet);
    if (m->segs == 1) {
        return len;                  /* a lone segment: headers as lwIP made them */
    }
    uint8_t *ip = m->frame + 14;
    put_be16(ip + 2, (uint16_t)(len - 14));
    put_be16(ip + 10, 0);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += get_be16(ip + i);
    }
    put_be16(ip + 10, (uint16_t)~fold(sum));
    vnet[1] = 1;                     /* VIRTIO_NET_HDR_GSO_TCPV4 */
    uint16_t v[2] = { m->hdr_len, m->gso_size };
    memcpy(vnet + 2, v, sizeof v);
    return len;
}
