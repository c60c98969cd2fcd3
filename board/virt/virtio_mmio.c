/* see virtio_mmio.h. Register map: virtio 1.2, 4.2.2 (modern) and 4.2.4 (legacy). */
#include "aarch64_cpu.h"
#include "virtio_mmio.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_GUEST_PAGE_SIZE 0x028     /* legacy */
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_ALIGN 0x03c         /* legacy */
#define MMIO_QUEUE_PFN 0x040           /* legacy */
#define MMIO_QUEUE_READY 0x044         /* modern */
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080      /* modern, and the next five */
#define MMIO_QUEUE_DESC_HIGH 0x084
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DRIVER_HIGH 0x094
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define MMIO_CONFIG 0x100

#define MAGIC_VIRT 0x74726976u         /* "virt" */

#define STATUS_ACKNOWLEDGE 1u
#define STATUS_DRIVER 2u
#define STATUS_DRIVER_OK 4u
#define STATUS_FEATURES_OK 8u
#define STATUS_FAILED 128u

static uint32_t rd(const struct virtio_dev *d, unsigned off)
{
    return mmio_read32(d->base + off);
}

static void wr(const struct virtio_dev *d, unsigned off, uint32_t v)
{
    mmio_write32(d->base + off, v);
}

/* see virtio_mmio.h */
int vmmio_find(const struct virt_hw *hw, uint32_t device_id, struct virtio_dev *d)
{
    for (unsigned i = 0; i < hw->nvirtio; i++) {
        uintptr_t base = (uintptr_t)hw->virtio[i].base;
        if (mmio_read32(base + MMIO_MAGIC) != MAGIC_VIRT) {
            continue;
        }
        uint32_t version = mmio_read32(base + MMIO_VERSION);
        if ((version != 1 && version != 2) ||
            mmio_read32(base + MMIO_DEVICE_ID) != device_id) {
            continue;   /* 0 is an empty slot */
        }
        d->base = base;
        d->irq = hw->virtio[i].irq;
        d->edge = hw->virtio[i].edge;
        d->version = version;
        d->device_id = device_id;
        d->features = 0;
        return 0;
    }
    return -1;
}

/* see virtio_mmio.h */
void vmmio_reset(struct virtio_dev *d)
{
    wr(d, MMIO_STATUS, 0);
    /* The modern transport finishes the reset when the status reads back 0. */
    for (unsigned i = 0; i < 1000000 && rd(d, MMIO_STATUS) != 0; i++) {
    }
}

/* see virtio_mmio.h */
int vmmio_negotiate(struct virtio_dev *d, uint64_t wanted)
{
    vmmio_reset(d);
    wr(d, MMIO_STATUS, STATUS_ACKNOWLEDGE);
    wr(d, MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    uint64_t offer;
    wr(d, MMIO_DEVICE_FEATURES_SEL, 0);
    offer = rd(d, MMIO_DEVICE_FEATURES);
    if (d->version == 2) {
        wr(d, MMIO_DEVICE_FEATURES_SEL, 1);
        offer |= (uint64_t)rd(d, MMIO_DEVICE_FEATURES) << 32;
        wanted |= VIRTIO_F_VERSION_1;
        if (!(offer & VIRTIO_F_VERSION_1)) {
            wr(d, MMIO_STATUS, STATUS_FAILED);
            return -1;
        }
    } else {
        wanted &= 0xffffffffu;   /* the legacy transport has 32 feature bits */
    }
    d->features = offer & wanted;
    wr(d, MMIO_DRIVER_FEATURES_SEL, 0);
    wr(d, MMIO_DRIVER_FEATURES, (uint32_t)d->features);
    if (d->version == 2) {
        wr(d, MMIO_DRIVER_FEATURES_SEL, 1);
        wr(d, MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
        uint32_t st = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK;
        wr(d, MMIO_STATUS, st);
        if (!(rd(d, MMIO_STATUS) & STATUS_FEATURES_OK)) {
            wr(d, MMIO_STATUS, STATUS_FAILED);
            return -1;
        }
    } else {
        /* Legacy rings are found by page frame number. */
        wr(d, MMIO_GUEST_PAGE_SIZE, VIRTQ_ALIGN);
    }
    return 0;
}

/* see virtio_mmio.h */
uint16_t vmmio_queue(struct virtio_dev *d, unsigned index, struct virtq *q, void *mem,
                     uint16_t num)
{
    wr(d, MMIO_QUEUE_SEL, index);
    uint32_t max = rd(d, MMIO_QUEUE_NUM_MAX);
    if (max == 0 || (d->version == 1 && rd(d, MMIO_QUEUE_PFN) != 0) ||
        (d->version == 2 && rd(d, MMIO_QUEUE_READY) != 0)) {
        return 0;
    }
    while (num > max) {
        num /= 2;
    }
    if (num == 0 || virtq_init(q, mem, num) != 0) {
        return 0;
    }
    wr(d, MMIO_QUEUE_NUM, num);
    uint64_t desc = (uint64_t)(uintptr_t)q->desc;
    if (d->version == 1) {
        wr(d, MMIO_QUEUE_ALIGN, VIRTQ_ALIGN);
        wr(d, MMIO_QUEUE_PFN, (uint32_t)(desc / VIRTQ_ALIGN));
    } else {
        uint64_t avail = (uint64_t)(uintptr_t)q->avail, used = (uint64_t)(uintptr_t)q->used;
        wr(d, MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
        wr(d, MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
        wr(d, MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
        wr(d, MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
        wr(d, MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
        wr(d, MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
        wr(d, MMIO_QUEUE_READY, 1);
    }
    return num;
}

/* see virtio_mmio.h */
void vmmio_ready(struct virtio_dev *d)
{
    uint32_t st = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK;
    if (d->version == 2) {
        st |= STATUS_FEATURES_OK;
    }
    dsb_st();   /* the rings as set up are in memory before the device starts */
    wr(d, MMIO_STATUS, st);
}

/* see virtio_mmio.h */
void vmmio_notify(struct virtio_dev *d, unsigned index, const struct virtq *q)
{
    if (virtq_should_notify(q)) {
        dsb_st();   /* the avail index reaches memory before the doorbell (Device memory) */
        wr(d, MMIO_QUEUE_NOTIFY, index);
    }
}

/* see virtio_mmio.h */
uint32_t vmmio_irq_ack(struct virtio_dev *d)
{
    uint32_t st = rd(d, MMIO_INTERRUPT_STATUS);
    if (st) {
        wr(d, MMIO_INTERRUPT_ACK, st);
    }
    return st;
}

/* see virtio_mmio.h */
uint8_t vmmio_config8(const struct virtio_dev *d, unsigned off)
{
    return mmio_read8(d->base + MMIO_CONFIG + off);
}
