/* lwIP's TCP receive path against segments a hostile or hurried peer sends: out of order and
 * past the window (net/port/tcp_guard.c). Without the guard, the cases after the first stop
 * the process at lwIP's assertion "tcp_receive: ooseq tcplen > rcv_wnd" (a trap, so this
 * program dies: the test fails). Then recovery from a lost frame: the out-of-order data kept
 * up to the window (TCP_OOSEQ_PBUFS_LIMIT) and the segment that fills the gap acknowledged
 * at once. A peer at 10.9.0.2 talks to our listener on 10.9.0.1:80 through a netif whose
 * output is captured; segments are made by hand. */
#include <stdlib.h>

#include "board.h"
#include "check.h"
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/priv/tcp_priv.h"   /* tcp_fasttmr: the delayed-ACK timer */
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip_port.h"
#include "random.h"
#include "tcp_stream.h"

#define PEER_ISN 1000000u
#define PORT_US 80
#define PORT_PEER 40000

static struct netif nif;
static uint32_t our_isn;
static uint16_t peer_port = PORT_PEER;
static uint8_t peer_ip[4] = { 10, 9, 0, 2 };
static struct tcp_pcb *accepted;
static size_t received;
static unsigned acks_sent;                /* segments without data we sent to peer_port */
static uint32_t last_ack;                 /* the acknowledgment number of the last one */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What we send: remember the SYN-ACK's ISN. */
static err_t capture(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
    (void)n;
    (void)dst;
    uint8_t h[40];
    if (pbuf_copy_partial(p, h, sizeof h, 0) == sizeof h && h[9] == 6) {
        const uint8_t *th = h + 20;
        if ((th[13] & 0x12) == 0x12) {
            our_isn = rd32(th + 4);
        }
        if (th[13] == 0x10 && p->tot_len == 40 && (th[2] << 8 | th[3]) == peer_port) {
            acks_sent++;
            last_ack = rd32(th + 8);
        }
    }
    return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
    n->output = capture;
    n->mtu = 1500;
    return ERR_OK;
}

/* The application keeps what it gets and never reads: the window only shrinks. */
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)pcb;
    (void)err;
    if (p != NULL) {
        received += p->tot_len;
        pbuf_free(p);
    }
    return ERR_OK;
}

/* With adopt set, a connection goes to the gateway's byte stream instead, which reads
 * nothing until asked. */
static int adopt;
static struct tcp_stream stream;

static void on_stream(struct tcp_stream *s, unsigned events, void *arg)
{
    (void)s;
    (void)events;
    (void)arg;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err;
    accepted = pcb;
    if (adopt) {
        tcp_stream_accept(&stream, pcb, on_stream, NULL);
    } else {
        tcp_recv(pcb, on_recv);
    }
    return ERR_OK;
}

