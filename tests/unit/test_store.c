/* The record store as its users see it: values survive remounts, transactions are all or
 * nothing, big values cross blocks, garbage collection keeps the data, a full store says so
 * and recovers, damage is reported once and skipped. */
#include <stdio.h>

#include "check.h"
#include "store.h"
#include "store_emu.h"

#define KEYS 256
static struct store_entry idx[KEYS];
static struct store st;
static uint8_t buf[STORE_VALUE_MAX];

static int get_str(uint32_t key, const char *want)
{
    size_t len;
    int err = store_get(&st, key, buf, sizeof buf, &len);
    if (err) {
        return err;
    }
    return len == strlen(want) && memcmp(buf, want, len) == 0 ? 0 : 1;
}

static int put1(uint32_t key, const void *v, size_t len)
{
    int err = store_begin(&st, 1, len);
    if (!err) {
        err = store_put(&st, key, v, len);
    }
    if (!err) {
        err = store_commit(&st);
    }
    return err;
}

static void a_fresh_store_mounts_empty_and_keeps_a_value_across_remounts(void)
{
    struct emu *m = emu_new(256 * 1024, 4096, 1);
    emu_warnings_reset();
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_ENOFS);
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    uint32_t k;
    CHECK_EQ(store_seek(&st, 0, &k), STORE_ENOENT);
    CHECK_EQ(put1(STORE_KEY(1, 0), "gw-1", 4), STORE_OK);
    CHECK_EQ(get_str(STORE_KEY(1, 0), "gw-1"), 0);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(get_str(STORE_KEY(1, 0), "gw-1"), 0);
    CHECK_EQ(put1(STORE_KEY(1, 0), "gw-two", 6), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(get_str(STORE_KEY(1, 0), "gw-two"), 0);
    CHECK_EQ(emu_warnings, 0);
    CHECK_EQ(m->e.violations, 0);
    emu_free(m);
}

