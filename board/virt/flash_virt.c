/* The configuration flash: QEMU virt's second CFI bank (the first holds firmware images on
 * real boards and is left alone), the whole bank as the store's device: 64 MiB in 256 KiB
 * erase blocks, programmed by the byte (cfi_flash.h). Without a bank (no -drive
 * if=pflash,unit=1) the board lends a RAM flash, as board/linux does without --flash: the
 * box runs but forgets its configuration at power-off. */
#include "aarch64_cpu.h"
#include "board.h"
#include "cfi_flash.h"
#include "flash_emu.h"
#include "log.h"
#include "virt.h"

static struct flash_cfi bank;
static struct flash_emu ram;
static uint8_t ram_image[FLASH_DEFAULT_SIZE];
static uint32_t ram_erases[FLASH_DEFAULT_SIZE / FLASH_DEFAULT_BLOCK];
static uint32_t ram_programs[FLASH_DEFAULT_SIZE / FLASH_DEFAULT_BLOCK];
static struct flash *active;
static int created;

static uint32_t bank_read32(void *ctx, uint32_t off)
{
    return mmio_read32((uintptr_t)ctx + off);
}

static void bank_write32(void *ctx, uint32_t off, uint32_t value)
{
    mmio_write32((uintptr_t)ctx + off, value);
}

static uint32_t bank_now_ms(void *ctx)
{
    (void)ctx;
    return (uint32_t)timer_ms();
}

/* A bank whose first block starts erased holds no store yet (a new flash file). */
static int blank(struct flash *f)
{
    uint8_t buf[64];
    if (flash_read(f, 0, buf, sizeof buf) != FLASH_OK) {
        return 0;
    }
    for (size_t i = 0; i < sizeof buf; i++) {
        if (buf[i] != 0xff) {
            return 0;
        }
    }
    return 1;
}

/* see virt.h */
int virt_flash_open(void)
{
    if (virt_hw.flash.size != 0 && virt_hw.flash_width == 4 &&
        virt_hw.flash.size <= UINT32_MAX) {
        struct cfi_bus bus = { bank_read32, bank_write32, bank_now_ms,
                               (void *)(uintptr_t)virt_hw.flash.base };
        const char *why = "";
        if (flash_cfi_open(&bank, &bus, (uint32_t)virt_hw.flash.size, &why) == FLASH_OK) {
            active = &bank.base;
            created = blank(active);
            log_info("flash: CFI bank at 0x%llx, %u KiB in %u KiB blocks",
                     (unsigned long long)virt_hw.flash.base, bank.base.geo.size / 1024,
                     bank.base.geo.block_size / 1024);
            return BOARD_OK;
        }
        log_err("flash: the second CFI bank cannot be used: %s", why);
        return BOARD_EIO;
    }
    struct flash_geometry geo = { FLASH_DEFAULT_SIZE, FLASH_DEFAULT_BLOCK, 1 };
    if (flash_emu_init(&ram, &geo, ram_image, ram_erases, ram_programs, NULL) != 0) {
        return BOARD_EIO;
    }
    log_warnx("flash: no second pflash bank (-drive if=pflash,unit=1): configuration lives "
              "in RAM and is lost at power-off");
    active = &ram.base;
    created = 1;
    return BOARD_OK;
}

/* see board.h */
struct flash *board_flash(void)
{
    return active;
}

/* see board.h */
int board_flash_created(void)
{
    return created;
}
