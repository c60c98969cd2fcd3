/* Entropy from a virtio entropy device (virtio 1.2, 5.4; QEMU -device virtio-rng-device, fed
 * from the host's /dev/urandom). One request at a time: a buffer the device fills, polled
 * to completion with a time bound (no interrupt: the caller waits anyway).
 * Trap context safe (the shim's getrandom): no C library calls. */
#include "aarch64_cpu.h"
#include "virt.h"
#include "virtio_mmio.h"

#define RNG_QUEUE_NUM 4
#define RNG_CHUNK 64
/* The host answers within microseconds; a second means the device is gone. */
#define RNG_TIMEOUT_MS 1000

static struct virtio_dev rng;
static struct virtq rng_q;
static uint8_t rng_ring[2 * VIRTQ_ALIGN] __attribute__((aligned(VIRTQ_ALIGN)));
static uint8_t rng_buf[RNG_CHUNK] __attribute__((aligned(64)));
static int rng_ok;

/* see virt.h */
int vrng_init(void)
{
    if (vmmio_find(&virt_hw, VIRTIO_ID_RNG, &rng) != 0) {
        return -1;
    }
    if (vmmio_negotiate(&rng, 0) != 0 || virtq_size(RNG_QUEUE_NUM) > sizeof rng_ring ||
        vmmio_queue(&rng, 0, &rng_q, rng_ring, RNG_QUEUE_NUM) == 0) {
        vmmio_reset(&rng);
        return -1;
    }
    vmmio_ready(&rng);
    rng_ok = 1;
    return 0;
}

/* see virt.h */
int vrng_present(void)
{
    return rng_ok;
}

static int fill(uint32_t want, uint32_t *got)
{
    if (virtq_add(&rng_q, (uint64_t)(uintptr_t)rng_buf, want, 1, rng_buf) != 0) {
        return -1;
    }
    vmmio_notify(&rng, 0, &rng_q);
    uint64_t deadline = timer_ms() + RNG_TIMEOUT_MS;
    void *token;
    while (virtq_get(&rng_q, got, &token, 0) == 0) {
        if (timer_ms() > deadline) {
            /* The device kept our buffer: it cannot be offered again. */
            rng_ok = 0;
            return -1;
        }
    }
    vmmio_irq_ack(&rng);
    return *got <= want ? 0 : -1;
}

/* see virt.h */
int vrng_read(void *buf, size_t len)
{
    uint8_t *out = buf;
    /* a device that keeps answering with nothing is broken: bounded tries */
    for (unsigned tries = 0; len > 0 && tries < 1000; tries++) {
        if (!rng_ok) {
            return -1;
        }
        uint32_t want = len < RNG_CHUNK ? (uint32_t)len : RNG_CHUNK, got = 0;
        if (fill(want, &got) != 0) {
            return -1;
        }
        for (uint32_t i = 0; i < got; i++) {
            out[i] = rng_buf[i];
            rng_buf[i] = 0;
        }
        out += got;
        len -= got;
    }
    return len == 0 ? 0 : -1;
}
