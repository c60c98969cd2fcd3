/* Where the wall clock gets its time: the board's clock, and SNTP (lwIP's app) asking the
 * one server the operator configured (`set net ntp HOST`). No server configured, no SNTP:
 * there is no default pool, and none is learned from DHCP.
 *
 * The server's name goes through the box's resolver (resolve.h): an IPv4 literal, the
 * static host table (`host add`), then DNS only when a DNS server is configured (`set net
 * dns`), looked up when the name is applied (boot, commit). SNTP starts once the netif has
 * a link and an address, asks at once, then hourly. An answer sets the board's clock
 * (board_set_wallclock) unless it lies before the build's floor or behind the last known
 * good time kept on flash; then it is refused and logged, and the time stays not valid.
 * The first answer also writes the last known good time (settings_time_keep). */
#ifndef GW_TIMESYNC_H
#define GW_TIMESYNC_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct netif;

/* Start, restart or stop SNTP for cf's `net ntp` (at boot and after a commit that changed
 * the network or the host table). Unchanged server: the running client is left alone. */
void timesync_apply(const struct config *cf, struct netif *netif);

/* Where SNTP answers go (handed to lwIP's port at boot): a checked answer, in Unix seconds. */
void timesync_sntp_set(uint32_t unix_seconds);

/* "sntp" once an SNTP answer set the clock, else "board clock". */
const char *timesync_source(void);

/* One line for `show status`: the server, its address and how the exchange goes. */
#define TIMESYNC_STATUS_MAX 160
void timesync_status(char *buf, size_t len);

#endif
