/* The virt board's virtqueue bookkeeping (board/virt/virtq.c) against a device model that
 * works the rings as a virtio device does: takes what the avail ring offers, returns it on
 * the used ring, in any order. Buffers come back with their tokens, the free-running 16-bit
 * indices wrap, a full queue refuses, the device's "no notification" is honoured, and a
 * device that returns a buffer it was never given, or one twice, cannot corrupt the queue. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "virtq.h"

static uint8_t mem[3 * VIRTQ_ALIGN] __attribute__((aligned(VIRTQ_ALIGN)));
static struct virtq q;

/* The device's side: its own index into the avail ring, and what it holds. */
struct dev {
    uint16_t seen;          /* avail entries taken */
    uint16_t held[VIRTQ_MAX];
    unsigned nheld;
};

static void dev_take(struct dev *d)
{
    while (d->seen != q.avail->idx) {
        d->held[d->nheld++] = q.avail->ring[d->seen % q.num];
        d->seen++;
    }
}

/* Return held buffer i (by position) with len bytes written. */
static void dev_return(struct dev *d, unsigned i, uint32_t len)
{
    uint16_t idx = q.used->idx;
    q.used->ring[idx % q.num].id = d->held[i];
    q.used->ring[idx % q.num].len = len;
    q.used->idx = (uint16_t)(idx + 1);
    d->held[i] = d->held[--d->nheld];
}

static void layout_is_the_legacy_one_qemu_computes(void)
{
    /* desc 16 n, avail 4 + 2 n (+ used_event), used at the next 4 KiB */
    CHECK_EQ(virtq_avail_offset(64), 1024);
    CHECK_EQ(virtq_used_offset(64), 4096);
    CHECK_EQ(virtq_size(64), 8192);
    CHECK_EQ(virtq_used_offset(256), 8192);
    CHECK_EQ(virtq_size(256), 12288);
    CHECK(virtq_size(4) <= sizeof mem);
    CHECK_EQ(virtq_init(&q, mem, 3), -1);          /* not a power of two */
    CHECK_EQ(virtq_init(&q, mem + 8, 4), -1);      /* not aligned */
    CHECK_EQ(virtq_init(&q, mem, 512), -1);        /* more than VIRTQ_MAX */
}

static void buffers_come_back_with_their_tokens_in_any_order(void)
{
    static struct dev d;
    memset(&d, 0, sizeof d);
    CHECK_EQ(virtq_init(&q, mem, 8), 0);
    int tok[8];
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(virtq_add(&q, 0x1000u * (unsigned)i, 100u + (unsigned)i, i % 2, &tok[i]), 0);
    }
    CHECK_EQ(virtq_add(&q, 0, 1, 0, NULL), -1);   /* full */
    dev_take(&d);
    CHECK_EQ(d.nheld, 8);
    /* the descriptors say what was offered */
    for (unsigned i = 0; i < 8; i++) {
        const struct virtq_desc *desc = &q.desc[d.held[i]];
        CHECK_EQ(desc->flags & VIRTQ_DESC_F_WRITE, (desc->len - 100) % 2 ? VIRTQ_DESC_F_WRITE : 0);
        CHECK_EQ(desc->addr, 0x1000u * (desc->len - 100));
    }
    CHECK(!virtq_pending(&q));
    dev_return(&d, 5, 55);
    dev_return(&d, 0, 11);
    CHECK(virtq_pending(&q));
    uint32_t len;
    void *token;
    int seen[8] = { 0 };
    for (int n = 0; n < 2; n++) {
        CHECK_EQ(virtq_get(&q, &len, &token, NULL), 1);
        int i = (int)((int *)token - tok);
        CHECK(i >= 0 && i < 8);
        CHECK(!seen[i]);
        seen[i] = 1;
        CHECK(len == 55 || len == 11);
    }
    CHECK_EQ(virtq_get(&q, &len, &token, NULL), 0);
    CHECK_EQ(q.nfree, 2);
    /* the freed descriptors are offered again */
    CHECK_EQ(virtq_add(&q, 0, 1, 0, &tok[0]), 0);
    CHECK_EQ(virtq_add(&q, 0, 1, 0, &tok[1]), 0);
    CHECK_EQ(virtq_add(&q, 0, 1, 0, &tok[2]), -1);
}

