/* see cfi_model.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfi_model.h"

enum { MODE_ARRAY, MODE_STATUS, MODE_QUERY, MODE_ID };

#define SR_READY 0x80
#define SR_ERASE_ERR 0x20
#define SR_PROGRAM_ERR 0x10
#define SR_LOCKED 0x02

static uint64_t rnd(struct cfi_model *m)
{
    uint64_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return m->rng = x;
}

static void violation(struct cfi_model *m, const char *fmt, unsigned a, unsigned b)
{
    m->violations++;
    snprintf(m->last_violation, sizeof m->last_violation, fmt, a, b);
    if (getenv("GW_TEST_VERBOSE")) {
        fprintf(stderr, "cfi model: %s\n", m->last_violation);
    }
}

struct cfi_model *cfi_model_new(uint32_t size, uint32_t block)
{
    struct cfi_model *m = calloc(1, sizeof *m);
    m->size = size;
    m->block = block;
    m->image = malloc(size);
    memset(m->image, 0xff, size);
    for (int i = 0; i < CFI_MODEL_LANES; i++) {
        m->chip[i].locked = calloc(size / block, 1);
        m->chip[i].status = SR_READY;
    }
    m->powered = 1;
    m->rng = 0x9e3779b97f4a7c15ull;
    /* one x16 chip's table, as QEMU fills it for the virt machine's banks */
    uint32_t chip_size = size / CFI_MODEL_LANES, chip_block = block / CFI_MODEL_LANES;
    uint32_t blocks = chip_size / chip_block;
    uint8_t *c = m->cfi;
    c[0x10] = 'Q';
    c[0x11] = 'R';
    c[0x12] = 'Y';
    c[0x13] = 0x01;                 /* Intel/Sharp */
    c[0x15] = 0x31;
    c[0x1b] = 0x45;
    c[0x1c] = 0x55;
    c[0x1f] = 0x07;                 /* 128 us typical word program */
    c[0x20] = 0x07;
    c[0x21] = 0x0a;                 /* 1 s typical block erase */
    c[0x23] = 0x04;                 /* maximum: 16 times the typical */
    c[0x24] = 0x04;
    c[0x25] = 0x04;
    uint8_t log2 = 0;
    while ((1u << log2) < chip_size) {
        log2++;
    }
    c[0x27] = log2;
    c[0x28] = 0x02;                 /* x8/x16 */
    c[0x2a] = 0x0b;
    c[0x2c] = 0x01;                 /* one erase block region */
    c[0x2d] = (uint8_t)(blocks - 1);
    c[0x2e] = (uint8_t)((blocks - 1) >> 8);
    c[0x2f] = (uint8_t)(chip_block >> 8);
    c[0x30] = (uint8_t)(chip_block >> 16);
    c[0x31] = 'P';
    c[0x32] = 'R';
    c[0x33] = 'I';
    return m;
}

void cfi_model_free(struct cfi_model *m)
{
    for (int i = 0; i < CFI_MODEL_LANES; i++) {
        free(m->chip[i].locked);
    }
    free(m->image);
    free(m);
}

void cfi_model_arm(struct cfi_model *m, uint64_t cut_at, int tear, uint64_t seed)
{
    m->writes = 0;
    m->cut_at = cut_at;
    m->tear = tear;
    m->rng = seed * 0x9e3779b97f4a7c15ull + 1;
}

void cfi_model_power_on(struct cfi_model *m)
{
    m->powered = 1;
    m->cut_at = 0;
    for (int i = 0; i < CFI_MODEL_LANES; i++) {
        struct cfi_chip *c = &m->chip[i];
        c->mode = MODE_ARRAY;
        c->pending = 0;
        c->status = SR_READY;
        c->busy = 0;
        if (m->lock_at_power_up) {
            memset(c->locked, 1, m->size / m->block);
        }
    }
}

int cfi_model_reading_array(const struct cfi_model *m)
{
    for (int i = 0; i < CFI_MODEL_LANES; i++) {
        if (m->chip[i].mode != MODE_ARRAY || m->chip[i].pending || m->chip[i].busy) {
            return 0;
        }
    }
    return 1;
}

