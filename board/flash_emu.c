/* see flash_emu.h */
#include <string.h>

#include "flash_emu.h"

static uint64_t emu_rand(struct flash_emu *e)
{
    uint64_t x = e->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    e->rng = x;
    return x;
}

/* Count one write operation. Returns 1 when it should run whole, 0 when it is the torn one
 * (and power then fails), -1 when power is already gone. */
static int emu_write_op(struct flash_emu *e)
{
    if (!e->powered) {
        return -1;
    }
    e->ops++;
    e->writes++;
    if (e->cut_at != 0 && e->writes == e->cut_at) {
        e->powered = 0;
        return e->tear ? 0 : 1;
    }
    return 1;
}

static int emu_read(struct flash *f, uint32_t addr, void *buf, size_t len)
{
    struct flash_emu *e = (struct flash_emu *)f;
    if (!e->powered) {
        return FLASH_EIO;
    }
    e->ops++;
    memcpy(buf, e->image + addr, len);
    return FLASH_OK;
}

static int unit_test_and_set(struct flash_emu *e, uint32_t unit)
{
    uint8_t bit = (uint8_t)(1u << (unit % 8));
    int was = (e->unit_used[unit / 8] & bit) != 0;
    e->unit_used[unit / 8] |= bit;
    return was;
}

static int emu_program(struct flash *f, uint32_t addr, const void *buf, size_t len)
{
    struct flash_emu *e = (struct flash_emu *)f;
    const uint8_t *src = buf;
    if (!e->powered) {
        return FLASH_EIO;
    }
    for (size_t i = 0; i < len; i++) {
        if ((e->image[addr + i] & src[i]) != src[i]) {
            e->violations++;
            return FLASH_EINVAL;
        }
    }
    if (e->unit_used != NULL) {
        for (uint32_t u = addr / f->geo.prog_size; u < (addr + len) / f->geo.prog_size; u++) {
            if (unit_test_and_set(e, u)) {
                e->violations++;
                return FLASH_EINVAL;
            }
        }
    }
    int run = emu_write_op(e);
    if (run < 0) {
        return FLASH_EIO;
    }
    e->programs[addr / f->geo.block_size]++;
    size_t n = len;
    if (run == 0) {
        n = (size_t)(emu_rand(e) % len);
        uint8_t partial = (uint8_t)(src[n] | (uint8_t)emu_rand(e)); /* some bits cleared */
        e->image[addr + n] &= partial;
    }
    for (size_t i = 0; i < n; i++) {
        e->image[addr + i] &= src[i];
    }
    e->bytes_programmed += n;
    return run ? FLASH_OK : FLASH_EIO;
}

static int emu_erase(struct flash *f, uint32_t block)
{
    struct flash_emu *e = (struct flash_emu *)f;
    int run = emu_write_op(e);
    if (run < 0) {
        return FLASH_EIO;
    }
    uint32_t bs = f->geo.block_size;
    uint8_t *p = e->image + (size_t)block * bs;
    e->erases[block]++;
    if (run == 0) {
        /* An interrupted erase: some bytes done, others not, some half-way. */
        for (uint32_t i = 0; i < bs; i++) {
            uint64_t r = emu_rand(e);
            if (r % 3 == 0) {
                p[i] = 0xff;
            } else if (r % 3 == 1) {
                p[i] |= (uint8_t)(r >> 8);
            }
        }
        return FLASH_EIO;
    }
    memset(p, 0xff, bs);
    if (e->unit_used != NULL) {
        uint32_t per = bs / f->geo.prog_size;
        for (uint32_t u = block * per; u < (block + 1) * per; u++) {
            e->unit_used[u / 8] &= (uint8_t)~(1u << (u % 8));
        }
    }
    return FLASH_OK;
}

static const struct flash_class flash_emu_class = {
    .read = emu_read,
    .program = emu_program,
    .erase = emu_erase,
    .close = NULL,
};

/* see flash_emu.h */
int flash_emu_init(struct flash_emu *e, const struct flash_geometry *geo, uint8_t *image,
                   uint32_t *erases, uint32_t *programs, uint8_t *unit_used)
{
    if (!flash_geometry_valid(geo)) {
        return FLASH_EINVAL;
    }
    uint32_t blocks = geo->size / geo->block_size;
    memset(e, 0, sizeof *e);
    e->base.vtable = &flash_emu_class;
    e->base.geo = *geo;
    e->image = image;
    e->erases = erases;
    e->programs = programs;
    e->unit_used = unit_used;
    e->powered = 1;
    e->rng = 0x9e3779b97f4a7c15ull;
    memset(image, 0xff, geo->size);
    memset(erases, 0, blocks * sizeof *erases);
    memset(programs, 0, blocks * sizeof *programs);
    if (unit_used != NULL) {
        memset(unit_used, 0, (geo->size / geo->prog_size + 7) / 8);
    }
    return FLASH_OK;
}

/* see flash_emu.h */
void flash_emu_arm(struct flash_emu *e, uint64_t cut_at, int tear, uint64_t seed)
{
    e->ops = 0;
    e->writes = 0;
    e->cut_at = cut_at;
    e->tear = tear;
    e->rng = seed * 0x9e3779b97f4a7c15ull + 1;
}

/* see flash_emu.h */
void flash_emu_power_on(struct flash_emu *e)
{
    e->powered = 1;
    e->cut_at = 0;
}

/* see flash_emu.h */
void flash_emu_flip(struct flash_emu *e, uint32_t addr, unsigned bit)
{
    e->image[addr] ^= (uint8_t)(1u << (bit & 7));
}