/* One segment from the peer, checksums left out (the netif does not check them). */
static void peer_sends(uint32_t seq, uint32_t ack, uint8_t flags, size_t len)
{
    size_t total = 40 + len;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)total, PBUF_POOL);
    if (p == NULL) {
        abort();
    }
    static uint8_t pkt[65535];
    memset(pkt, 0, 40);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)(total >> 8);
    pkt[3] = (uint8_t)total;
    pkt[8] = 64;
    pkt[9] = 6;
    memcpy(pkt + 12, peer_ip, 4);
    memcpy(pkt + 16, "\x0a\x09\x00\x01", 4);
    uint8_t *th = pkt + 20;
    th[0] = (uint8_t)(peer_port >> 8);
    th[1] = (uint8_t)peer_port;
    th[2] = 0;
    th[3] = PORT_US;
    for (int i = 0; i < 4; i++) {
        th[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        th[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    th[12] = 5 << 4;
    th[13] = flags;
    th[14] = 0xff;
    th[15] = 0xff;
    for (size_t i = 0; i < len; i++) {
        pkt[40 + i] = (uint8_t)(seq + i);                    /* each byte its sequence */
    }
    pbuf_take(p, pkt, (u16_t)total);
    if (nif.input(p, &nif) != ERR_OK) {
        pbuf_free(p);
    }
}

/* len bytes in order from seq, in full-size segments. */
static void peer_sends_run(uint32_t seq, uint32_t len)
{
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off > 1460 ? 1460 : len - off;
        peer_sends(seq + off, our_isn + 1, 0x10, n);
        off += n;
    }
}

static void connect_peer(void)
{
    static int done;
    if (done) {
        return;
    }
    CHECK_EQ(rng_init(check_entropy), 0);
    lwip_port_init(check_now_ms, NULL);
    lwip_init();
    ip4_addr_t a, m, g;
    IP4_ADDR(&a, 10, 9, 0, 1);
    IP4_ADDR(&m, 255, 255, 255, 0);
    IP4_ADDR(&g, 0, 0, 0, 0);
    CHECK(netif_add(&nif, &a, &m, &g, NULL, nif_init, ip4_input) != NULL);
    NETIF_SET_CHECKSUM_CTRL(&nif, NETIF_CHECKSUM_GEN_IP | NETIF_CHECKSUM_GEN_TCP);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
    struct tcp_pcb *l = tcp_new();
    CHECK(l != NULL);
    CHECK_EQ(tcp_bind(l, IP_ADDR_ANY, PORT_US), ERR_OK);
    l = tcp_listen(l);
    CHECK(l != NULL);
    tcp_accept(l, on_accept);
    peer_sends(PEER_ISN, 0, 0x02, 0);                       /* SYN */
    CHECK(our_isn != 0);
    peer_sends(PEER_ISN + 1, our_isn + 1, 0x10, 0);         /* ACK */
    CHECK(accepted != NULL);
    CHECK_EQ(accepted->rcv_nxt, PEER_ISN + 1);
    done = 1;
}

static void in_order_data_within_the_window_is_taken(void)
{
    connect_peer();
    CHECK(!check_failed);
    size_t before = received;
    peer_sends(accepted->rcv_nxt, our_isn + 1, 0x18, 1000);
    CHECK_EQ(received - before, 1000);
}

static void out_of_order_data_past_the_window_is_dropped_not_fatal(void)
{
    connect_peer();
    CHECK(!check_failed);
    uint32_t nxt = accepted->rcv_nxt;
    uint32_t wnd = accepted->rcv_wnd;
    CHECK(wnd > 2000);
    /* Starts inside the window, ends 1000 bytes past it, with a gap before it. */
    peer_sends(nxt + wnd - 500, our_isn + 1, 0x10, 1500);
    CHECK(accepted->ooseq == NULL);                         /* the guard dropped it */
    /* The gap filled to 600 bytes short of the window's end: in lwIP 2.1.3 unguarded,
     * the queued segment (1500) no longer fits the 600 left and the assertion fires. */
    size_t before = received;
    uint32_t gap = wnd - 600;
    peer_sends_run(nxt, gap);
    CHECK_EQ(received - before, gap);
    CHECK_EQ(accepted->rcv_nxt, nxt + gap);
    CHECK_EQ(accepted->rcv_wnd, 600);
}

static void out_of_order_data_inside_the_window_is_still_queued(void)
{
    connect_peer();
    CHECK(!check_failed);
    uint32_t nxt = accepted->rcv_nxt;
    CHECK(accepted->rcv_wnd >= 300);
    peer_sends(nxt + 100, our_isn + 1, 0x10, 100);          /* inside: kept for later */
    CHECK(accepted->ooseq != NULL);
    size_t before = received;
    peer_sends(nxt, our_isn + 1, 0x10, 100);                /* the gap: both delivered */
    CHECK_EQ(received - before, 200);
    CHECK(accepted->ooseq == NULL);
}

/* FIN counts as a byte of sequence space: data and FIN that end one past the window. */
static void an_out_of_order_fin_past_the_window_is_dropped(void)
{
    connect_peer();
    CHECK(!check_failed);
    uint32_t nxt = accepted->rcv_nxt;
    uint32_t wnd = accepted->rcv_wnd;
    CHECK(wnd > 200);
    peer_sends(nxt + wnd - 100, our_isn + 1, 0x11, 100);    /* ends at the edge, FIN past */
    CHECK(accepted->ooseq == NULL);
    size_t before = received;
    peer_sends(nxt, our_isn + 1, 0x10, wnd - 100);
    CHECK_EQ(received - before, wnd - 100);
    CHECK_EQ(accepted->rcv_wnd, 100);
}

/* The ACK that completes a handshake may carry data: checked too (SYN_RCVD). */
static void data_on_the_handshake_ack_past_the_window_is_dropped(void)
{
    connect_peer();
    CHECK(!check_failed);
    struct tcp_pcb *first = accepted;
    accepted = NULL;
    peer_port = PORT_PEER + 1;
    our_isn = 0;
    peer_sends(PEER_ISN, 0, 0x02, 0);                        /* SYN */
    CHECK(our_isn != 0);
    uint32_t wnd = TCPWND16(TCP_WND);                        /* the SYN offered no scaling */
    peer_sends(PEER_ISN + 1 + wnd - 500, our_isn + 1, 0x10, 1500);
    CHECK(accepted == NULL);                                  /* dropped: still SYN_RCVD */
    size_t before = received;
    peer_sends_run(PEER_ISN + 1, wnd - 500);
    CHECK(accepted != NULL && accepted != first);
    CHECK(accepted->ooseq == NULL);
    CHECK_EQ(received - before, wnd - 500);
    CHECK_EQ(accepted->rcv_wnd, 500);
}

/* A connection of its own from port (accepted), its window as the SYN left it (no
 * scaling: 64 KiB). */
static void fresh_connection(uint16_t port)
{
    connect_peer();
    accepted = NULL;
    peer_port = port;
    our_isn = 0;
    peer_sends(PEER_ISN, 0, 0x02, 0);                        /* SYN */
    CHECK(our_isn != 0);
    peer_sends(PEER_ISN + 1, our_isn + 1, 0x10, 0);          /* ACK */
    CHECK(accepted != NULL);
}

/* One frame lost, the next 30 arrive: all 30 wait for the gap (lwIP's fixed 8 pbufs dropped
 * the other 22, for the sender to send again). */
static void out_of_order_data_up_to_the_window_is_kept(void)
{
    fresh_connection(PORT_PEER + 2);
    CHECK(!check_failed);
    struct tcp_pcb *pcb = accepted;
    uint32_t nxt = pcb->rcv_nxt;
    CHECK(pcb->rcv_wnd >= 31 * 1460);
    peer_sends_run(nxt + 1460, 30 * 1460);                   /* after a lost first segment */
    CHECK(pcb->ooseq != NULL);
    size_t before = received;
    peer_sends(nxt, our_isn + 1, 0x10, 1460);                /* the lost one, sent again */
    CHECK_EQ(received - before, 31 * 1460);
    CHECK_EQ(pcb->rcv_nxt, nxt + 31 * 1460);
    CHECK(pcb->ooseq == NULL);
}

/* RFC 5681 4.2: the segment that fills a gap is acknowledged at once, not after lwIP's
 * delayed-ACK timer: a sender recovering from a loss waits for that ACK. */
static void a_segment_that_fills_the_gap_is_acknowledged_at_once(void)
{
    fresh_connection(PORT_PEER + 3);
    CHECK(!check_failed);
    struct tcp_pcb *pcb = accepted;
    uint32_t nxt = pcb->rcv_nxt;
    peer_sends(nxt, our_isn + 1, 0x10, 1000);               /* in order: its ACK delayed */
    tcp_fasttmr();                                           /* ... and sent by the timer */
    CHECK_EQ(last_ack, nxt + 1000);
    peer_sends(nxt + 2000, our_isn + 1, 0x10, 1000);        /* out of order: a dup ACK now */
    CHECK_EQ(last_ack, nxt + 1000);
    unsigned before = acks_sent;
    peer_sends(nxt + 1000, our_isn + 1, 0x10, 1000);        /* fills the gap */
    CHECK_EQ(acks_sent, before + 1);
    CHECK_EQ(last_ack, nxt + 3000);
    /* In order without a gap, the delayed ACK stays as lwIP has it. */
    before = acks_sent;
    peer_sends(nxt + 3000, our_isn + 1, 0x10, 1000);
    CHECK_EQ(acks_sent, before);
}

static unsigned pool_used(void)
{
    return lwip_stats.memp[MEMP_PBUF_POOL]->used;
}

/* A fresh connection the byte stream adopts (it reads only when asked). */
static void adopted_connection(uint16_t port)
{
    adopt = 1;
    fresh_connection(port);
    adopt = 0;
    CHECK(!check_failed);
}

/* Reads n bytes from the stream: each must be the low byte of its sequence number. */
static void reads_in_order(uint32_t first, size_t n)
{
    static uint8_t buf[1024];
    CHECK(n <= sizeof buf);
    CHECK_EQ(tcp_stream_recv(&stream, buf, n), (long)n);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(buf[i], (uint8_t)(first + i));
    }
}