/* One bank-level program or erase: count it; 1 to do it whole, 0 torn (power then fails). */
static int write_op(struct cfi_model *m)
{
    m->writes++;
    if (m->cut_at != 0 && m->writes == m->cut_at) {
        m->powered = 0;
        return m->tear ? 0 : 1;
    }
    return 1;
}

static uint8_t *lane_byte(struct cfi_model *m, uint32_t off, int lane, int b)
{
    return &m->image[(off & ~3u) + 2u * (unsigned)lane + (unsigned)b];
}

static void program(struct cfi_model *m, uint32_t off, uint32_t value, int whole)
{
    for (int lane = 0; lane < CFI_MODEL_LANES; lane++) {
        struct cfi_chip *c = &m->chip[lane];
        c->pending = 0;
        c->mode = MODE_STATUS;
        if (c->locked[off / m->block]) {
            c->status |= SR_LOCKED | SR_PROGRAM_ERR;
            continue;
        }
        if (lane == 0 && m->inject_error) {
            c->status |= (uint8_t)m->inject_error;
            m->inject_error = 0;
            continue;
        }
        uint16_t v = (uint16_t)(value >> (16 * lane));
        for (int b = 0; b < 2; b++) {
            uint8_t *p = lane_byte(m, off, lane, b), nb = (uint8_t)(v >> (8 * b));
            uint8_t target = m->overwrite ? nb : (uint8_t)(*p & nb);
            if (!whole) {
                /* torn: some of the bits that were to change did */
                uint8_t change = (uint8_t)(*p ^ target) & (uint8_t)rnd(m);
                target = (uint8_t)(*p ^ change);
            }
            *p = target;
        }
        c->busy = m->program_busy + (lane == 1 ? m->lane1_extra_busy : 0);
    }
    m->programs++;
}

static void erase(struct cfi_model *m, uint32_t off, int whole)
{
    uint32_t blk = off / m->block;
    for (int lane = 0; lane < CFI_MODEL_LANES; lane++) {
        struct cfi_chip *c = &m->chip[lane];
        c->pending = 0;
        c->mode = MODE_STATUS;
        if (c->locked[blk]) {
            c->status |= SR_LOCKED | SR_ERASE_ERR;
            continue;
        }
        for (uint32_t w = blk * m->block; w < (blk + 1) * m->block; w += 4) {
            for (int b = 0; b < 2; b++) {
                uint8_t *p = lane_byte(m, w, lane, b);
                if (whole) {
                    *p = 0xff;
                } else {
                    uint64_t r = rnd(m);
                    *p = r % 3 == 0 ? 0xff : r % 3 == 1 ? (uint8_t)(*p | (uint8_t)(r >> 8)) : *p;
                }
            }
        }
        c->busy = m->erase_busy + (lane == 1 ? m->lane1_extra_busy : 0);
    }
    m->erases++;
}

static int valid_command(uint8_t cmd)
{
    switch (cmd) {
    case 0xff: case 0x70: case 0x50: case 0x98: case 0x90: case 0x40: case 0x10: case 0x20:
    case 0x60:
        return 1;
    default:
        return 0;
    }
}

