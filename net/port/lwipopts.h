/* lwIP options for the gateway: one thread, raw/altcp API, static pools only.
 *
 * Every pool below is allocated once at start-up; nothing grows at run time, so a flood
 * from the network can exhaust a pool (and be refused) but never the box. The memory each
 * line costs is stated beside it (64-bit build; a 32-bit box needs a little less).
 * `show status` reports use and failures of every pool against these limits. */
#ifndef GW_LWIPOPTS_H
#define GW_LWIPOPTS_H

/* ---- system model ---------------------------------------------------------------- */
#define NO_SYS                   1   /* one event loop, no threads, no semaphores */
#define SYS_LIGHTWEIGHT_PROT     0   /* nothing preempts the loop: no locking needed */
#define LWIP_SOCKET              0
#define LWIP_NETCONN             0
#define LWIP_ALTCP               0   /* TLS sits on tcp_stream (net/tls_conn.c), not altcp */
#define LWIP_TIMERS              1   /* the loop sleeps until sys_timeouts_sleeptime() */
/* Outgoing connections at once: every cloud stream the tunnel splices holds one to its
 * internal host (firmware/splice.h SPLICE_MAX is this number), each with a connect
 * deadline timer. The pools below are sized from it, so a flood of streams meets the
 * splice limit (an RST) long before lwIP runs out of anything. */
#define GW_TCP_CONN_MAX          1024
/* Timers: one per connecting TCP stream, two per TLS connection (12), lwIP's own, spares.
 * ~40 B each: 43 KiB. */
#define MEMP_NUM_SYS_TIMEOUT     (LWIP_NUM_SYS_TIMEOUT_INTERNAL + GW_TCP_CONN_MAX + 48)

/* ---- heap and pools ------------------------------------------------------------- */
#define MEM_LIBC_MALLOC          0   /* lwIP's own bounded heap, not malloc */
#define MEMP_MEM_MALLOC          0   /* pools are static arrays */
#define MEM_ALIGNMENT            8
/* The heap holds TCP send data copied by tcp_write (TCP_WRITE_FLAG_COPY) and outgoing
 * headers (~100 B per full segment beside its 1460 B): the tunnel's send buffer
 * (GW_TCP_SND_BUF_WAN below, ~280 KiB with its headers) and, beside it, what the rest had
 * before the tunnel's grew: TCP_SND_BUF for four busy connections, 256 KiB, of which plain
 * endpoints fill at most 192 KiB (net/endpoint.h ENDPOINT_HEAP_RESERVE: they leave the
 * tunnel's buffer and 128 KiB free). 576 KiB, touched up to its peak use. Several relays
 * busy at once share the reserve: a tunnel that finds the heap short waits for its ACKs. */
#define MEM_SIZE                 (576 * 1024)
/* Receive buffers: each pbuf carries one full Ethernet frame (~1.6 KiB with its header).
 * 1024 of them = ~1.5 MiB at most, touched only as used (memp_lazy.c: an idle box or 1000
 * held streams touch as much as with 512): the board's reserve for urgent frames
 * (BOARD_RX_RESERVE, the tunnel and ARP), one 64 KiB merged frame on a TAP with offloads
 * (44 pbufs), and what is left shared as receive window among the open splices
 * (firmware/splice.c); at least two full windows fit besides the reserve
 * (net/lwip_checks.c holds these relations). 512 left a hundred downloads 4 segments of
 * window each: 0.04-0.5 Gbit/s in `make bench`, 1.3 with 1024 (9 segments each); the
 * gateway's peak RSS under them 3.2 -> 3.9 MiB. The tunnels' windows past the LAN one
 * (TCP_WND - GW_TCP_WND_LAN: 132 segments) came on top, so the splices' share stayed. */
#define PBUF_POOL_SIZE           (1024 + (TCP_WND - GW_TCP_WND_LAN) / TCP_MSS)
#define PBUF_POOL_BUFSIZE        LWIP_MEM_ALIGN_SIZE(TCP_MSS + 40 + PBUF_LINK_ENCAPSULATION_HLEN + PBUF_LINK_HLEN)
#define MEMP_NUM_PBUF            64  /* pbufs referencing ROM/static data, 32 B each */

