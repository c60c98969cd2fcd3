/* Power cuts on the virt board's flash: the store's configuration workload (the same as
 * test_store_powercut's) runs on the CFI driver over a model of QEMU's bank, and power
 * fails after (and in the middle of) program and erase operations of every commit. Each
 * time the box "boots" again: the chips come up in read-array mode, the driver queries
 * them afresh, and the store must mount to exactly the state before the commit or after
 * it, then carry on cleanly. The chips' operations are the words the driver programs, so
 * a cut can fall between two words of one record: the byte-programming merge and the
 * read-array discipline are what is under test here, beside the store.
 *
 * Geometries: QEMU's (two x16 chips, 256 KiB bank blocks, 2 MiB of it, programs storing
 * the word as given as QEMU's model does) and, on chips that only clear bits, small blocks
 * (4 KiB) whose ring wraps, so garbage collection is cut too. A commit programs thousands
 * of words, so by default 16 evenly spread operations per commit are cut (and the first and
 * last two; GW_TEST_STRIDE=N: a spread N times thinner, for the emulated aarch64 run);
 * GW_TEST_LONG=1 cuts every one. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfi_flash.h"
#include "cfi_model.h"
#include "check.h"
#include "store_workload.h"

#define KEYS 256
#define CUTS_PER_COMMIT 16
static struct store_entry idx[KEYS];
static struct store st;
static struct flash_cfi fc;

struct result {
    unsigned commits;
    unsigned long cuts, torn, old_state, new_state;
};

/* Power on: the chips reset, the driver probes them again (as board_init would). */
static int boot(struct cfi_model *m)
{
    cfi_model_power_on(m);
    struct cfi_bus bus = cfi_model_bus(m);
    const char *why;
    return flash_cfi_open(&fc, &bus, m->size, &why);
}

static void one_cut(struct cfi_model *m, const uint8_t *snap, const struct wl_model *before,
                    const struct wl_model *after, const struct wl_commit *c,
                    const struct wl_commit *next, const struct wl_model *after_next,
                    uint64_t k, int tear, struct result *res)
{
    memcpy(m->image, snap, m->size);
    CHECK_EQ(boot(m), FLASH_OK);
    CHECK_EQ(store_mount(&st, &fc.base, idx, KEYS), STORE_OK);
    cfi_model_arm(m, k, tear, k * 2 + (uint64_t)tear);
    (void)wl_run(&st, c);

    CHECK_EQ(boot(m), FLASH_OK);
    emu_warnings = 0;
    CHECK_EQ(store_mount(&st, &fc.base, idx, KEYS), STORE_OK);
    CHECK(emu_warnings <= 1);
    int is_old = wl_equal(&st, before), is_new = !is_old && wl_equal(&st, after);
    if (!is_old && !is_new) {
        fprintf(stderr, "cut at op %llu (torn %d): neither the state before nor after\n",
                (unsigned long long)k, tear);
    }
    CHECK(is_old || is_new);
    res->old_state += is_old;
    res->new_state += is_new;

    CHECK_EQ(wl_run(&st, c), STORE_OK);
    if (next != NULL) {
        CHECK_EQ(wl_run(&st, next), STORE_OK);
    }
    emu_warnings = 0;
    CHECK_EQ(store_mount(&st, &fc.base, idx, KEYS), STORE_OK);
    CHECK_EQ(emu_warnings, 0);
    CHECK(wl_equal(&st, next != NULL ? after_next : after));
    if (m->violations) {
        fprintf(stderr, "model: %s\n", m->last_violation);
    }
    CHECK_EQ(m->violations, 0);
    CHECK(cfi_model_reading_array(m));
    if (tear) {
        res->torn++;
    } else {
        res->cuts++;
    }
}

/* The operations of a commit of `ops` that get cut: all of them in the long run, else
 * the first two, the last two and CUTS_PER_COMMIT spread between (shifted per commit). */
