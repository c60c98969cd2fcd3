/* The Linux flash backends (see flash.h for the rules they keep).
 *
 *  - flash_file: a regular file or a block device. A missing file is created at `size`
 *    (default FLASH_DEFAULT_SIZE) filled with 0xFF; an existing one keeps its size. It is
 *    opened O_DSYNC, so every program and erase has reached the disk when it returns: the
 *    ordering and durability a power-loss-safe store needs from NOR.
 *  - flash_mtd: a NOR MTD character device (/dev/mtdN): geometry from MEMGETINFO, erase by
 *    MEMERASE, program and read by pwrite/pread, all synchronous in the kernel.
 * flash_linux_open() picks one from the path. */
#ifndef GW_FLASH_LINUX_H
#define GW_FLASH_LINUX_H

#include <stdint.h>

#include "flash.h"

struct flash_file {
    struct flash base;
    int fd;
};

struct flash_mtd {
    struct flash base;
    int fd;
};

/* Open or create a file image. size 0: the existing size, or FLASH_DEFAULT_SIZE when new;
 * block_size 0: FLASH_DEFAULT_BLOCK. Program unit 1. *created is set to 1 when the file was
 * made now (the caller formats it). Returns FLASH_OK or an error (logged). */
int flash_file_open(struct flash_file *ff, const char *path, uint32_t size, uint32_t block_size,
                    int *created);
/* Open /dev/mtdN. Returns FLASH_OK, or FLASH_EINVAL when it is not a usable NOR device. */
int flash_mtd_open(struct flash_mtd *fm, const char *path);

/* Either backend, by path: a character device is MTD, anything else is a file image. */
union flash_linux {
    struct flash base;
    struct flash_file file;
    struct flash_mtd mtd;
};
int flash_linux_open(union flash_linux *fl, const char *path, uint32_t size,
                     uint32_t block_size, int *created);

#endif
