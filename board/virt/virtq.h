/* A virtio split virtqueue, driver side (virtio 1.2, 2.7; legacy 4.2.4): the descriptor
 * table, the available ring the driver fills and the used ring the device returns buffers
 * on, all in one block laid out as the legacy transport requires (so the same block serves
 * both transports). Every buffer here is one descriptor (the device reads it, or writes it).
 *
 * Bookkeeping only: no MMIO (the transport notifies), so the host unit test drives it
 * against a device model. Indices are free-running 16-bit counters, as the device keeps
 * them. Barriers: descriptors are visible before the avail index that publishes them; the
 * used index is read before the used entries it covers. Trap context safe (no C library
 * calls): the entropy driver uses it from getrandom. */
#ifndef GW_VIRTQ_H
#define GW_VIRTQ_H

#include <stddef.h>
#include <stdint.h>

#define VIRTQ_MAX 256                 /* the largest queue this driver sets up */
#define VIRTQ_ALIGN 4096              /* legacy used-ring alignment (QueueAlign) */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2          /* the device writes this buffer */
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[];
};

struct virtq {
    uint16_t num;                     /* a power of two, <= VIRTQ_MAX */
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    uint16_t free_head, nfree;        /* free descriptors, chained through next */
    uint16_t last_used;               /* the next used entry to take */
    void *token[VIRTQ_MAX];           /* the caller's cookie of each busy descriptor */
};

/* Bytes the block of a queue of num entries takes (legacy layout, VIRTQ_ALIGN aligned). */
size_t virtq_size(uint16_t num);
/* Offsets of the avail and used rings in that block. */
size_t virtq_avail_offset(uint16_t num);
size_t virtq_used_offset(uint16_t num);
/* Set up q over mem (virtq_size(num) bytes, VIRTQ_ALIGN aligned; cleared here). num must be
 * a power of two <= VIRTQ_MAX. Returns 0 or -1. */
int virtq_init(struct virtq *q, void *mem, uint16_t num);
/* Offer one buffer: addr/len, written by the device when device_writes. The token comes
 * back with it from virtq_get. Returns 0, or -1 when every descriptor is busy. */
int virtq_add(struct virtq *q, uint64_t addr, uint32_t len, int device_writes, void *token);
/* 1 when the device should be told (it did not say it needs no notification). */
int virtq_should_notify(const struct virtq *q);
/* Take one buffer the device returned: 1 with *len (bytes the device wrote) and *token,
 * 0 when none is waiting. A used entry naming a descriptor that is not busy is skipped
 * (counted in *bad when bad is not NULL): a device cannot make us free a buffer twice. */
int virtq_get(struct virtq *q, uint32_t *len, void **token, unsigned *bad);
/* 1 when the device has returned a buffer not yet taken. */
int virtq_pending(const struct virtq *q);

#endif
