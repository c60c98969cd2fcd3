/* Linux board: the configuration flash behind board_flash(). A path names a file image
 * (created erased on first boot), a block device, or an MTD character device; without one
 * the board lends a RAM image through the NOR emulator, so the firmware always has a store. */
#include <string.h>

#include "board_linux.h"
#include "flash_emu.h"
#include "flash_linux.h"

static union flash_linux flash_dev;
static struct flash_emu flash_ram;
static uint8_t flash_ram_image[FLASH_DEFAULT_SIZE];  /* 256 KiB, only without --flash */
static uint32_t flash_ram_erases[FLASH_DEFAULT_SIZE / FLASH_DEFAULT_BLOCK];
static uint32_t flash_ram_programs[FLASH_DEFAULT_SIZE / FLASH_DEFAULT_BLOCK];
static struct flash *flash_active;
static int flash_created;

int linux_flash_open(const char *path)
{
    if (path == NULL) {
        struct flash_geometry geo = { FLASH_DEFAULT_SIZE, FLASH_DEFAULT_BLOCK, 1 };
        if (flash_emu_init(&flash_ram, &geo, flash_ram_image, flash_ram_erases,
                           flash_ram_programs, NULL) != 0) {
            return BOARD_EIO;
        }
        log_warnx("flash: no --flash given: configuration lives in RAM and is lost at exit");
        flash_active = &flash_ram.base;
        flash_created = 1;
        return BOARD_OK;
    }
    int err = flash_linux_open(&flash_dev, path, FLASH_DEFAULT_SIZE, FLASH_DEFAULT_BLOCK,
                               &flash_created);
    if (err) {
        linux_err("flash: cannot open %s", path);
        return BOARD_EIO;
    }
    flash_active = &flash_dev.base;
    return BOARD_OK;
}

void linux_flash_close(void)
{
    if (flash_active == &flash_dev.base) {
        flash_close(flash_active);
    }
    flash_active = NULL;
}

/* see board.h */
struct flash *board_flash(void)
{
    return flash_active;
}

/* see board.h */
int board_flash_created(void)
{
    return flash_created;
}