/* ---- link, IPv4, ARP ------------------------------------------------------------ */
#define LWIP_ARP                 1
#define LWIP_ETHERNET            1
#define ARP_TABLE_SIZE           16  /* ~40 B each */
#define ARP_QUEUEING             1
#define MEMP_NUM_ARP_QUEUE       16
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_IPV4                1
#define LWIP_IPV6                0   /* the customer networks we serve are IPv4 */
#define IP_FORWARD               0
#define IP_REASSEMBLY            1
#define IP_FRAG                  1
#define IP_REASS_MAX_PBUFS       16  /* caps what a fragment flood can pin: 16 rx pbufs */
#define MEMP_NUM_REASSDATA       4
#define LWIP_ICMP                1   /* answers ping */
#define LWIP_RAW                 1   /* the gateway's own ping and probes */
#define MEMP_NUM_RAW_PCB         4
#define LWIP_DHCP                1
#define LWIP_AUTOIP              0
#define LWIP_IGMP                0
#define LWIP_DNS                 1
#define DNS_TABLE_SIZE           8
#define DNS_MAX_NAME_LENGTH      128
#define DNS_MAX_SERVERS          2
#define LWIP_UDP                 1
#define MEMP_NUM_UDP_PCB         8   /* DHCP, DNS, SNTP and spares, ~40 B each */

/* ---- TCP -------------------------------------------------------------------------- */
#define LWIP_TCP                 1
#define TCP_MSS                  1460  /* full Ethernet frames; lwIP's 536 wastes 60 % */
/* Receive window 44 MSS = 64,240 B (just under the unscaled 64 KiB), send buffer the same:
 * one connection can fill a LAN link. Every connection offers GW_TCP_WND_LAN
 * (net/tcp_stream.c sets it as it adopts the pcb); TCP_WND, lwIP's window at birth, is
 * only the most one may offer: the tunnels' (firmware/tunnel.c), 176 MSS = 256,960 B shared
 * by the relays' tunnels. A lone tunnel's sender waited on 64 KiB about a third of its busy
 * time in `make bench` (1 stream up); with 256 KiB, never, and the gateway made a fifth fewer
 * system calls per MB. The pbuf pool holds the difference (PBUF_POOL_SIZE). */
#define GW_TCP_WND_LAN           (44 * TCP_MSS)
#define TCP_WND                  (176 * TCP_MSS)
#define TCP_SND_BUF              (44 * TCP_MSS)
/* The tunnel's connection crosses a WAN of tens of ms, and a TCP connection carries at most
 * its send buffer per round trip: 64 KiB is 1.3 MB/s at 50 ms. Its send buffer is raised to
 * 256 KiB once it is up (tcp_stream_set_sndbuf, firmware/tunnel.c): 5.2 MB/s at 50 ms,
 * 26 MB/s at 10 ms. LAN connections keep TCP_SND_BUF. Needs LWIP_WND_SCALE (32-bit windows;
 * the relay's kernel scales its receive window past 64 KiB). */
#define GW_TCP_SND_BUF_WAN       (256 * 1024)
/* Segments one connection may queue: the tunnel's buffer twice over in full segments
 * (lwIP's rule for copied writes), which is four LAN send buffers as before. 359. */
#define TCP_SND_QUEUELEN         (2 * GW_TCP_SND_BUF_WAN / TCP_MSS)
#define TCP_SNDLOWAT             (TCP_SND_BUF / 2)
/* Connections: the splices', tunnels, TLS endpoints, echo, spares for TIME_WAIT (lwIP
 * reuses the oldest TIME_WAIT pcb when the pool is empty). ~200 B each: 212 KiB. */
#define MEMP_NUM_TCP_PCB         (GW_TCP_CONN_MAX + 32)
#define MEMP_NUM_TCP_PCB_LISTEN  8
/* Queued segments across all connections, 32 B each (24 KiB, touched as used): the
 * tunnel's full send buffer (~180) beside the 512 the others had before. */
