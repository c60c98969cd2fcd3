/* Wear: a long random workload (the config workload's keys, random sizes and deletes) on
 * emulated NOR, with a remount now and then; every block must take its share of erases. The
 * figures are printed: erases per block (min, max, mean) and bytes programmed per commit.
 * GW_TEST_LONG=1 runs ten times longer. */
#include <stdio.h>

#include "check.h"
#include "store_workload.h"

#define KEYS 256
static struct store_entry idx[KEYS];
static struct store st;

static void random_workload_spreads_erases_evenly(uint32_t size, uint32_t block,
                                                  uint32_t prog, unsigned commits)
{
    struct emu *m = emu_new(size, block, prog);
    static struct wl_model model;
    static struct wl_commit c;
    uint64_t r = 42;
    memset(&model, 0, sizeof model);
    emu_warnings_reset();
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    uint32_t gc_runs = 0;
    for (unsigned cn = 0; cn < commits; cn++) {
        /* the scripted start (base config, key and chain, trust store), then random */
        if (cn < 3) {
            wl_make(cn, &model, &c);
        } else {
            c.n = 0;
            unsigned nops = 1 + (unsigned)(rng_next(&r) % 6);
            for (unsigned i = 0; i < nops; i++) {
                uint32_t type = T_SYS + (uint32_t)(rng_next(&r) % (T_SCHEMA - T_SYS + 1));
                uint32_t ids = type == T_TRUST ? WL_TRUST
                             : type == T_HOST || type == T_MAP ? 16 : type == T_IMAP ? 2 : 1;
                uint32_t id = (uint32_t)(rng_next(&r) % ids);
                uint32_t len = type == T_CHAIN ? 3500 + (uint32_t)(rng_next(&r) % 1000)
                             : type == T_TRUST ? 700 + (uint32_t)(rng_next(&r) % 1400)
                             : 4 + (uint32_t)(rng_next(&r) % 200);
                if (rng_next(&r) % 5 == 0) {
                    wl_del(&c, &model, STORE_KEY(type, id));
                } else {
                    wl_put(&c, STORE_KEY(type, id), len, cn + 1);
                }
            }
        }
        CHECK_EQ(wl_run(&st, &c), STORE_OK);
        wl_apply(&model, &c);
        if (cn % 500 == 499) {
            gc_runs += st.gc_runs;
            CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
            CHECK(wl_equal(&st, &model));
        }
    }
    CHECK(wl_equal(&st, &model));
    CHECK_EQ(emu_warnings, 0);
    CHECK_EQ(m->e.violations, 0);

    uint32_t n = size / block, min = UINT32_MAX, max = 0;
    uint64_t sum = 0;
    for (uint32_t b = 0; b < n; b++) {
        min = m->erases[b] < min ? m->erases[b] : min;
        max = m->erases[b] > max ? m->erases[b] : max;
        sum += m->erases[b];
    }
    double mean = (double)sum / n;
    struct store_stat ss;
    store_stat(&st, &ss);
    printf("endurance: %u KiB in %u-byte blocks: %u commits, %u collections, erases per block "
           "min %u max %u mean %.1f (max/mean %.2f), %.0f bytes programmed per commit, "
           "%u live records in %u bytes\n", size / 1024, block, commits, gc_runs + ss.gc_runs,
           min, max,
           mean, max / mean, (double)m->e.bytes_programmed / commits, ss.live_records,
           ss.live_bytes);
    /* a strict ring: no block is erased more than once ahead of any other */
    CHECK(max - min <= 2);
    CHECK(min > 0);
    emu_free(m);
}

static unsigned commits(void)
{
    const char *v = getenv("GW_TEST_LONG");
    return v != NULL && *v && *v != '0' ? 200000 : 20000;
}

static void wear_is_even_on_256k_in_4k_blocks(void)
{
    random_workload_spreads_erases_evenly(256 * 1024, 4096, 1, commits());
}

static void wear_is_even_on_128k_in_2k_blocks(void)
{
    random_workload_spreads_erases_evenly(128 * 1024, 2048, 8, commits());
}

CHECK_MAIN(
    { "wear_is_even_on_256k_in_4k_blocks", wear_is_even_on_256k_in_4k_blocks },
    { "wear_is_even_on_128k_in_2k_blocks", wear_is_even_on_128k_in_2k_blocks })
