/* Linux board: the process entry point. Parses the command line into board options and
 * firmware start-up settings, then hands over to the firmware. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "board_linux.h"
#include "gateway.h"
#include "log_ring.h"

/* A --batch script is read whole: provisioning files are small. */
#define BATCH_MAX (256 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
        "usage: gateway [--flash PATH] [--console stdio|TTY]\n"
        "               [--net tap:IF|stream:SOCKET|packet:IF] [--mac XX:XX:XX:XX:XX:XX]\n"
        "               [--clock host|unset|SECONDS] [--batch FILE]\n"
        "  --flash     configuration flash: a file image (created on first boot, 256 KiB in\n"
        "              4 KiB blocks), a block device, or /dev/mtdN (default: RAM only)\n"
        "  --console   where the operator's console is (default stdio; a tty runs raw, 115200)\n"
        "  --net       the Ethernet port: a TAP device, a QEMU/passt stream socket,\n"
        "              or a NIC through AF_PACKET (the kernel must not address it)\n"
        "  --mac       station address (default: random, locally administered)\n"
        "  --clock     the wall clock at boot: the host's (default); unset, as on a board\n"
        "              without an RTC (1970: TLS waits until SNTP sets it, see set net ntp);\n"
        "              or the host's clock plus SECONDS (negative: behind), e.g.\n"
        "              --clock=-86400\n"
        "  --batch     run console commands from FILE against the flash, then exit;\n"
        "              exit status 1 at the first error, naming line and reason\n"
        "  --version   print the version and exit\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "gateway: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(BATCH_MAX);
    size_t n = buf ? fread(buf, 1, BATCH_MAX, f) : 0;
    int too_big = buf && n == BATCH_MAX && fgetc(f) != EOF;
    fclose(f);
    if (buf == NULL || too_big) {
        fprintf(stderr, "gateway: %s: larger than %d bytes\n", path, BATCH_MAX);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "flash", required_argument, NULL, 'f' },
        { "console", required_argument, NULL, 'c' },
        { "net", required_argument, NULL, 'n' },
        { "mac", required_argument, NULL, 'm' },
        { "batch", required_argument, NULL, 'b' },
        { "clock", required_argument, NULL, 't' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct board_options bo = { .console = "stdio" };
    struct gateway_args ga = { 0 };
    const char *batch_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': bo.flash = optarg; break;
        case 'c': bo.console = optarg; break;
        case 'n': bo.net = optarg; break;
        case 'm': bo.mac = optarg; break;
        case 'b': batch_path = optarg; break;
        case 't': bo.clock = optarg; break;
        case 'V': printf("gateway %s\n", gateway_version); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "gateway: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    char *batch = NULL;
    if (batch_path != NULL) {
        batch = read_file(batch_path, &ga.batch_len);
        if (batch == NULL) {
            return 2;
        }
        ga.batch = batch;
    }
    linux_set_argv(argv);
    log_ring_init();                  /* the board's own lines go where the firmware's do */
    if (board_init(&bo) != BOARD_OK) {
        board_shutdown();
        free(batch);
        return 1;
    }
    int ret = gateway_main(&ga);
    board_shutdown();
    free(batch);
    return ret;
}
