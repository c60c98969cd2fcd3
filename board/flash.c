/* see flash.h: the checks every backend shares, then dispatch. */
#include "flash.h"
#include "log.h"

#define FLASH_CHECK(cond, f) do { \
        if (!(cond)) { \
            log_err("%s: bad argument: %s", f, #cond); \
            return FLASH_EINVAL; \
        } \
    } while (0)

static int is_pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* see flash.h */
int flash_geometry_valid(const struct flash_geometry *geo)
{
    return is_pow2(geo->block_size) && is_pow2(geo->prog_size) &&
           geo->prog_size <= geo->block_size && geo->size % geo->block_size == 0 &&
           geo->size / geo->block_size >= 2;
}

/* see flash.h */
int flash_read(struct flash *f, uint32_t addr, void *buf, size_t len)
{
    FLASH_CHECK(addr <= f->geo.size && len <= f->geo.size - addr, __func__);
    if (len == 0) {
        return FLASH_OK;
    }
    return f->vtable->read(f, addr, buf, len);
}

/* see flash.h */
int flash_program(struct flash *f, uint32_t addr, const void *buf, size_t len)
{
    uint32_t unit = f->geo.prog_size;
    FLASH_CHECK(addr <= f->geo.size && len <= f->geo.size - addr, __func__);
    FLASH_CHECK(addr % unit == 0 && len % unit == 0, __func__);
    FLASH_CHECK(len == 0 || addr / f->geo.block_size == (addr + len - 1) / f->geo.block_size,
                __func__);
    if (len == 0) {
        return FLASH_OK;
    }
    return f->vtable->program(f, addr, buf, len);
}

/* see flash.h */
int flash_erase(struct flash *f, uint32_t block)
{
    FLASH_CHECK(block < flash_block_count(f), __func__);
    return f->vtable->erase(f, block);
}

/* see flash.h */
void flash_close(struct flash *f)
{
    if (f->vtable != NULL && f->vtable->close != NULL) {
        f->vtable->close(f);
    }
}
