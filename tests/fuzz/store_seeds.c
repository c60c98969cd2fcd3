/* Writes the seed corpus of fuzz_store: small real images (first byte: the geometry index
 * fuzz_store.c uses) after workloads that cross blocks, collect garbage, delete, and are cut
 * by power in the middle of a write. Run by hand when the format changes:
 *   cc -Iboard -Ifirmware -Ifirmware/store tests/fuzz/store_seeds.c board/flash.c \
 *      board/flash_emu.c firmware/store/store.c base/crc32.c base/log.c \
 *      -o /tmp/store_seeds -DSEEDS_STANDALONE && /tmp/store_seeds tests/fuzz/corpus/store */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash_emu.h"
#include "store.h"

#define IMAGE 16384

#ifdef SEEDS_STANDALONE
/* log.c wants these from the board; seeds need neither a clock nor a console. */
#include "board.h"
uint32_t board_now_ms(void) { return 0; }
void board_console_write(const void *buf, size_t len) { (void)buf; (void)len; }
#endif

static void seed(const char *dir, int n, int geo_index, int commits, int value_len, int cut)
{
    static const struct flash_geometry geos[3] = {
        { IMAGE, 1024, 1 }, { IMAGE, 2048, 8 }, { IMAGE, 512, 4 },
    };
    static uint8_t image[IMAGE], val[600];
    static uint32_t erases[IMAGE / 512], programs[IMAGE / 512];
    static struct flash_emu emu;
    static struct store st;
    static struct store_entry idx[64];
    flash_emu_init(&emu, &geos[geo_index], image, erases, programs, NULL);
    store_format(&emu.base);
    store_mount(&st, &emu.base, idx, 64);
    for (int c = 0; c < commits; c++) {
        if (cut && c == commits - 1) {
            flash_emu_arm(&emu, 2, 1, (uint64_t)n);
        }
        int len = (c * 37 + value_len) % (value_len + 1);
        memset(val, 'a' + c % 26, sizeof val);
        if (store_begin(&st, 2, (size_t)len) != STORE_OK) {
            continue;
        }
        store_put(&st, (uint32_t)(c % 7), val, (size_t)len);
        if (c % 5 == 4) {
            store_del(&st, (uint32_t)((c + 3) % 7));
        }
        store_commit(&st);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/seed-%02d", dir, n);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputc(geo_index, f);
    fwrite(image, 1, IMAGE, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int n = 0;
    for (int g = 0; g < 3; g++) {
        seed(dir, n++, g, 1, 10, 0);
        seed(dir, n++, g, 12, 300, 0);
        seed(dir, n++, g, 60, 500, 0);
        seed(dir, n++, g, 40, 200, 1);
    }
    return 0;
}
