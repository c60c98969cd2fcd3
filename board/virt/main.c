/* The virt board's entry point, called by musl's __libc_start_main like any static
 * program's. The command line is the kernel command line QEMU passes in the device tree
 * (-append): --mac XX:XX:XX:XX:XX:XX to override the NIC's own address, --clock unset to
 * run as a board without an RTC (1970 until SNTP). The return value goes to exit(): 0
 * powers the machine off (Ctrl-D at the console), anything else resets it. */
#include <getopt.h>
#include <stdio.h>

#include "board.h"
#include "gateway.h"
#include "log_ring.h"

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "mac", required_argument, NULL, 'm' },
        { "clock", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    /* The NIC is whichever virtio-net device QEMU has; none means no network. */
    struct board_options bo = { .console = "pl011", .net = "virtio" };
    struct gateway_args ga = { 0 };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': bo.mac = optarg; break;
        case 't': bo.clock = optarg; break;
        default:
            fprintf(stderr, "gateway: kernel command line: usage: [--mac XX:XX:XX:XX:XX:XX] "
                    "[--clock unset]\n");
            return 2;
        }
    }
    log_ring_init();                  /* the board's own lines go where the firmware's do */
    if (board_init(&bo) != BOARD_OK) {
        board_shutdown();
        return 1;
    }
    int ret = gateway_main(&ga);
    board_shutdown();
    return ret;
}
