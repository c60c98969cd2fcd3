/* tcp_stream over lwIP's loopback interface, against the gateway's own echo service:
 * bytes come back exact, a reader that stops reading stalls the sender instead of growing
 * memory, half-close is seen as EOF, and connect failures name their cause. */
#include <stdlib.h>

#include "board.h"
#include "check.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip_port.h"
#include "random.h"
#include "svc_echo.h"
#include "tcp_stream.h"

#define BULK (2u * 1024 * 1024)

static struct {
    unsigned events;
    int failed;
} ev;

static void on_event(struct tcp_stream *s, unsigned events, void *arg)
{
    (void)s;
    (void)arg;
    ev.events |= events;
    if (events & TCP_STREAM_FAILED) {
        ev.failed = 1;
    }
}

/* Run lwIP until cond holds, the step budget runs out or RUN_MS pass (a loss on loopback
 * waits for lwIP's retransmission timer: wall-clock time, slow under an emulator). */
#define RUN_MS 60000
#define RUN_UNTIL(cond, steps) do { \
        uint32_t t0_ = board_now_ms(); \
        for (int step_ = 0; step_ < (steps) && !(cond) && board_now_ms() - t0_ < RUN_MS; \
             step_++) { \
            netif_poll_all(); \
            sys_check_timeouts(); \
        } \
    } while (0)

static void setup_once(void)
{
    static int done;
    if (!done) {
        CHECK_EQ(rng_init(board_entropy), 0);
        lwip_port_init(board_now_ms, NULL);
        lwip_init();
        CHECK_EQ(echo_start(ECHO_PORT), 0);
        done = 1;
    }
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 9));
}

static void connect_echo(struct tcp_stream *s)
{
    ip_addr_t lo;
    IP_ADDR4(&lo, 127, 0, 0, 1);
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(tcp_stream_connect(s, &lo, ECHO_PORT, 5000, on_event, NULL), 0);
    RUN_UNTIL(ev.events & (TCP_STREAM_CONNECTED | TCP_STREAM_FAILED), 10000);
    CHECK(ev.events & TCP_STREAM_CONNECTED);
}

static void bytes_come_back_exact_through_the_echo_service(void)
{
    setup_once();
    static struct tcp_stream s;
    connect_echo(&s);
    CHECK(!check_failed);
    size_t sent = 0, got = 0;
    uint8_t buf[4096];
    uint32_t t0 = board_now_ms();
    for (int step = 0; step < 2000000 && got < BULK && board_now_ms() - t0 < RUN_MS; step++) {
        while (sent < BULK) {
            size_t n = sizeof buf < BULK - sent ? sizeof buf : BULK - sent;
            for (size_t i = 0; i < n; i++) {
                buf[i] = pattern(sent + i);
            }
            long w = tcp_stream_send(&s, buf, n);
            CHECK(w >= 0);
            if (w == 0) {
                break;
            }
            sent += (size_t)w;
        }
        long r = tcp_stream_recv(&s, buf, sizeof buf);
        CHECK(r >= 0);
        for (long i = 0; i < r; i++) {
            CHECK_EQ(buf[i], pattern(got + (size_t)i));
        }
        got += (size_t)r;
        netif_poll_all();
        sys_check_timeouts();
    }
    CHECK_EQ(got, BULK);
    tcp_stream_shutdown(&s);
    long r = 0;
    for (int step = 0; step < 100000 && r == 0 && board_now_ms() - t0 < 2 * RUN_MS; step++) {
        r = tcp_stream_recv(&s, buf, sizeof buf);
        netif_poll_all();
        sys_check_timeouts();
    }
    CHECK_EQ(r, TCP_STREAM_EOF); /* the service closed after our FIN: half-close seen */
    tcp_stream_close(&s);
}

