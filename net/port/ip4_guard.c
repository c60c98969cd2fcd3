/* A guard in front of lwIP 2.1.3's IPv4 input: a packet from a network device whose source
 * or destination is a loopback address (127.0.0.0/8) is dropped. Such a datagram never
 * leaves a host (RFC 1122 3.2.1.3), and lwIP takes it: a SYN "from 127.0.0.1" on the wire
 * got its SYN-ACK through the gateway's own loopback interface, where the services would
 * see a connection from the box itself. Found by fuzz_net_input. */
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip_hooks.h"

/* see lwip_hooks.h */
int gw_ip4_input(struct pbuf *p, struct netif *inp)
{
    /* lwIP's own loopback interface ("lo") carries 127/8 as it should */
    if ((inp->name[0] == 'l' && inp->name[1] == 'o') || p->len < 20) {
        return 0;                    /* (a short header is lwIP's to drop) */
    }
    const uint8_t *h = p->payload;
    if (h[12] != 127 && h[16] != 127) {
        return 0;
    }
    pbuf_free(p);
    IP_STATS_INC(ip.drop);
    return 1;
}
