/* What lwIP needs from the program it runs in, handed in at boot: the port calls no layer
 * above it by name (the board's clock and the firmware's time service are given to it), so
 * lwIP and its port link below the board and the firmware, not in a circle with them. */
#ifndef GW_LWIP_PORT_H
#define GW_LWIP_PORT_H

#include <stddef.h>
#include <stdint.h>

/* now_ms: monotonic milliseconds (lwIP's sys_now; until set, time stands at 0). sntp_time:
 * where an SNTP answer goes (Unix seconds); NULL: answers are dropped. Call before
 * lwip_init(). */
void lwip_port_init(uint32_t (*now_ms)(void), void (*sntp_time)(uint32_t unix_seconds));

/* lwIP's SNTP_SET_SYSTEM_TIME (lwipopts.h). */
void lwip_port_sntp_time(uint32_t unix_seconds);

/* lwIP's pools (net/port/memp_lazy.c) touch an element's memory when it is first used, so
 * a pool costs RAM for the most it held at once. discard(p, len): the board may take back
 * the whole pages in [p, p + len) (they read as zeros when next touched; Linux: madvise
 * MADV_DONTNEED); NULL (the default): nothing is given back. */
void lwip_port_set_discard(void (*discard)(void *p, size_t len));
/* From the loop: a large pool (64 KiB or more) that has been empty for a second gives its
 * pages back through discard, and starts over untouched. Returns the bytes given back. */
size_t lwip_port_trim(void);
/* Bytes of pool type (memp_t) touched since start or its last trim: what it costs now. */
size_t lwip_port_pool_committed(unsigned type);

/* 1 while frames the gateway sent to itself (its own address, or 127/8 on lwIP's "lo")
 * wait on a loopback queue for netif_poll_all(). */
int lwip_port_loopback_pending(void);

#endif