static void a_reader_that_stops_reading_stalls_the_sender(void)
{
    setup_once();
    static struct tcp_stream s;
    connect_echo(&s);
    CHECK(!check_failed);
    uint8_t buf[4096];
    memset(buf, 0x5a, sizeof buf);
    size_t sent = 0;
    /* Never read: the echo can only write back until our window is full, then must stop
     * reading from us; our sends stop being taken. Nothing grows without bound. */
    for (int step = 0; step < 200000; step++) {
        long w = tcp_stream_send(&s, buf, sizeof buf);
        CHECK(w >= 0);
        sent += (size_t)w;
        netif_poll_all();
        sys_check_timeouts();
    }
    /* windows (the LAN one: TCP_WND is the tunnel's) and send buffers both ways */
    size_t bound = 2u * GW_TCP_WND_LAN + 2u * TCP_SND_BUF;
    CHECK(sent > 0);
    CHECK(sent <= bound);
    CHECK(tcp_stream_pending(&s) <= GW_TCP_WND_LAN);
    CHECK_EQ(lwip_stats.memp[MEMP_PBUF_POOL]->err, 0);
    printf("  stalled after %zu bytes (bound %zu), holding %zu unread\n", sent, bound,
           tcp_stream_pending(&s));
    tcp_stream_abort(&s);
}

/* The tunnel's connection over a WAN: once raised, its send buffer takes GW_TCP_SND_BUF_WAN
 * before the peer acknowledges anything (a LAN connection takes TCP_SND_BUF), and slow start
 * may open that far. */
static void a_wan_send_buffer_holds_more_than_a_lan_one(void)
{
    setup_once();
    static struct tcp_stream s;
    connect_echo(&s);
    CHECK(!check_failed);
    tcp_stream_set_sndbuf(&s, GW_TCP_SND_BUF_WAN);
    CHECK_EQ(s.pcb->ssthresh, GW_TCP_SND_BUF_WAN);
    uint8_t buf[4096];
    memset(buf, 0xa5, sizeof buf);
    size_t sent = 0;
    /* No lwIP turn in between: nothing goes out, nothing is acknowledged. */
    for (int step = 0; step < 1000; step++) {
        long w = tcp_stream_send(&s, buf, sizeof buf);
        CHECK(w >= 0);
        if (w <= 0) {
            break;
        }
        sent += (size_t)w;
    }
    printf("  took %zu bytes before any ACK (LAN send buffer %u)\n", sent, (unsigned)TCP_SND_BUF);
    CHECK_EQ(sent, (size_t)GW_TCP_SND_BUF_WAN);
    CHECK_EQ(tcp_stream_unacked(&s), (size_t)GW_TCP_SND_BUF_WAN);
    CHECK_EQ(lwip_stats.mem.err, 0);
    /* Not drained here: the echo service (lwIP too) cannot take 256 KiB, so both receive
     * windows close, and lwIP 2.1.3 acknowledges every empty segment it gets at a closed
     * window (tcp_receive): two lwIP ends on the loopback would trade ACKs without end. */
    tcp_stream_abort(&s);
}

static void connecting_to_a_closed_port_is_refused(void)
{
    setup_once();
    static struct tcp_stream s;
    ip_addr_t lo;
    IP_ADDR4(&lo, 127, 0, 0, 1);
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(tcp_stream_connect(&s, &lo, 9, 5000, on_event, NULL), 0);
    RUN_UNTIL(ev.failed, 10000);
    CHECK(ev.failed);
    CHECK_EQ(s.fail, TCP_FAIL_REFUSED);
    CHECK(strcmp(tcp_stream_fail_text(s.fail), "connection refused") == 0);
    CHECK(!tcp_stream_alive(&s));
}

/* The server side of window_goes_back_once_per_turn: the accepted connection. */
static struct tcp_stream accepted;
static int accepted_n;

static void on_server_event(struct tcp_stream *s, unsigned events, void *arg)
{
    (void)s;
    (void)events;
    (void)arg;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL || accepted_n++ > 0) {
        return ERR_VAL;
    }
    tcp_stream_accept(&accepted, pcb, on_server_event, NULL);
    return ERR_OK;
}

/* A listener on port (*listener, for the caller to close) and c connected to it; the server
 * side is `accepted`. A failed check leaves *listener NULL. */
static void connect_pair(struct tcp_stream *c, uint16_t port, struct tcp_pcb **listener)
{
    setup_once();
    *listener = NULL;
    struct tcp_pcb *lpcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    CHECK(lpcb != NULL);
    CHECK_EQ(tcp_bind(lpcb, IP4_ADDR_ANY, port), ERR_OK);
    lpcb = tcp_listen(lpcb);
    CHECK(lpcb != NULL);
    tcp_accept(lpcb, on_accept);
    accepted_n = 0;
    ip_addr_t lo;
    IP_ADDR4(&lo, 127, 0, 0, 1);
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(tcp_stream_connect(c, &lo, port, 5000, on_event, NULL), 0);
    RUN_UNTIL((ev.events & TCP_STREAM_CONNECTED) && accepted_n == 1, 10000);
    CHECK(ev.events & TCP_STREAM_CONNECTED);
    CHECK_EQ(accepted_n, 1);
    *listener = lpcb;
}

