/* bench_store: the record store's figures. Prints
 *  - RAM: struct store and the index for the config's 256 keys;
 *  - mount time of a full image (live data up to what the store accepts), on the NOR emulator
 *    (CPU cost: the scan and its CRCs) and on a file image (adds a pread per record);
 *  - flash bytes programmed and blocks erased per typical commit (one small setting), with
 *    the garbage collection they cause, over a long run; and for a 30-certificate trust store.
 * Usage: bench_store [DIR]   (DIR for the file image, default /tmp) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "flash_emu.h"
#include "flash_linux.h"
#include "log.h"
#include "store.h"

#define SIZE (256 * 1024)
#define BLOCK 4096
#define KEYS 256

static struct store_entry idx[KEYS];
static struct store st;
static uint8_t image[SIZE];
static uint32_t erases[SIZE / BLOCK], programs[SIZE / BLOCK];
static struct flash_emu emu;
static uint8_t val[STORE_VALUE_MAX];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int put1(uint32_t key, size_t len)
{
    memset(val, (int)(key * 7 + len), len);
    int err = store_begin(&st, 1, len);
    if (!err) {
        err = store_put(&st, key, val, len);
    }
    return err ? err : store_commit(&st);
}

static double mount_ms(struct flash *f, int rounds)
{
    double t0 = now();
    for (int i = 0; i < rounds; i++) {
        if (store_mount(&st, f, idx, KEYS) != STORE_OK) {
            fprintf(stderr, "bench_store: mount failed\n");
            exit(1);
        }
    }
    return (now() - t0) * 1000 / rounds;
}

static void quiet(enum log_level level, const char *line, size_t len)
{
    (void)level;
    fwrite(line, 1, len, stderr);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    struct flash_geometry g = { SIZE, BLOCK, 1 };
    log_set_sink(quiet);
    printf("store RAM: struct store %zu bytes + index %u keys x %d = %u bytes\n",
           sizeof(struct store), KEYS, STORE_INDEX_ENTRY_SIZE, KEYS * STORE_INDEX_ENTRY_SIZE);
    printf("config RAM: struct config %zu bytes, struct config_ctx %zu bytes (running + "
           "candidate + 8 KiB record scratch + 2 KiB render), plus the caller's import arena\n",
           sizeof(struct config), sizeof(struct config_ctx));

    /* A typical commit, steady state: config (trust store, chain) in place, then 5000
     * commits of one small setting each. */
    flash_emu_init(&emu, &g, image, erases, programs, NULL);
    store_format(&emu.base);
    store_mount(&st, &emu.base, idx, KEYS);
    put1(STORE_KEY(6, 0), 4200);
    uint64_t b0 = emu.bytes_programmed;
    int err = store_begin(&st, 30, 30 * 2000);
    for (uint32_t i = 0; !err && i < 30; i++) {
        memset(val, (int)i, 1500);
        err = store_put(&st, STORE_KEY(9, i), val, 1500);
    }
    if (!err) {
        err = store_commit(&st);
    }
    printf("trust store commit (30 x 1500-byte DER): %llu bytes programmed\n",
           (unsigned long long)(emu.bytes_programmed - b0));
    b0 = emu.bytes_programmed;
    uint64_t e0 = 0;
    for (uint32_t b = 0; b < SIZE / BLOCK; b++) {
        e0 += erases[b];
    }
    const int n = 5000;
    for (int i = 0; !err && i < n; i++) {
        err = put1(STORE_KEY(1, 0), 12);   /* set system hostname NAME */
    }
    uint64_t e1 = 0;
    for (uint32_t b = 0; b < SIZE / BLOCK; b++) {
        e1 += erases[b];
    }
    printf("typical commit (one 12-byte setting), mean over %d with collection: %.1f bytes "
           "programmed, %.3f block erases (record 36 + commit 36 bytes before collection)\n",
           n, (double)(emu.bytes_programmed - b0) / n, (double)(e1 - e0) / n);

    /* A full image: fill with 1 KiB values until the store refuses. */
    flash_emu_init(&emu, &g, image, erases, programs, NULL);
    store_format(&emu.base);
    store_mount(&st, &emu.base, idx, KEYS);
    uint32_t keys = 0;
    while (!err && keys < KEYS) {
        err = put1(keys, 1024);
        keys += !err;
    }
    struct store_stat ss;
    store_stat(&st, &ss);
    printf("full image: %u keys, %u live bytes, %u free of %u\n", ss.live_records,
           ss.live_bytes, ss.free_bytes, SIZE);
    printf("mount of the full image, NOR emulator: %.3f ms\n", mount_ms(&emu.base, 200));

    char path[512];
    snprintf(path, sizeof path, "%s/bench_store-%d.img", dir, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(image, 1, SIZE, f) != SIZE || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    static union flash_linux fl;
    int created;
    if (flash_file_open(&fl.file, path, 0, BLOCK, &created)) {
        return 1;
    }
    printf("mount of the full image, file %s: %.3f ms\n", path, mount_ms(&fl.base, 50));
    flash_close(&fl.base);
    unlink(path);
    return err == STORE_ENOSPC || err == STORE_OK ? 0 : 1;
}