/* A peer sends 1-byte segments to a reader that waits: what waits holds pool pbufs by its
 * bytes (tcp_stream copies a small segment into the last pbuf's free room), not one per
 * segment, which a window of them (64,240) would take from the whole pool. */
static void small_segments_unread_hold_pbufs_by_their_bytes(void)
{
    adopted_connection(PORT_PEER + 4);
    unsigned used = pool_used();
    uint32_t nxt = accepted->rcv_nxt;
    enum { N = 600 };
    for (uint32_t i = 0; i < N; i++) {
        peer_sends(nxt + i, our_isn + 1, 0x18, 1);
    }
    CHECK_EQ(tcp_stream_pending(&stream), N);
    CHECK(pool_used() <= used + 1);                          /* 600 bytes: one pbuf */
    reads_in_order(nxt, N);                                  /* in order, none lost */
    CHECK_EQ(pool_used(), used);
    /* Full segments fill their own pbufs: nothing to copy, and the bytes stay in order. */
    peer_sends(nxt + N, our_isn + 1, 0x18, 10);
    peer_sends_run(nxt + N + 10, 3 * 1460);
    reads_in_order(nxt + N, 10 + 200);
    /* After a partial read the queue's last pbuf is still its tail: a small segment joins
     * it; read to the end, the queue is empty and a new segment starts it again. */
    uint32_t at = nxt + N + 210, end = nxt + N + 10 + 3 * 1460;
    unsigned held = pool_used();
    peer_sends(end, our_isn + 1, 0x18, 1);
    CHECK_EQ(pool_used(), held);                             /* it joined the tail's pbuf */
    end++;
    while (at < end) {
        uint32_t k = end - at < 1000 ? end - at : 1000;
        reads_in_order(at, k);
        at += k;
    }
    CHECK_EQ(tcp_stream_pending(&stream), 0);
    CHECK_EQ(pool_used(), used);
    peer_sends(end, our_isn + 1, 0x18, 5);
    reads_in_order(end, 5);
    CHECK_EQ(pool_used(), used);
    tcp_stream_abort(&stream);
}

