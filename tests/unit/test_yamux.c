/* yamux session state machine: two sessions wired back to back (a "gateway" client and a
 * "relay" server), and a raw frame writer for what a hostile or broken peer would send.
 * Each case is one story: framing split at every byte boundary, flow control and
 * back-pressure, half-close, reset, keepalive, and each of the defences in yamux.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "yamux.h"

static struct yamux_session cli, srv;
static uint64_t cli_mem[(4u << 20) / 8], srv_mem[(4u << 20) / 8];

static struct yamux_config config(int client)
{
    struct yamux_config c = {
        .client = client, .max_streams = 16, .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = 2u << 20, .out_cap = 64u * 1024, .keepalive_ms = 0, .dead_ms = 0,
        .name = client ? "gw" : "relay",
    };
    return c;
}

static int start(const struct yamux_config *cc, const struct yamux_config *sc)
{
    if (yamux_init(&cli, cc, cli_mem, sizeof cli_mem, 0) != 0) {
        return -1;
    }
    return yamux_init(&srv, sc, srv_mem, sizeof srv_mem, 0);
}

static int start_default(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    return start(&cc, &sc);
}

/* Moves a's output into b's input, at most `piece` bytes per call; returns bytes moved. */
static size_t carry(struct yamux_session *a, struct yamux_session *b, size_t piece)
{
    size_t moved = 0;
    for (;;) {
        const uint8_t *p;
        size_t n = yamux_out_peek(a, &p);
        if (n == 0) {
            break;
        }
        if (n > piece) {
            n = piece;
        }
        long k = yamux_input(b, p, n);
        if (k <= 0) {
            break;
        }
        yamux_out_consume(a, (size_t)k);
        moved += (size_t)k;
    }
    return moved;
}

static void wire(size_t piece)
{
    for (int i = 0; i < 1000; i++) {
        if (carry(&cli, &srv, piece) + carry(&srv, &cli, piece) == 0) {
            break;
        }
    }
}

/* Raw frames into a session, as a peer would send them. */
static long raw(struct yamux_session *s, uint8_t type, uint16_t flags, uint32_t id,
                uint32_t length, const uint8_t *payload, size_t plen)
{
    uint8_t h[YAMUX_HDR_LEN];
    struct yamux_hdr hd = { 0, type, flags, id, length };
    yamux_hdr_encode(&hd, h);
    long n = yamux_input(s, h, sizeof h);
    if (n == YAMUX_HDR_LEN && plen) {
        long m = yamux_input(s, payload, plen);
        return m < 0 ? m : n + m;
    }
    return n;
}

/* Takes a session's whole output and finds frames in it. */
static uint8_t outbuf[1u << 20];
static size_t drain(struct yamux_session *s)
{
    size_t len = 0;
    const uint8_t *p;
    size_t n;
    while ((n = yamux_out_peek(s, &p)) > 0 && len + n <= sizeof outbuf) {
        memcpy(outbuf + len, p, n);
        len += n;
        yamux_out_consume(s, n);
    }
    return len;
}

/* Is there a frame of this type/flags/id in outbuf[0..len)? Returns its length or -1. */
static long find_frame(size_t len, uint8_t type, uint16_t flags, uint32_t id)
{
    size_t i = 0;
    while (i + YAMUX_HDR_LEN <= len) {
        struct yamux_hdr h;
        yamux_hdr_decode(outbuf + i, &h);
        if (h.type == type && (h.flags & flags) == flags && h.id == id) {
            return (long)h.length;
        }
        i += YAMUX_HDR_LEN + (h.type == YAMUX_T_DATA ? h.length : 0);
    }
    return -1;
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 9) * 7u);
}

/* ---- framing ---- */

/* The client's whole conversation (open, data, FIN, ping) is recorded once, then fed to a
 * fresh server cut in two at every byte, and also one byte at a time: the server sees the
 * same stream, data and FIN every time. */
static void frames_split_at_every_boundary_give_the_same_result(void)
{
    static uint8_t rec[4096];
    size_t len;
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *st = yamux_open(&cli);
    CHECK(st);
    CHECK_EQ(yamux_write(st, (const uint8_t *)"hello, relay", 12), 12);
    yamux_ping(&cli, 0);
    CHECK_EQ(yamux_write(st, (const uint8_t *)"!", 1), 1);
    yamux_close(st);
    len = drain(&cli);
    CHECK(len > 4 * YAMUX_HDR_LEN && len < sizeof rec);
    memcpy(rec, outbuf, len);

    for (size_t cut = 0; cut <= len + 1; cut++) {
        struct yamux_config sc = config(0);
        CHECK_EQ(yamux_init(&srv, &sc, srv_mem, sizeof srv_mem, 0), 0);
        if (cut <= len) {
            CHECK_EQ(yamux_input(&srv, rec, cut), (long)cut);
            CHECK_EQ(yamux_input(&srv, rec + cut, len - cut), (long)(len - cut));
        } else {
            for (size_t i = 0; i < len; i++) {     /* one byte at a time */
                CHECK_EQ(yamux_input(&srv, rec + i, 1), 1);
            }
        }
        struct yamux_stream *in = yamux_accept(&srv);
        CHECK(in);
        CHECK_EQ(in->id, 1);
        uint8_t buf[64];
        CHECK_EQ(yamux_read(in, buf, sizeof buf), 13);
        CHECK(memcmp(buf, "hello, relay!", 13) == 0);
        CHECK_EQ(yamux_read(in, buf, sizeof buf), YAMUX_EOF);
        CHECK_EQ(in->state, YAMUX_S_REMOTE_CLOSED);
        size_t out = drain(&srv);
        CHECK(find_frame(out, YAMUX_T_PING, YAMUX_F_ACK, 0) == 1);   /* pong, opaque 1 */
        CHECK(find_frame(out, YAMUX_T_WINDOW, YAMUX_F_ACK, 1) >= 0);
    }
}

/* A large transfer through pieces of every awkward size arrives byte-exact. */
static void bulk_transfer_through_odd_pieces_is_byte_exact(void)
{
    static const size_t pieces[] = { 1, 7, 11, 12, 13, 4095, 16396, 100000 };
    static uint8_t src[600000], dst[600000];
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = pattern(i);
    }
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        CHECK_EQ(start_default(), 0);
        struct yamux_stream *a = yamux_open(&cli), *b = NULL;
        CHECK(a);
        size_t sent = 0, got = 0;
        for (int round = 0; round < 100000 && got < sizeof src; round++) {
            if (sent < sizeof src) {
                long n = yamux_write(a, src + sent, sizeof src - sent);
                CHECK(n >= 0);
                sent += (size_t)n;
                if (sent == sizeof src) {
                    yamux_close(a);
                }
            }
            carry(&cli, &srv, pieces[k]);
            if (!b) {
                b = yamux_accept(&srv);
            }
            long m;
            while (b && (m = yamux_read(b, dst + got, 3000)) > 0) {
                got += (size_t)m;
            }
            carry(&srv, &cli, pieces[k]);
        }
        CHECK_EQ(got, sizeof src);
        CHECK(memcmp(src, dst, sizeof src) == 0);
        uint8_t x;
        CHECK_EQ(yamux_read(b, &x, 1), YAMUX_EOF);
    }
}