static int cut_here(uint64_t k, uint64_t ops, unsigned cn)
{
    if (getenv("GW_TEST_LONG") || ops <= CUTS_PER_COMMIT + 4 || k <= 2 || k + 2 > ops) {
        return 1;
    }
    const char *stride = getenv("GW_TEST_STRIDE");
    uint64_t step = ops / CUTS_PER_COMMIT * (stride != NULL && *stride ? strtoul(stride, NULL, 10) : 1);
    return step == 0 || (k + cn) % step == 0;
}

static void run_geometry(uint32_t size, uint32_t block, unsigned commits, int qemu,
                         struct result *res)
{
    struct cfi_model *m = cfi_model_new(size, block);
    m->overwrite = qemu;
    uint8_t *snap = malloc(size);
    static struct wl_model before, after, after_next;
    static struct wl_commit c, next;
    emu_warnings_reset();
    memset(&before, 0, sizeof before);
    CHECK_EQ(boot(m), FLASH_OK);
    CHECK_EQ(fc.base.geo.block_size, block);
    CHECK_EQ(store_format(&fc.base), STORE_OK);
    for (unsigned cn = 0; cn < commits; cn++) {
        wl_make(cn, &before, &c);
        after = before;
        wl_apply(&after, &c);
        wl_make(cn + 1, &after, &next);
        after_next = after;
        wl_apply(&after_next, &next);
        memcpy(snap, m->image, size);

        CHECK_EQ(store_mount(&st, &fc.base, idx, KEYS), STORE_OK);
        CHECK(wl_equal(&st, &before));
        cfi_model_arm(m, 0, 0, 0);
        CHECK_EQ(wl_run(&st, &c), STORE_OK);
        uint64_t ops = m->writes;
        for (uint64_t k = 1; k <= ops; k++) {
            if (!cut_here(k, ops, cn)) {
                continue;
            }
            for (int tear = 0; tear < 2; tear++) {
                one_cut(m, snap, &before, &after, &c, cn + 1 < commits ? &next : NULL,
                        &after_next, k, tear, res);
                if (check_failed) {
                    fprintf(stderr, "bank %u KiB in %u KiB blocks: commit %u, op %llu of %llu%s\n",
                            size / 1024, block / 1024, cn, (unsigned long long)k,
                            (unsigned long long)ops, tear ? " (torn)" : "");
                    goto done;
                }
            }
        }
        memcpy(m->image, snap, size);
        CHECK_EQ(boot(m), FLASH_OK);
        CHECK_EQ(store_mount(&st, &fc.base, idx, KEYS), STORE_OK);
        CHECK_EQ(wl_run(&st, &c), STORE_OK);
        before = after;
        res->commits++;
    }
    CHECK_EQ(store_mount(&st, &fc.base, idx, KEYS), STORE_OK);
    CHECK(wl_equal(&st, &before));
    struct store_stat ss;
    store_stat(&st, &ss);
    if (!qemu) {
        CHECK(ss.head_seq >= ss.blocks);   /* every block was collected and reused */
    }
done:
    free(snap);
    cfi_model_free(m);
}

static void cut_everywhere(uint32_t size, uint32_t block, unsigned commits, int qemu)
{
    struct result r = { 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_geometry(size, block, commits, qemu, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("cfi power-cut: %u KiB bank in %u KiB blocks (two x16 chips): %u commits, %lu cuts "
           "after an op + %lu torn ops, back to the old state %lu times, the new %lu, %.1f s\n",
           size / 1024, block / 1024, r.commits, r.cuts, r.torn, r.old_state, r.new_state,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    CHECK_EQ(r.commits, commits);
    CHECK(r.old_state > 0 && r.new_state > 0);
}

static void qemu_geometry_survives_cuts_in_every_commit(void)
{
    cut_everywhere(2u << 20, 256u << 10, 30, 1);
}

static void small_blocks_survive_cuts_through_garbage_collection(void)
{
    cut_everywhere(128u << 10, 4u << 10, 70, 0);
}

CHECK_MAIN(
    { "qemu_geometry_survives_cuts_in_every_commit", qemu_geometry_survives_cuts_in_every_commit },
    { "small_blocks_survive_cuts_through_garbage_collection",
      small_blocks_survive_cuts_through_garbage_collection })
