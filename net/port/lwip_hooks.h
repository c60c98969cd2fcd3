/* Hooks we add to lwIP's own code (LWIP_HOOK_FILENAME): lwIP includes this file. */
#ifndef GW_LWIP_HOOKS_H
#define GW_LWIP_HOOKS_H

struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
struct netif;

/* Every IPv4 packet lwIP receives, before it reads the header: 1 when the hook took (and
 * freed) it, 0 to go on. Drops loopback addresses from the wire (net/port/ip4_guard.c). */
int gw_ip4_input(struct pbuf *p, struct netif *inp);

/* Every TCP segment for a known connection, before lwIP takes it: 0 to go on, -1 to drop it;
 * may ask for an immediate ACK (net/port/tcp_guard.c). */
int gw_tcp_inpacket(struct tcp_pcb *pcb, const struct tcp_hdr *hdr,
                    const struct pbuf *p);

#endif
