/* `show status`: the gateway's state and its memory use against every stated limit. */
#ifndef GW_STATUS_H
#define GW_STATUS_H

struct netif;

typedef void (*status_out_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void status_set_netif(struct netif *netif);
void status_print(status_out_fn out);

#endif
