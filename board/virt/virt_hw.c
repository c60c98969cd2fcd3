/* see virt_hw.h. Bindings: Linux's Documentation/devicetree/bindings for arm,gic (three
 * interrupt cells: type, number, flags), arm,arch_timer (secure, non-secure, virtual,
 * hypervisor PPIs, in that order), arm,psci (method), cfi-flash (bank-width),
 * virtio,mmio, arm,pl011, arm,pl031. */
#include <string.h>

#include "fdt.h"
#include "virt_hw.h"

/* GIC interrupt specifier: <type number flags>; flags bits 0-3 are the trigger type. */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_TYPE_EDGE_MASK 0x3u

static int irq_of(const struct fdt *f, int node, unsigned index, uint32_t *irq, int *edge)
{
    uint32_t type, num, flags;
    if (fdt_prop_u32(f, node, "interrupts", index * 3, &type) ||
        fdt_prop_u32(f, node, "interrupts", index * 3 + 1, &num) ||
        fdt_prop_u32(f, node, "interrupts", index * 3 + 2, &flags)) {
        return -1;
    }
    if (type == GIC_SPI && num < 988) {
        *irq = 32 + num;
    } else if (type == GIC_PPI && num < 16) {
        *irq = 16 + num;
    } else {
        return -1;
    }
    if (edge != NULL) {
        *edge = (flags & IRQ_TYPE_EDGE_MASK) != 0;
    }
    return 0;
}

static int mmio_of(const struct fdt *f, int node, unsigned reg_index, struct virt_mmio *m)
{
    if (fdt_reg(f, node, reg_index, &m->base, &m->size) != 0 || m->size == 0) {
        return -1;
    }
    return 0;
}

/* The UART /chosen stdout-path names ("/pl011@9000000" or with ":115200n8"). */
static int chosen_uart(const struct fdt *f, int chosen)
{
    uint32_t len;
    const char *path = chosen >= 0 ? fdt_prop(f, chosen, "stdout-path", &len) : NULL;
    if (path == NULL || len < 2 || path[0] != '/' || memchr(path, 0, len) == NULL) {
        return FDT_END;
    }
    char name[64];
    size_t n = strcspn(path + 1, ":");
    if (n == 0 || n >= sizeof name || memchr(path + 1, '/', n) != NULL) {
        return FDT_END;
    }
    memcpy(name, path + 1, n);
    name[n] = '\0';
    int node = fdt_find_root_child(f, name);
    return node >= 0 && fdt_compatible(f, node, "arm,pl011") ? node : FDT_END;
}

static void chosen_strings(struct virt_hw *hw, const struct fdt *f, int chosen)
{
    uint32_t len;
    const char *args = chosen >= 0 ? fdt_prop(f, chosen, "bootargs", &len) : NULL;
    if (args != NULL && len > 0) {
        size_t n = strnlen(args, len);
        if (n >= sizeof hw->bootargs) {
            n = sizeof hw->bootargs - 1;
        }
        memcpy(hw->bootargs, args, n);
        hw->bootargs[n] = '\0';
    }
    const uint8_t *seed = chosen >= 0 ? fdt_prop(f, chosen, "rng-seed", &len) : NULL;
    if (seed != NULL) {
        hw->seed_len = len < sizeof hw->seed ? len : (unsigned)sizeof hw->seed;
        memcpy(hw->seed, seed, hw->seed_len);
    }
}

/* see virt_hw.h */
int virt_hw_from_fdt(struct virt_hw *hw, const void *blob, size_t max, const char **why)
{
    struct fdt f;
    memset(hw, 0, sizeof *hw);
    if (fdt_open(&f, blob, max) != 0) {
        *why = "no device tree at the start of RAM (is the image linked at 0x40200000?)";
        return -1;
    }
    /* The console and the power controller first: a tree the board cannot run on is then
     * still reported on the console, and the machine powered off. */
    int chosen = fdt_find_root_child(&f, "chosen");
    int uart = chosen_uart(&f, chosen);
    if (uart < 0) {
        uart = fdt_find_compatible(&f, -1, "arm,pl011");
    }
    if (uart < 0 || mmio_of(&f, uart, 0, &hw->uart) != 0 ||
        irq_of(&f, uart, 0, &hw->uart.irq, &hw->uart.edge) != 0) {
        *why = "device tree: no PL011 UART";
        return -1;
    }
    int psci = fdt_find_compatible(&f, -1, "arm,psci-0.2");
    if (psci < 0) {
        psci = fdt_find_compatible(&f, -1, "arm,psci-1.0");
    }
    uint32_t len;
    const char *method = psci >= 0 ? fdt_prop(&f, psci, "method", &len) : NULL;
    if (method != NULL && len == 4 && memcmp(method, "hvc", 4) == 0) {
        hw->psci = VIRT_PSCI_HVC;
    } else if (method != NULL && len == 4 && memcmp(method, "smc", 4) == 0) {
        hw->psci = VIRT_PSCI_SMC;
    }
    int mem = fdt_find_root_child(&f, "memory");
    if (mem < 0 || fdt_reg(&f, mem, 0, &hw->ram_base, &hw->ram_size) != 0) {
        *why = "device tree: no memory node";
        return -1;
    }
    int gic = fdt_find_compatible(&f, -1, "arm,cortex-a15-gic");
    if (gic < 0) {
        gic = fdt_find_compatible(&f, -1, "arm,gic-400");
    }
    uint64_t size;
    uint32_t cells;
    if (gic < 0 || fdt_reg(&f, gic, 0, &hw->gicd_base, &size) != 0 ||
        fdt_reg(&f, gic, 1, &hw->gicc_base, &size) != 0 ||
        fdt_prop_u32(&f, gic, "#interrupt-cells", 0, &cells) != 0 || cells != 3) {
        *why = "device tree: no GICv2 (run QEMU with gic-version=2, its default)";
        return -1;
    }
    int timer = fdt_find_compatible(&f, -1, "arm,armv8-timer");
    if (timer < 0 || irq_of(&f, timer, 2, &hw->timer_irq, NULL) != 0) {
        *why = "device tree: no generic timer with a virtual timer interrupt";
        return -1;
    }
    int rtc = fdt_find_compatible(&f, -1, "arm,pl031");
    if (rtc >= 0 && mmio_of(&f, rtc, 0, &hw->rtc) != 0) {
        hw->rtc.size = 0;
    }
    /* QEMU describes both pflash banks in one node; bank 1 is the configuration's. */
    int flash = fdt_find_compatible(&f, -1, "cfi-flash");
    if (flash < 0 || mmio_of(&f, flash, 1, &hw->flash) != 0 ||
        fdt_prop_u32(&f, flash, "bank-width", 0, &hw->flash_width) != 0) {
        hw->flash.size = 0;
    }
    for (int n = fdt_find_compatible(&f, -1, "virtio,mmio");
         n >= 0 && hw->nvirtio < VIRT_VIRTIO_MAX;
         n = fdt_find_compatible(&f, n, "virtio,mmio")) {
        struct virt_mmio *m = &hw->virtio[hw->nvirtio];
        if (mmio_of(&f, n, 0, m) == 0 && irq_of(&f, n, 0, &m->irq, &m->edge) == 0) {
            hw->nvirtio++;
        }
    }
    chosen_strings(hw, &f, chosen);
    return 0;
}