/* The same for small segments that waited out of order: the gap releases them as one chain,
 * each segment its own pbuf, and they too end up in the pbuf of the first. */
static void small_segments_released_by_a_gap_hold_pbufs_by_their_bytes(void)
{
    adopted_connection(PORT_PEER + 5);
    unsigned used = pool_used();
    uint32_t nxt = accepted->rcv_nxt;
    enum { N = 40 };                     /* within lwIP's out-of-order limit (48 pbufs) */
    for (uint32_t i = 1; i <= N; i++) {
        peer_sends(nxt + i, our_isn + 1, 0x18, 1);
    }
    CHECK(accepted->ooseq != NULL);
    CHECK_EQ(pool_used(), used + N);
    peer_sends(nxt, our_isn + 1, 0x18, 1);                   /* the gap */
    CHECK(accepted->ooseq == NULL);
    CHECK_EQ(tcp_stream_pending(&stream), N + 1);
    CHECK(pool_used() <= used + 1);
    reads_in_order(nxt, N + 1);
    CHECK_EQ(pool_used(), used);
    tcp_stream_abort(&stream);
}

/* A segment of one sequence number (a FIN, or a byte) exactly 2^31 before rcv_nxt: lwIP's
 * sequence comparisons take it as overlapping rcv_nxt, and tcp_receive's 16-bit trim offset
 * asserted ("insane offset!", found by fuzz_net_input). Dropped, the connection goes on. */
