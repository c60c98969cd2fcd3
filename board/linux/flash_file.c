/* Linux flash backend: a file image or block device, opened O_DSYNC (see flash_linux.h).
 * A program writes its bytes as given: the store above never programs a byte twice between
 * erases, so "new = old & data" and "new = data" are the same thing for it. */
#define _GNU_SOURCE /* O_CLOEXEC with older headers */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flash_linux.h"
#include "log.h"

static int file_pread(int fd, uint32_t addr, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)addr);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FLASH_EIO;
        }
        p += n;
        addr += (uint32_t)n;
        len -= (size_t)n;
    }
    return FLASH_OK;
}

static int file_pwrite(int fd, uint32_t addr, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)addr);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FLASH_EIO;
        }
        p += n;
        addr += (uint32_t)n;
        len -= (size_t)n;
    }
    return FLASH_OK;
}

/* Fill [addr, addr+len) with 0xFF, a chunk at a time. */
static int file_fill_erased(int fd, uint32_t addr, uint32_t len)
{
    uint8_t ones[512];
    memset(ones, 0xff, sizeof ones);
    while (len > 0) {
        uint32_t n = len < sizeof ones ? len : (uint32_t)sizeof ones;
        int err = file_pwrite(fd, addr, ones, n);
        if (err) {
            return err;
        }
        addr += n;
        len -= n;
    }
    return FLASH_OK;
}

static int ff_read(struct flash *f, uint32_t addr, void *buf, size_t len)
{
    struct flash_file *ff = (struct flash_file *)f;
    int err = file_pread(ff->fd, addr, buf, len);
    if (err) {
        log_err("%s: flash read at %u failed: %s", __func__, addr, strerror(errno));
    }
    return err;
}

static int ff_program(struct flash *f, uint32_t addr, const void *buf, size_t len)
{
    struct flash_file *ff = (struct flash_file *)f;
    int err = file_pwrite(ff->fd, addr, buf, len);
    if (err) {
        log_err("%s: flash program at %u failed: %s", __func__, addr, strerror(errno));
    }
    return err;
}

static int ff_erase(struct flash *f, uint32_t block)
{
    struct flash_file *ff = (struct flash_file *)f;
    int err = file_fill_erased(ff->fd, block * f->geo.block_size, f->geo.block_size);
    if (err) {
        log_err("%s: flash erase of block %u failed: %s", __func__, block, strerror(errno));
    }
    return err;
}

static void ff_close(struct flash *f)
{
    struct flash_file *ff = (struct flash_file *)f;
    if (ff->fd >= 0) {
        close(ff->fd);
        ff->fd = -1;
    }
}

static const struct flash_class flash_file_class = {
    .read = ff_read,
    .program = ff_program,
    .erase = ff_erase,
    .close = ff_close,
};

/* Create path as an erased image of size bytes; durable before it is used. */
static int file_create(const char *path, uint32_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("%s: cannot create %s: %s", __func__, path, strerror(errno));
        return FLASH_EIO;
    }
    int err = file_fill_erased(fd, 0, size);
    if (!err && fsync(fd) != 0) {
        err = FLASH_EIO;
    }
    if (err) {
        log_err("%s: cannot fill %s: %s", __func__, path, strerror(errno));
        unlink(path);
    }
    close(fd);
    return err;
}

/* see flash_linux.h */
int flash_file_open(struct flash_file *ff, const char *path, uint32_t size, uint32_t block_size,
                    int *created)
{
    int ret = FLASH_EIO;
    *created = 0;
    ff->fd = -1;
    if (block_size == 0) {
        block_size = FLASH_DEFAULT_BLOCK;
    }
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        int err = file_create(path, size ? size : FLASH_DEFAULT_SIZE);
        if (err) {
            return err;
        }
        *created = 1;
    }
    ff->fd = open(path, O_RDWR | O_DSYNC | O_CLOEXEC);
    if (ff->fd < 0) {
        log_err("%s: cannot open %s: %s", __func__, path, strerror(errno));
        return FLASH_EIO;
    }
    off_t end = lseek(ff->fd, 0, SEEK_END);   /* works for block devices too */
    if (end < 0 || (uint64_t)end > UINT32_MAX) {
        log_err("%s: %s: size unknown or above 4 GiB", __func__, path);
        goto done;
    }
    if (size != 0 && (uint32_t)end != size) {
        log_warnx("%s: %s is %lu bytes, not %u: using its own size", __func__, path,
                  (unsigned long)end, size);
    }
    ff->base.vtable = &flash_file_class;
    ff->base.geo.size = (uint32_t)end;
    ff->base.geo.block_size = block_size;
    ff->base.geo.prog_size = 1;
    if (!flash_geometry_valid(&ff->base.geo)) {
        log_err("%s: %s: %u bytes is not a whole number (>= 2) of %u-byte blocks", __func__,
                path, ff->base.geo.size, block_size);
        ret = FLASH_EINVAL;
        goto done;
    }
    ret = FLASH_OK;
done:
    if (ret) {
        close(ff->fd);
        ff->fd = -1;
    }
    return ret;
}

/* see flash_linux.h */
int flash_linux_open(union flash_linux *fl, const char *path, uint32_t size,
                     uint32_t block_size, int *created)
{
    struct stat st;
    *created = 0;
    if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
        return flash_mtd_open(&fl->mtd, path);
    }
    return flash_file_open(&fl->file, path, size, block_size, created);
}
