/* Power cuts, everywhere: a scripted workload of configuration commits runs on emulated NOR;
 * for every program and erase operation of every commit, power fails right after it (and,
 * again, in the middle of it: a torn write or erase). The next mount must show exactly the
 * state before that commit or the state with it, report damage at most once, and carry on:
 * the commit is repeated, the next one made, and a remount is then clean and exact.
 *
 * Default: 220 commits on two geometries, every operation, both ways. GW_TEST_LONG=1: 600
 * commits and a third geometry. GW_TEST_STRIDE=N tests every N-th operation only (the
 * aarch64 suite under qemu sets it, where the full run would take too long). */
#include <stdio.h>
#include <time.h>

#include "check.h"
#include "store_workload.h"

#define KEYS 256
static struct store_entry idx[KEYS];
static struct store st;

struct result {
    unsigned commits;
    unsigned long cuts, torn, both_ways_old, both_ways_new;
};

static unsigned env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

/* Cut the power at write op k of commit c (torn or not), then check and carry on. */
static void one_cut(struct emu *m, const uint8_t *snap, const uint8_t *snap_units,
                    const struct wl_model *before, const struct wl_model *after,
                    const struct wl_commit *c, const struct wl_commit *next,
                    const struct wl_model *after_next, uint64_t k, int tear,
                    struct result *res)
{
    uint32_t units = m->geo.size / m->geo.prog_size / 8 + 1;
    memcpy(m->image, snap, m->geo.size);
    memcpy(m->units, snap_units, units);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    flash_emu_arm(&m->e, k, tear, k * 2 + (uint64_t)tear);
    (void)wl_run(&st, c);
    flash_emu_power_on(&m->e);
    CHECK_EQ(m->e.violations, 0);

    emu_warnings = 0;
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK(emu_warnings <= 1);
    int is_old = wl_equal(&st, before), is_new = !is_old && wl_equal(&st, after);
    if (!is_old && !is_new) {
        fprintf(stderr, "cut at op %llu (torn %d): state is neither before nor after\n",
                (unsigned long long)k, tear);
        for (unsigned i = 0; i < before->n; i++) {
            static uint8_t b[STORE_VALUE_MAX];
            size_t len;
            int err = store_get(&st, before->v[i].key, b, sizeof b, &len);
            if (err) {
                fprintf(stderr, "  key %08x: %s\n", before->v[i].key, store_strerror(err));
            }
        }
        struct store_stat ss;
        store_stat(&st, &ss);
        fprintf(stderr, "  tail %u head %u next_txn %u\n", ss.tail_seq, ss.head_seq,
                ss.next_txn);
    }
    CHECK(is_old || is_new);
    res->both_ways_old += is_old;
    res->both_ways_new += is_new;

    /* carry on: repeat the commit, make the next, remount: exact and silent */
    CHECK_EQ(wl_run(&st, c), STORE_OK);
    if (next != NULL) {
        CHECK_EQ(wl_run(&st, next), STORE_OK);
    }
    emu_warnings = 0;
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(emu_warnings, 0);
    CHECK(wl_equal(&st, next != NULL ? after_next : after));
    CHECK_EQ(m->e.violations, 0);
    if (tear) {
        res->torn++;
    } else {
        res->cuts++;
    }
}