/* Writing through yamux_write_reserve/_commit, as a splice does: the reserved spans wrap
 * around the output queue at every offset, the writer fills some or none of them, the other
 * side writes back (so WindowUpdates are owed and queued before each reservation), and
 * both directions arrive byte-exact. */
static void reserved_writes_across_the_queue_wrap_are_byte_exact(void)
{
    static const size_t fills[] = { 0, 1, 7, 12, 4095, 16384, 9000, 13 };
    static uint8_t src[600000], dst[600000], back[600000];
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = pattern(i);
    }
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli), *b = NULL;
    CHECK(a);
    size_t sent = 0, got = 0, echoed = 0, back_got = 0, wrapped = 0;
    for (int round = 0; round < 100000 && (got < sizeof src || back_got < sizeof src);
         round++) {
        struct yamux_span span[2];
        size_t room = sent < sizeof src ? yamux_write_reserve(a, span) : 0;
        if (room > 0) {
            CHECK_EQ(span[0].len + span[1].len, room);
            wrapped += span[1].len > 0;
            size_t n = fills[round % 8] < room ? fills[round % 8] : room;
            n = n < sizeof src - sent ? n : sizeof src - sent;
            size_t first = n < span[0].len ? n : span[0].len;
            memcpy(span[0].p, src + sent, first);
            memcpy(span[1].p, src + sent + first, n - first);
            size_t before = yamux_out_pending(&cli);
            yamux_write_commit(a, n);
            CHECK_EQ(yamux_out_pending(&cli), before + (n ? YAMUX_HDR_LEN + n : 0));
            sent += n;
        }
        const uint8_t *p;                         /* part of the queue: it never empties */
        size_t k = yamux_out_peek(&cli, &p);
        k = k < 2001 ? k : 2001;
        long in = k > 0 ? yamux_input(&srv, p, k) : 0;
        CHECK(in >= 0);
        yamux_out_consume(&cli, (size_t)in);
        if (!b) {
            b = yamux_accept(&srv);
        }
        long m;
        while (b && (m = yamux_read(b, dst + got, 3000)) > 0) {
            got += (size_t)m;
        }
        if (b && echoed < got) {                  /* the other way, plain writes */
            long w = yamux_write(b, dst + echoed, got - echoed);
            CHECK(w >= 0);
            echoed += (size_t)w;
        }
        carry(&srv, &cli, 7001);
        while ((m = yamux_read(a, back + back_got, 5000)) > 0) {
            back_got += (size_t)m;
        }
    }
    CHECK_EQ(got, sizeof src);
    CHECK_EQ(back_got, sizeof src);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    CHECK(memcmp(src, back, sizeof src) == 0);
    CHECK(wrapped > 0);
    /* more than was reserved: the stream is reset, nothing is queued for it */
    struct yamux_stream *c = yamux_open(&cli);
    struct yamux_span span[2];
    size_t room = yamux_write_reserve(c, span), before = yamux_out_pending(&cli);
    CHECK(room > 0);
    yamux_write_commit(c, room + 1);
    CHECK_EQ(c->state, YAMUX_S_RESET);
    CHECK(yamux_out_pending(&cli) <= before + YAMUX_HDR_LEN);   /* its RST at most */
}

/* ---- flow control ---- */

/* A relay that does not read gets exactly one window (256 KiB) and no more: the writer's
 * yamux_write() returns 0, and nothing else queues up on either side. Reading half a window
 * sends a WindowUpdate and the writer may go on. */
static void a_reader_that_stops_gets_back_pressure_not_a_queue(void)
{
    static uint8_t buf[YAMUX_INITIAL_WINDOW];
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli);
    size_t sent = 0;
    for (int i = 0; i < 1000; i++) {
        long n = yamux_write(a, buf, sizeof buf);
        CHECK(n >= 0);
        sent += (size_t)n;
        wire(65536);
    }
    CHECK_EQ(sent, YAMUX_INITIAL_WINDOW);
    CHECK_EQ(a->tx_credit, 0);
    CHECK_EQ(yamux_write(a, buf, 1), 0);
    CHECK_EQ(yamux_out_pending(&cli), 0);
    struct yamux_stream *b = yamux_accept(&srv);
    CHECK(b);
    CHECK_EQ(yamux_readable(b), YAMUX_INITIAL_WINDOW);
    CHECK_EQ(b->rx_window, 0);

    /* Reading less than half a window grants nothing yet. */
    CHECK_EQ(yamux_read(b, buf, YAMUX_INITIAL_WINDOW / 2 - 1), YAMUX_INITIAL_WINDOW / 2 - 1);
    wire(65536);
    CHECK_EQ(a->tx_credit, 0);
    CHECK_EQ(yamux_read(b, buf, 1), 1);
    wire(65536);
    CHECK_EQ(a->tx_credit, YAMUX_INITIAL_WINDOW / 2);
    unsigned ev = 0;
    CHECK(yamux_poll(&cli, &ev) == a);
    CHECK(ev & YAMUX_EV_WRITE);
}

/* With nobody draining the output, writes stop at the output queue's size, leaving room
 * for control frames. */
static void output_queue_is_bounded(void)
{
    static uint8_t buf[200000];
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli);
    long n = yamux_write(a, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n < 64 * 1024);
    CHECK(yamux_out_pending(&cli) <= 64 * 1024 - YAMUX_CTL_RESERVE);
    CHECK_EQ(yamux_write(a, buf, sizeof buf), 0);
    yamux_close(a);                              /* FIN still fits: the reserve */
    CHECK_EQ(a->owed, 0);
}

/* Writers that always have data and find the output queue full take turns as it drains:
 * each woken writer writes until the queue is full again (as the relay's SOCKS5 side does),
 * and the one woken first last time is not first again. When the scan always began at slot
 * 0, the first streams took every drained queue until their windows ran out. */
static void writers_take_turns_at_a_full_output_queue(void)
{
    static uint8_t buf[16 * 1024];
    size_t got[8] = { 0 };
    struct yamux_stream *st[8];
    unsigned ev = 0;
    CHECK_EQ(start_default(), 0);
    for (int i = 0; i < 8; i++) {
        st[i] = yamux_open(&cli);
        CHECK(st[i] != NULL);
    }
    for (int i = 0; i < 8; i++) {               /* the first fills the queue, all wait */
        while (yamux_write(st[i], buf, sizeof buf) > 0) {
        }
    }
    while (yamux_poll(&cli, &ev) != NULL) {
    }
    /* 16 queues' worth (about 1 MiB), half of what the 8 windows (256 KiB each) allow */
    for (int round = 0; round < 16; round++) {
        const uint8_t *p;
        size_t n;
        while ((n = yamux_out_peek(&cli, &p)) > 0) {
            yamux_out_consume(&cli, n);         /* the wire took it all */
        }
        struct yamux_stream *w;
        while ((w = yamux_poll(&cli, &ev)) != NULL) {
            if (ev & YAMUX_EV_WRITE) {
                int j = 0;
                while (j < 7 && st[j] != w) {
                    j++;
                }
                long k;
                while ((k = yamux_write(w, buf, sizeof buf)) > 0) {
                    got[j] += (size_t)k;
                }
            }
        }
    }
    size_t lo = got[0], hi = got[0];
    for (int i = 1; i < 8; i++) {
        lo = got[i] < lo ? got[i] : lo;
        hi = got[i] > hi ? got[i] : hi;
    }
    CHECK(hi > 0);
    CHECK(lo * 2 >= hi);                        /* slot 0 first each time: lo was 0 */
}

