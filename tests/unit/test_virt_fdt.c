/* The virt board's device-tree reader (board/virt/fdt.c, virt_hw.c) on trees QEMU 7.2
 * dumped for its virt machine, and on damaged ones: every device the board uses is found
 * where QEMU put it, a tree the board cannot run on is refused with a reason, and no
 * damage makes the reader read outside the blob or loop (ASan and the bounded walks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fdt.h"
#include "virt_hw.h"

#ifndef GW_VIRT_DATA
#error "GW_VIRT_DATA: the directory of the test trees"
#endif

static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", GW_VIRT_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    uint8_t *buf = malloc(64 * 1024);
    *len = fread(buf, 1, 64 * 1024, f);
    fclose(f);
    /* exactly as long as the tree: ASan sees any read past its end */
    uint8_t *exact = malloc(*len);
    memcpy(exact, buf, *len);
    free(buf);
    return exact;
}

static void qemu_virt_16m_has_every_device_where_qemu_put_it(void)
{
    size_t len;
    uint8_t *dtb = load("qemu-7.2-virt-16m-net-rng.dtb", &len);
    CHECK(dtb != NULL);
    static struct virt_hw hw;
    const char *why = NULL;
    int err = virt_hw_from_fdt(&hw, dtb, len, &why);
    if (err) {
        fprintf(stderr, "refused: %s\n", why);
    }
    CHECK_EQ(err, 0);
    CHECK_EQ(hw.ram_base, 0x40000000);
    CHECK_EQ(hw.ram_size, 16 << 20);
    CHECK_EQ(hw.uart.base, 0x09000000);
    CHECK_EQ(hw.uart.irq, 32 + 1);
    CHECK_EQ(hw.uart.edge, 0);
    CHECK_EQ(hw.gicd_base, 0x08000000);
    CHECK_EQ(hw.gicc_base, 0x08010000);
    CHECK_EQ(hw.timer_irq, 16 + 11);       /* the virtual timer: third of four PPIs */
    CHECK_EQ(hw.rtc.base, 0x09010000);
    CHECK_EQ(hw.psci, VIRT_PSCI_HVC);
    CHECK_EQ(hw.flash.base, 0x04000000);   /* bank 1, the configuration's */
    CHECK_EQ(hw.flash.size, 64 << 20);
    CHECK_EQ(hw.flash_width, 4);
    CHECK_EQ(hw.nvirtio, 32);
    for (unsigned i = 0; i < hw.nvirtio; i++) {
        /* in address order; interrupts SPI 16 + n, edge-triggered */
        unsigned n = i;
        CHECK_EQ(hw.virtio[i].base, 0x0a000000 + 0x200 * n);
        CHECK_EQ(hw.virtio[i].size, 0x200);
        CHECK_EQ(hw.virtio[i].irq, 32 + 16 + n);
        CHECK_EQ(hw.virtio[i].edge, 1);
    }
    CHECK(strcmp(hw.bootargs, "--mac 52:54:00:12:34:99") == 0);
    CHECK_EQ(hw.seed_len, 32);
    free(dtb);
}

static void el2_machine_with_3g_uses_smc_and_all_its_ram(void)
{
    size_t len;
    uint8_t *dtb = load("qemu-7.2-virt-el2-3g.dtb", &len);
    CHECK(dtb != NULL);
    static struct virt_hw hw;
    const char *why = NULL;
    CHECK_EQ(virt_hw_from_fdt(&hw, dtb, len, &why), 0);
    CHECK_EQ(hw.psci, VIRT_PSCI_SMC);
    CHECK_EQ(hw.ram_size, 3ull << 30);
    CHECK_EQ(hw.bootargs[0], '\0');
    free(dtb);
}

static void gicv3_machine_is_refused_naming_the_gic(void)
{
    size_t len;
    uint8_t *dtb = load("qemu-7.2-virt-gicv3-2g.dtb", &len);
    CHECK(dtb != NULL);
    static struct virt_hw hw;
    const char *why = NULL;
    CHECK_EQ(virt_hw_from_fdt(&hw, dtb, len, &why), -1);
    CHECK(why != NULL && strstr(why, "GICv2") != NULL);
    free(dtb);
}