static void run_geometry(uint32_t size, uint32_t block, uint32_t prog, unsigned commits,
                         unsigned stride, struct result *res)
{
    struct emu *m = emu_new(size, block, prog);
    uint32_t units = size / prog / 8 + 1;
    uint8_t *snap = malloc(size), *snap_units = malloc(units);
    static struct wl_model before, after, after_next;
    static struct wl_commit c, next;
    emu_warnings_reset();
    memset(&before, 0, sizeof before);
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    unsigned first = env_unsigned("GW_TEST_FIRST_COMMIT", 0);
    for (unsigned cn = 0; cn < commits; cn++) {
        if (cn < first) {   /* debugging aid: get to commit `first` without cutting */
            wl_make(cn, &before, &c);
            CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
            CHECK_EQ(wl_run(&st, &c), STORE_OK);
            wl_apply(&before, &c);
            res->commits++;
            continue;
        }
        wl_make(cn, &before, &c);
        after = before;
        wl_apply(&after, &c);
        wl_make(cn + 1, &after, &next);
        after_next = after;
        wl_apply(&after_next, &next);
        memcpy(snap, m->image, size);
        memcpy(snap_units, m->units, units);

        /* count this commit's write operations from a fresh mount */
        CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
        CHECK(wl_equal(&st, &before));
        flash_emu_arm(&m->e, 0, 0, 0);
        CHECK_EQ(wl_run(&st, &c), STORE_OK);
        uint64_t ops = m->e.writes;
        for (uint64_t k = 1 + cn % stride; k <= ops; k += stride) {
            one_cut(m, snap, snap_units, &before, &after, &c, cn + 1 < commits ? &next : NULL,
                    &after_next, k, 0, res);
            if (check_failed) {
                fprintf(stderr, "geometry %u/%u/%u commit %u op %llu of %llu\n", size, block,
                        prog, cn, (unsigned long long)k, (unsigned long long)ops);
                goto done;
            }
            one_cut(m, snap, snap_units, &before, &after, &c, cn + 1 < commits ? &next : NULL,
                    &after_next, k, 1, res);
            if (check_failed) {
                fprintf(stderr, "geometry %u/%u/%u commit %u op %llu of %llu (torn)\n", size,
                        block, prog, cn, (unsigned long long)k, (unsigned long long)ops);
                goto done;
            }
        }
        /* advance: the commit, uncut, on the snapshot */
        memcpy(m->image, snap, size);
        memcpy(m->units, snap_units, units);
        CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
        CHECK_EQ(wl_run(&st, &c), STORE_OK);
        before = after;
        res->commits++;
    }
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK(wl_equal(&st, &before));
done:
    free(snap);
    free(snap_units);
    emu_free(m);
}

static void report(const char *name, uint32_t size, uint32_t block, uint32_t prog,
                   const struct result *r, double secs)
{
    printf("%s: %u KiB in %u-byte blocks, program unit %u: %u commits, %lu power cuts after "
           "an op + %lu torn ops, recovered to the old state %lu times and to the new %lu "
           "times, %.1f s\n", name, size / 1024, block, prog, r->commits, r->cuts, r->torn,
           r->both_ways_old, r->both_ways_new, secs);
}

static void every_cut_of_the_workload(uint32_t size, uint32_t block, uint32_t prog)
{
    unsigned commits = env_unsigned("GW_TEST_LONG", 0) ? 600 : 220;
    unsigned stride = env_unsigned("GW_TEST_STRIDE", 1);
    struct result r = { 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_geometry(size, block, prog, commits, stride ? stride : 1, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    report("power-cut", size, block, prog, &r,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    CHECK(r.commits >= 200);
}

static void nor_256k_in_4k_blocks_byte_programming_survives_every_cut(void)
{
    every_cut_of_the_workload(256 * 1024, 4096, 1);
}

static void nor_128k_in_2k_blocks_8_byte_units_survives_every_cut(void)
{
    every_cut_of_the_workload(128 * 1024, 2048, 8);
}

static void nor_512k_in_32k_blocks_32_byte_units_survives_every_cut(void)
{
    if (!env_unsigned("GW_TEST_LONG", 0)) {
        printf("(512 KiB geometry: only with GW_TEST_LONG=1)\n");
        return;
    }
    every_cut_of_the_workload(512 * 1024, 32768, 32);
}

CHECK_MAIN(
    { "nor_256k_in_4k_blocks_byte_programming_survives_every_cut",
      nor_256k_in_4k_blocks_byte_programming_survives_every_cut },
    { "nor_128k_in_2k_blocks_8_byte_units_survives_every_cut",
      nor_128k_in_2k_blocks_8_byte_units_survives_every_cut },
    { "nor_512k_in_32k_blocks_32_byte_units_survives_every_cut",
      nor_512k_in_32k_blocks_32_byte_units_survives_every_cut })
