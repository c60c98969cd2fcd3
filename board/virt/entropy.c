/* The board's true entropy: a virtio entropy device when QEMU has one, else the CPU's own
 * random number instruction (RNDR, ARMv8.5 FEAT_RNG: -cpu max has it, cortex-a53 does
 * not). Neither: board_entropy fails and TLS refuses to start, as on Linux without
 * getrandom. Never weak bytes: the device tree's rng-seed only seeds the stack canary.
 * Trap context safe (the shim's getrandom): no C library calls. */
#include "aarch64_cpu.h"
#include "board.h"
#include "virt.h"

enum { SRC_NONE, SRC_VIRTIO, SRC_RNDR };
static int source;

static int cpu_has_rndr(void)
{
    /* ID_AA64ISAR0_EL1.RNDR, bits 63:60: 1 when RNDR and RNDRRS exist */
    return (sysreg_read(id_aa64isar0_el1) >> 60) == 1;
}

/* One RNDR read: 0 with *v, or -1 when the instruction reports failure (NZCV.Z set). */
static int rndr(uint64_t *v)
{
    uint64_t x, nzcv;
    __asm__ volatile("mrs %0, s3_3_c2_c4_0\n\tmrs %1, nzcv" : "=r"(x), "=r"(nzcv));
    if (nzcv & (1u << 30)) {
        return -1;
    }
    *v = x;
    return 0;
}

static int rndr_read(uint8_t *out, size_t len)
{
    /* the architecture allows a transient failure: retry, a bounded number of times */
    for (unsigned fails = 0; len > 0;) {
        uint64_t v;
        if (rndr(&v) != 0) {
            if (++fails > 100) {
                return -1;
            }
            continue;
        }
        for (unsigned i = 0; i < 8 && len > 0; i++, len--) {
            *out++ = (uint8_t)(v >> (8 * i));
        }
    }
    return 0;
}

/* see virt.h */
int virt_entropy_init(void)
{
    if (vrng_init() == 0) {
        source = SRC_VIRTIO;
    } else if (cpu_has_rndr()) {
        source = SRC_RNDR;
    } else {
        source = SRC_NONE;
        return -1;
    }
    return 0;
}

/* see virt.h */
const char *virt_entropy_source(void)
{
    return source == SRC_VIRTIO ? "virtio-rng" : source == SRC_RNDR ? "RNDR" : 0;
}

/* see virt.h */
int virt_rng_present(void)
{
    return source == SRC_RNDR || (source == SRC_VIRTIO && vrng_present());
}

/* see virt.h */
int virt_rng_read(void *buf, size_t len)
{
    if (source == SRC_VIRTIO) {
        return vrng_read(buf, len);
    }
    if (source == SRC_RNDR) {
        return rndr_read(buf, len);
    }
    return -1;
}

/* see board.h */
int board_entropy(void *buf, size_t len)
{
    return virt_rng_read(buf, len) == 0 ? BOARD_OK : BOARD_ENOENTROPY;
}