/* 70,000 round trips through a queue of 4: both indices wrap past 65535. */
static void indices_wrap_without_losing_a_buffer(void)
{
    static struct dev d;
    memset(&d, 0, sizeof d);
    CHECK_EQ(virtq_init(&q, mem, 4), 0);
    uint64_t r = 88172645463325252ull;
    unsigned long added = 0, got = 0;
    static int tok[1];
    for (unsigned round = 0; round < 70000; round++) {
        while (virtq_add(&q, added, (uint32_t)added, 1, &tok[0]) == 0) {
            added++;
        }
        dev_take(&d);
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        unsigned k = 1 + (unsigned)(r % d.nheld);
        for (unsigned i = 0; i < k; i++) {
            dev_return(&d, (unsigned)(r >> 8) % d.nheld, 7);
        }
        uint32_t len;
        void *token;
        while (virtq_get(&q, &len, &token, NULL)) {
            CHECK_EQ(len, 7);
            got++;
        }
        CHECK_EQ(q.nfree + d.nheld, 4);
    }
    CHECK(added > 70000);
    CHECK_EQ(got + d.nheld, added);
    CHECK(q.avail->idx == (uint16_t)added);
}

static void device_asking_for_no_notification_is_not_notified(void)
{
    CHECK_EQ(virtq_init(&q, mem, 4), 0);
    CHECK_EQ(virtq_add(&q, 0, 1, 0, NULL), 0);
    CHECK(virtq_should_notify(&q));
    q.used->flags = VIRTQ_USED_F_NO_NOTIFY;
    CHECK(!virtq_should_notify(&q));
}

/* A device returning ids it was never given, or one twice: skipped and counted; the free
 * list never holds a descriptor twice. */
static void a_broken_device_cannot_free_a_buffer_twice(void)
{
    static struct dev d;
    memset(&d, 0, sizeof d);
    CHECK_EQ(virtq_init(&q, mem, 4), 0);
    static int tok[2];
    CHECK_EQ(virtq_add(&q, 0, 1, 1, &tok[0]), 0);
    CHECK_EQ(virtq_add(&q, 0, 1, 1, &tok[1]), 0);
    dev_take(&d);
    uint16_t first = d.held[0];
    dev_return(&d, 0, 1);
    /* the same id again, then one out of range, then a free descriptor */
    uint16_t idx = q.used->idx;
    q.used->ring[idx % 4] = (struct virtq_used_elem){ first, 1 };
    q.used->ring[(idx + 1) % 4] = (struct virtq_used_elem){ 9999, 1 };
    q.used->ring[(idx + 2) % 4] = (struct virtq_used_elem){ 3, 1 };
    q.used->idx = (uint16_t)(idx + 3);
    unsigned bad = 0, n = 0;
    uint32_t len;
    void *token;
    while (virtq_get(&q, &len, &token, &bad)) {
        n++;
    }
    CHECK_EQ(n, 1);
    CHECK_EQ(bad, 3);
    CHECK_EQ(q.nfree, 3);
    /* a device that claims more returns than the ring holds is cut off at the ring size */
    q.used->idx = (uint16_t)(q.used->idx + 1000);
    CHECK_EQ(virtq_get(&q, &len, &token, &bad), 0);
    CHECK(bad <= 3 + 4);
    CHECK_EQ(q.nfree, 3);
}

CHECK_MAIN(
    { "layout_is_the_legacy_one_qemu_computes", layout_is_the_legacy_one_qemu_computes },
    { "buffers_come_back_with_their_tokens_in_any_order",
      buffers_come_back_with_their_tokens_in_any_order },
    { "indices_wrap_without_losing_a_buffer", indices_wrap_without_losing_a_buffer },
    { "device_asking_for_no_notification_is_not_notified",
      device_asking_for_no_notification_is_not_notified },
    { "a_broken_device_cannot_free_a_buffer_twice", a_broken_device_cannot_free_a_buffer_twice })
