/* The virt board's CFI flash driver (board/virt/cfi_flash.c) against a model of QEMU's
 * bank (two x16 Intel chips on a 32-bit bus, tests/unit/cfi_model.c): the geometry comes
 * from the chips' query, every command reaches both chips, programs and erases are polled
 * to completion on both chips and end in read-array mode, byte programs leave the rest of
 * their word alone whether the chip ANDs (NOR) or overwrites (QEMU), and failures (status
 * error bits, a chip that never gets ready, locked blocks) end cleanly in FLASH_EIO or are
 * recovered. */
#include <stdio.h>
#include <string.h>

#include "cfi_flash.h"
#include "cfi_model.h"
#include "check.h"

#define BANK (2u << 20)
#define BLOCK (256u << 10)

static struct flash_cfi fc;

static struct cfi_model *open_bank(struct cfi_model *m)
{
    struct cfi_bus bus = cfi_model_bus(m);
    const char *why = NULL;
    if (flash_cfi_open(&fc, &bus, m->size, &why) != FLASH_OK) {
        fprintf(stderr, "open: %s\n", why);
        return NULL;
    }
    return m;
}

static void query_gives_qemu_geometry_and_timeouts(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    CHECK(open_bank(m) != NULL);
    CHECK_EQ(fc.lanes, 2);
    CHECK_EQ(fc.base.geo.size, BANK);
    CHECK_EQ(fc.base.geo.block_size, BLOCK);
    CHECK_EQ(fc.base.geo.prog_size, 1);
    /* QEMU's table: 128 us typical program, 16x max; 1 s typical erase, 16x max; doubled */
    CHECK_EQ(fc.program_timeout_ms, 10);
    CHECK_EQ(fc.erase_timeout_ms, 32768);
    CHECK_EQ(m->violations, 0);
    CHECK(cfi_model_reading_array(m));
    cfi_model_free(m);
}

static void every_command_reaches_both_chips(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    CHECK(open_bank(m) != NULL);
    uint8_t data[100], back[100];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7);
    }
    CHECK_EQ(flash_erase(&fc.base, 1), FLASH_OK);
    CHECK_EQ(flash_program(&fc.base, BLOCK + 13, data, sizeof data), FLASH_OK);
    CHECK_EQ(flash_read(&fc.base, BLOCK + 13, back, sizeof back), FLASH_OK);
    CHECK(memcmp(data, back, sizeof data) == 0);
    if (m->violations) {
        fprintf(stderr, "model: %s\n", m->last_violation);
    }
    CHECK_EQ(m->violations, 0);
    CHECK(cfi_model_reading_array(m));
    /* the model does catch a command that is not doubled: the second chip sees 0x0000 */
    struct cfi_bus bus = cfi_model_bus(m);
    bus.write32(bus.ctx, 0, 0x00000070);
    CHECK_EQ(m->violations, 1);
    cfi_model_free(m);
}

/* A byte in the middle of a word, the others programmed before: whether the chip ANDs
 * (real NOR) or stores the word as given (QEMU's pflash), the neighbours keep their bytes. */
static void byte_programs_leave_the_rest_of_the_word_alone(void)
{
    for (int overwrite = 0; overwrite < 2; overwrite++) {
        struct cfi_model *m = cfi_model_new(BANK, BLOCK);
        m->overwrite = overwrite;
        CHECK(open_bank(m) != NULL);
        uint8_t a = 0x11, b = 0x22, c = 0x33, d = 0x44, word[4];
        CHECK_EQ(flash_program(&fc.base, 64, &a, 1), FLASH_OK);
        CHECK_EQ(flash_program(&fc.base, 67, &d, 1), FLASH_OK);
        CHECK_EQ(flash_program(&fc.base, 65, &b, 1), FLASH_OK);
        CHECK_EQ(flash_program(&fc.base, 66, &c, 1), FLASH_OK);
        CHECK_EQ(flash_read(&fc.base, 64, word, 4), FLASH_OK);
        CHECK_EQ(word[0], 0x11);
        CHECK_EQ(word[1], 0x22);
        CHECK_EQ(word[2], 0x33);
        CHECK_EQ(word[3], 0x44);
        CHECK_EQ(m->image[64], 0x11);
        CHECK_EQ(m->image[67], 0x44);
        /* NOR: programming clears bits only, also through the driver's merge */
        uint8_t more = 0xf0;
        CHECK_EQ(flash_program(&fc.base, 64, &more, 1), FLASH_OK);
        CHECK_EQ(flash_read(&fc.base, 64, word, 1), FLASH_OK);
        CHECK_EQ(word[0], 0x10);
        CHECK_EQ(m->violations, 0);
        cfi_model_free(m);
    }
}

static void erased_words_are_not_programmed_again(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    CHECK(open_bank(m) != NULL);
    uint8_t pad[64];
    memset(pad, 0xff, sizeof pad);
    uint64_t before = m->programs;
    CHECK_EQ(flash_program(&fc.base, 4096, pad, sizeof pad), FLASH_OK);
    CHECK_EQ(m->programs, before);
    CHECK_EQ(fc.words_skipped, 16);
    cfi_model_free(m);
}

