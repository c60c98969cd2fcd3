/* Joining one flow's TCP segments for a TAP with TSO: what joins, what waits, what goes
 * alone; the merged frame's headers, virtio-net header and partial checksum. The kernel side
 * (that a host takes these frames) is proven by the integration tests over TAP. */
#include <stdint.h>

#include "bytes.h"
#include "check.h"
#include "tx_merge.h"

#define MSS 1460
#define HDRS (14 + 20 + 20)

static struct tx_merge m;

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += get_be16(p + i);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

static uint32_t fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/* A TCP/IPv4 frame as lwIP builds it: 10.0.0.2:port -> 10.0.0.1:80, payload bytes seq-based. */
static size_t segment(uint8_t *f, uint16_t sport, uint32_t seq, size_t payload, uint8_t flags)
{
    static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
    memcpy(f, macs, 12);
    put_be16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *th = ip + 20;
    memset(ip, 0, 40);
    ip[0] = 0x45;
    put_be16(ip + 2, (uint32_t)(40 + payload));
    put_be16(ip + 4, seq & 0xffff);                 /* an IP ID that differs per segment */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
    put_be16(th, sport);
    put_be16(th + 2, 80);
    put_be32(th + 4, seq);
    put_be32(th + 8, 777);
    th[12] = 5 << 4;
    th[13] = flags;
    put_be16(th + 14, 8000);
    for (size_t i = 0; i < payload; i++) {
        f[HDRS + i] = (uint8_t)(seq + i);
    }
    return HDRS + payload;
}

static enum tx_merge_verdict add_seg(uint16_t sport, uint32_t seq, size_t payload, uint8_t flags)
{
    static uint8_t f[TX_MERGE_FRAME_MAX];
    return tx_merge_add(&m, f, segment(f, sport, seq, payload, flags));
}

/* What the host does with NEEDS_CSUM (csum_start 34, csum_offset 16): sum from csum_start,
 * starting at the field's pseudo-header sum, store the complement. The result must check as
 * a whole segment would at its receiver. */
static void host_completes_checksum(const uint8_t *frame, size_t len)
{
    static uint8_t seg[TX_MERGE_FRAME_MAX];
    memcpy(seg, frame, len);
    uint8_t *sth = seg + 34;
    put_be16(sth + 16, ~fold(sum16(sth, len - 34, 0)) & 0xffff);
    uint32_t pseudo = sum16(seg + 14 + 12, 8, 0) + 6 + (uint32_t)(len - 34);
    CHECK_EQ(fold(sum16(sth, len - 34, pseudo)), 0xffff);
}

static void full_segments_join_into_one_tso_frame(void)
{
    m.len = 0;
    CHECK_EQ(add_seg(1000, 5000, MSS, 0x10), TX_MERGE_TAKEN);
    CHECK_EQ(add_seg(1000, 5000 + MSS, MSS, 0x18), TX_MERGE_TAKEN);   /* PSH mid-way */
    CHECK_EQ(add_seg(1000, 5000 + 2 * MSS, 300, 0x10), TX_MERGE_TAKEN);
    uint8_t vnet[TX_MERGE_VNET_LEN];
    size_t len = tx_merge_take(&m, vnet);
    CHECK_EQ(len, HDRS + 2 * MSS + 300);
    CHECK_EQ(m.len, 0);
    uint16_t v[4];
    memcpy(v, vnet + 2, sizeof v);
    CHECK_EQ(vnet[0], 1);                          /* NEEDS_CSUM */
    CHECK_EQ(vnet[1], 1);                          /* GSO TCPV4 */
    CHECK_EQ(v[0], HDRS);
    CHECK_EQ(v[1], MSS);
    CHECK_EQ(v[2], 34);
    CHECK_EQ(v[3], 16);
    const uint8_t *ip = m.frame + 14, *th = ip + 20;
    CHECK_EQ(get_be16(ip + 2), len - 14);
    CHECK_EQ(fold(sum16(ip, 20, 0)), 0xffff);      /* a valid IP header checksum */
    CHECK_EQ(get_be16(ip + 4), 5000);                 /* the first segment's IP ID */
    CHECK_EQ(th[13], 0x18);                        /* PSH kept (the host sets it last) */
    for (size_t i = 0; i < 2 * MSS + 300; i++) {
        if (m.frame[HDRS + i] != (uint8_t)(5000 + i)) {
            CHECK(!"payload out of order");
        }
    }
    host_completes_checksum(m.frame, len);
}

