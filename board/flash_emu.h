/* A NOR flash emulator for tests, fuzzing and benches, in caller-owned RAM.
 *
 * It enforces the NOR rules of flash.h and reports breaking them: programming a bit from 0
 * back to 1 (and, in strict mode, programming a unit twice between erases) fails with
 * FLASH_EINVAL and is counted in `violations`. It counts operations (each read/program/erase
 * call is one) and, per block, program and erase operations. Faults:
 *  - power cut: after the op numbered `cut_at` (1-based, counted from flash_emu_arm) every
 *    further operation, reads included, fails with FLASH_EIO until flash_emu_power_on();
 *  - torn op: with `tear` set, the op numbered cut_at is itself left partial: a program
 *    writes a random prefix of its bytes and a random subset of the bits of the next byte;
 *    an erase leaves a random mix of erased and old bytes;
 *  - bit flips: flash_emu_flip() toggles one bit anywhere, as decay or a cosmic ray would.
 * Random choices come from a seeded xorshift, so every run is reproducible. */
#ifndef GW_FLASH_EMU_H
#define GW_FLASH_EMU_H

#include <stdint.h>

#include "flash.h"

struct flash_emu {
    struct flash base;              /* first: a struct flash_emu * is a struct flash * */
    uint8_t *image;                 /* geo.size bytes, caller-owned */
    uint32_t *erases;               /* per block, caller-owned (block count entries) */
    uint32_t *programs;             /* per block, caller-owned (block count entries) */
    uint8_t *unit_used;             /* strict mode: one bit per program unit, or NULL */
    uint64_t ops;                   /* operations since flash_emu_arm (reads, programs, erases) */
    uint64_t writes;                /* program and erase operations since flash_emu_arm */
    uint64_t cut_at;                /* 0: never; else power fails after this write op */
    uint64_t bytes_programmed;      /* since init */
    int tear;                       /* the op numbered cut_at is torn, not completed */
    int powered;
    unsigned violations;            /* NOR rules broken by the user of the device */
    uint64_t rng;
};

/* Set up an emulator over caller-owned memory, all erased (0xFF), counters zero. unit_used
 * may be NULL; when given (geo->size / geo->prog_size / 8 bytes, rounded up) the emulator
 * is strict: each program unit may be programmed once between erases. */
int flash_emu_init(struct flash_emu *e, const struct flash_geometry *geo, uint8_t *image,
                   uint32_t *erases, uint32_t *programs, uint8_t *unit_used);
/* Start counting write operations (programs and erases) from zero and cut power after the
 * cut_at-th (0: never). With tear, that operation is left partial. */
void flash_emu_arm(struct flash_emu *e, uint64_t cut_at, int tear, uint64_t seed);
/* Power back: operations work again (the image keeps whatever the cut left). */
void flash_emu_power_on(struct flash_emu *e);
/* Toggle bit `bit` (0..7) of the byte at addr. */
void flash_emu_flip(struct flash_emu *e, uint32_t addr, unsigned bit);

#endif
