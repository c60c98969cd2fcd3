/* The gateway firmware's entry point, called by a board's start-up code. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

/* Start-up settings that do not come from flash. Until the flash store holds the network
 * configuration, the Linux board passes an address here; NULL means DHCP. */
struct gateway_args {
    const char *ip;         /* "A.B.C.D/NN", or NULL for DHCP */
    const char *gateway;    /* default route "A.B.C.D", or NULL */
    const char *hostname;   /* NULL: "gateway" */
};

/* Boot, then run the event loop until the board asks to stop. Returns the exit status. */
int gateway_main(const struct gateway_args *args);

extern const char gateway_version[];

#endif