#define MEMP_NUM_TCP_SEG         768
#define TCP_QUEUE_OOSEQ          1
/* Out-of-order data one connection may pin, in pbufs: its window in full segments and four
 * more (a frame's last pbuf is partly filled). Data past the window is dropped on arrival
 * (net/port/tcp_guard.c), so this is pool the window has already promised (PBUF_POOL_SIZE),
 * and tiny segments cannot pin more pbufs than full ones would. lwIP's fixed 8 kept 12 KB of
 * the tunnel's 256 KiB window after one frame lost or reordered: the relay sent the rest
 * again, a segment per round trip (`make bench` on AF_PACKET: tens of seconds). */
#define TCP_OOSEQ_PBUFS_LIMIT(pcb) ((u16_t)((pcb)->rcv_wnd / TCP_MSS + 4))
#define TCP_LISTEN_BACKLOG       1
#define TCP_DEFAULT_LISTEN_BACKLOG 8  /* half-open connections per listener: flood cap */
#define LWIP_TCP_KEEPALIVE       1
#define LWIP_TCP_TIMESTAMPS      0
/* Window scaling on: the tunnel's send buffer needs the relay's window past 64 KiB (and
 * 32-bit window sizes in lwIP), and some peers (passt 2023-03) scale their advertised
 * window even when we did not offer the option. */
#define LWIP_WND_SCALE           1
#define TCP_RCV_SCALE            2   /* our windows may reach 256 KiB */

/* ---- netif ---------------------------------------------------------------------- */
#define LWIP_NETIF_STATUS_CALLBACK 1  /* banner when DHCP gives us an address */
#define LWIP_NETIF_LINK_CALLBACK   1
#define LWIP_NETIF_HOSTNAME        1  /* DHCP option 12 */
#define LWIP_NETIF_LOOPBACK        1  /* the gateway may talk to its own services */
#define LWIP_HAVE_LOOPIF           1
#define LWIP_LOOPBACK_MAX_PBUFS    32
#define LWIP_SINGLE_NETIF          0
/* A TAP with offloads vouches for the checksums of frames its host made in memory: the
 * Linux board turns lwIP's TCP/UDP check off for just those frames (netif_eth.c). */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

/* ---- apps: SNTP (firmware/timesync.c) ---------------------------------------------- */
/* One server, the operator's (`set net ntp HOST`): never a compiled-in default, never one
 * offered by DHCP. Its name is resolved by firmware/resolve.c (literal, host table, DNS only
 * with `set net dns`); SNTP gets the address. */
#define SNTP_MAX_SERVERS           1
#define SNTP_GET_SERVERS_FROM_DHCP 0
#define SNTP_SERVER_DNS            0
/* An answer must come from the server asked, from port 123, and echo our transmit
 * timestamp, which is 64 random bits rather than our clock: an off-path attacker cannot
 * guess it, and the request does not tell the network what our clock says. (No round-trip
 * compensation: certificates need seconds, not microseconds.) */
#define SNTP_CHECK_RESPONSE        2
#define SNTP_GET_SYSTEM_TIME_NTP(s, f) \
    do { (s) = (s32_t)LWIP_RAND(); (f) = LWIP_RAND(); } while (0)
/* Ask at once when the link is up: TLS waits until the first answer. Then hourly (the
 * default SNTP_UPDATE_DELAY), retrying after 15, 30 ... 150 s when no answer comes. */
#define SNTP_STARTUP_DELAY         0
/* The answer goes to the board's clock through the firmware's checks (behind the floor:
 * refused), handed to the port at boot (lwip_port.h). */
#include <stdint.h>
void lwip_port_sntp_time(uint32_t unix_seconds);
#define SNTP_SET_SYSTEM_TIME(sec)  lwip_port_sntp_time(sec)

/* ---- hooks: net/port/lwip_hooks.h ---------------------------------------------------- */
#define LWIP_HOOK_FILENAME "lwip_hooks.h"
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p) \
    gw_tcp_inpacket((pcb), (hdr), (p))
#define LWIP_HOOK_IP4_INPUT(p, inp) gw_ip4_input((p), (inp))

/* ---- checks and statistics -------------------------------------------------------- */
#define LWIP_STATS               1   /* pool use for `show status` */
#define LWIP_STATS_DISPLAY       1   /* gives each pool its name */
#define MEM_STATS                1
#define MEMP_STATS               1
#define LINK_STATS               1
#define LWIP_NOASSERT_ON_ERROR   0

#endif