/* lwIP computes no TCP checksum for the TAP: a lone segment leaves as lwIP made it but for
 * the pseudo-header sum, with NEEDS_CSUM and no GSO. */
static void a_lone_segment_leaves_its_checksum_to_the_host(void)
{
    static uint8_t f[HDRS + 100];
    size_t n = segment(f, 1000, 1, 100, 0x18);
    m.len = 0;
    CHECK_EQ(tx_merge_add(&m, f, n), TX_MERGE_TAKEN);
    uint8_t vnet[TX_MERGE_VNET_LEN];
    CHECK_EQ(tx_merge_take(&m, vnet), n);
    uint16_t v[4];
    memcpy(v, vnet + 2, sizeof v);
    CHECK_EQ(vnet[0], 1);                          /* NEEDS_CSUM */
    CHECK_EQ(vnet[1], 0);                          /* no GSO */
    CHECK_EQ(v[2], 34);
    CHECK_EQ(v[3], 16);
    CHECK(memcmp(m.frame, f, 14 + 20 + 16) == 0);  /* headers untouched up to the checksum */
    CHECK(memcmp(m.frame + 14 + 20 + 18, f + 14 + 20 + 18, n - (14 + 20 + 18)) == 0);
    host_completes_checksum(m.frame, n);
    CHECK_EQ(tx_merge_take(&m, vnet), 0);          /* nothing pending any more */
}

/* Frames sent alone: TCP ones (ACK, SYN, FIN, RST) get the same partial checksum, anything
 * else an all-zero header (lwIP's checksums). */
static void a_tcp_frame_sent_alone_leaves_its_checksum_to_the_host(void)
{
    static uint8_t f[HDRS + 10];
    uint8_t vnet[TX_MERGE_VNET_LEN];
    static const uint8_t flags[] = { 0x10, 0x02, 0x11, 0x14 };
    for (size_t i = 0; i < sizeof flags; i++) {
        size_t n = segment(f, 1000, 1, flags[i] == 0x10 ? 0 : 10, flags[i]);
        CHECK_EQ(tx_merge_csum_partial(f, n, vnet), 1);
        CHECK_EQ(vnet[0], 1);
        CHECK_EQ(vnet[1], 0);
        host_completes_checksum(f, n);
    }
    uint8_t arp[60] = { 0 };
    arp[12] = 0x08;
    arp[13] = 0x06;
    memset(vnet, 0xee, sizeof vnet);
    CHECK_EQ(tx_merge_csum_partial(arp, sizeof arp, vnet), 0);
    for (int i = 0; i < TX_MERGE_VNET_LEN; i++) {
        CHECK_EQ(vnet[i], 0);
    }
    size_t n = segment(f, 1000, 1, 10, 0x10);
    f[14 + 9] = 17;                                /* UDP: lwIP's own checksum */
    CHECK_EQ(tx_merge_csum_partial(f, n, vnet), 0);
    CHECK_EQ(vnet[0], 0);
    n = segment(f, 1000, 1, 10, 0x10);
    put_be16(f + 14 + 6, 0x2000);                     /* a fragment */
    CHECK_EQ(tx_merge_csum_partial(f, n, vnet), 0);
    n = segment(f, 1000, 1, 10, 0x10);
    CHECK_EQ(tx_merge_csum_partial(f, n - 1, vnet), 0);   /* shorter than its IP length */
}

