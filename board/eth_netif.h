/* The lwIP netif description every board's Ethernet interface gives at netif_add: one
 * implementation, so the Linux netifs and the bare-metal virtio one present alike. */
#ifndef GW_ETH_NETIF_H
#define GW_ETH_NETIF_H

#include <stdint.h>

#include "lwip/netif.h"

/* Names the netif "en", an Ethernet MTU of 1500 with ARP and broadcast, the board's
 * linkoutput and its MAC address. Returns ERR_OK (lwIP's netif_init_fn contract). */
err_t eth_netif_describe(struct netif *netif, netif_linkoutput_fn linkoutput,
                         const uint8_t mac[6]);

#endif
