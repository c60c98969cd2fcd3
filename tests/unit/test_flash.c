/* The flash HAL: the emulator holds a user to NOR rules and cuts power where told; the file
 * backend creates an erased image of the default geometry and keeps what is programmed. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "flash_linux.h"
#include "store_emu.h"

static void programming_a_zero_bit_back_to_one_is_caught(void)
{
    struct emu *m = emu_new(8192, 4096, 4);
    uint8_t a[4] = { 0x0f, 0xff, 0x00, 0x12 }, b[4] = { 0x1f, 0xff, 0x00, 0x12 };
    CHECK_EQ(flash_program(&m->e.base, 0, a, 4), FLASH_OK);
    m->e.unit_used = NULL;   /* not strict: a second program of the same unit is allowed... */
    CHECK_EQ(flash_program(&m->e.base, 0, a, 4), FLASH_OK);
    CHECK_EQ(flash_program(&m->e.base, 0, b, 4), FLASH_EINVAL);   /* ...setting a bit is not */
    CHECK_EQ(m->e.violations, 1);
    CHECK_EQ(flash_program(&m->e.base, 2, a, 4), FLASH_EINVAL);   /* misaligned */
    CHECK_EQ(flash_program(&m->e.base, 4094, a, 4), FLASH_EINVAL); /* crosses a block */
    CHECK_EQ(flash_erase(&m->e.base, 0), FLASH_OK);
    CHECK_EQ(m->image[0], 0xff);
    CHECK_EQ(flash_program(&m->e.base, 0, b, 4), FLASH_OK);
    CHECK_EQ(m->erases[0], 1);
    CHECK_EQ(m->programs[0], 3);
    CHECK_EQ(flash_erase(&m->e.base, 2), FLASH_EINVAL);
    emu_free(m);
}

static void strict_mode_refuses_a_second_program_of_a_unit(void)
{
    struct emu *m = emu_new(8192, 4096, 8);
    uint8_t a[8] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    CHECK_EQ(flash_program(&m->e.base, 8, a, 8), FLASH_OK);
    CHECK_EQ(flash_program(&m->e.base, 8, a, 8), FLASH_EINVAL);
    CHECK_EQ(flash_erase(&m->e.base, 0), FLASH_OK);
    CHECK_EQ(flash_program(&m->e.base, 8, a, 8), FLASH_OK);
    emu_free(m);
}

static void power_fails_after_the_chosen_operation(void)
{
    struct emu *m = emu_new(8192, 4096, 1);
    uint8_t z[64];
    memset(z, 0, sizeof z);
    flash_emu_arm(&m->e, 2, 0, 1);
    CHECK_EQ(flash_program(&m->e.base, 0, z, 64), FLASH_OK);
    CHECK_EQ(flash_program(&m->e.base, 64, z, 64), FLASH_OK);   /* the 2nd completes */
    CHECK_EQ(flash_program(&m->e.base, 128, z, 64), FLASH_EIO);
    CHECK_EQ(flash_read(&m->e.base, 0, z, 1), FLASH_EIO);
    CHECK_EQ(m->image[127], 0);
    CHECK_EQ(m->image[128], 0xff);
    flash_emu_power_on(&m->e);
    CHECK_EQ(flash_read(&m->e.base, 0, z, 1), FLASH_OK);
    /* torn: the 1st write op is left partial */
    memset(z, 0, sizeof z);
    flash_emu_arm(&m->e, 1, 1, 5);
    CHECK_EQ(flash_program(&m->e.base, 1024, z, 64), FLASH_EIO);
    CHECK(m->image[1024 + 63] == 0xff);
    flash_emu_power_on(&m->e);
    /* a torn erase leaves a mix */
    flash_emu_arm(&m->e, 1, 1, 9);
    CHECK_EQ(flash_erase(&m->e.base, 0), FLASH_EIO);
    int erased = 0;
    for (int i = 0; i < 192; i++) {
        erased += m->image[i] == 0xff;
    }
    CHECK(erased > 0 && erased < 192);
    flash_emu_power_on(&m->e);
    flash_emu_flip(&m->e, 4096, 3);
    CHECK_EQ(m->image[4096], 0xf7);
    emu_free(m);
}

static void a_new_file_image_is_erased_default_sized_and_keeps_data(void)
{
    char path[] = "/tmp/gw-flash-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    struct flash_file ff;
    int created;
    CHECK_EQ(flash_file_open(&ff, path, 0, 0, &created), FLASH_OK);
    CHECK_EQ(created, 1);
    CHECK_EQ(ff.base.geo.size, FLASH_DEFAULT_SIZE);
    CHECK_EQ(ff.base.geo.block_size, FLASH_DEFAULT_BLOCK);
    uint8_t b[16];
    CHECK_EQ(flash_read(&ff.base, FLASH_DEFAULT_SIZE - 16, b, 16), FLASH_OK);
    CHECK_EQ(b[15], 0xff);
    CHECK_EQ(flash_program(&ff.base, 100, "hello", 5), FLASH_OK);
    flash_close(&ff.base);
    CHECK_EQ(flash_file_open(&ff, path, 0, 1024, &created), FLASH_OK);
    CHECK_EQ(created, 0);
    CHECK_EQ(ff.base.geo.block_size, 1024);
    CHECK_EQ(flash_read(&ff.base, 100, b, 5), FLASH_OK);
    CHECK(memcmp(b, "hello", 5) == 0);
    CHECK_EQ(flash_erase(&ff.base, 0), FLASH_OK);
    CHECK_EQ(flash_read(&ff.base, 100, b, 5), FLASH_OK);
    CHECK_EQ(b[0], 0xff);
    flash_close(&ff.base);
    unlink(path);
    /* custom size: 64 KiB in 2 KiB blocks */
    union flash_linux fl;
    CHECK_EQ(flash_linux_open(&fl, path, 65536, 2048, &created), FLASH_OK);
    CHECK_EQ(fl.base.geo.size, 65536);
    flash_close(&fl.base);
    unlink(path);
}

static void a_file_that_is_not_mtd_is_refused_by_the_mtd_backend(void)
{
    struct flash_mtd fm;
    emu_warnings_reset();
    CHECK_EQ(flash_mtd_open(&fm, "/dev/null"), FLASH_EINVAL);
    CHECK(flash_mtd_open(&fm, "/nonexistent/mtd0") != FLASH_OK);
}

CHECK_MAIN(
    { "programming_a_zero_bit_back_to_one_is_caught",
      programming_a_zero_bit_back_to_one_is_caught },
    { "strict_mode_refuses_a_second_program_of_a_unit",
      strict_mode_refuses_a_second_program_of_a_unit },
    { "power_fails_after_the_chosen_operation", power_fails_after_the_chosen_operation },
    { "a_new_file_image_is_erased_default_sized_and_keeps_data",
      a_new_file_image_is_erased_default_sized_and_keeps_data },
    { "a_file_that_is_not_mtd_is_refused_by_the_mtd_backend",
      a_file_that_is_not_mtd_is_refused_by_the_mtd_backend })