static void a_segment_starting_far_before_rcv_nxt_is_dropped(void)
{
    fresh_connection(PORT_PEER + 8);
    CHECK(!check_failed && accepted != NULL);
    uint32_t nxt = accepted->rcv_nxt;
    peer_sends(nxt - 0x80000000u, our_isn + 1, 0x11, 0);    /* FIN|ACK, 2^31 back */
    peer_sends(nxt - 0x80000000u, our_isn + 1, 0x18, 1);    /* one byte, 2^31 back */
    CHECK(!check_failed);
    CHECK_EQ(accepted->state, ESTABLISHED);
    CHECK_EQ(accepted->rcv_nxt, nxt);
    size_t before = received;
    peer_sends(nxt, our_isn + 1, 0x18, 100);
    CHECK_EQ(received - before, 100);
}

/* RFC 1122 3.2.1.3: a loopback address never arrives from a network (net/port/ip4_guard.c):
 * lwIP answered such a SYN through its own loopback interface. */
static void a_syn_from_a_loopback_address_is_dropped(void)
{
    connect_peer();
    CHECK(!check_failed);
    accepted = NULL;
    our_isn = 0;
    peer_port = PORT_PEER + 6;
    unsigned drops = lwip_stats.ip.drop;
    memcpy(peer_ip, "\x7f\x00\x00\x01", 4);
    peer_sends(PEER_ISN, 0, 0x02, 0);                        /* SYN from 127.0.0.1 */
    memcpy(peer_ip, "\x0a\x09\x00\x02", 4);
    for (struct tcp_pcb *q = tcp_active_pcbs; q != NULL; q = q->next) {
        CHECK(q->remote_port != PORT_PEER + 6);              /* no half-open connection */
    }
    CHECK_EQ(lwip_stats.ip.drop, drops + 1);
    fresh_connection(PORT_PEER + 7);                         /* the same from the LAN: taken */
    CHECK(accepted != NULL);
}

CHECK_MAIN({ "in_order_data_within_the_window_is_taken", in_order_data_within_the_window_is_taken },
           { "out_of_order_data_past_the_window_is_dropped_not_fatal",
             out_of_order_data_past_the_window_is_dropped_not_fatal },
           { "out_of_order_data_inside_the_window_is_still_queued",
             out_of_order_data_inside_the_window_is_still_queued },
           { "an_out_of_order_fin_past_the_window_is_dropped",
             an_out_of_order_fin_past_the_window_is_dropped },
           { "a_segment_starting_far_before_rcv_nxt_is_dropped",
             a_segment_starting_far_before_rcv_nxt_is_dropped },
           { "data_on_the_handshake_ack_past_the_window_is_dropped",
             data_on_the_handshake_ack_past_the_window_is_dropped },
           { "out_of_order_data_up_to_the_window_is_kept",
             out_of_order_data_up_to_the_window_is_kept },
           { "a_segment_that_fills_the_gap_is_acknowledged_at_once",
             a_segment_that_fills_the_gap_is_acknowledged_at_once },
           { "small_segments_unread_hold_pbufs_by_their_bytes",
             small_segments_unread_hold_pbufs_by_their_bytes },
           { "small_segments_released_by_a_gap_hold_pbufs_by_their_bytes",
             small_segments_released_by_a_gap_hold_pbufs_by_their_bytes },
           { "a_syn_from_a_loopback_address_is_dropped", a_syn_from_a_loopback_address_is_dropped })