/* Reads of one turn give their window back in one update, at tcp_stream_flush: four reads
 * of 8 KiB each sent a bare ACK of their own (each over TCP_WND_UPDATE_THRESHOLD), and the
 * sender, its window opened a piece at a time, sent pieces (bench: a read() per 16 KiB). */
static void window_goes_back_once_per_turn(void)
{
    enum { PORT = 7999, CHUNK = 8192, CHUNKS = 4 };
    static struct tcp_stream c;
    struct tcp_pcb *lpcb;
    connect_pair(&c, PORT, &lpcb);
    CHECK(lpcb != NULL);
    static uint8_t buf[CHUNK];
    memset(buf, 0x33, sizeof buf);
    for (int i = 0; i < CHUNKS; i++) {
        CHECK_EQ(tcp_stream_send(&c, buf, sizeof buf), CHUNK);
    }
    RUN_UNTIL(tcp_stream_pending(&accepted) == CHUNK * CHUNKS, 10000);
    CHECK_EQ(tcp_stream_pending(&accepted), CHUNK * CHUNKS);
    RUN_UNTIL(0, 100);               /* delayed ACKs and the client's flush are done */
    CHECK(accepted.pcb != NULL);
    CHECK_EQ(accepted.pcb->rcv_wnd, GW_TCP_WND_LAN - CHUNK * CHUNKS);
    uint32_t xmit0 = lwip_stats.tcp.xmit;
    for (int i = 0; i < CHUNKS; i++) {
        CHECK_EQ(tcp_stream_recv(&accepted, buf, sizeof buf), CHUNK);
    }
    CHECK_EQ(lwip_stats.tcp.xmit - xmit0, 0);          /* nothing yet: the turn goes on */
    tcp_stream_flush();
    CHECK_EQ(lwip_stats.tcp.xmit - xmit0, 1);          /* one update opens all of it */
    /* all of it: the LAN window, its edge at a whole segment of the sender's stream */
    CHECK_EQ(accepted.pcb->rcv_wnd,
             (CHUNK * CHUNKS + GW_TCP_WND_LAN) / TCP_MSS * TCP_MSS - CHUNK * CHUNKS);
    tcp_stream_close(&accepted);
    tcp_stream_close(&c);
    tcp_close(lpcb);
    RUN_UNTIL(0, 1000);
}

/* A limited window counts what waits unread, and comes back in whole segments of the
 * sender's stream: offered in full beside a queue, or to an edge mid-segment (a sender that
 * fills it ends each frame in a short segment, a receive pbuf of its own), a hundred
 * splices took more pbufs than their shares (bench, 100 streams down: frames shed). */
static void window_goes_back_in_whole_segments(void)
{
    enum { PORT = 7998, SEGS = 8, ODD = 700 };
    static struct tcp_stream c;
    struct tcp_pcb *lpcb;
    connect_pair(&c, PORT, &lpcb);
    CHECK(lpcb != NULL);
    tcp_stream_set_window(&accepted, SEGS * TCP_MSS);
    CHECK_EQ(accepted.pcb->rcv_wnd, SEGS * TCP_MSS);
    static uint8_t buf[SEGS * TCP_MSS];
    memset(buf, 0x5a, sizeof buf);
    CHECK_EQ(tcp_stream_send(&c, buf, sizeof buf), (long)sizeof buf);
    tcp_stream_flush();
    RUN_UNTIL(tcp_stream_pending(&accepted) == sizeof buf, 10000);
    CHECK_EQ(tcp_stream_pending(&accepted), sizeof buf);
    CHECK_EQ(accepted.pcb->rcv_wnd, 0);
    /* 3 segments and 700 bytes read: the window offered beside the 5 segments still
     * queued is 3 segments (not the whole limit again), the 700 bytes wait for the rest */
    CHECK_EQ(tcp_stream_recv(&accepted, buf, 3 * TCP_MSS + ODD), 3 * TCP_MSS + ODD);
    tcp_stream_flush();
    CHECK_EQ(accepted.pcb->rcv_wnd, 3 * TCP_MSS);
    CHECK_EQ(accepted.pcb->rcv_wnd + tcp_stream_pending(&accepted), SEGS * TCP_MSS - ODD);
    /* the rest read: all of the window is back */
    CHECK_EQ(tcp_stream_recv(&accepted, buf, sizeof buf), (long)(5 * TCP_MSS - ODD));
    tcp_stream_flush();
    CHECK_EQ(accepted.pcb->rcv_wnd, SEGS * TCP_MSS);
    /* a window under one segment is never kept shut for rounding: 700 bytes of 1 segment */
    CHECK_EQ(tcp_stream_send(&c, buf, SEGS * TCP_MSS), SEGS * TCP_MSS);
    tcp_stream_flush();
    RUN_UNTIL(tcp_stream_pending(&accepted) == SEGS * TCP_MSS, 10000);
    CHECK_EQ(tcp_stream_recv(&accepted, buf, ODD), ODD);
    tcp_stream_flush();
    CHECK_EQ(accepted.pcb->rcv_wnd, ODD);
    tcp_stream_close(&accepted);
    tcp_stream_close(&c);
    tcp_close(lpcb);
    RUN_UNTIL(0, 1000);
}

