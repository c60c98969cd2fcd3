/* Holding pure ACKs to the end of the turn: one per connection leaves, the newest; a
 * duplicate ACK is never folded into another; no connection's frames are reordered; a full
 * table and the turn's end send everything, oldest first. The host's side (that a Linux
 * peer is served by these ACKs) is proven by the integration tests over TAP. */
#include <stdint.h>
#include <string.h>

#include "ack_hold.h"
#include "bytes.h"
#include "check.h"

static struct ack_hold h;
static uint8_t sent[64][ACK_HOLD_FRAME];
static unsigned nsent;

static void out(void *arg, uint8_t *f, size_t len)
{
    (void)arg;
    CHECK_EQ(len, ACK_HOLD_FRAME);
    if (nsent < 64) {
        memcpy(sent[nsent], f, ACK_HOLD_FRAME);
    }
    nsent++;
}

static uint32_t ack_of(const uint8_t *f)
{
    return get_be32(f + 42);
}

/* 10.0.0.2:sport -> 10.0.0.1:80 with `payload` bytes, `flags`, ack and window. */
static size_t frame(uint8_t *f, uint16_t sport, uint32_t ack, uint16_t wnd, size_t payload,
                    uint8_t flags)
{
    memset(f, 0, 14 + 40 + payload);
    put_be16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *th = ip + 20;
    ip[0] = 0x45;
    put_be16(ip + 2, (uint32_t)(40 + payload));
    ip[9] = 6;
    put_be32(ip + 12, 0x0a000002);
    put_be32(ip + 16, 0x0a000001);
    put_be16(th, sport);
    put_be16(th + 2, 80);
    put_be32(th + 4, 1000);
    put_be32(th + 8, ack);
    th[12] = 5 << 4;
    th[13] = flags;
    put_be16(th + 14, wnd);
    return 14 + 40 + payload;
}

static int add(uint16_t sport, uint32_t ack, uint16_t wnd, size_t payload, uint8_t flags)
{
    uint8_t f[14 + 40 + 100];
    size_t len = frame(f, sport, ack, wnd, payload, flags);
    return ack_hold_add(&h, f, len, out, NULL);
}

static void reset(void)
{
    h.n = 0;
    nsent = 0;
}

/* Three ACKs of one connection in a turn: the last one leaves, once, at the turn's end. */
static void a_newer_ack_replaces_the_held_one(void)
{
    reset();
    CHECK(add(4000, 100, 500, 0, 0x10));
    CHECK(add(4000, 300, 500, 0, 0x10));
    CHECK(add(4000, 300, 900, 0, 0x10));     /* same ACK, a window update */
    CHECK_EQ(nsent, 0);
    ack_hold_flush(&h, out, NULL);
    CHECK_EQ(nsent, 1);
    CHECK_EQ(ack_of(sent[0]), 300);
    CHECK_EQ((uint32_t)sent[0][48] << 8 | sent[0][49], 900);
    CHECK_EQ(h.n, 0);
}

/* The peer counts duplicate ACKs to detect a loss: each one leaves. */
static void duplicate_acks_all_leave_in_order(void)
{
    reset();
    for (int i = 0; i < 3; i++) {
        CHECK(add(4000, 100, 500, 0, 0x10));
    }
    CHECK_EQ(nsent, 2);                      /* the first two; the third is held */
    ack_hold_flush(&h, out, NULL);
    CHECK_EQ(nsent, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(ack_of(sent[i]), 100);
    }
}

/* Data, FIN and RST of a connection with an ACK held: the ACK leaves first, the frame is
 * the caller's to send; another connection's ACK stays held. */
static void a_connections_other_frames_send_its_ack_first(void)
{
    static const uint8_t flags[3] = { 0x18, 0x11, 0x14 };
    for (int k = 0; k < 3; k++) {
        reset();
        CHECK(add(4000, 100, 500, 0, 0x10));
        CHECK(add(4001, 700, 500, 0, 0x10));
        CHECK_EQ(add(4000, 100, 500, k == 0 ? 10 : 0, flags[k]), 0);
        CHECK_EQ(nsent, 1);
        CHECK_EQ(ack_of(sent[0]), 100);
        CHECK_EQ(h.n, 1);
        ack_hold_flush(&h, out, NULL);
        CHECK_EQ(nsent, 2);
        CHECK_EQ(ack_of(sent[1]), 700);
    }
}

/* What is not a pure TCP/IPv4 ACK passes untouched: options, SYN, IPv6, a short frame. */
static void only_pure_acks_are_held(void)
{
    uint8_t f[14 + 60] = { 0 };
    reset();
    size_t len = frame(f, 4000, 1, 500, 0, 0x10);
    f[34 + 12] = 6 << 4;                     /* a 24-byte TCP header: options */
    put_be16(f + 16, 44);
    CHECK_EQ(ack_hold_add(&h, f, len + 4, out, NULL), 0);
    CHECK_EQ(add(4000, 1, 500, 0, 0x12), 0); /* SYN-ACK */
    len = frame(f, 4000, 1, 500, 0, 0x10);
    put_be16(f + 12, 0x86dd);
    CHECK_EQ(ack_hold_add(&h, f, len, out, NULL), 0);
    CHECK_EQ(ack_hold_add(&h, f, 20, out, NULL), 0);
    CHECK_EQ(h.n, 0);
    CHECK_EQ(nsent, 0);
}

/* One slot per connection; when all are taken, the held ACKs leave oldest first. */
static void a_full_table_sends_everything_in_order(void)
{
    reset();
    for (unsigned i = 0; i < ACK_HOLD_SLOTS; i++) {
        CHECK(add((uint16_t)(5000 + i), i, 500, 0, 0x10));
    }
    CHECK_EQ(nsent, 0);
    CHECK(add(6000, 99, 500, 0, 0x10));
    CHECK_EQ(nsent, ACK_HOLD_SLOTS);
    for (unsigned i = 0; i < ACK_HOLD_SLOTS; i++) {
        CHECK_EQ(ack_of(sent[i]), i);
    }
    CHECK_EQ(h.n, 1);
}

/* Sequence numbers wrap: an ACK past 2^32 is newer than one just before it. */
static void acks_compare_across_the_wrap(void)
{
    reset();
    CHECK(add(4000, 0xfffffff0u, 500, 0, 0x10));
    CHECK(add(4000, 0x10, 500, 0, 0x10));
    ack_hold_flush(&h, out, NULL);
    CHECK_EQ(nsent, 1);
    CHECK_EQ(ack_of(sent[0]), 0x10);
}

CHECK_MAIN(
    { "a_newer_ack_replaces_the_held_one", a_newer_ack_replaces_the_held_one },
    { "duplicate_acks_all_leave_in_order", duplicate_acks_all_leave_in_order },
    { "a_connections_other_frames_send_its_ack_first",
      a_connections_other_frames_send_its_ack_first },
    { "only_pure_acks_are_held", only_pure_acks_are_held },
    { "a_full_table_sends_everything_in_order", a_full_table_sends_everything_in_order },
    { "acks_compare_across_the_wrap", acks_compare_across_the_wrap })