/* A receive pool smaller than the windows stops consuming input when full (TCP then
 * throttles the peer) and resumes once the application read. */
static void a_full_receive_pool_stops_input_until_read(void)
{
    static uint8_t buf[200000], got[200000];
    struct yamux_config cc = config(1), sc = config(0);
    sc.rx_pool = 16 * YAMUX_CHUNK;
    CHECK_EQ(start(&cc, &sc), 0);
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = pattern(i);
    }
    struct yamux_stream *a = yamux_open(&cli), *b = NULL;
    size_t sent = 0, n = 0;
    int stalls = 0;
    for (int i = 0; i < 10000 && n < sizeof buf; i++) {
        long w = yamux_write(a, buf + sent, sizeof buf - sent);
        sent += (size_t)(w > 0 ? w : 0);
        carry(&cli, &srv, 1 << 20);
        stalls += yamux_input_blocked(&srv);
        if (!b) {
            b = yamux_accept(&srv);
        }
        CHECK(b);
        CHECK(yamux_readable(b) <= 16 * (YAMUX_CHUNK - 8));
        long r = yamux_read(b, got + n, 5000);
        n += (size_t)(r > 0 ? r : 0);
        carry(&srv, &cli, 1 << 20);
    }
    CHECK_EQ(n, sizeof buf);
    CHECK(memcmp(buf, got, n) == 0);
    CHECK(stalls > 0);
    CHECK(srv.stats.input_stalls > 0);
}

/* ---- the pool policy: a stream nobody reads cannot stop the session ---- */

/* One turn of a driver at now: both sessions tick, bytes cross both ways. 1: a link died. */
static int turn(uint32_t now)
{
    int dead = yamux_tick(&cli, now) != YAMUX_OK;
    dead |= yamux_tick(&srv, now) != YAMUX_OK;
    wire(1 << 20);
    return dead;
}

/* Everything readable from st into buf at *got (up to cap); the reader that keeps up. */
static void read_all(struct yamux_stream *st, uint8_t *buf, size_t *got, size_t cap)
{
    long m;
    while (st != NULL && *got < cap && (m = yamux_read(st, buf + *got, cap - *got)) > 0) {
        *got += (size_t)m;
    }
}

/* nstuck streams whose consumers do not read (a byte now and then, as a TCP peer with a
 * closed window takes zero-window probes, is no progress) fill a pool of 64 chunks with
 * `each` bytes apiece; a ping and another stream's data wait behind them. Nothing is reset
 * before `when`; then the largest of them is, the ping is answered and the other stream's
 * data arrives byte-exact. */
static void stuck_streams_hold_a_full_pool_until(unsigned nstuck, size_t each, uint32_t when)
{
    static uint8_t buf[YAMUX_INITIAL_WINDOW], src[40000], got[40000];
    struct yamux_stream *stuck[8], *s_stuck[8] = { 0 }, *live, *s_live = NULL, *st;
    size_t sent[8] = { 0 }, live_sent = 0, n = 0;
    struct yamux_config cc = config(1), sc = config(0);
    sc.rx_pool = 64 * YAMUX_CHUNK;               /* ~127 KiB: half a window */
    CHECK_EQ(start(&cc, &sc), 0);
    CHECK(nstuck <= 8);
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = pattern(i);
    }
    for (unsigned k = 0; k < nstuck; k++) {
        stuck[k] = yamux_open(&cli);
    }
    live = yamux_open(&cli);
    for (uint32_t now = 0; now <= 4000; now += 100) {
        for (unsigned k = 0; k < nstuck; k++) {
            long w = yamux_write(stuck[k], buf, each - sent[k]);
            sent[k] += (size_t)(w > 0 ? w : 0);
        }
        if (now >= 100) {                        /* behind the stuck streams' data */
            long w = yamux_write(live, src + live_sent, sizeof src - live_sent);
            live_sent += (size_t)(w > 0 ? w : 0);
        }
        if (now == 100) {
            yamux_ping(&cli, now);
        }
        CHECK_EQ(turn(now), 0);
        while ((st = yamux_accept(&srv)) != NULL) {
            if (st->id == live->id) {
                s_live = st;
            }
            for (unsigned k = 0; k < nstuck; k++) {
                s_stuck[k] = st->id == stuck[k]->id ? st : s_stuck[k];
            }
        }
        read_all(s_live, got, &n, sizeof got);
        for (unsigned k = 0; k < nstuck && now % 500 == 0; k++) {
            uint8_t probe;
            if (s_stuck[k] != NULL) {
                yamux_read(s_stuck[k], &probe, 1);   /* a dribble, not progress */
            }
        }
        if (now >= 300 && now < when) {
            CHECK(yamux_input_blocked(&srv));
            CHECK_EQ(srv.stats.pool_resets, 0);
            CHECK_EQ(cli.ping_outstanding, 1);
            CHECK_EQ(n, 0);
        }
    }
    CHECK(srv.stats.pool_resets >= 1);
    CHECK(s_stuck[0] != NULL && s_live != NULL);
    CHECK_EQ(s_stuck[0]->state, YAMUX_S_RESET);
    CHECK_EQ(s_stuck[0]->reset_here, 1);
    CHECK_EQ(yamux_write(stuck[0], buf, 1), YAMUX_ERESET);   /* the relay learns of it */
    CHECK_EQ(cli.ping_outstanding, 0);
    CHECK_EQ(cli.rtt_ms, when - 100);            /* sent at 100, answered at the reset */
    CHECK_EQ(n, sizeof src);
    CHECK(memcmp(src, got, n) == 0);
    CHECK_EQ(srv.state, YAMUX_SS_OPEN);
}

/* One stream holding the whole pool without progress is reset after YAMUX_STALL_MS. */
static void a_stream_sitting_on_the_whole_pool_is_reset_after_the_stall_time(void)
{
    stuck_streams_hold_a_full_pool_until(1, YAMUX_INITIAL_WINDOW, YAMUX_STALL_MS);
}

/* Eight streams holding 8 full chunks each are given the same YAMUX_STALL_MS. */
static void streams_holding_little_are_reset_after_the_stall_time_too(void)
{
    stuck_streams_hold_a_full_pool_until(8, 8 * (YAMUX_CHUNK - 8), YAMUX_STALL_MS);
}

/* Sixteen streams push 2 MiB each into consumers that never read, against a 512 KiB pool
 * (the gateway's), while keepalive runs as on a tunnel (5 s / 15 s) and one stream carries
 * 1 MiB to a consumer that keeps up; a stream opened in the middle of it gets its data too.
 * No link is declared dead, the live streams are byte-exact, and the stuck ones are reset. */