/* The tunnel's window (TCP_WND, past 64 KiB; every other connection offers the LAN one)
 * against a reader that waits: more than a pbuf chain's 16-bit length queues unread and
 * comes back exact (the chain's tot_len wrapped: a 256 KiB window stalled the tunnel in
 * `make bench`), and all of the window comes back once it is read. */
static void a_tunnel_window_queues_past_64_kib_unread(void)
{
    enum { PORT = 7997, N = 100 * TCP_MSS };
    static struct tcp_stream c;
    struct tcp_pcb *lpcb;
    connect_pair(&c, PORT, &lpcb);
    CHECK(lpcb != NULL);
    if (lpcb == NULL) {
        return;
    }
    CHECK_EQ(c.pcb->rcv_wnd, GW_TCP_WND_LAN);
    CHECK_EQ(accepted.pcb->rcv_wnd, GW_TCP_WND_LAN);
    tcp_stream_set_window(&accepted, TCP_WND);
    tcp_stream_flush();
    CHECK_EQ(accepted.pcb->rcv_wnd, TCP_WND);
    tcp_stream_set_sndbuf(&c, GW_TCP_SND_BUF_WAN);
    static uint8_t out[N], in[N];
    for (size_t i = 0; i < N; i++) {
        out[i] = pattern(i);
    }
    size_t sent = 0;
    for (int step = 0; step < 100000 && sent < N; step++) {
        long w = tcp_stream_send(&c, out + sent, N - sent);
        CHECK(w >= 0);
        if (w < 0) {
            break;
        }
        sent += (size_t)w;
        tcp_stream_flush();
        netif_poll_all();
        sys_check_timeouts();
    }
    CHECK_EQ(sent, (size_t)N);
    RUN_UNTIL(tcp_stream_pending(&accepted) == N, 100000);
    CHECK_EQ(tcp_stream_pending(&accepted), (size_t)N);
    CHECK_EQ(accepted.pcb->rcv_wnd, TCP_WND - N);
    size_t got = 0;
    while (got < N) {
        long r = tcp_stream_recv(&accepted, in + got, N - got);
        CHECK(r > 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    CHECK_EQ(got, (size_t)N);
    CHECK(memcmp(in, out, N) == 0);
    CHECK_EQ(tcp_stream_pending(&accepted), 0);
    tcp_stream_flush();
    CHECK_EQ(accepted.pcb->rcv_wnd, TCP_WND);
    tcp_stream_close(&accepted);
    tcp_stream_close(&c);
    tcp_close(lpcb);
    RUN_UNTIL(0, 1000);
}

CHECK_MAIN(
    { "bytes_come_back_exact_through_the_echo_service",
      bytes_come_back_exact_through_the_echo_service },
    { "a_reader_that_stops_reading_stalls_the_sender",
      a_reader_that_stops_reading_stalls_the_sender },
    { "a_wan_send_buffer_holds_more_than_a_lan_one", a_wan_send_buffer_holds_more_than_a_lan_one },
    { "connecting_to_a_closed_port_is_refused", connecting_to_a_closed_port_is_refused },
    { "window_goes_back_once_per_turn", window_goes_back_once_per_turn },
    { "window_goes_back_in_whole_segments", window_goes_back_in_whole_segments },
    { "a_tunnel_window_queues_past_64_kib_unread", a_tunnel_window_queues_past_64_kib_unread })