static void only_plain_data_segments_start_a_merge(void)
{
    m.len = 0;
    CHECK_EQ(add_seg(1000, 1, 0, 0x10), TX_MERGE_ALONE);      /* pure ACK */
    CHECK_EQ(add_seg(1000, 1, 10, 0x02), TX_MERGE_ALONE);     /* SYN */
    CHECK_EQ(add_seg(1000, 1, 10, 0x11), TX_MERGE_ALONE);     /* FIN */
    CHECK_EQ(add_seg(1000, 1, 10, 0x14), TX_MERGE_ALONE);     /* RST */
    uint8_t arp[60] = { 0 };
    arp[12] = 0x08;
    arp[13] = 0x06;
    CHECK_EQ(tx_merge_add(&m, arp, sizeof arp), TX_MERGE_ALONE);
    static uint8_t f[HDRS + 10];
    size_t n = segment(f, 1000, 1, 10, 0x10);
    f[14] = 0x46;                                  /* IP options */
    CHECK_EQ(tx_merge_add(&m, f, n), TX_MERGE_ALONE);
    n = segment(f, 1000, 1, 10, 0x10);
    put_be16(f + 14 + 6, 0x2000);                     /* a fragment */
    CHECK_EQ(tx_merge_add(&m, f, n), TX_MERGE_ALONE);
    n = segment(f, 1000, 1, 10, 0x10);
    CHECK_EQ(tx_merge_add(&m, f, n - 1), TX_MERGE_ALONE);     /* IP length disagrees */
    CHECK_EQ(m.len, 0);
}

static void order_within_a_flow_is_kept(void)
{
    m.len = 0;
    CHECK_EQ(add_seg(1000, 100, MSS, 0x10), TX_MERGE_TAKEN);
    CHECK_EQ(add_seg(2000, 1, 0, 0x10), TX_MERGE_ALONE);      /* another flow's ACK: now */
    CHECK_EQ(add_seg(1000, 100 + MSS, 0, 0x10), TX_MERGE_FLUSH);  /* own ACK: after data */
    CHECK_EQ(add_seg(1000, 100 + MSS, 10, 0x11), TX_MERGE_FLUSH); /* own FIN */
    CHECK_EQ(add_seg(2000, 1, MSS, 0x10), TX_MERGE_FLUSH);    /* another flow's data */
    CHECK_EQ(add_seg(1000, 100 + 2 * MSS, MSS, 0x10), TX_MERGE_FLUSH);   /* a gap */
    CHECK_EQ(add_seg(1000, 100 + MSS, MSS + 1, 0x10), TX_MERGE_FLUSH);   /* > gso_size */
    CHECK_EQ(add_seg(1000, 100 + MSS, 20, 0x10), TX_MERGE_TAKEN);
    CHECK_EQ(add_seg(1000, 100 + MSS + 20, 20, 0x10), TX_MERGE_FLUSH);   /* after a short */
    CHECK_EQ(m.segs, 2);
}

static void a_merged_frame_stops_at_64_kib(void)
{
    m.len = 0;
    uint32_t seq = 1;
    unsigned taken = 0;
    for (int i = 0; i < 100; i++) {
        enum tx_merge_verdict v = add_seg(1000, seq, MSS, 0x10);
        if (v != TX_MERGE_TAKEN) {
            CHECK_EQ(v, TX_MERGE_FLUSH);
            break;
        }
        taken++;
        seq += MSS;
    }
    CHECK_EQ(taken, (65535 - 40) / MSS);           /* 44 segments fill an IPv4 packet */
    CHECK(m.len <= TX_MERGE_FRAME_MAX);
    uint8_t vnet[TX_MERGE_VNET_LEN];
    size_t len = tx_merge_take(&m, vnet);
    CHECK_EQ(get_be16(m.frame + 14 + 2), len - 14);
    CHECK(len - 14 <= 65535);
}

CHECK_MAIN({ "full_segments_join_into_one_tso_frame", full_segments_join_into_one_tso_frame },
           { "a_lone_segment_leaves_its_checksum_to_the_host",
             a_lone_segment_leaves_its_checksum_to_the_host },
           { "a_tcp_frame_sent_alone_leaves_its_checksum_to_the_host",
             a_tcp_frame_sent_alone_leaves_its_checksum_to_the_host },
           { "only_plain_data_segments_start_a_merge", only_plain_data_segments_start_a_merge },
           { "order_within_a_flow_is_kept", order_within_a_flow_is_kept },
           { "a_merged_frame_stops_at_64_kib", a_merged_frame_stops_at_64_kib })
