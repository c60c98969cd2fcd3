/* Fuzz the store's mount: any flash image, one of three small geometries picked by the first
 * byte. Mount must return, every key must read (or fail cleanly), a commit on top must not
 * break a NOR rule, and a remount must find that commit. No crash, no hang, no leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flash_emu.h"
#include "log.h"
#include "store.h"

#define IMAGE 16384
#define KEYS 64

static void quiet(enum log_level level, const char *line, size_t len)
{
    (void)level;
    (void)line;
    (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct flash_geometry geos[3] = {
        { IMAGE, 1024, 1 }, { IMAGE, 2048, 8 }, { IMAGE, 512, 4 },
    };
    static uint8_t image[IMAGE];
    static uint32_t erases[IMAGE / 512], programs[IMAGE / 512];
    static struct flash_emu emu;
    static struct store st;
    static struct store_entry idx[KEYS];
    static uint8_t val[STORE_VALUE_MAX];
    if (size == 0) {
        return 0;
    }
    log_set_sink(quiet);
    flash_emu_init(&emu, &geos[data[0] % 3], image, erases, programs, NULL);
    size_t n = size - 1 < IMAGE ? size - 1 : IMAGE;
    memcpy(image, data + 1, n);

    if (store_mount(&st, &emu.base, idx, KEYS) != STORE_OK) {
        return 0;
    }
    unsigned keys = 0;
    for (uint32_t k = 0; store_seek(&st, k, &k) == STORE_OK; k++) {
        size_t len;
        int err = store_get(&st, k, val, sizeof val, &len);
        if (err == STORE_OK && len > sizeof val) {
            abort();
        }
        if (++keys > KEYS || k == UINT32_MAX) {
            break;
        }
    }
    struct store_stat ss;
    store_stat(&st, &ss);
    /* a small commit on whatever was there */
    if (store_begin(&st, 1, 5) == STORE_OK && store_put(&st, 0xfeed, "fuzz!", 5) == STORE_OK &&
        store_commit(&st) == STORE_OK) {
        size_t len;
        if (emu.violations != 0) {
            abort();   /* the store programmed over bytes that were not erased */
        }
        if (store_mount(&st, &emu.base, idx, KEYS) == STORE_OK &&
            (store_get(&st, 0xfeed, val, sizeof val, &len) != STORE_OK || len != 5 ||
             memcmp(val, "fuzz!", 5) != 0)) {
            abort();   /* a committed value went missing */
        }
    }
    if (emu.violations != 0) {
        abort();
    }
    return 0;
}
