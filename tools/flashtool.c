/* flashtool: make, inspect and check gateway flash images on the host.
 *
 *   flashtool create IMAGE [--size N] [--block N]   new erased image with an empty store
 *   flashtool info IMAGE                            geometry, records, erase counts
 *   flashtool verify IMAGE                          exit 0 clean (a torn write at the end
 *                                                   of the log is not damage), 1 damaged,
 *                                                   2 no store
 *   flashtool export IMAGE                          the config as console commands, secrets
 *                                                   included (backup, factory records)
 *   flashtool import IMAGE FILE                     replace the config by FILE's commands,
 *                                                   committed as one transaction
 *
 * Sizes take a K or M suffix. The geometry of an existing image is read from its headers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "flash_linux.h"
#include "log.h"
#include "store.h"

#define INDEX_KEYS 1024   /* 12 KiB: a host tool can afford every key a store may hold */

static struct store_entry index_mem[INDEX_KEYS];
static struct store st;
static union flash_linux fl;
static uint8_t value[STORE_VALUE_MAX];
static struct config_ctx cfg;
static uint8_t arena[256 * 1024];    /* pasted PEM of an import: a whole trust store */
static char text[1024 * 1024];

static void to_stderr(enum log_level level, const char *line, size_t len)
{
    (void)level;
    fwrite(line, 1, len, stderr);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: flashtool create IMAGE [--size N] [--block N]\n"
        "       flashtool info IMAGE\n"
        "       flashtool verify IMAGE\n"
        "       flashtool export IMAGE\n"
        "       flashtool import IMAGE FILE\n"
        "  create   a new image, erased, with an empty store (default 256K in 4K blocks)\n"
        "  info     geometry, live and dead records, free space, erase counts per block\n"
        "  verify   mount and read every record: exit 0 clean, 1 damage found, 2 no store\n"
        "  export   print the configuration as console commands, secrets included\n"
        "  import   replace the configuration by the commands in FILE (one commit)\n");
}

