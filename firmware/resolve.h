/* Names to IPv4 addresses for the gateway's own connections (mappings, relays, IMAP, NTP):
 * an IPv4 literal, then the static host table (`host add`), then DNS, but only when the
 * operator configured a DNS server (`set net dns`): the box never asks a server nobody
 * configured. Answers come at once or, for DNS, later through the callback. */
#ifndef GW_RESOLVE_H
#define GW_RESOLVE_H

#include "lwip/ip_addr.h"

typedef void (*resolve_cb)(const char *name, const ip_addr_t *addr, void *arg);

enum resolve_result {
    RESOLVE_DONE = 0,        /* *addr holds the answer now; no callback */
    RESOLVE_PENDING = 1,     /* a DNS query is out: cb(name, addr or NULL, arg) follows */
    RESOLVE_UNKNOWN = -1,    /* not a literal, not in the host table, and no DNS configured */
};

enum resolve_result resolve_name(const char *name, ip_addr_t *addr, resolve_cb cb, void *arg);
/* The answer now, never DNS (the console's commands, which cannot wait): an IPv4 literal or
 * a name of the host table. 0, or -1 (*addr undefined). */
int resolve_now(const char *name, ip_addr_t *addr);
/* Forget a pending query's callback (its owner went away). */
void resolve_cancel(resolve_cb cb, void *arg);

#endif
