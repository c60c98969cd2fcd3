/* The flash HAL: a NOR-like device of equal erase blocks.
 *
 * Rules every backend keeps and the store relies on (design.md §7):
 *  - erase sets a whole block to 0xFF; program only clears bits (new = old & data), in whole
 *    program units at unit-aligned addresses;
 *  - operations happen in the order issued and each one is durable when it returns (the file
 *    backend opens with O_DSYNC; real NOR is synchronous), so after a power cut every earlier
 *    operation is complete and only the one in flight may be partial.
 * A device is a context whose first member is `struct flash`; its class holds the operations.
 * Callers use flash_read()/flash_program()/flash_erase(), which check ranges and alignment
 * and then dispatch. Linux backends: board/linux/flash_linux.h; the test emulator:
 * flash_emu.h. */
#ifndef GW_FLASH_H
#define GW_FLASH_H

#include <stddef.h>
#include <stdint.h>

/* Errors, negative; the numbers match enum board_err where the meaning is the same. */
enum flash_err {
    FLASH_OK = 0,
    FLASH_EINVAL = -1,   /* out of range, misaligned, or a NOR rule broken (emulator) */
    FLASH_EIO = -2,      /* the device failed (or, in the emulator, has lost power) */
};

struct flash_geometry {
    uint32_t size;         /* total bytes: block_size * block count */
    uint32_t block_size;   /* erase block, a power of two */
    uint32_t prog_size;    /* program unit, a power of two dividing block_size */
};

struct flash;
struct flash_class {
    int (*read)(struct flash *f, uint32_t addr, void *buf, size_t len);
    int (*program)(struct flash *f, uint32_t addr, const void *buf, size_t len);
    int (*erase)(struct flash *f, uint32_t block);
    void (*close)(struct flash *f);   /* may be NULL */
};

struct flash {
    const struct flash_class *vtable;
    struct flash_geometry geo;
};

/* Defaults for a new file image (design.md §4): 256 KiB in 4 KiB blocks, byte programming. */
#define FLASH_DEFAULT_SIZE (256u * 1024u)
#define FLASH_DEFAULT_BLOCK 4096u

/* Read len bytes at addr. Any range inside the device. */
int flash_read(struct flash *f, uint32_t addr, void *buf, size_t len);
/* Program len bytes at addr; addr and len are multiples of the program unit and the range
 * stays inside one erase block. */
int flash_program(struct flash *f, uint32_t addr, const void *buf, size_t len);
/* Erase block number `block` (0 .. size/block_size - 1) to 0xFF. */
int flash_erase(struct flash *f, uint32_t block);
/* Release the device (closes the fd of a Linux backend). */
void flash_close(struct flash *f);

static inline uint32_t flash_block_count(const struct flash *f)
{
    return f->geo.size / f->geo.block_size;
}

/* 1 when geo is usable: powers of two, prog_size <= block_size, size a multiple of
 * block_size, at least two blocks. */
int flash_geometry_valid(const struct flash_geometry *geo);

#endif
