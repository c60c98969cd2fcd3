/* A model of a CFI flash bank for the virt board's driver tests: chips with the Intel
 * command set side by side on a 32-bit bus (two x16 chips, as QEMU's virt machine wires
 * them), each with its own command state machine, status register and lock bits, seeing
 * only its own 16 bits of every bus write. So a command that is not doubled reaches one
 * chip as garbage, and the model counts it as a violation, as it does writes while a chip
 * is busy and command sequences the chips would reject.
 *
 * Timing: a program or erase leaves its chip busy for a set number of status reads (real
 * chips are slow; QEMU's are not), and the model's clock advances one millisecond per
 * status read, so driver timeouts run in model time. Power: after the write operation
 * numbered cut_at (programs and erases, counted per bank operation) power fails, optionally
 * in the middle of that operation (torn: some of its bits done); reads then return all ones
 * (a bus nobody drives: status "ready, every error") and writes vanish until
 * cfi_model_power_on(), after which the chips are in read-array mode
 * (and, with lock_at_power_up, every block locked again, as on Intel P30 parts). */
#ifndef GW_CFI_MODEL_H
#define GW_CFI_MODEL_H

#include <stdint.h>

#include "cfi_flash.h"

#define CFI_MODEL_LANES 2

struct cfi_chip {
    int mode;                 /* what a read returns: array, status, query, id */
    int pending;              /* the first command of a two-cycle one, 0 if none */
    uint8_t status;
    uint32_t busy;            /* status reads left until the operation is done */
    int stuck;                /* never gets ready (a dead chip) */
    uint8_t *locked;          /* per block */
};

struct cfi_model {
    uint8_t *image;           /* bank bytes, little-endian words, lane i = bytes 2i, 2i+1 */
    uint32_t size, block;     /* bank size, bank erase block (both chips' blocks side by side) */
    struct cfi_chip chip[CFI_MODEL_LANES];
    uint8_t cfi[0x40];        /* one chip's query table */
    int overwrite;            /* 1: a program stores the word as given (QEMU); 0: AND (NOR) */
    uint32_t program_busy, erase_busy;   /* status reads each operation keeps its chip busy */
    uint32_t lane1_extra_busy;           /* the second chip is slower by this much */
    int lock_at_power_up;
    uint32_t inject_error;    /* next program reports SR bits (e.g. 0x10) on chip 0 */
    /* power */
    uint64_t writes;          /* program and erase operations since cfi_model_arm */
    uint64_t cut_at;          /* 0: never */
    int tear, powered;
    uint64_t rng;
    /* what happened */
    uint64_t clock_us;
    unsigned violations;
    char last_violation[160];
    uint64_t programs, erases, status_reads;
};

/* A bank of size bytes in erase blocks of `block` bytes (both chips' blocks side by side),
 * erased, unlocked, in read-array mode, with QEMU's query table (Intel command set, uniform
 * blocks, QEMU's typical and maximum timeouts). */
struct cfi_model *cfi_model_new(uint32_t size, uint32_t block);
void cfi_model_free(struct cfi_model *m);
/* The bus the driver uses: read32/write32 at bank offsets, the model's clock. */
struct cfi_bus cfi_model_bus(struct cfi_model *m);
/* Count write operations from zero; fail power after the cut_at-th (0: never), in the
 * middle of it with tear. */
void cfi_model_arm(struct cfi_model *m, uint64_t cut_at, int tear, uint64_t seed);
void cfi_model_power_on(struct cfi_model *m);
/* 1 when every chip is in read-array mode and idle (what each driver operation ends in). */
int cfi_model_reading_array(const struct cfi_model *m);

#endif
