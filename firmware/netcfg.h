/* Bringing the gateway's IPv4 interface up: static address or DHCP, and reporting what it
 * obtained (the boot banner's address line). */
#ifndef GW_NETCFG_H
#define GW_NETCFG_H

#include <stdint.h>

struct netif;

/* cidr "A.B.C.D/NN" (NULL: DHCP), gw "A.B.C.D" or NULL. Returns 0 or -1 (logged). */
int netcfg_apply(struct netif *netif, const char *cidr, const char *gw, const char *hostname);
/* Parse "A.B.C.D/NN" into address and prefix length; 0 or -1. Shared with the console. */
int netcfg_parse_cidr(const char *s, uint32_t *addr_be, unsigned *prefix);

#endif