/* Slow chips: every operation is polled until both report ready, the slower one too. */
static void slow_chips_are_polled_until_both_are_ready(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    m->program_busy = 5;
    m->erase_busy = 300;
    m->lane1_extra_busy = 7;
    CHECK(open_bank(m) != NULL);
    CHECK_EQ(flash_erase(&fc.base, 2), FLASH_OK);
    uint64_t reads = m->status_reads;
    CHECK(reads >= 300 + 7 + 1);
    uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, back[8];
    CHECK_EQ(flash_program(&fc.base, 2 * BLOCK, data, 8), FLASH_OK);
    CHECK(m->status_reads - reads >= 2 * (5 + 7 + 1));
    CHECK_EQ(flash_read(&fc.base, 2 * BLOCK, back, 8), FLASH_OK);
    CHECK(memcmp(data, back, 8) == 0);
    CHECK_EQ(m->violations, 0);
    CHECK(cfi_model_reading_array(m));
    cfi_model_free(m);
}

/* A chip that never gets ready: the driver gives up after the chips' own timeout and
 * leaves them reading the array. */
static void a_chip_that_never_finishes_times_out(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    CHECK(open_bank(m) != NULL);
    m->program_busy = 1;
    m->chip[1].stuck = 1;
    uint8_t x = 0;
    uint64_t t0 = m->clock_us;
    CHECK_EQ(flash_program(&fc.base, 8, &x, 1), FLASH_EIO);
    CHECK_EQ(fc.timeouts, 1);
    CHECK((m->clock_us - t0) / 1000 >= fc.program_timeout_ms);
    CHECK((m->clock_us - t0) / 1000 <= fc.program_timeout_ms + 2);
    m->chip[1].stuck = 0;
    m->chip[1].busy = 0;
    /* the driver cleared the status and asked for read-array: the next op works */
    CHECK_EQ(flash_program(&fc.base, 12, &x, 1), FLASH_OK);
    CHECK(cfi_model_reading_array(m));
    cfi_model_free(m);
}

static void a_program_error_is_reported_and_cleared(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    CHECK(open_bank(m) != NULL);
    m->inject_error = 0x10;   /* SR.4: program failed, on the first chip */
    uint8_t x = 0x5a;
    CHECK_EQ(flash_program(&fc.base, 20, &x, 1), FLASH_EIO);
    CHECK_EQ(fc.errors, 1);
    CHECK_EQ(fc.last_status & 0x10, 0x10);
    CHECK(cfi_model_reading_array(m));
    CHECK_EQ(m->chip[0].status, 0x80);   /* clear status was sent */
    CHECK_EQ(flash_program(&fc.base, 20, &x, 1), FLASH_OK);
    CHECK_EQ(m->violations, 0);
    cfi_model_free(m);
}

/* Intel parts that power up with every block locked: erase unlocks first, and a program
 * into a locked block unlocks it and tries once more. */
static void blocks_locked_at_power_up_are_unlocked(void)
{
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    m->lock_at_power_up = 1;
    cfi_model_power_on(m);
    CHECK(open_bank(m) != NULL);
    uint8_t x = 0x42, back;
    CHECK_EQ(flash_program(&fc.base, BLOCK * 3 + 5, &x, 1), FLASH_OK);
    CHECK_EQ(fc.unlocks, 1);
    CHECK_EQ(flash_read(&fc.base, BLOCK * 3 + 5, &back, 1), FLASH_OK);
    CHECK_EQ(back, 0x42);
    CHECK_EQ(flash_erase(&fc.base, 4), FLASH_OK);
    CHECK_EQ(m->violations, 0);
    CHECK(cfi_model_reading_array(m));
    cfi_model_free(m);
}

static void banks_the_driver_cannot_use_are_refused_with_a_reason(void)
{
    const char *why = NULL;
    /* the device tree names a bigger bank than the chips say */
    struct cfi_model *m = cfi_model_new(BANK, BLOCK);
    struct cfi_bus bus = cfi_model_bus(m);
    CHECK_EQ(flash_cfi_open(&fc, &bus, 2 * BANK, &why), FLASH_EINVAL);
    CHECK(why != NULL && strstr(why, "size") != NULL);
    /* another command set (AMD/Fujitsu 0x0002) */
    m->cfi[0x13] = 0x02;
    CHECK_EQ(flash_cfi_open(&fc, &bus, BANK, &why), FLASH_EINVAL);
    CHECK(strstr(why, "Intel") != NULL);
    m->cfi[0x13] = 0x01;
    /* boot blocks: two erase regions */
    m->cfi[0x2c] = 2;
    CHECK_EQ(flash_cfi_open(&fc, &bus, BANK, &why), FLASH_EINVAL);
    CHECK(strstr(why, "one size") != NULL);
    m->cfi[0x2c] = 1;
    /* no CFI at all */
    memset(m->cfi, 0, sizeof m->cfi);
    CHECK_EQ(flash_cfi_open(&fc, &bus, BANK, &why), FLASH_EINVAL);
    CHECK(strstr(why, "CFI") != NULL);
    CHECK(cfi_model_reading_array(m));
    cfi_model_free(m);
}

CHECK_MAIN(
    { "query_gives_qemu_geometry_and_timeouts", query_gives_qemu_geometry_and_timeouts },
    { "every_command_reaches_both_chips", every_command_reaches_both_chips },
    { "byte_programs_leave_the_rest_of_the_word_alone",
      byte_programs_leave_the_rest_of_the_word_alone },
    { "erased_words_are_not_programmed_again", erased_words_are_not_programmed_again },
    { "slow_chips_are_polled_until_both_are_ready",
      slow_chips_are_polled_until_both_are_ready },
    { "a_chip_that_never_finishes_times_out", a_chip_that_never_finishes_times_out },
    { "a_program_error_is_reported_and_cleared", a_program_error_is_reported_and_cleared },
    { "blocks_locked_at_power_up_are_unlocked", blocks_locked_at_power_up_are_unlocked },
    { "banks_the_driver_cannot_use_are_refused_with_a_reason",
      banks_the_driver_cannot_use_are_refused_with_a_reason })