static void many_streams_nobody_reads_cannot_stop_the_session(void)
{
    enum { STUCK = 16, LIVE = 1 << 20, LATE = 50000 };
    static uint8_t buf[YAMUX_FRAME_MAX], src[LIVE], got[LIVE], late_got[LATE];
    struct yamux_config cc = config(1), sc = config(0);
    cc.max_streams = sc.max_streams = 32;
    sc.rx_pool = 512u * 1024;
    cc.keepalive_ms = sc.keepalive_ms = 5000;
    cc.dead_ms = sc.dead_ms = 15000;
    CHECK_EQ(start(&cc, &sc), 0);
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = pattern(i);
    }
    struct yamux_stream *stuck[STUCK], *live = NULL, *late = NULL, *st;
    struct yamux_stream *s_live = NULL, *s_late = NULL;
    size_t stuck_sent[STUCK] = { 0 }, live_sent = 0, n = 0, late_sent = 0, late_n = 0;
    unsigned reset_seen = 0;
    for (int i = 0; i < STUCK; i++) {
        stuck[i] = yamux_open(&cli);
        CHECK(stuck[i]);
    }
    live = yamux_open(&cli);
    for (uint32_t now = 0; now <= 40000 && (now < 20000 || n < LIVE || late_n < LATE);
         now += 50) {
        for (int i = 0; i < STUCK; i++) {
            if (stuck[i] != NULL && stuck_sent[i] < (2u << 20)) {
                long w = yamux_write(stuck[i], buf, sizeof buf);
                if (w == YAMUX_ERESET) {
                    yamux_release(stuck[i]);
                    stuck[i] = NULL;
                    reset_seen++;
                    continue;
                }
                CHECK(w >= 0);
                stuck_sent[i] += (size_t)w;
            }
        }
        long w = yamux_write(live, src + live_sent, sizeof src - live_sent);
        live_sent += (size_t)(w > 0 ? w : 0);
        if (now == 3000) {
            late = yamux_open(&cli);
            CHECK(late);
        }
        if (late != NULL && late_sent < LATE) {
            w = yamux_write(late, src + late_sent, LATE - late_sent);
            late_sent += (size_t)(w > 0 ? w : 0);
        }
        CHECK_EQ(turn(now), 0);
        while ((st = yamux_accept(&srv)) != NULL) {
            if (st->id == live->id) {
                s_live = st;
            } else if (late != NULL && st->id == late->id) {
                s_late = st;
            }                                    /* the others are never read */
        }
        read_all(s_live, got, &n, sizeof got);
        read_all(s_late, late_got, &late_n, sizeof late_got);
    }
    CHECK_EQ(n, (size_t)LIVE);
    CHECK(memcmp(src, got, n) == 0);
    CHECK_EQ(late_n, (size_t)LATE);
    CHECK(memcmp(src, late_got, late_n) == 0);
    CHECK(srv.stats.pool_resets >= 1);
    CHECK(reset_seen >= 1);
    CHECK_EQ(srv.stats.violations, 0);
    CHECK(cli.ping_id >= 3 && srv.ping_id >= 3);     /* keepalive ran, never found dead */
    printf("16 stuck streams: %u reset for sitting on the pool, live 1 MiB and late 50 KB "
           "byte-exact, rtt %u ms\n", (unsigned)srv.stats.pool_resets, (unsigned)cli.rtt_ms);
}

/* Readers that are slow but make progress (3000 bytes every 400 ms, within YAMUX_HOG_MS
 * although each holds more than its share) keep a small pool full all the time: input
 * waits for them, and nobody is reset. */
static void slow_readers_that_progress_are_never_reset(void)
{
    enum { LEN = 120000, STEP = 3000 };
    static uint8_t src[LEN], got[2][LEN];
    struct yamux_config cc = config(1), sc = config(0);
    sc.rx_pool = 16 * YAMUX_CHUNK;
    CHECK_EQ(start(&cc, &sc), 0);
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = pattern(i);
    }
    struct yamux_stream *a[2] = { yamux_open(&cli), yamux_open(&cli) }, *b[2] = { 0 }, *st;
    size_t sent[2] = { 0 }, n[2] = { 0 };
    int stalls = 0;
    for (uint32_t now = 0; now < 1000000 && (n[0] < LEN || n[1] < LEN); now += 400) {
        for (int i = 0; i < 2; i++) {
            long w = yamux_write(a[i], src + sent[i], LEN - sent[i]);
            sent[i] += (size_t)(w > 0 ? w : 0);
        }
        CHECK_EQ(turn(now), 0);
        stalls += yamux_input_blocked(&srv);
        while ((st = yamux_accept(&srv)) != NULL) {
            b[st->id == a[0]->id ? 0 : 1] = st;
        }
        for (int i = 0; i < 2; i++) {
            long m = b[i] ? yamux_read(b[i], got[i] + n[i], STEP) : 0;
            n[i] += (size_t)(m > 0 ? m : 0);
        }
    }
    CHECK(stalls > 0);                           /* the pool was full most of the time */
    CHECK_EQ(srv.stats.pool_resets, 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(n[i], (size_t)LEN);
        CHECK(memcmp(src, got[i], LEN) == 0);
    }
}

/* Readers that progress just enough (2100 B per 1.9 s each: never "stalled") keep the
 * 512 KiB pool full, and the relay's 256 KiB output queue sits ahead of every ping reply:
 * the link is slow, not dead (data keeps arriving), so nobody declares it dead. */
static void slow_readers_that_keep_the_pool_full_do_not_kill_the_link(void)
{
    enum { NS = 8 };
    static uint8_t buf[YAMUX_FRAME_MAX], sink[4096];
    struct yamux_config cc = config(1), sc = config(0);
    cc.max_streams = sc.max_streams = 32;
    sc.rx_pool = 512u * 1024;          /* the gateway's LINK_RX_POOL */
    cc.out_cap = 256u * 1024;          /* the relay's RELAY_YAMUX_OUT, no kernel buffer */
    cc.keepalive_ms = sc.keepalive_ms = 5000;
    cc.dead_ms = sc.dead_ms = 15000;
    CHECK_EQ(start(&cc, &sc), 0);
    struct yamux_stream *a[NS], *b[NS] = { 0 }, *st;
    for (int i = 0; i < NS; i++) a[i] = yamux_open(&cli);
    uint32_t now, died = 0;
    for (now = 0; now <= 60000; now += 100) {
        for (int i = 0; i < NS; i++) (void)yamux_write(a[i], buf, sizeof buf);
        if (turn(now)) { died = now; break; }
        while ((st = yamux_accept(&srv)) != NULL) {
            for (int i = 0; i < NS; i++) if (st->id == a[i]->id) b[i] = st;
        }
        if (now % 1900 == 0)
            for (int i = 0; i < NS; i++) if (b[i]) (void)yamux_read(b[i], sink, 2100);
    }
    CHECK_EQ(died, 0);
}

/* An innocent stream holding a big part of the pool whose reader pauses 600 ms (a LAN
 * retransmission) is not the one reset when fresh streams fill the pool meanwhile. */
