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

/* Ask the loop to stop as on SIGTERM (each tunnel sends GoAway and its TLS close), then
 * start the firmware afresh: the console's `reboot`, and its `factory-reset`, which erases
 * the configuration after the tunnels closed (nothing the last turns write survives it).
 * A stop request (SIGTERM, Ctrl-D) meanwhile wins: the gateway stops, it does not restart. */
enum gateway_restart_kind { GATEWAY_REBOOT, GATEWAY_FACTORY_RESET };
void gateway_restart(enum gateway_restart_kind kind);
/* 1 once a restart was asked: the console reads nothing more. */
int gateway_restarting(void);

extern const char gateway_version[];

#endif
