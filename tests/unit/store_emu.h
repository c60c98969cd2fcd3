/* Test helpers shared by the store suites: an emulated NOR chip on the heap, a log sink
 * that counts warnings, and a deterministic PRNG. */
#ifndef GW_STORE_EMU_H
#define GW_STORE_EMU_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flash_emu.h"
#include "log.h"

struct emu {
    struct flash_emu e;
    struct flash_geometry geo;
    uint8_t *image;
    uint32_t *erases, *programs;
    uint8_t *units;
};

static inline struct emu *emu_new(uint32_t size, uint32_t block, uint32_t prog)
{
    struct emu *m = calloc(1, sizeof *m);
    m->geo = (struct flash_geometry){ .size = size, .block_size = block, .prog_size = prog };
    m->image = malloc(size);
    m->erases = calloc(size / block, sizeof *m->erases);
    m->programs = calloc(size / block, sizeof *m->programs);
    m->units = calloc(size / prog / 8 + 1, 1);
    if (flash_emu_init(&m->e, &m->geo, m->image, m->erases, m->programs, m->units) != 0) {
        abort();
    }
    return m;
}

static inline void emu_free(struct emu *m)
{
    free(m->image);
    free(m->erases);
    free(m->programs);
    free(m->units);
    free(m);
}

/* Warnings logged since the last emu_warnings_reset(); the sink keeps tests quiet. */
static unsigned emu_warnings;
static char emu_last_warning[256];
static inline void emu_sink(enum log_level level, const char *line, size_t len)
{
    if (level <= LOG_WARN) {
        emu_warnings++;
        size_t n = len < sizeof emu_last_warning - 1 ? len : sizeof emu_last_warning - 1;
        memcpy(emu_last_warning, line, n);
        emu_last_warning[n] = 0;
        if (getenv("GW_TEST_VERBOSE")) {
            fwrite(line, 1, len, stderr);
        }
    }
}
static inline void emu_warnings_reset(void)
{
    log_set_sink(emu_sink);
    emu_warnings = 0;
    emu_last_warning[0] = 0;
}

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline void rng_fill(uint64_t *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = rng_next(s);
        for (size_t j = 0; j < 8 && i + j < n; j++) {
            p[i + j] = (uint8_t)(x >> (8 * j));
        }
    }
}

#endif