static void walker_finds_nodes_properties_and_regs(void)
{
    size_t len;
    uint8_t *dtb = load("qemu-7.2-virt-16m-net-rng.dtb", &len);
    CHECK(dtb != NULL);
    struct fdt f;
    CHECK_EQ(fdt_open(&f, dtb, len), 0);
    int chosen = fdt_find_root_child(&f, "chosen");
    CHECK(chosen >= 0);
    CHECK(strcmp(fdt_node_name(&f, chosen), "chosen") == 0);
    CHECK(fdt_prop(&f, chosen, "no-such-property", NULL) == NULL);
    int mem = fdt_find_root_child(&f, "memory");
    CHECK(mem >= 0);
    CHECK(strcmp(fdt_node_name(&f, mem), "memory@40000000") == 0);
    uint64_t a, s;
    CHECK_EQ(fdt_reg(&f, mem, 0, &a, &s), 0);
    CHECK_EQ(fdt_reg(&f, mem, 1, &a, &s), FDT_END);
    /* the GIC's v2m frame is a grandchild: its reg uses the GIC's own cells */
    int v2m = fdt_find_compatible(&f, -1, "arm,gic-v2m-frame");
    CHECK(v2m >= 0);
    CHECK_EQ(fdt_reg(&f, v2m, 0, &a, &s), 0);
    CHECK_EQ(a, 0x08020000);
    CHECK_EQ(s, 0x1000);
    /* a node at every depth is visited once, in order */
    int depth = 0, n = fdt_next_node(&f, -1, &depth), count = 0, maxdepth = 0, last = -1;
    while (n >= 0) {
        CHECK(n > last);
        last = n;
        count++;
        if (depth > maxdepth) {
            maxdepth = depth;
        }
        n = fdt_next_node(&f, n, &depth);
    }
    CHECK_EQ(n, FDT_END);
    CHECK(count > 40);
    CHECK_EQ(maxdepth, 5);   /* /cpus/cpu-map/socket0/cluster0/core0 */
    /* the same tree cut anywhere short of its length is not opened */
    CHECK_EQ(fdt_open(&f, dtb, len - 1), FDT_EBADF);
    CHECK_EQ(fdt_open(&f, dtb, 39), FDT_EBADF);
    free(dtb);
}

/* A tree nested deeper than FDT_DEPTH_MAX: refused, not followed. */
static void deep_nesting_is_refused(void)
{
    enum { LEVELS = 40 };
    static uint8_t b[40 + 16 + LEVELS * 8 + LEVELS * 4 + 4 + 8];
    size_t pos = 40 + 16;            /* header, an empty reservation map */
    size_t st = pos;
    for (int i = 0; i < LEVELS; i++) {
        b[pos + 3] = 1;              /* BEGIN_NODE, name "n" */
        b[pos + 4] = 'n';
        pos += 8;
    }
    for (int i = 0; i < LEVELS; i++) {
        b[pos + 3] = 2;
        pos += 4;
    }
    b[pos + 3] = 9;
    pos += 4;
    uint32_t hdr[10] = { 0xd00dfeed, (uint32_t)pos, (uint32_t)st, (uint32_t)pos, 40, 17, 16, 0,
                         0, (uint32_t)(pos - st) };
    for (int i = 0; i < 10; i++) {
        b[4 * i] = (uint8_t)(hdr[i] >> 24);
        b[4 * i + 1] = (uint8_t)(hdr[i] >> 16);
        b[4 * i + 2] = (uint8_t)(hdr[i] >> 8);
        b[4 * i + 3] = (uint8_t)hdr[i];
    }
    struct fdt f;
    CHECK_EQ(fdt_open(&f, b, pos), 0);
    int depth = 0, n = fdt_next_node(&f, -1, &depth), steps = 0;
    while (n >= 0 && steps < 100) {
        n = fdt_next_node(&f, n, &depth);
        steps++;
    }
    CHECK_EQ(n, FDT_EBADF);
    CHECK_EQ(steps, FDT_DEPTH_MAX);   /* depths 1 .. FDT_DEPTH_MAX - 1, then refused */
    static struct virt_hw hw;
    const char *why = NULL;
    CHECK_EQ(virt_hw_from_fdt(&hw, b, pos, &why), -1);
}

/* Random damage to QEMU's tree: every result is an answer or a refusal, and ASan watches
 * every read stay inside the blob. */
static void damaged_trees_never_read_outside_the_blob(void)
{
    size_t len;
    uint8_t *orig = load("qemu-7.2-virt-16m-net-rng.dtb", &len);
    CHECK(orig != NULL);
    uint8_t *b = malloc(len);
    uint64_t r = 0x2545f4914f6cdd1dull;
    unsigned refused = 0, runs = getenv("GW_TEST_LONG") ? 200000 : 4000;
    static struct virt_hw hw;
    for (unsigned i = 0; i < runs; i++) {
        memcpy(b, orig, len);
        unsigned changes = 1 + (unsigned)(r % 4);
        for (unsigned c = 0; c < changes; c++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            /* header and structure block get most of the damage: that is where the walk is */
            size_t at = (r >> 8) % (c == 0 ? 512 : len);
            b[at] = (uint8_t)(r >> 40);
        }
        const char *why = NULL;
        if (virt_hw_from_fdt(&hw, b, len, &why) != 0) {
            refused++;
            CHECK(why != NULL);
        } else {
            CHECK(hw.nvirtio <= 32);
            CHECK(strlen(hw.bootargs) < sizeof hw.bootargs);
        }
    }
    printf("damaged trees: %u runs, %u refused\n", runs, refused);
    CHECK(refused > 0);
    free(b);
    free(orig);
}

CHECK_MAIN(
    { "qemu_virt_16m_has_every_device_where_qemu_put_it",
      qemu_virt_16m_has_every_device_where_qemu_put_it },
    { "el2_machine_with_3g_uses_smc_and_all_its_ram",
      el2_machine_with_3g_uses_smc_and_all_its_ram },
    { "gicv3_machine_is_refused_naming_the_gic", gicv3_machine_is_refused_naming_the_gic },
    { "walker_finds_nodes_properties_and_regs", walker_finds_nodes_properties_and_regs },
    { "deep_nesting_is_refused", deep_nesting_is_refused },
    { "damaged_trees_never_read_outside_the_blob", damaged_trees_never_read_outside_the_blob })
