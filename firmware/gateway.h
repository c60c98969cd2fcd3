/* The gateway firmware's entry point, called by a board's start-up code. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stddef.h>

/* Start-up settings that do not come from flash. */
struct gateway_args {
    /* A console script (--batch): run against the flash after boot (and after the network
     * came up, when there is one), then stop; exit status 1 at the first failing line. */
    const char *batch;
    size_t batch_len;
};

/* Boot, then run the event loop until the board asks to stop (or run the batch script).
 * Returns the exit status. */
int gateway_main(const struct gateway_args *args);

extern const char gateway_version[];

#endif
