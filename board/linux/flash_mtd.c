/* Linux flash backend: an MTD character device (see flash_linux.h).
 * musl's include path has no <mtd/mtd-user.h>, so the two ioctls and their structures are
 * spelled here from the kernel's UAPI (include/uapi/mtd/mtd-abi.h); they are ABI-stable. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "flash_linux.h"
#include "log.h"

struct mtd_info_user {
    uint8_t type;
    uint32_t flags;
    uint32_t size;        /* total size of the MTD */
    uint32_t erasesize;
    uint32_t writesize;   /* program unit: 1 on NOR */
    uint32_t oobsize;
    uint64_t padding;
};

struct erase_info_user {
    uint32_t start;
    uint32_t length;
};

#define MEMGETINFO _IOR('M', 1, struct mtd_info_user)
#define MEMERASE _IOW('M', 2, struct erase_info_user)

enum { MTD_RAM = 1, MTD_NORFLASH = 3 };   /* NAND (bad blocks, ECC pages) is not for us */
#define MTD_WRITEABLE 0x400

static int mtd_read(struct flash *f, uint32_t addr, void *buf, size_t len)
{
    struct flash_mtd *fm = (struct flash_mtd *)f;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fm->fd, p, len, (off_t)addr);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            log_err("%s: read at %u failed: %s", __func__, addr, strerror(errno));
            return FLASH_EIO;
        }
        p += n;
        addr += (uint32_t)n;
        len -= (size_t)n;
    }
    return FLASH_OK;
}

/* Make the last operation durable before returning, as flash.h requires. Real NOR is
 * synchronous already; an MTD emulated over a block device (block2mtd) keeps writes in the
 * page cache, fsync() on the MTD node fails with EINVAL, and the driver syncs only when a
 * writable descriptor of the device is closed: so open and close one. */
static int mtd_sync(struct flash_mtd *fm)
{
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fm->fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        log_err("%s: cannot reopen the MTD device to sync it: %s", __func__, strerror(errno));
        return FLASH_EIO;
    }
    if (close(fd) != 0) {
        log_err("%s: sync of the MTD device failed: %s", __func__, strerror(errno));
        return FLASH_EIO;
    }
    return FLASH_OK;
}

static int mtd_program(struct flash *f, uint32_t addr, const void *buf, size_t len)
{
    struct flash_mtd *fm = (struct flash_mtd *)f;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fm->fd, p, len, (off_t)addr);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            log_err("%s: program at %u failed: %s", __func__, addr, strerror(errno));
            return FLASH_EIO;
        }
        p += n;
        addr += (uint32_t)n;
        len -= (size_t)n;
    }
    return mtd_sync(fm);
}

static int mtd_erase(struct flash *f, uint32_t block)
{
    struct flash_mtd *fm = (struct flash_mtd *)f;
    struct erase_info_user ei = { .start = block * f->geo.block_size,
                                  .length = f->geo.block_size };
    if (ioctl(fm->fd, MEMERASE, &ei) != 0) {
        log_err("%s: erase of block %u failed: %s", __func__, block, strerror(errno));
        return FLASH_EIO;
    }
    return mtd_sync(fm);
}

static void mtd_close(struct flash *f)
{
    struct flash_mtd *fm = (struct flash_mtd *)f;
    if (fm->fd >= 0) {
        close(fm->fd);
        fm->fd = -1;
    }
}

static const struct flash_class flash_mtd_class = {
    .read = mtd_read,
    .program = mtd_program,
    .erase = mtd_erase,
    .close = mtd_close,
};

/* see flash_linux.h */
int flash_mtd_open(struct flash_mtd *fm, const char *path)
{
    struct mtd_info_user info;
    int ret = FLASH_EINVAL;
    fm->fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
    if (fm->fd < 0) {
        log_err("%s: cannot open %s: %s", __func__, path, strerror(errno));
        return FLASH_EIO;
    }
    if (ioctl(fm->fd, MEMGETINFO, &info) != 0) {
        log_err("%s: %s is not an MTD device: %s", __func__, path, strerror(errno));
        goto done;
    }
    if (info.type != MTD_NORFLASH && info.type != MTD_RAM) {
        log_err("%s: %s is MTD type %u; only NOR (or RAM) flash is supported", __func__, path,
                info.type);
        goto done;
    }
    if (!(info.flags & MTD_WRITEABLE)) {
        log_err("%s: %s is read-only", __func__, path);
        goto done;
    }
    fm->base.vtable = &flash_mtd_class;
    fm->base.geo.size = info.size;
    fm->base.geo.block_size = info.erasesize;
    fm->base.geo.prog_size = info.writesize ? info.writesize : 1;
    if (!flash_geometry_valid(&fm->base.geo)) {
        log_err("%s: %s: unusable geometry %u/%u/%u", __func__, path, info.size,
                info.erasesize, info.writesize);
        goto done;
    }
    ret = FLASH_OK;
done:
    if (ret) {
        close(fm->fd);
        fm->fd = -1;
    }
    return ret;
}