static void a_transaction_is_all_or_nothing(void)
{
    struct emu *m = emu_new(64 * 1024, 2048, 8);
    emu_warnings_reset();
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(store_begin(&st, 3, 30), STORE_OK);
    CHECK_EQ(store_put(&st, 10, "address dhcp", 12), STORE_OK);
    CHECK_EQ(store_put(&st, 11, "dns 10.0.0.1", 12), STORE_OK);
    CHECK_EQ(store_commit(&st), STORE_OK);
    /* an aborted transaction leaves nothing, also after a remount */
    CHECK_EQ(store_begin(&st, 2, 30), STORE_OK);
    CHECK_EQ(store_put(&st, 10, "address static", 14), STORE_OK);
    CHECK_EQ(store_del(&st, 11), STORE_OK);
    CHECK_EQ(get_str(10, "address dhcp"), 0);   /* readers see the committed state */
    store_abort(&st);
    CHECK_EQ(get_str(11, "dns 10.0.0.1"), 0);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(get_str(10, "address dhcp"), 0);
    CHECK_EQ(get_str(11, "dns 10.0.0.1"), 0);
    /* the next one commits over the aborted leftovers */
    CHECK_EQ(store_begin(&st, 2, 30), STORE_OK);
    CHECK_EQ(store_put(&st, 12, "ntp pool", 8), STORE_OK);
    CHECK_EQ(store_del(&st, 11), STORE_OK);
    CHECK_EQ(store_del(&st, 99), STORE_ENOENT);   /* harmless: the transaction goes on */
    CHECK_EQ(store_commit(&st), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(get_str(12, "ntp pool"), 0);
    size_t len;
    CHECK_EQ(store_get(&st, 11, buf, sizeof buf, &len), STORE_ENOENT);
    CHECK_EQ(emu_warnings, 0);
    CHECK_EQ(m->e.violations, 0);
    emu_free(m);
}

static void a_value_larger_than_a_block_crosses_blocks_and_reads_back(void)
{
    struct emu *m = emu_new(128 * 1024, 2048, 16);
    uint8_t *chain = malloc(STORE_VALUE_MAX);
    uint64_t r = 7;
    rng_fill(&r, chain, STORE_VALUE_MAX);
    emu_warnings_reset();
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(put1(1, "x", 1), STORE_OK);
    CHECK_EQ(put1(2, chain, STORE_VALUE_MAX), STORE_OK);
    CHECK_EQ(put1(3, "y", 1), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    size_t len;
    CHECK_EQ(store_get(&st, 2, buf, sizeof buf, &len), STORE_OK);
    CHECK_EQ(len, STORE_VALUE_MAX);
    CHECK(memcmp(buf, chain, len) == 0);
    CHECK_EQ(store_get(&st, 2, buf, 100, &len), STORE_ERANGE);
    CHECK_EQ(len, STORE_VALUE_MAX);
    CHECK_EQ(get_str(3, "y"), 0);
    CHECK_EQ(emu_warnings, 0);
    CHECK_EQ(m->e.violations, 0);
    free(chain);
    emu_free(m);
}

/* Rewrites far more than the flash holds: collection must keep every live value. */
static void rewriting_many_times_the_flash_size_keeps_every_value(void)
{
    struct emu *m = emu_new(64 * 1024, 1024, 4);
    static uint8_t vals[40][300];
    uint64_t r = 11;
    emu_warnings_reset();
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    for (int round = 0; round < 200; round++) {
        int k = (int)(rng_next(&r) % 40);
        size_t len = 1 + rng_next(&r) % 300;
        rng_fill(&r, vals[k], sizeof vals[k]);
        vals[k][0] = (uint8_t)len;   /* remember the length in the first byte */
        CHECK_EQ(put1((uint32_t)k, vals[k], sizeof vals[k]), STORE_OK);
        if (round % 50 == 49) {
            CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
        }
    }
    for (int k = 0; k < 40; k++) {
        size_t len;
        int err = store_get(&st, (uint32_t)k, buf, sizeof buf, &len);
        if (err == STORE_ENOENT) {
            continue;
        }
        CHECK_EQ(err, STORE_OK);
        CHECK(memcmp(buf, vals[k], sizeof vals[k]) == 0);
    }
    struct store_stat ss;
    store_stat(&st, &ss);
    CHECK(ss.gc_runs > 0 || st.tail_seq > 0);
    CHECK_EQ(emu_warnings, 0);
    CHECK_EQ(m->e.violations, 0);
    emu_free(m);
}

static void a_full_store_says_so_and_takes_writes_again_after_deletes(void)
{
    struct emu *m = emu_new(64 * 1024, 2048, 1);
    static uint8_t v[2000];
    memset(v, 0x5a, sizeof v);
    emu_warnings_reset();
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    uint32_t n = 0;
    int err;
    while ((err = put1(n, v, sizeof v)) == STORE_OK) {
        n++;
    }
    CHECK_EQ(err, STORE_ENOSPC);
    CHECK(n > 10);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(put1(n, v, sizeof v), STORE_ENOSPC);
    for (uint32_t k = 0; k < n; k += 2) {
        CHECK_EQ(store_begin(&st, 1, 0), STORE_OK);
        CHECK_EQ(store_del(&st, k), STORE_OK);
        CHECK_EQ(store_commit(&st), STORE_OK);
    }
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(put1(1000 + (uint32_t)(i % 3), v, sizeof v), STORE_OK);
    }
    for (uint32_t k = 1; k < n; k += 2) {
        size_t len;
        CHECK_EQ(store_get(&st, k, buf, sizeof buf, &len), STORE_OK);
        CHECK_EQ(len, sizeof v);
    }
    CHECK_EQ(emu_warnings, 0);
    CHECK_EQ(m->e.violations, 0);
    emu_free(m);
}

static void a_damaged_record_is_reported_once_and_the_rest_reads(void)
{
    struct emu *m = emu_new(64 * 1024, 4096, 1);
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(put1(1, "first", 5), STORE_OK);
    CHECK_EQ(put1(2, "second value", 12), STORE_OK);
    CHECK_EQ(put1(3, "third", 5), STORE_OK);
    /* flip a bit inside the value of key 2 */
    uint32_t addr = idx[1].addr;
    flash_emu_flip(&m->e, addr + 24 + 3, 2);
    emu_warnings_reset();
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK_EQ(emu_warnings, 1);
    CHECK(strstr(emu_last_warning, "block 0") != NULL);
    size_t len;
    CHECK_EQ(store_get(&st, 2, buf, sizeof buf, &len), STORE_ECORRUPT);
    CHECK_EQ(store_get(&st, 2, buf, sizeof buf, &len), STORE_ECORRUPT);
    CHECK_EQ(emu_warnings, 1);
    CHECK_EQ(get_str(1, "first"), 0);
    CHECK_EQ(get_str(3, "third"), 0);
    /* writing the key again repairs it */
    CHECK_EQ(put1(2, "fixed", 5), STORE_OK);
    CHECK_EQ(get_str(2, "fixed"), 0);
    /* a flip in a record header loses the rest of that block, reported once */
    flash_emu_flip(&m->e, idx[2].addr + 5, 0);
    emu_warnings_reset();
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK(emu_warnings >= 1 && emu_warnings <= 2);
    CHECK_EQ(get_str(1, "first"), 0);
    emu_free(m);
}

static void a_damaged_block_header_is_skipped_with_one_warning(void)
{
    struct emu *m = emu_new(32 * 1024, 1024, 1);
    static uint8_t v[700];
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    for (uint32_t k = 0; k < 8; k++) {
        memset(v, (int)k, sizeof v);
        CHECK_EQ(put1(k, v, sizeof v), STORE_OK);
    }
    flash_emu_flip(&m->e, 2 * 1024 + 9, 1);   /* block 2's header */
    emu_warnings_reset();
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    CHECK(emu_warnings >= 1 && emu_warnings <= 2);
    size_t len;
    CHECK_EQ(store_get(&st, 0, buf, sizeof buf, &len), STORE_OK);
    CHECK_EQ(store_get(&st, 7, buf, sizeof buf, &len), STORE_OK);
    CHECK_EQ(buf[0], 7);
    /* collection passes through the damaged block without losing what starts in it */
    for (int i = 0; i < 100; i++) {
        memset(v, 0xee, sizeof v);
        CHECK_EQ(put1(100, v, sizeof v), STORE_OK);
    }
    CHECK(st.tail_seq > 3);
    for (uint32_t k = 0; k < 8; k++) {
        CHECK_EQ(store_get(&st, k, buf, sizeof buf, &len), STORE_OK);
        CHECK_EQ(buf[0], k);
    }
    emu_free(m);
}

static void more_keys_than_the_index_holds_is_an_error_not_a_crash(void)
{
    struct emu *m = emu_new(64 * 1024, 4096, 1);
    emu_warnings_reset();
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, 4), STORE_OK);
    CHECK_EQ(store_begin(&st, 5, 5), STORE_OK);
    for (uint32_t k = 0; k < 4; k++) {
        CHECK_EQ(store_put(&st, k, "v", 1), STORE_OK);
    }
    CHECK_EQ(store_put(&st, 4, "v", 1), STORE_ENOMEM);
    CHECK_EQ(store_begin(&st, 4, 4), STORE_OK);
    for (uint32_t k = 0; k < 4; k++) {
        CHECK_EQ(store_put(&st, k, "w", 1), STORE_OK);
    }
    CHECK_EQ(store_commit(&st), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, 3), STORE_ENOMEM);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, 4), STORE_OK);
    CHECK_EQ(get_str(3, "w"), 0);
    emu_free(m);
}