static int parse_size(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end == 'K' || *end == 'k') {
        v *= 1024;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1024 * 1024;
        end++;
    }
    if (errno || end == s || *end != 0 || v == 0 || v > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int cmd_create(const char *path, int argc, char **argv)
{
    uint32_t size = FLASH_DEFAULT_SIZE, block = FLASH_DEFAULT_BLOCK;
    for (int i = 0; i < argc; i++) {
        uint32_t *dst = strcmp(argv[i], "--size") == 0 ? &size
                      : strcmp(argv[i], "--block") == 0 ? &block : NULL;
        if (dst == NULL || i + 1 == argc || parse_size(argv[i + 1], dst)) {
            fprintf(stderr, "flashtool: create: bad option '%s'\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "flashtool: %s exists; not overwriting it\n", path);
        return 1;
    }
    struct flash_geometry g = { .size = size, .block_size = block, .prog_size = 1 };
    if (!flash_geometry_valid(&g)) {
        fprintf(stderr, "flashtool: %u bytes in %u-byte blocks is not a valid geometry\n", size,
                block);
        return 2;
    }
    int created;
    if (flash_file_open(&fl.file, path, size, block, &created) != FLASH_OK) {
        return 1;
    }
    int err = store_format(&fl.base);
    flash_close(&fl.base);
    if (err) {
        fprintf(stderr, "flashtool: format: %s\n", store_strerror(err));
        unlink(path);
        return 1;
    }
    printf("%s: %u bytes, %u blocks of %u bytes, empty store\n", path, size, size / block,
           block);
    return 0;
}

/* Open an existing image with the geometry its store headers name. */
static int open_image(const char *path)
{
    static uint8_t head[256 * 1024 + 64];
    struct flash_geometry g = { .block_size = FLASH_DEFAULT_BLOCK };
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "flashtool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n > 0 && store_probe(head, (size_t)n, &g) != STORE_OK) {
        g.block_size = FLASH_DEFAULT_BLOCK;   /* let the mount say what is wrong */
    }
    int created;
    if (flash_file_open(&fl.file, path, 0, g.block_size, &created) != FLASH_OK) {
        return -1;
    }
    return 0;
}

static int mount_image(const char *path)
{
    if (open_image(path)) {
        return -1;
    }
    int err = store_mount(&st, &fl.base, index_mem, INDEX_KEYS);
    if (err) {
        fprintf(stderr, "flashtool: %s: %s\n", path, store_strerror(err));
        flash_close(&fl.base);
        return -1;
    }
    return 0;
}

static int cmd_info(const char *path)
{
    if (mount_image(path)) {
        return 2;
    }
    struct store_stat ss;
    store_stat(&st, &ss);
    printf("image        %s\n", path);
    printf("geometry     %u bytes, %u blocks of %u bytes, program unit %u, %u log bytes per "
           "block\n", ss.geo.size, ss.blocks, ss.geo.block_size, ss.geo.prog_size, ss.payload);
    printf("log          blocks %u..%u live (of %u), next transaction %u\n", ss.tail_seq,
           ss.head_seq, ss.blocks, ss.next_txn);
    printf("records      %u live (%u bytes), %u dead\n", ss.live_records, ss.live_bytes,
           ss.dead_records);
    printf("space        %u bytes free, %u of them the collector's spare\n", ss.free_bytes,
           ss.spare_bytes);
    printf("damage       %u damaged records or blocks\n", ss.corrupt);
    printf("interrupted  %u torn writes at the end of the log, discarded (normal after power "
           "loss)\n", ss.interrupted);
    uint32_t min = UINT32_MAX, max = 0, known = 0;
    uint64_t sum = 0;
    printf("erases      ");
    for (uint32_t b = 0; b < ss.blocks; b++) {
        uint32_t ec, seq;
        if (store_block_info(&st, b, &ec, &seq) == STORE_OK) {
            printf(" %u", ec);
            min = ec < min ? ec : min;
            max = ec > max ? ec : max;
            sum += ec;
            known++;
        } else {
            printf(" -");
        }
    }
    printf("\n");
    if (known) {
        printf("wear         erases per block min %u max %u mean %.1f\n", min, max,
               (double)sum / known);
    }
    printf("keys        ");
    unsigned shown = 0;
    for (uint32_t k = 0; store_seek(&st, k, &k) == STORE_OK; k++) {
        size_t len;
        int err = store_get(&st, k, value, sizeof value, &len);
        printf("%s %u.%u:%s", shown % 8 == 7 ? "\n            " : "", STORE_KEY_TYPE(k),
               STORE_KEY_ID(k), err ? "damaged" : "");
        if (!err) {
            printf("%zu", len);
        }
        shown++;
        if (k == UINT32_MAX) {
            break;
        }
    }
    printf("\n");
    flash_close(&fl.base);
    return 0;
}

static int cmd_verify(const char *path)
{
    if (mount_image(path)) {
        return 2;
    }
    unsigned keys = 0, bad = 0;
    for (uint32_t k = 0; store_seek(&st, k, &k) == STORE_OK; k++) {
        size_t len;
        int err = store_get(&st, k, value, sizeof value, &len);
        if (err) {
            fprintf(stderr, "flashtool: key %u.%u: %s\n", STORE_KEY_TYPE(k), STORE_KEY_ID(k),
                    store_strerror(err));
            bad++;
        }
        keys++;
        if (k == UINT32_MAX) {
            break;
        }
    }
    struct store_stat ss;
    store_stat(&st, &ss);
    flash_close(&fl.base);
    if (ss.corrupt || bad) {
        printf("%s: DAMAGED: %u damaged records or blocks, %u of %u keys unreadable\n", path,
               ss.corrupt, bad, keys);
        return 1;
    }
    /* A torn write at the end of the log is what a power cut during a commit leaves: mount
     * discards it and nothing committed is lost, so it is not damage. */
    printf("%s: OK: %u keys, every record checked%s\n", path, keys,
           ss.interrupted ? "; an interrupted write at the end of the log was discarded "
                            "(normal after power loss)" : "");
    return 0;
}

static void to_stdout(void *arg, const char *p, size_t len)
{
    (void)arg;
    fwrite(p, 1, len, stdout);
}

static int cmd_export(const char *path)
{
    if (mount_image(path)) {
        return 2;
    }
    config_init(&cfg, &st, arena, sizeof arena);
    int err = config_load(&cfg);
    if (!err) {
        err = config_print(&cfg, &cfg.running, CONFIG_PRINT_SECRETS, to_stdout, NULL);
    }
    flash_close(&fl.base);
    if (err) {
        fprintf(stderr, "flashtool: export: %s\n", cfg.error[0] ? cfg.error : "store error");
        return 1;
    }
    return 0;
}

static int cmd_import(const char *path, const char *file)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "flashtool: %s: %s\n", file, strerror(errno));
        return 2;
    }
    size_t n = fread(text, 1, sizeof text, f);
    int toolong = !feof(f);
    if (f != stdin) {
        fclose(f);
    }
    if (toolong) {
        fprintf(stderr, "flashtool: %s: larger than %zu bytes\n", file, sizeof text);
        return 2;
    }
    if (mount_image(path)) {
        return 2;
    }
    config_init(&cfg, &st, arena, sizeof arena);
    int err = config_load(&cfg);
    if (!err) {
        config_defaults(&cfg.candidate);   /* the file is the whole configuration */
        err = config_exec_text(&cfg, text, n);
    }
    if (!err && config_changed(&cfg)) {
        err = config_commit(&cfg);
    }
    flash_close(&fl.base);
    if (err) {
        fprintf(stderr, "flashtool: %s: %s\n", file, cfg.error);
        return 1;
    }
    printf("%s: configuration imported from %s\n", path, file);
    return 0;
}

int main(int argc, char **argv)
{
    log_set_sink(to_stderr);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1], *path = argv[2];
    if (strcmp(cmd, "create") == 0) {
        return cmd_create(path, argc - 3, argv + 3);
    }
    if (strcmp(cmd, "import") == 0 && argc == 4) {
        return cmd_import(path, argv[3]);
    }
    if (argc != 3) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "export") == 0) {
        return cmd_export(path);
    }
    if (strcmp(cmd, "info") == 0) {
        return cmd_info(path);
    }
    if (strcmp(cmd, "verify") == 0) {
        return cmd_verify(path);
    }
    fprintf(stderr, "flashtool: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
