/* The virtio-mmio transport (virtio 1.2, 4.2), both versions QEMU offers: the legacy one
 * (version 1) QEMU 7.2 gives by default, and the modern one (version 2,
 * -global virtio-mmio.force-legacy=false). Trap context safe: no C library calls. */
#ifndef GW_VIRTIO_MMIO_H
#define GW_VIRTIO_MMIO_H

#include <stdint.h>

#include "virt_hw.h"
#include "virtq.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4

#define VIRTIO_F_VERSION_1 (1ull << 32)

struct virtio_dev {
    uintptr_t base;
    uint32_t irq;
    int edge;
    uint32_t version;        /* 1 legacy, 2 modern */
    uint32_t device_id;
    uint64_t features;       /* negotiated */
};

/* The first transport (in the tree's order) holding a device of this id. With one device
 * of a kind, which slot QEMU chose does not matter. Returns 0, or -1 when none. */
int vmmio_find(const struct virt_hw *hw, uint32_t device_id, struct virtio_dev *d);
/* Reset, acknowledge, and agree on features: the device's offer & wanted. On the modern
 * transport VERSION_1 is always taken and FEATURES_OK must stick. Returns 0, or -1 with
 * the device marked FAILED. */
int vmmio_negotiate(struct virtio_dev *d, uint64_t wanted);
/* Give queue `index` to the device over q's block (entries: the smaller of num and what
 * the device allows, a power of two). Returns the entries, or 0 when the queue is absent. */
uint16_t vmmio_queue(struct virtio_dev *d, unsigned index, struct virtq *q, void *mem,
                     uint16_t num);
/* DRIVER_OK: the device may start. */
void vmmio_ready(struct virtio_dev *d);
/* Tell the device queue `index` has new buffers (when it wants to be told). */
void vmmio_notify(struct virtio_dev *d, unsigned index, const struct virtq *q);
/* Acknowledge the interrupt: returns the status bits (1 used buffers, 2 config change). */
uint32_t vmmio_irq_ack(struct virtio_dev *d);
/* Device-specific configuration, byte by byte (the same on both transports for bytes). */
uint8_t vmmio_config8(const struct virtio_dev *d, unsigned off);
/* Reset the device (it forgets its queues and stops using our memory). */
void vmmio_reset(struct virtio_dev *d);

#endif