static void a_reader_pausing_briefly_is_not_sacrificed_to_fresh_streams(void)
{
    static uint8_t buf[YAMUX_FRAME_MAX], sink[1 << 18];
    struct yamux_config cc = config(1), sc = config(0);
    cc.max_streams = sc.max_streams = 32;
    sc.rx_pool = 512u * 1024;
    cc.out_cap = 256u * 1024;          /* the relay's RELAY_YAMUX_OUT */
    CHECK_EQ(start(&cc, &sc), 0);
    struct yamux_stream *good = yamux_open(&cli), *bad[4], *sg = NULL, *st;
    size_t gsent = 0;
    for (uint32_t now = 0; now <= 3000; now += 100) {
        while (now >= 400 && gsent < 200000) { long w = yamux_write(good, buf, sizeof buf); if (w <= 0) break; gsent += (size_t)w; }
        if (now == 800) for (int i = 0; i < 4; i++) bad[i] = yamux_open(&cli);
        if (now >= 800) for (int k = 0; k < 8; k++) for (int i = 0; i < 4; i++) (void)yamux_write(bad[i], buf, sizeof buf);
        CHECK_EQ(turn(now), 0);
        while ((st = yamux_accept(&srv)) != NULL) if (st->id == good->id) sg = st;
        /* the good reader reads everything, except it pauses 400..1000 ms (a LAN RTO) */
        if (sg && (now < 400 || now > 1100) && sg->state != YAMUX_S_RESET) (void)yamux_read(sg, sink, sizeof sink);
    }
    CHECK(sg != NULL && sg->state != YAMUX_S_RESET);
}

/* ---- half-close and reset ---- */

static void half_close_works_both_ways(void)
{
    uint8_t buf[16];
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli);
    CHECK_EQ(yamux_write(a, (const uint8_t *)"req", 3), 3);
    yamux_close(a);
    CHECK_EQ(yamux_write(a, (const uint8_t *)"x", 1), YAMUX_ECLOSED);
    wire(100);
    struct yamux_stream *b = yamux_accept(&srv);
    CHECK_EQ(yamux_read(b, buf, sizeof buf), 3);
    CHECK_EQ(yamux_read(b, buf, sizeof buf), YAMUX_EOF);
    /* The relay still answers after the gateway's FIN. */
    CHECK_EQ(yamux_write(b, (const uint8_t *)"answer", 6), 6);
    wire(5);
    CHECK_EQ(yamux_read(a, buf, sizeof buf), 6);
    CHECK_EQ(yamux_read(a, buf, sizeof buf), 0);
    CHECK_EQ(a->state, YAMUX_S_LOCAL_CLOSED);
    yamux_close(b);
    wire(5);
    CHECK_EQ(yamux_read(a, buf, sizeof buf), YAMUX_EOF);
    CHECK_EQ(a->state, YAMUX_S_CLOSED);
    CHECK_EQ(b->state, YAMUX_S_CLOSED);
    yamux_release(a);
    yamux_release(b);
    wire(100);
    CHECK_EQ(yamux_stream_count(&cli), 0);
    CHECK_EQ(yamux_stream_count(&srv), 0);
    CHECK_EQ(srv.stats.violations + cli.stats.violations, 0);
}

static void reset_reaches_the_other_side_and_frees_both_slots(void)
{
    uint8_t buf[16];
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli);
    CHECK_EQ(yamux_write(a, (const uint8_t *)"abc", 3), 3);
    wire(100);
    struct yamux_stream *b = yamux_accept(&srv);
    CHECK(b);
    yamux_release(a);                            /* not closed: release sends RST */
    wire(100);
    CHECK_EQ(yamux_read(b, buf, sizeof buf), YAMUX_ERESET);
    CHECK_EQ(yamux_write(b, buf, 1), YAMUX_ERESET);
    yamux_release(b);
    wire(100);
    CHECK_EQ(yamux_stream_count(&cli), 0);
    CHECK_EQ(yamux_stream_count(&srv), 0);
}

/* ---- defences ---- */

/* A WindowUpdate that would take the 32-bit window past 2^32 - 1 resets the stream. */
static void window_update_overflow_resets_the_stream(void)
{
    CHECK_EQ(start_default(), 0);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, 1, 0, NULL, 0), YAMUX_HDR_LEN);
    struct yamux_stream *b = yamux_accept(&srv);
    CHECK(b);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, 0, 1, UINT32_MAX - YAMUX_INITIAL_WINDOW, NULL, 0),
             YAMUX_HDR_LEN);
    CHECK_EQ(b->tx_credit, UINT32_MAX);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, 0, 1, 1, NULL, 0), YAMUX_HDR_LEN);
    CHECK_EQ(b->state, YAMUX_S_RESET);
    CHECK(find_frame(drain(&srv), YAMUX_T_WINDOW, YAMUX_F_RST, 1) >= 0);
    CHECK_EQ(srv.stats.violations, 1);
    CHECK_EQ(srv.state, YAMUX_SS_OPEN);
}

/* Data+SYN carrying more than the initial window: RST, the payload skipped, no memory
 * kept, and the session goes on. */
static void data_syn_larger_than_the_window_is_refused(void)
{
    static uint8_t big[YAMUX_INITIAL_WINDOW + 1];
    CHECK_EQ(start_default(), 0);
    CHECK_EQ(raw(&srv, YAMUX_T_DATA, YAMUX_F_SYN, 1, sizeof big, big, sizeof big),
             (long)(YAMUX_HDR_LEN + sizeof big));
    CHECK(find_frame(drain(&srv), YAMUX_T_WINDOW, YAMUX_F_RST, 1) >= 0);
    CHECK_EQ(yamux_stream_count(&srv), 0);
    CHECK(yamux_accept(&srv) == NULL);
    CHECK_EQ(srv.chunks_free, srv.nchunks);
    /* A proper stream afterwards works. */
    CHECK_EQ(raw(&srv, YAMUX_T_DATA, YAMUX_F_SYN, 3, 2, (const uint8_t *)"ok", 2), 14);
    CHECK(yamux_accept(&srv) != NULL);
}

/* Data beyond what the window allows on an open stream: RST. */
static void data_beyond_the_window_resets_the_stream(void)
{
    static uint8_t chunk[100000];
    CHECK_EQ(start_default(), 0);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, 1, 0, NULL, 0), YAMUX_HDR_LEN);
    struct yamux_stream *b = yamux_accept(&srv);
    for (int i = 0; i < 2; i++) {
        CHECK(raw(&srv, YAMUX_T_DATA, 0, 1, sizeof chunk, chunk, sizeof chunk) > 0);
    }
    CHECK_EQ(b->state, YAMUX_S_OPEN);            /* 200000 <= 262144 */
    CHECK(raw(&srv, YAMUX_T_DATA, 0, 1, sizeof chunk, chunk, sizeof chunk) > 0);
    CHECK_EQ(b->state, YAMUX_S_RESET);
    CHECK(find_frame(drain(&srv), YAMUX_T_WINDOW, YAMUX_F_RST, 1) >= 0);
    CHECK_EQ(srv.chunks_free, srv.nchunks);      /* the buffered 200000 bytes are gone */
}

static void data_after_fin_resets_the_stream(void)
{
    CHECK_EQ(start_default(), 0);
    CHECK_EQ(raw(&srv, YAMUX_T_DATA, YAMUX_F_SYN | YAMUX_F_FIN, 1, 1, (const uint8_t *)"a", 1),
             13);
    struct yamux_stream *b = yamux_accept(&srv);
    CHECK_EQ(b->state, YAMUX_S_REMOTE_CLOSED);
    CHECK_EQ(raw(&srv, YAMUX_T_DATA, 0, 1, 1, (const uint8_t *)"b", 1), 13);
    CHECK_EQ(b->state, YAMUX_S_RESET);
    CHECK_EQ(srv.stats.violations, 1);
}

