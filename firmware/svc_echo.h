/* TCP echo service (RFC 862) on port 7, for tests and diagnostics: whatever a client sends
 * comes back byte for byte. Back-pressure is end to end: received data is acknowledged to
 * TCP (tcp_recved) only once it sits in our send buffer, so a client that stops reading
 * stalls its own sending, and no connection ever holds more than one receive window. */
#ifndef GW_SVC_ECHO_H
#define GW_SVC_ECHO_H

#include <stdint.h>

#define ECHO_PORT 7
#define ECHO_MAX_CONNS 8   /* concurrent echo clients; more are refused (~80 B state each) */

struct echo_stats {
    uint32_t active, accepted, refused;
    uint64_t bytes;
};

/* Listen on port (ECHO_PORT normally). Returns 0 or a negative lwIP error. */
int echo_start(uint16_t port);
void echo_get_stats(struct echo_stats *st);

#endif
