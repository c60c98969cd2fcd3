/* Linux board: the process entry point. Parses the command line into board options and
 * firmware start-up settings, then hands over to the firmware. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "gateway.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: gateway [--console stdio|TTY] [--net tap:IF|stream:SOCKET|packet:IF]\n"
        "               [--mac XX:XX:XX:XX:XX:XX] [--ip A.B.C.D/NN [--gw A.B.C.D]]\n"
        "               [--hostname NAME]\n"
        "  --console   where the operator's console is (default stdio; a tty runs raw, 115200)\n"
        "  --net       the Ethernet port: a TAP device, a QEMU/passt stream socket,\n"
        "              or a NIC through AF_PACKET (the kernel must not address it)\n"
        "  --mac       station address (default: random, locally administered)\n"
        "  --ip, --gw  static IPv4 address and default route (default: DHCP)\n"
        "  --version   print the version and exit\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "console", required_argument, NULL, 'c' },
        { "net", required_argument, NULL, 'n' },
        { "mac", required_argument, NULL, 'm' },
        { "ip", required_argument, NULL, 'i' },
        { "gw", required_argument, NULL, 'g' },
        { "hostname", required_argument, NULL, 'H' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct board_options bo = { .console = "stdio" };
    struct gateway_args ga = { 0 };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': bo.console = optarg; break;
        case 'n': bo.net = optarg; break;
        case 'm': bo.mac = optarg; break;
        case 'i': ga.ip = optarg; break;
        case 'g': ga.gateway = optarg; break;
        case 'H': ga.hostname = optarg; break;
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
    if (board_init(&bo) != BOARD_OK) {
        board_shutdown();
        return 1;
    }
    int ret = gateway_main(&ga);
    board_shutdown();
    return ret;
}