static void bus_write(void *ctx, uint32_t off, uint32_t value)
{
    struct cfi_model *m = ctx;
    if (!m->powered) {
        return;
    }
    if (off >= m->size || off % 4) {
        violation(m, "write at 0x%x (%u): outside the bank or not a word", off, 0);
        return;
    }
    struct cfi_chip *c0 = &m->chip[0], *c1 = &m->chip[1];
    if (c0->busy || c1->busy) {
        violation(m, "write 0x%08x while a chip is busy (%u reads left)", value,
                  c0->busy > c1->busy ? c0->busy : c1->busy);
        return;
    }
    if (c0->pending != c1->pending) {
        violation(m, "the chips disagree on the command in progress (0x%02x, 0x%02x)",
                  (unsigned)c0->pending, (unsigned)c1->pending);
        return;
    }
    uint8_t cmd[CFI_MODEL_LANES] = { (uint8_t)value, (uint8_t)(value >> 16) };
    switch (c0->pending) {
    case 0x40:
    case 0x10:
        program(m, off, value, write_op(m));
        return;
    case 0x20:
        if (cmd[0] == 0xd0 && cmd[1] == 0xd0) {
            erase(m, off, write_op(m));
        } else {
            violation(m, "block erase not confirmed with 0xd0 on both chips (0x%08x)", value, 0);
            c0->pending = c1->pending = 0;
            c0->status |= SR_ERASE_ERR | SR_PROGRAM_ERR;
            c1->status |= SR_ERASE_ERR | SR_PROGRAM_ERR;
            c0->mode = c1->mode = MODE_STATUS;
        }
        return;
    case 0x60:
        for (int lane = 0; lane < CFI_MODEL_LANES; lane++) {
            struct cfi_chip *c = &m->chip[lane];
            c->pending = 0;
            c->mode = MODE_STATUS;
            if (cmd[lane] == 0xd0) {
                c->locked[off / m->block] = 0;
            } else if (cmd[lane] == 0x01) {
                c->locked[off / m->block] = 1;
            } else {
                violation(m, "lock command 0x%02x on chip %u", cmd[lane], (unsigned)lane);
            }
            c->busy = 1;
        }
        return;
    default:
        break;
    }
    /* A fresh command: every chip must get the same one (the bus value doubled). */
    for (int lane = 0; lane < CFI_MODEL_LANES; lane++) {
        if (!valid_command(cmd[lane])) {
            violation(m, "chip %u got 0x%02x, which is no command (not doubled?)",
                      (unsigned)lane, cmd[lane]);
            return;
        }
    }
    if (cmd[0] != cmd[1]) {
        violation(m, "the chips got different commands 0x%02x and 0x%02x", cmd[0], cmd[1]);
        return;
    }
    for (int lane = 0; lane < CFI_MODEL_LANES; lane++) {
        struct cfi_chip *c = &m->chip[lane];
        switch (cmd[lane]) {
        case 0xff: c->mode = MODE_ARRAY; break;
        case 0x70: c->mode = MODE_STATUS; break;
        case 0x50: c->status = SR_READY; break;
        case 0x98: c->mode = MODE_QUERY; break;
        case 0x90: c->mode = MODE_ID; break;
        default: c->pending = cmd[lane]; break;
        }
    }
}

static uint32_t bus_read(void *ctx, uint32_t off)
{
    struct cfi_model *m = ctx;
    if (!m->powered) {
        return 0xffffffffu;
    }
    if (off >= m->size || off % 4) {
        violation(m, "read at 0x%x (%u): outside the bank or not a word", off, 0);
        return 0;
    }
    uint32_t v = 0;
    int counted = 0;
    m->clock_us += 1;   /* time passes on every bus access, more on a status read */
    for (int lane = 0; lane < CFI_MODEL_LANES; lane++) {
        struct cfi_chip *c = &m->chip[lane];
        uint16_t lv;
        if (c->busy || c->mode == MODE_STATUS || c->pending) {
            /* a chip in an operation answers with its status, whatever the mode */
            if (!counted) {
                m->status_reads++;
                m->clock_us += 9;
                counted = 1;
            }
            lv = (uint16_t)(c->busy ? (c->status & ~SR_READY) : (c->status | SR_READY));
            if (c->busy && !c->stuck) {
                c->busy--;
            }
        } else if (c->mode == MODE_QUERY) {
            lv = off / 4 < sizeof m->cfi ? m->cfi[off / 4] : 0;
        } else if (c->mode == MODE_ID) {
            lv = off / 4 == 0 ? 0x89 : off / 4 == 1 ? 0x18 : 0;
        } else {
            lv = (uint16_t)(*lane_byte(m, off, lane, 0) | *lane_byte(m, off, lane, 1) << 8);
        }
        v |= (uint32_t)lv << (16 * lane);
    }
    return v;
}

static uint32_t bus_now(void *ctx)
{
    struct cfi_model *m = ctx;
    return (uint32_t)(m->clock_us / 1000);
}

struct cfi_bus cfi_model_bus(struct cfi_model *m)
{
    return (struct cfi_bus){ .read32 = bus_read, .write32 = bus_write, .now_ms = bus_now,
                             .ctx = m };
}
