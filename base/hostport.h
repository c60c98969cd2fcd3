/* HOST:PORT as operators write it (relays, mappings, listen addresses): the last ':' splits
 * it, the host is not empty, the port is 1..65535 in decimal. What a host may be is the
 * caller's rule (a name, an IPv4 address). */
#ifndef GW_HOSTPORT_H
#define GW_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

/* s (a NUL-terminated string) into host (cap bytes, NUL-terminated) and *port: 0, or -1
 * when there is no ':', the host is empty or does not fit, or the port is not 1..65535. */
int hostport_split(const char *s, char *host, size_t cap, uint16_t *port);

#endif
