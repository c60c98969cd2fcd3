/* The interrupt controller: an ARM GICv2 (IHI 0048B), distributor and CPU interface, one
 * CPU. Every interrupt the board uses is group 0, priority 0xa0, routed to CPU 0, and goes
 * to a handler registered with gic_attach(). Trap context: no C library calls. */
#include "aarch64_cpu.h"
#include "virt.h"

#define GICD_CTLR 0x000
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ICPENDR 0x280
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICD_ICFGR 0xc00

#define GICC_CTLR 0x000
#define GICC_PMR 0x004
#define GICC_BPR 0x008
#define GICC_IAR 0x00c
#define GICC_EOIR 0x010

#define IRQ_SPURIOUS 1020
/* The virt machine's GIC has 288 interrupt IDs (256 SPIs); every handler the board needs
 * fits this table: UART, timer and virtio transports. */
#define GIC_HANDLERS 40

static uintptr_t gicd, gicc;
static struct {
    uint32_t irq;
    void (*fn)(void *);
    void *arg;
} handlers[GIC_HANDLERS];
static unsigned nhandlers;

/* see virt.h */
void gic_init(uint64_t d, uint64_t c)
{
    gicd = (uintptr_t)d;
    gicc = (uintptr_t)c;
    mmio_write32(gicd + GICD_CTLR, 0);
    /* Nothing enabled or pending from before a reset. */
    for (unsigned i = 0; i < 32; i++) {
        mmio_write32(gicd + GICD_ICENABLER + 4 * i, 0xffffffffu);
        mmio_write32(gicd + GICD_ICPENDR + 4 * i, 0xffffffffu);
    }
    mmio_write32(gicd + GICD_CTLR, 1);
    mmio_write32(gicc + GICC_PMR, 0xf0);
    mmio_write32(gicc + GICC_BPR, 0);
    mmio_write32(gicc + GICC_CTLR, 1);
}

/* see virt.h */
int gic_attach(uint32_t irq, int edge, void (*fn)(void *), void *arg)
{
    if (irq >= IRQ_SPURIOUS || nhandlers == GIC_HANDLERS) {
        return -1;
    }
    handlers[nhandlers].irq = irq;
    handlers[nhandlers].fn = fn;
    handlers[nhandlers].arg = arg;
    nhandlers++;
    uintptr_t prio = gicd + GICD_IPRIORITYR + (irq & ~3u);
    uint32_t shift = (irq % 4) * 8;
    mmio_write32(prio, (mmio_read32(prio) & ~(0xffu << shift)) | (0xa0u << shift));
    if (irq >= 32) {
        uintptr_t target = gicd + GICD_ITARGETSR + (irq & ~3u);
        mmio_write32(target, (mmio_read32(target) & ~(0xffu << shift)) | (1u << shift));
        uintptr_t cfg = gicd + GICD_ICFGR + (irq / 16) * 4;
        uint32_t bit = 2u << ((irq % 16) * 2);
        mmio_write32(cfg, edge ? mmio_read32(cfg) | bit : mmio_read32(cfg) & ~bit);
    }
    mmio_write32(gicd + GICD_ISENABLER + (irq / 32) * 4, 1u << (irq % 32));
    return 0;
}

/* see virt.h: from the IRQ vector */
void gic_dispatch(void)
{
    for (unsigned budget = 0; budget < 64; budget++) {
        uint32_t iar = mmio_read32(gicc + GICC_IAR);
        uint32_t irq = iar & 0x3ff;
        if (irq >= IRQ_SPURIOUS) {
            return;   /* nothing (more) pending */
        }
        unsigned i = 0;
        while (i < nhandlers && handlers[i].irq != irq) {
            i++;
        }
        if (i < nhandlers) {
            handlers[i].fn(handlers[i].arg);
        } else {
            /* Nobody asked for it: switch it off rather than be called forever. */
            mmio_write32(gicd + GICD_ICENABLER + (irq / 32) * 4, 1u << (irq % 32));
        }
        mmio_write32(gicc + GICC_EOIR, iar);
    }
}
