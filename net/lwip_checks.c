/* The relations between lwIP's pool numbers (lwipopts.h) and the limits of the modules that
 * use them, checked at compile time as lwIP's own init.c checks its options: a change to one
 * number that breaks another's assumption stops the build instead of a box in the field. */
#include "lwip/opt.h"
#include "netif/ppp/ppp_opts.h"   /* PPP_NUM_TIMEOUTS, part of LWIP_NUM_SYS_TIMEOUT_INTERNAL */

#include "board.h"
#include "endpoint.h"

/* lwIP's own rule for the send queue (init.c only warns about it). */
_Static_assert(TCP_SND_QUEUELEN >= 2 * (TCP_SND_BUF / TCP_MSS),
               "TCP_SND_QUEUELEN must hold two send buffers of full segments");
_Static_assert(MEMP_NUM_TCP_SEG >= TCP_SND_QUEUELEN,
               "one connection's send queue must fit the segment pool");
/* The tunnel's larger send buffer (tcp_stream_set_sndbuf): lwIP's rule again for it, a
 * 32-bit snd_buf to hold it, and the segment pool holding it in full segments beside the
 * 512 the other connections share. */
_Static_assert(GW_TCP_SND_BUF_WAN >= TCP_SND_BUF, "the tunnel's send buffer is the larger one");
_Static_assert(TCP_SND_QUEUELEN >= 2 * (GW_TCP_SND_BUF_WAN / TCP_MSS),
               "TCP_SND_QUEUELEN must hold the tunnel's send buffer twice in full segments");
_Static_assert(LWIP_WND_SCALE, "send buffers past 64 KiB need lwIP's 32-bit window sizes");
_Static_assert(MEMP_NUM_TCP_SEG >= 512 + GW_TCP_SND_BUF_WAN / TCP_MSS + 1,
               "the segment pool cannot hold the tunnel's send buffer beside the others'");
/* The window is advertised scaled: it must fit 16 bits after the shift. */
_Static_assert(TCP_WND <= (0xffffu << TCP_RCV_SCALE), "TCP_WND does not fit the scaled window");
/* TCP_WND is the tunnels' window (all of them together), every other connection's the LAN
 * one: whole segments both, and the tunnels' no smaller. */
_Static_assert(TCP_WND % TCP_MSS == 0 && GW_TCP_WND_LAN % TCP_MSS == 0,
               "receive windows are whole segments (splice_window_for counts pbufs so)");
_Static_assert(GW_TCP_WND_LAN <= TCP_WND, "the tunnels' window is the largest");
_Static_assert(GW_TCP_WND_LAN <= 0xffff, "a peer without window scaling gets the LAN window");
/* Receive pbufs: the board's reserve for urgent frames (ARP, the tunnel), one merged 64 KiB
 * frame on a TAP with offloads (44 pbufs), the tunnels' windows and two LAN windows beside.
 * Out-of-order data is held within those windows (TCP_OOSEQ_PBUFS_LIMIT: a window in
 * segments and 4 pbufs more, less than a LAN window's worth of slack). */
_Static_assert(PBUF_POOL_SIZE >= BOARD_RX_RESERVE + 44 + TCP_WND / TCP_MSS
                                     + 2 * (GW_TCP_WND_LAN / TCP_MSS),
               "the pbuf pool cannot hold the reserve, a merged frame and the windows");
/* Connections: every splice's internal connection, the tunnels (4), the TLS endpoints and
 * the echo service's clients come out of the PCB pool; a splice also holds a timer while
 * it connects, a TLS connection two. */
_Static_assert(MEMP_NUM_TCP_PCB >= GW_TCP_CONN_MAX + 4 + ENDPOINT_TLS_MAX,
               "the PCB pool is smaller than the connections the modules may open");
_Static_assert(MEMP_NUM_SYS_TIMEOUT >= LWIP_NUM_SYS_TIMEOUT_INTERNAL + GW_TCP_CONN_MAX
                                           + 2 * (ENDPOINT_TLS_MAX + 4),
               "too few timers for every connecting stream and every TLS connection");
/* The heap carries the plain endpoints' send data but keeps a reserve for the tunnel: its
 * whole send buffer with a heap block, pbuf and headers per full segment (~100 B), and
 * 64 KiB beside it for SYNs, ACKs and TLS endpoints. */
_Static_assert(MEM_SIZE >= ENDPOINT_HEAP_RESERVE + 2 * TCP_SND_BUF,
               "the lwIP heap cannot keep its reserve beside two send buffers");
_Static_assert(ENDPOINT_HEAP_RESERVE
                   >= (GW_TCP_SND_BUF_WAN / TCP_MSS + 1) * (TCP_MSS + 128) + 64 * 1024,
               "the heap reserve cannot hold the tunnel's send buffer");
