/* A CFI parallel NOR flash bank with the Intel/Sharp command set (CFI primary command set
 * 0x0001, as on QEMU's cfi.pflash01) behind the flash HAL (board/flash.h).
 *
 * The bank is one or more chips side by side on a 32-bit bus: QEMU's virt machine has two
 * x16 chips, so every command is written doubled (0x00980098) and every status read holds
 * two status registers, both of which must say ready. Geometry (chip size, uniform erase
 * blocks, timeouts) comes from the chips' CFI query, checked against the bank the device
 * tree names. Each operation polls the status register (bit 7: ready) within the
 * timeouts the chips state, checks the error bits, and ends in read-array mode, so a read
 * never sees a status register instead of data. Real chips take microseconds to program and
 * seconds to erase; QEMU's finish at once: the driver polls either way.
 *
 * Programming keeps flash.h's NOR rule (new = old & data) at the HAL's byte granularity:
 * each 32-bit word is programmed with the bytes outside the range set to their current
 * contents (QEMU's model writes the word as given; a real chip only clears bits, and
 * programming a 0 that is already 0 changes nothing), so the store's byte-unit format is the
 * same as on Linux and flashtool reads the bank's image file as it is. A word whose value
 * would not change is not programmed; every programmed range is read back and compared.
 *
 * The chip is reached through struct cfi_bus (32-bit reads and writes at byte offsets into
 * the bank, and a millisecond clock): MMIO on the board, a model in the unit tests. */
#ifndef GW_CFI_FLASH_H
#define GW_CFI_FLASH_H

#include <stdint.h>

#include "flash.h"

struct cfi_bus {
    uint32_t (*read32)(void *ctx, uint32_t off);
    void (*write32)(void *ctx, uint32_t off, uint32_t value);
    uint32_t (*now_ms)(void *ctx);
    void *ctx;
};

struct flash_cfi {
    struct flash base;                /* first: a struct flash_cfi * is a struct flash * */
    struct cfi_bus bus;
    uint32_t lanes;                   /* chips across the 32-bit bus: 1, 2 or 4 */
    uint32_t lane_bits;               /* 32 / lanes */
    uint32_t program_timeout_ms, erase_timeout_ms;
    /* counters (show them when debugging; the tests read them) */
    uint32_t words_programmed, words_skipped, erases, unlocks, timeouts, errors;
    uint32_t last_status;             /* the status word of the last failed operation */
};

/* Query the chips and set up fc over bus for a bank of bank_size bytes, 32 bits wide.
 * Returns FLASH_OK, or FLASH_EINVAL with *why saying what does not fit (no CFI answer,
 * another command set, non-uniform blocks, a size other than the bank's, ...). */
int flash_cfi_open(struct flash_cfi *fc, const struct cfi_bus *bus, uint32_t bank_size,
                   const char **why);

/* The command value for this bank: cmd on every lane. */
uint32_t flash_cfi_cmd(const struct flash_cfi *fc, uint8_t cmd);

#endif