/* A thousand pings and nobody reads our output: at most YAMUX_PONG_MAX replies are owed. */
static void ping_flood_owes_a_bounded_number_of_replies(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    sc.out_cap = 1024;
    CHECK_EQ(start(&cc, &sc), 0);
    for (uint32_t i = 0; i < 1000 + 1024 / YAMUX_HDR_LEN; i++) {
        CHECK_EQ(raw(&srv, YAMUX_T_PING, YAMUX_F_SYN, 0, i, NULL, 0), YAMUX_HDR_LEN);
    }
    CHECK(yamux_out_pending(&srv) <= 1024);
    CHECK(srv.npongs <= YAMUX_PONG_MAX);
    CHECK(srv.stats.pings_dropped >= 1000 - YAMUX_PONG_MAX);
    CHECK_EQ(srv.state, YAMUX_SS_OPEN);
}

/* The (max_streams + 1)-th stream gets RST; nothing is kept for it. */
static void streams_beyond_the_limit_are_reset(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    sc.max_streams = 4;
    CHECK_EQ(start(&cc, &sc), 0);
    for (uint32_t id = 1; id <= 9; id += 2) {
        CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, id, 0, NULL, 0), YAMUX_HDR_LEN);
    }
    CHECK_EQ(yamux_stream_count(&srv), 4);
    CHECK_EQ(srv.stats.streams_refused, 1);
    size_t out = drain(&srv);
    CHECK(find_frame(out, YAMUX_T_WINDOW, YAMUX_F_RST, 9) >= 0);
    CHECK(find_frame(out, YAMUX_T_WINDOW, YAMUX_F_RST, 7) < 0);
    /* A SYN flood far beyond the limit leaves the session usable and memory flat. */
    for (uint32_t id = 11; id < 20000; id += 2) {
        CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, id, 0, NULL, 0), YAMUX_HDR_LEN);
    }
    CHECK(srv.nrsts <= YAMUX_RST_MAX);
    CHECK_EQ(yamux_stream_count(&srv), 4);
    CHECK_EQ(srv.state, YAMUX_SS_OPEN);
}

/* own_reserve: the peer's streams stop that many slots short of the limit, and ours may
 * still take them (the gateway keeps its deliveries' slots from the relay's streams). */
static void a_reserve_keeps_slots_for_our_own_streams(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    cc.max_streams = 4;
    cc.own_reserve = 2;
    CHECK_EQ(start(&cc, &sc), 0);
    for (uint32_t id = 2; id <= 6; id += 2) {    /* the relay's: the third is refused */
        CHECK_EQ(raw(&cli, YAMUX_T_WINDOW, YAMUX_F_SYN, id, 0, NULL, 0), YAMUX_HDR_LEN);
    }
    CHECK_EQ(yamux_stream_count(&cli), 2);
    CHECK_EQ(cli.stats.streams_refused, 1);
    CHECK(find_frame(drain(&cli), YAMUX_T_WINDOW, YAMUX_F_RST, 6) >= 0);
    CHECK_EQ(yamux_can_open(&cli), 1);
    CHECK(yamux_open(&cli) != NULL);
    CHECK(yamux_open(&cli) != NULL);             /* ours take the reserve */
    CHECK_EQ(yamux_can_open(&cli), 0);
    CHECK(yamux_open(&cli) == NULL);
    cc.own_reserve = 4;                          /* a reserve must leave the peer a slot */
    CHECK(yamux_mem_size(&cc) == 0);
}

/* Frames for streams we never had (or already released) are dropped, payload and all. */
static void frames_for_unknown_streams_are_ignored(void)
{
    CHECK_EQ(start_default(), 0);
    CHECK_EQ(raw(&srv, YAMUX_T_DATA, 0, 77, 5, (const uint8_t *)"stray", 5), 17);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, 0, 79, 1000, NULL, 0), 12);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_RST, 81, 0, NULL, 0), 12);
    CHECK_EQ(srv.stats.unknown_frames, 3);
    CHECK_EQ(yamux_stream_count(&srv), 0);
    CHECK_EQ(drain(&srv), 0);                    /* no answer: never RST an RST */
    CHECK_EQ(srv.state, YAMUX_SS_OPEN);
}

static void protocol_errors_fail_the_session_with_goaway(void)
{
    uint8_t bad[YAMUX_HDR_LEN] = { 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0 };
    CHECK_EQ(start_default(), 0);
    CHECK_EQ(yamux_input(&srv, bad, sizeof bad), YAMUX_EPROTO);
    CHECK_EQ(srv.state, YAMUX_SS_FAILED);
    CHECK_EQ(find_frame(drain(&srv), YAMUX_T_GOAWAY, 0, 0), YAMUX_GOAWAY_PROTO);
    CHECK_EQ(yamux_input(&srv, bad, sizeof bad), YAMUX_EPROTO);

    CHECK_EQ(start_default(), 0);                /* unknown type */
    CHECK_EQ(raw(&srv, 9, 0, 0, 0, NULL, 0), YAMUX_EPROTO);
    CHECK_EQ(start_default(), 0);                /* the relay's own parity from the gateway */
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, 2, 0, NULL, 0), YAMUX_EPROTO);
    CHECK_EQ(start_default(), 0);                /* SYN twice */
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, 1, 0, NULL, 0), 12);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, 1, 0, NULL, 0), YAMUX_EPROTO);
    CHECK_EQ(start_default(), 0);                /* stream 0 */
    CHECK_EQ(raw(&srv, YAMUX_T_DATA, 0, 0, 0, NULL, 0), YAMUX_EPROTO);
}

/* A GoAway from the peer stops new streams here; ours refuses the peer's new SYNs while
 * streams already open go on. */
static void goaway_stops_new_streams_both_ways(void)
{
    uint8_t buf[8];
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli);
    CHECK_EQ(yamux_write(a, (const uint8_t *)"x", 1), 1);
    wire(64);
    struct yamux_stream *b = yamux_accept(&srv);
    yamux_goaway(&srv, YAMUX_GOAWAY_NORMAL);
    wire(64);
    CHECK_EQ(cli.goaway_recv, 0);
    CHECK(yamux_open(&cli) == NULL);
    CHECK(yamux_open(&srv) == NULL);
    CHECK_EQ(raw(&srv, YAMUX_T_WINDOW, YAMUX_F_SYN, 3, 0, NULL, 0), 12);
    CHECK(find_frame(drain(&srv), YAMUX_T_WINDOW, YAMUX_F_RST, 3) >= 0);
    CHECK_EQ(yamux_write(b, (const uint8_t *)"still", 5), 5);
    wire(64);
    CHECK_EQ(yamux_read(a, buf, sizeof buf), 5);
}

/* yamux_can_open() answers as yamux_open() would (a gateway asks before it reads a mail it
 * would deliver): yes on a fresh session, no with every slot in use and yes once one is
 * free again, no after the peer's GoAway. */
