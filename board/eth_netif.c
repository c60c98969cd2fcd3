/* see eth_netif.h */
#include <string.h>

#include "lwip/etharp.h"

#include "eth_netif.h"

/* see eth_netif.h */
err_t eth_netif_describe(struct netif *netif, netif_linkoutput_fn linkoutput,
                         const uint8_t mac[6])
{
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = linkoutput;
    netif->mtu = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, mac, ETH_HWADDR_LEN);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}
