/* What lwIP needs from the program it runs in, handed in at boot: the port calls no layer
 * above it by name (the board's clock and the firmware's time service are given to it), so
 * lwIP and its port link below the board and the firmware, not in a circle with them. */
#ifndef GW_LWIP_PORT_H
#define GW_LWIP_PORT_H

#include <stdint.h>

/* now_ms: monotonic milliseconds (lwIP's sys_now; until set, time stands at 0). sntp_time:
 * where an SNTP answer goes (Unix seconds); NULL: answers are dropped. Call before
 * lwip_init(). */
void lwip_port_init(uint32_t (*now_ms)(void), void (*sntp_time)(uint32_t unix_seconds));

/* lwIP's SNTP_SET_SYSTEM_TIME (lwipopts.h). */
void lwip_port_sntp_time(uint32_t unix_seconds);

#endif
