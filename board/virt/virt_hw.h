/* What the virt board's hardware is, read from the device tree QEMU hands over: every
 * device address and interrupt the board uses comes from here, never from a constant.
 * Portable (no MMIO): the host unit test reads a DTB dumped from QEMU with it. */
#ifndef GW_VIRT_HW_H
#define GW_VIRT_HW_H

#include <stddef.h>
#include <stdint.h>

/* QEMU's virt machine has 32 virtio-mmio transports. */
#define VIRT_VIRTIO_MAX 32
#define VIRT_BOOTARGS_MAX 256
#define VIRT_SEED_MAX 64

enum virt_psci { VIRT_PSCI_NONE = 0, VIRT_PSCI_HVC, VIRT_PSCI_SMC };

struct virt_mmio {
    uint64_t base, size;
    uint32_t irq;            /* GIC interrupt ID (SPI n is 32 + n, PPI n is 16 + n) */
    int edge;                /* 1: edge-triggered, 0: level */
};

struct virt_hw {
    uint64_t ram_base, ram_size;     /* the first memory node */
    struct virt_mmio uart;           /* PL011 (the /chosen stdout-path one, else the first) */
    uint64_t gicd_base, gicc_base;   /* GICv2 distributor and CPU interface */
    uint32_t timer_irq;              /* the EL1 virtual timer's interrupt ID */
    struct virt_mmio rtc;            /* PL031; size 0: none */
    enum virt_psci psci;
    struct virt_mmio flash;          /* the second CFI bank; size 0: none */
    uint32_t flash_width;            /* bank-width in bytes */
    unsigned nvirtio;
    struct virt_mmio virtio[VIRT_VIRTIO_MAX];   /* every transport, in tree order */
    char bootargs[VIRT_BOOTARGS_MAX];           /* /chosen bootargs (-append), or "" */
    uint8_t seed[VIRT_SEED_MAX];                /* /chosen rng-seed (not secret-grade) */
    unsigned seed_len;
};

/* Fill hw from the DTB at blob (at most max bytes). Returns 0, or -1 with *why naming
 * what is missing or damaged (a console, an interrupt controller and RAM are required;
 * the rest may be absent). The console and PSCI are read first: when they were found,
 * hw->uart.size and hw->psci are set even on failure, so the failure can be reported. */
int virt_hw_from_fdt(struct virt_hw *hw, const void *blob, size_t max, const char **why);

#endif
