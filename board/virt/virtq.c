/* see virtq.h */
#include "virtq.h"

/* The rings are shared with the device: every access to them is a volatile one, and the
 * barriers order them against the device's view (QEMU's device model runs on other host
 * threads, with the guest's RAM coherent: inner shareable barriers suffice). On a host
 * build the device is the unit test's model on the same thread; the fences keep the
 * compiler from reordering all the same. */
#if defined(__aarch64__)
static inline void vq_wmb(void) { __asm__ volatile("dmb ishst" : : : "memory"); }
static inline void vq_rmb(void) { __asm__ volatile("dmb ishld" : : : "memory"); }
static inline void vq_mb(void) { __asm__ volatile("dmb ish" : : : "memory"); }
#else
static inline void vq_wmb(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
static inline void vq_rmb(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
static inline void vq_mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
#endif

/* Free descriptors carry a flag no device sees (they are on no ring), so a used entry that
 * names one can be told from a real return without walking the free list. */
#define DESC_FREE_MARK 0x8000u

#define RD16(lv) (*(volatile uint16_t *)&(lv))
#define WR16(lv, v) (*(volatile uint16_t *)&(lv) = (uint16_t)(v))

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* see virtq.h */
size_t virtq_avail_offset(uint16_t num)
{
    return (size_t)num * sizeof(struct virtq_desc);
}

/* see virtq.h */
size_t virtq_used_offset(uint16_t num)
{
    /* avail: flags, idx, ring[num], used_event */
    return align_up(virtq_avail_offset(num) + 6 + 2 * (size_t)num, VIRTQ_ALIGN);
}

/* see virtq.h */
size_t virtq_size(uint16_t num)
{
    /* used: flags, idx, ring[num], avail_event */
    return virtq_used_offset(num) +
           align_up(6 + sizeof(struct virtq_used_elem) * (size_t)num, VIRTQ_ALIGN);
}

/* see virtq.h */
int virtq_init(struct virtq *q, void *mem, uint16_t num)
{
    if (num == 0 || num > VIRTQ_MAX || (num & (num - 1)) != 0 ||
        ((uintptr_t)mem & (VIRTQ_ALIGN - 1)) != 0) {
        return -1;
    }
    /* a plain loop: trap context may not call memset */
    volatile uint64_t *p = mem;
    for (size_t i = 0; i < virtq_size(num) / 8; i++) {
        p[i] = 0;
    }
    q->num = num;
    q->desc = mem;
    q->avail = (struct virtq_avail *)((uint8_t *)mem + virtq_avail_offset(num));
    q->used = (struct virtq_used *)((uint8_t *)mem + virtq_used_offset(num));
    for (uint16_t i = 0; i < num; i++) {
        q->desc[i].next = (uint16_t)(i + 1);
        q->desc[i].flags = DESC_FREE_MARK;
        q->token[i] = 0;
    }
    q->free_head = 0;
    q->nfree = num;
    q->last_used = 0;
    return 0;
}

/* see virtq.h */
int virtq_add(struct virtq *q, uint64_t addr, uint32_t len, int device_writes, void *token)
{
    if (q->nfree == 0) {
        return -1;
    }
    uint16_t d = q->free_head;
    q->free_head = q->desc[d].next;
    q->nfree--;
    q->desc[d].addr = addr;
    q->desc[d].len = len;
    q->desc[d].flags = device_writes ? VIRTQ_DESC_F_WRITE : 0;
    q->desc[d].next = 0;
    q->token[d] = token;
    uint16_t idx = RD16(q->avail->idx);
    WR16(q->avail->ring[idx & (q->num - 1)], d);
    vq_wmb();                       /* the descriptor and ring slot before the index */
    WR16(q->avail->idx, idx + 1);
    return 0;
}

/* see virtq.h */
int virtq_should_notify(const struct virtq *q)
{
    vq_mb();                        /* the new index is out before we read the device's flag */
    return !(RD16(q->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

/* see virtq.h */
int virtq_pending(const struct virtq *q)
{
    return RD16(q->used->idx) != q->last_used;
}


/* see virtq.h */
int virtq_get(struct virtq *q, uint32_t *len, void **token, unsigned *bad)
{
    uint16_t used_idx = RD16(q->used->idx);
    /* A device can return at most num buffers ahead of us; more is a broken device. */
    for (unsigned budget = q->num; q->last_used != used_idx && budget > 0; budget--) {
        vq_rmb();                   /* the index before the entries it covers */
        volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->num - 1)];
        uint32_t id = e->id, n = e->len;
        q->last_used++;
        if (id >= q->num || (q->desc[id].flags & DESC_FREE_MARK)) {
            if (bad != 0) {
                (*bad)++;
            }
            continue;
        }
        *len = n;
        *token = q->token[id];
        q->token[id] = 0;
        q->desc[id].flags = DESC_FREE_MARK;
        q->desc[id].next = q->free_head;
        q->free_head = (uint16_t)id;
        q->nfree++;
        return 1;
    }
    return 0;
}