static void format_keeps_erase_counts_and_probe_finds_the_geometry(void)
{
    struct emu *m = emu_new(64 * 1024, 2048, 8);
    static uint8_t v[1500];
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    for (int i = 0; i < 200; i++) {
        CHECK_EQ(put1((uint32_t)(i % 5), v, sizeof v), STORE_OK);
    }
    uint32_t ec0, seq;
    CHECK_EQ(store_block_info(&st, 3, &ec0, &seq), STORE_OK);
    CHECK(ec0 > 1);
    CHECK_EQ(store_format(&m->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    uint32_t k;
    CHECK_EQ(store_seek(&st, 0, &k), STORE_ENOENT);
    CHECK_EQ(put1(1, "a", 1), STORE_OK);
    struct flash_geometry g;
    CHECK_EQ(store_probe(m->image, m->geo.size, &g), STORE_OK);
    CHECK_EQ(g.size, 64 * 1024);
    CHECK_EQ(g.block_size, 2048);
    CHECK_EQ(g.prog_size, 8);
    CHECK_EQ(store_probe(m->image, 10, &g), STORE_ENOFS);
    emu_free(m);
}

CHECK_MAIN(
    { "a_fresh_store_mounts_empty_and_keeps_a_value_across_remounts",
      a_fresh_store_mounts_empty_and_keeps_a_value_across_remounts },
    { "a_transaction_is_all_or_nothing", a_transaction_is_all_or_nothing },
    { "a_value_larger_than_a_block_crosses_blocks_and_reads_back",
      a_value_larger_than_a_block_crosses_blocks_and_reads_back },
    { "rewriting_many_times_the_flash_size_keeps_every_value",
      rewriting_many_times_the_flash_size_keeps_every_value },
    { "a_full_store_says_so_and_takes_writes_again_after_deletes",
      a_full_store_says_so_and_takes_writes_again_after_deletes },
    { "a_damaged_record_is_reported_once_and_the_rest_reads",
      a_damaged_record_is_reported_once_and_the_rest_reads },
    { "a_damaged_block_header_is_skipped_with_one_warning",
      a_damaged_block_header_is_skipped_with_one_warning },
    { "more_keys_than_the_index_holds_is_an_error_not_a_crash",
      more_keys_than_the_index_holds_is_an_error_not_a_crash },
    { "format_keeps_erase_counts_and_probe_finds_the_geometry",
      format_keeps_erase_counts_and_probe_finds_the_geometry })