static void can_open_answers_as_open_would(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    cc.max_streams = 2;
    CHECK_EQ(start(&cc, &sc), 0);
    CHECK_EQ(yamux_can_open(&cli), 1);
    struct yamux_stream *a = yamux_open(&cli), *b = yamux_open(&cli);
    CHECK(a != NULL && b != NULL);
    CHECK_EQ(yamux_can_open(&cli), 0);
    CHECK(yamux_open(&cli) == NULL);
    yamux_release(a);                            /* its RST out: the slot is free */
    wire(64);
    CHECK_EQ(yamux_can_open(&cli), 1);
    CHECK(yamux_open(&cli) != NULL);
    CHECK_EQ(yamux_can_open(&cli), 0);
    yamux_release(b);
    wire(64);
    CHECK_EQ(yamux_can_open(&cli), 1);
    yamux_goaway(&srv, YAMUX_GOAWAY_NORMAL);
    wire(64);
    CHECK_EQ(yamux_can_open(&cli), 0);
    CHECK(yamux_open(&cli) == NULL);
}

/* ---- keepalive ---- */

static void keepalive_measures_rtt_and_detects_a_dead_link(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    cc.keepalive_ms = 1000;
    cc.dead_ms = 3000;
    CHECK_EQ(start(&cc, &sc), 0);
    CHECK_EQ(yamux_tick(&cli, 500), YAMUX_OK);
    CHECK_EQ(yamux_out_pending(&cli), 0);
    CHECK_EQ(yamux_tick(&cli, 1000), YAMUX_OK);
    CHECK_EQ(yamux_out_pending(&cli), YAMUX_HDR_LEN);    /* the ping */
    carry(&cli, &srv, 100);
    CHECK_EQ(yamux_tick(&cli, 1042), YAMUX_OK);
    carry(&srv, &cli, 100);
    CHECK_EQ(cli.rtt_ms, 42);
    CHECK_EQ(cli.ping_outstanding, 0);
    /* Now the peer goes silent. */
    struct yamux_stream *a = yamux_open(&cli);
    CHECK_EQ(yamux_tick(&cli, 2100), YAMUX_OK);          /* next ping out */
    drain(&cli);
    CHECK_EQ(yamux_tick(&cli, 5000), YAMUX_OK);
    CHECK_EQ(yamux_tick(&cli, 5100), YAMUX_EDEAD);
    CHECK_EQ(cli.state, YAMUX_SS_DEAD);
    uint8_t x;
    CHECK_EQ(yamux_read(a, &x, 1), YAMUX_EPROTO);
    CHECK(yamux_open(&cli) == NULL);
}

/* A tick with an earlier clock (the relay's timer pass takes its now before it services
 * tunnels that stamp a fresher one) moves nothing back: a ping and input a millisecond
 * "later" than now must not wrap into a link silent for 49 days. */
static void a_tick_from_an_earlier_clock_is_not_a_dead_link(void)
{
    struct yamux_config cc = config(1), sc = config(0);
    cc.keepalive_ms = 1000;
    cc.dead_ms = 3000;
    CHECK_EQ(start(&cc, &sc), 0);
    CHECK_EQ(yamux_tick(&cli, 1001), YAMUX_OK);          /* the ping goes at 1001 */
    CHECK(cli.ping_outstanding);
    CHECK(yamux_open(&srv) != NULL);                    /* the peer speaks (not the pong) */
    carry(&srv, &cli, 100);
    CHECK_EQ(yamux_tick(&cli, 1000), YAMUX_OK);          /* the pass's earlier now */
    CHECK_EQ(cli.state, YAMUX_SS_OPEN);
    CHECK_EQ(yamux_tick(&cli, 4000), YAMUX_OK);          /* the clock still runs on */
    CHECK_EQ(yamux_tick(&cli, 4001), YAMUX_EDEAD);       /* 3000 ms after the ping */
}

/* A window larger than the spec's 256 KiB is granted with the SYN (and accepted). */
static void a_larger_window_is_granted_with_syn_and_ack(void)
{
    static uint8_t buf[1u << 20];
    struct yamux_config cc = config(1), sc = config(0);
    cc.window = sc.window = 1u << 20;
    CHECK_EQ(start(&cc, &sc), 0);
    struct yamux_stream *a = yamux_open(&cli);
    wire(1000);
    struct yamux_stream *b = yamux_accept(&srv);
    CHECK(b);
    wire(1000);
    CHECK_EQ(b->tx_credit, 1u << 20);
    CHECK_EQ(a->tx_credit, 1u << 20);
    size_t sent = 0;
    for (int i = 0; i < 1000; i++) {
        long n = yamux_write(a, buf, sizeof buf);
        sent += (size_t)(n > 0 ? n : 0);
        wire(1 << 20);
    }
    CHECK_EQ(sent, 1u << 20);
    CHECK_EQ(yamux_readable(b), 1u << 20);
}

/* Many streams at once, interleaved, each byte-exact. */
static void many_interleaved_streams_are_each_byte_exact(void)
{
    enum { N = 64, LEN = 20000 };
    static uint8_t got[N][LEN];
    static size_t sent[N], rcvd[N];
    struct yamux_stream *a[N], *b[N];
    struct yamux_config cc = config(1), sc = config(0);
    cc.max_streams = sc.max_streams = N;
    CHECK_EQ(start(&cc, &sc), 0);
    memset(sent, 0, sizeof sent);
    memset(rcvd, 0, sizeof rcvd);
    memset(b, 0, sizeof b);
    for (int i = 0; i < N; i++) {
        a[i] = yamux_open(&cli);
        CHECK(a[i]);
        a[i]->user = (void *)(intptr_t)i;
    }
    uint8_t src[LEN];
    int done = 0;
    for (int round = 0; round < 10000 && done < N; round++) {
        for (int i = 0; i < N; i++) {
            if (sent[i] < LEN) {
                for (size_t k = 0; k < 997; k++) {
                    src[k] = pattern(sent[i] + k + (size_t)i);
                }
                size_t want = LEN - sent[i] < 997 ? LEN - sent[i] : 997;
                long n = yamux_write(a[i], src, want);
                CHECK(n >= 0);
                sent[i] += (size_t)n;
                if (sent[i] == LEN) {
                    yamux_close(a[i]);
                }
            }
        }
        carry(&cli, &srv, 333);
        struct yamux_stream *s;
        while ((s = yamux_accept(&srv)) != NULL) {
            b[(s->id - 1) / 2] = s;
        }
        for (int i = 0; i < N; i++) {
            long m = 0;
            while (b[i] && (m = yamux_read(b[i], got[i] + rcvd[i], LEN - rcvd[i] + 1)) > 0) {
                rcvd[i] += (size_t)m;
            }
            if (b[i] && m == YAMUX_EOF) {
                yamux_release(b[i]);
                b[i] = NULL;
                done++;
            }
        }
        carry(&srv, &cli, 333);
    }
    CHECK_EQ(done, N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(rcvd[i], LEN);
        for (size_t k = 0; k < LEN; k++) {
            CHECK_EQ(got[i][k], pattern(k + (size_t)i));
        }
    }
    printf("memory: struct yamux_session %zu bytes, struct yamux_stream %zu bytes, "
           "session block for 256 streams / 8 MiB pool / 64 KiB queue: %zu bytes\n",
           sizeof(struct yamux_session), sizeof(struct yamux_stream),
           yamux_mem_size(&(struct yamux_config){ .max_streams = 256,
               .window = YAMUX_INITIAL_WINDOW, .rx_pool = 8u << 20, .out_cap = 65536 }));
}

/* yamux_poll takes streams in the order their news came, each once, from a queue (no scan
 * of the slots): a slot freed while queued and reused reports its new stream's news once,
 * and a stream still in the backlog reports only after yamux_accept. */
static void poll_reports_news_in_order_each_stream_once(void)
{
    uint8_t buf[16] = "x";
    unsigned ev = 0;
    CHECK_EQ(start_default(), 0);
    struct yamux_stream *a = yamux_open(&cli), *b = yamux_open(&cli), *c = yamux_open(&cli);
    CHECK(a && b && c);
    CHECK_EQ(yamux_write(c, buf, 1), 1);
    CHECK_EQ(yamux_write(a, buf, 1), 1);
    wire(65536);
    /* the relay's side: three in the backlog, news only once accepted */
    CHECK(yamux_poll(&srv, &ev) == NULL);
    struct yamux_stream *sa = yamux_accept(&srv), *sb = yamux_accept(&srv);
    CHECK(sa && sb && sa->id == a->id && sb->id == b->id);
    CHECK(yamux_poll(&srv, &ev) == sa);
    CHECK(yamux_poll(&srv, &ev) == sb);
    CHECK(yamux_poll(&srv, &ev) == NULL);
    struct yamux_stream *sc = yamux_accept(&srv);
    CHECK(sc && sc->id == c->id);
    CHECK(yamux_poll(&srv, &ev) == sc);
    CHECK(ev & YAMUX_EV_READ);
    CHECK(yamux_poll(&srv, &ev) == NULL);
    /* news for c, then a: that order, each once however often it came */
    while (yamux_poll(&cli, &ev) != NULL) {
    }
    CHECK_EQ(yamux_write(sc, buf, 1), 1);
    CHECK_EQ(yamux_write(sa, buf, 1), 1);
    CHECK_EQ(yamux_write(sc, buf, 1), 1);
    wire(65536);
    CHECK(yamux_poll(&cli, &ev) == c);
    CHECK(yamux_poll(&cli, &ev) == a);
    CHECK(yamux_poll(&cli, &ev) == NULL);
    /* b is queued with news, then reset and released; its slot goes to a new stream */
    CHECK_EQ(yamux_write(sb, buf, 1), 1);
    wire(65536);
    unsigned slot = (unsigned)(b - cli.streams);
    yamux_reset(b);
    yamux_release(b);
    wire(65536);
    struct yamux_stream *d = yamux_open(&cli);
    CHECK(d != NULL);
    CHECK_EQ((unsigned)(d - cli.streams), slot);
    CHECK_EQ(yamux_write(sa, buf, 1), 1);
    wire(65536);
    yamux_release(yamux_accept(&srv));
    wire(65536);
    struct yamux_stream *got[4] = { NULL, NULL, NULL, NULL };
    int n = 0;
    while (n < 4 && (got[n] = yamux_poll(&cli, &ev)) != NULL) {
        n++;
    }
    CHECK_EQ(n, 2);                  /* d (its RST from the relay) and a, once each */
    CHECK(got[0] != got[1]);
    CHECK((got[0] == d || got[0] == a) && (got[1] == d || got[1] == a));
}

CHECK_MAIN(
    { "frames_split_at_every_boundary_give_the_same_result",
      frames_split_at_every_boundary_give_the_same_result },
    { "bulk_transfer_through_odd_pieces_is_byte_exact",
      bulk_transfer_through_odd_pieces_is_byte_exact },
    { "reserved_writes_across_the_queue_wrap_are_byte_exact",
      reserved_writes_across_the_queue_wrap_are_byte_exact },
    { "a_reader_that_stops_gets_back_pressure_not_a_queue",
      a_reader_that_stops_gets_back_pressure_not_a_queue },
    { "output_queue_is_bounded", output_queue_is_bounded },
    { "writers_take_turns_at_a_full_output_queue", writers_take_turns_at_a_full_output_queue },
    { "a_full_receive_pool_stops_input_until_read", a_full_receive_pool_stops_input_until_read },
    { "a_stream_sitting_on_the_whole_pool_is_reset_after_the_stall_time",
      a_stream_sitting_on_the_whole_pool_is_reset_after_the_stall_time },
    { "streams_holding_little_are_reset_after_the_stall_time_too",
      streams_holding_little_are_reset_after_the_stall_time_too },
    { "many_streams_nobody_reads_cannot_stop_the_session",
      many_streams_nobody_reads_cannot_stop_the_session },
    { "slow_readers_that_progress_are_never_reset", slow_readers_that_progress_are_never_reset },
    { "slow_readers_that_keep_the_pool_full_do_not_kill_the_link",
      slow_readers_that_keep_the_pool_full_do_not_kill_the_link },
    { "a_reader_pausing_briefly_is_not_sacrificed_to_fresh_streams",
      a_reader_pausing_briefly_is_not_sacrificed_to_fresh_streams },
    { "half_close_works_both_ways", half_close_works_both_ways },
    { "reset_reaches_the_other_side_and_frees_both_slots",
      reset_reaches_the_other_side_and_frees_both_slots },
    { "window_update_overflow_resets_the_stream", window_update_overflow_resets_the_stream },
    { "data_syn_larger_than_the_window_is_refused", data_syn_larger_than_the_window_is_refused },
    { "data_beyond_the_window_resets_the_stream", data_beyond_the_window_resets_the_stream },
    { "data_after_fin_resets_the_stream", data_after_fin_resets_the_stream },
    { "ping_flood_owes_a_bounded_number_of_replies", ping_flood_owes_a_bounded_number_of_replies },
    { "streams_beyond_the_limit_are_reset", streams_beyond_the_limit_are_reset },
    { "frames_for_unknown_streams_are_ignored", frames_for_unknown_streams_are_ignored },
    { "protocol_errors_fail_the_session_with_goaway",
      protocol_errors_fail_the_session_with_goaway },
    { "goaway_stops_new_streams_both_ways", goaway_stops_new_streams_both_ways },
    { "can_open_answers_as_open_would", can_open_answers_as_open_would },
    { "a_reserve_keeps_slots_for_our_own_streams", a_reserve_keeps_slots_for_our_own_streams },
    { "keepalive_measures_rtt_and_detects_a_dead_link",
      keepalive_measures_rtt_and_detects_a_dead_link },
    { "a_tick_from_an_earlier_clock_is_not_a_dead_link",
      a_tick_from_an_earlier_clock_is_not_a_dead_link },
    { "a_larger_window_is_granted_with_syn_and_ack", a_larger_window_is_granted_with_syn_and_ack },
    { "many_interleaved_streams_are_each_byte_exact",
      many_interleaved_streams_are_each_byte_exact },
    { "poll_reports_news_in_order_each_stream_once",
      poll_reports_news_in_order_each_stream_once })
