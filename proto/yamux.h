/* yamux: many byte streams over one reliable byte stream, exactly as in hashicorp's spec
 * (github.com/hashicorp/yamux, spec.md), so that any conforming peer interoperates.
 *
 * Frame: a 12-byte header, big-endian, then Length payload bytes for Data frames only:
 *
 *     Version(1)=0  Type(1)  Flags(2)  StreamID(4)  Length(4)
 *     Type  0 Data          Length = payload bytes that follow
 *           1 WindowUpdate  Length = window increment (no payload)
 *           2 Ping          Length = opaque value echoed back (StreamID 0, no payload)
 *           3 GoAway        Length = 0 normal, 1 protocol error, 2 internal error
 *     Flags SYN 1 (open)  ACK 2 (accept / ping reply)  FIN 4 (half-close)  RST 8 (abort)
 *
 * Every stream starts with a 256 KiB receive window in each direction; a receiver grants
 * more with WindowUpdate. The client (the gateway) opens odd stream IDs, the server (the
 * relay) even ones.
 *
 * This module is the session state machine only, with no transport and no clock of its own:
 *
 *   - bytes received from the transport go into yamux_input(), in pieces of any size (a
 *     frame may be split at any byte); it returns how many it consumed. It consumes less
 *     than it was given only when the receive pool is full: the transport then keeps the
 *     rest and stops reading, so TCP's own window throttles the peer;
 *   - bytes to send come out of a bounded output queue: yamux_out_peek() shows them,
 *     yamux_out_consume() drops what the transport took;
 *   - time comes in as milliseconds through yamux_tick() (keepalive ping, RTT, dead link).
 *
 * The application opens (yamux_open), accepts (yamux_accept), reads, writes, half-closes
 * (yamux_close: FIN), aborts (yamux_reset: RST) and releases streams, and learns what
 * changed from yamux_poll(). Nothing calls back into the application, so it may do
 * anything (release a stream, write, read) at any time.
 *
 * Back-pressure, both ways:
 *   - receiving: a stream's window is granted back to the peer only as the application
 *     reads (WindowUpdate once half a window was consumed), so a stream buffers at most its
 *     window; all streams together buffer at most the session's receive pool;
 *   - the pool policy: a window once granted cannot be revoked (the spec), so streams that
 *     are not read can fill a pool smaller than their windows, and then input stops for the
 *     whole session (pings included). When a Data frame finds the pool full, the stream
 *     holding the most of it among the stalled ones is reset (RST, its chunks freed,
 *     stats.pool_resets, a log line at most once a second) and input goes on. Stalled: no
 *     progress (YAMUX_PROGRESS_MIN bytes read, or all it held) for YAMUX_STALL_MS, the same
 *     for every stream, so a reader that pauses briefly (a retransmission on its LAN) is
 *     never the one sacrificed to streams that filled the pool after it. If no holder is
 *     stalled, input waits as above: a reader that progresses is never reset, and under
 *     normal load the pool is not full at all (time: the now_ms of yamux_tick);
 *   - liveness: a link is dead when a ping has gone unanswered for dead_ms *and* nothing at
 *     all arrived for dead_ms; a ping whose answer is late is sent again (same ID) every
 *     keepalive_ms, so each side keeps hearing from the other. Readers that drain slowly may
 *     keep a pool full and queue the ping replies behind their data: the link is slow then,
 *     not dead;
 *   - sending: yamux_write() takes only what the peer's window and the output queue allow
 *     and returns 0 otherwise (YAMUX_EV_WRITE tells when to retry). Control frames (ACK,
 *     FIN, RST, WindowUpdate, pings) are owed as per-stream bits, not queued, and go out
 *     first whenever the output queue has room; a slice of the queue is kept for them.
 *
 * Defences (each with a log line and a counter in struct yamux_stats):
 *   - bad version, unknown type, SYN for an ID of our parity or an open ID, a stream ID 0
 *     Data/WindowUpdate: protocol error, GoAway(1), the session fails;
 *   - data beyond the window (also a Data+SYN larger than the initial window), data after
 *     the peer's FIN, a WindowUpdate that would overflow the 32-bit window: RST that stream;
 *   - SYN beyond the stream limit (own_reserve slots short of it), after our GoAway, or
 *     reusing an old ID: RST, no state;
 *   - frames for unknown (closed, released) streams: payload discarded, nothing kept;
 *   - ping flood: at most YAMUX_PONG_MAX replies owed; further pings are dropped.
 *
 * Memory: the caller gives one block of yamux_mem_size(cfg) bytes at yamux_init() (static
 * on the gateway, one allocation per tunnel on the relay): the stream table
 * (cfg->max_streams * sizeof(struct yamux_stream), 80 bytes each on 64-bit), the receive
 * pool (cfg->rx_pool bytes in YAMUX_CHUNK-byte chunks) and the output queue
 * (cfg->out_cap bytes). Nothing is allocated afterwards, and pool chunks are first touched
 * when first used, so a large pool in lazily committed memory (malloc/mmap on Linux) costs
 * only what was ever buffered at once. */
#ifndef GW_YAMUX_H
#define GW_YAMUX_H

#include <stddef.h>
#include <stdint.h>

/* ---- the wire ---- */
#define YAMUX_HDR_LEN 12
#define YAMUX_VERSION 0
enum yamux_type { YAMUX_T_DATA = 0, YAMUX_T_WINDOW = 1, YAMUX_T_PING = 2, YAMUX_T_GOAWAY = 3 };
#define YAMUX_F_SYN 0x1u
#define YAMUX_F_ACK 0x2u
#define YAMUX_F_FIN 0x4u
#define YAMUX_F_RST 0x8u
enum yamux_goaway { YAMUX_GOAWAY_NORMAL = 0, YAMUX_GOAWAY_PROTO = 1, YAMUX_GOAWAY_INTERNAL = 2 };
#define YAMUX_INITIAL_WINDOW (256u * 1024u)

/* ---- limits (the memory each costs is in the comment) ---- */
#define YAMUX_CHUNK 2048         /* receive pool unit: 8-byte header + 2040 data bytes; a
                                    stream wastes at most one partly filled chunk */
#define YAMUX_FRAME_MAX 16384    /* largest Data frame we send (one TLS record's worth) */
#define YAMUX_PONG_MAX 4         /* ping replies owed at once (16 bytes); more: dropped */
#define YAMUX_RST_MAX 16         /* RSTs owed for refused SYNs that got no slot (64 B) */
#define YAMUX_CTL_RESERVE (8 * YAMUX_HDR_LEN)  /* output kept free for control frames */
#define YAMUX_NAME_MAX 80        /* session name in log lines */
#define YAMUX_STALL_MS 2000      /* a stream that made no progress for this long while the
                                    receive pool is full is reset (the pool policy, above) */
#define YAMUX_PROGRESS_MIN 2048  /* progress: this much read, or everything buffered; a
                                    few bytes now and then (a TCP peer's zero-window
                                    probes taken) do not count */

/* Return codes: negative, from this one enum. */
enum yamux_err {
    YAMUX_OK = 0,
    YAMUX_EOF = -1,              /* read: the peer half-closed and everything was read */
    YAMUX_ERESET = -2,           /* the stream was reset (by either side) */
    YAMUX_ECLOSED = -3,          /* write after our own close */
    YAMUX_EPROTO = -4,           /* the session failed: protocol error (GoAway sent) */
    YAMUX_ELIMIT = -5,           /* no stream slot or ID left */
    YAMUX_EGOAWAY = -6,          /* a GoAway was sent or received: no new streams */
    YAMUX_EINVAL = -7,           /* bad configuration or memory block */
    YAMUX_EDEAD = -8,            /* keepalive: a ping went unanswered for dead_ms */
};

/* A stream's life, as in hashicorp's implementation. */
enum yamux_stream_state {
    YAMUX_S_IDLE,                /* free slot */
    YAMUX_S_SYN_SENT,            /* we opened it, no ACK yet (we may already send) */
    YAMUX_S_SYN_RECV,            /* the peer opened it, not accepted yet */
    YAMUX_S_OPEN,                /* both ways open */
    YAMUX_S_LOCAL_CLOSED,        /* we sent FIN; the peer may still send */
    YAMUX_S_REMOTE_CLOSED,       /* the peer sent FIN; we may still send */
    YAMUX_S_CLOSED,              /* FIN both ways; unread data may remain */
    YAMUX_S_RESET,               /* RST sent or received: over */
};

/* Who holds a stream slot besides the session. */
enum yamux_holder {
    YAMUX_H_BACKLOG,             /* peer-opened, waiting in the accept backlog */
    YAMUX_H_APP,                 /* the application has it */
    YAMUX_H_RELEASED,            /* released; the slot frees once its last frame is out */
};

/* yamux_poll() events. */
#define YAMUX_EV_READ 0x1u       /* data, FIN or RST arrived: a read makes progress */
#define YAMUX_EV_WRITE 0x2u      /* a write that returned 0 may now take bytes */

enum yamux_session_state {
    YAMUX_SS_OPEN,               /* working (a GoAway may restrict new streams) */
    YAMUX_SS_FAILED,             /* protocol error: GoAway queued, input refused */
    YAMUX_SS_DEAD,               /* keepalive failed */
};

struct yamux_config {
    int client;                  /* 1: we open odd IDs (gateway); 0: even (relay) */
    unsigned max_streams;        /* slots: open, half-closed and backlog streams */
    unsigned own_reserve;        /* of them, kept for streams we open: the peer's SYN is
                                    refused while no more than these are free */
    uint32_t window;             /* receive window per stream, >= YAMUX_INITIAL_WINDOW;
                                    the excess is granted with the SYN/ACK */
    size_t rx_pool;              /* received bytes buffered across all streams */
    size_t out_cap;              /* output queue bytes (>= 1 KiB) */
    uint32_t keepalive_ms;       /* ping after this long without one; 0: never */
    uint32_t dead_ms;            /* an unanswered ping this old: the link is dead */
    const char *name;            /* for log lines ("loc1 tunnel 3") */
};

struct yamux_session;

struct yamux_stream {
    uint32_t id;
    uint8_t state;               /* enum yamux_stream_state */
    uint8_t holder;              /* enum yamux_holder */
    uint16_t owed;               /* control flags still to send: YAMUX_F_* */
    uint8_t events;              /* YAMUX_EV_* not yet reported by yamux_poll() */
    uint8_t want_write;          /* a write came back short: report YAMUX_EV_WRITE */
    uint8_t reset_here;          /* we reset it (a violation, or it sat on the pool unread) */
    uint8_t queued;              /* on the session's ready queue (kept across slot reuse) */
    uint32_t tx_credit;          /* bytes the peer lets us send */
    uint32_t rx_window;          /* bytes we let the peer send */
    uint32_t rx_unacked;         /* read by the application, not yet granted back */
    uint32_t rx_buffered;        /* received, not yet read */
    uint32_t rx_head, rx_tail;   /* chunk list (YAMUX_NONE: empty) */
    uint32_t rx_since_ms;        /* the pool policy's clock (now_ms of yamux_tick): when
                                    unread data began to wait, or the last progress */
    uint32_t rx_progress;        /* bytes read since rx_since_ms */
    uint32_t ready_next;         /* the next slot on the ready queue (YAMUX_NONE: last) */
    uint64_t bytes_in, bytes_out;
    struct yamux_session *sess;
    void *user;                  /* the application's */
};

struct yamux_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint32_t streams_opened, streams_accepted, streams_refused;
    uint32_t violations;         /* stream-level protocol violations answered by RST */
    uint32_t unknown_frames;     /* frames for streams we do not have */
    uint32_t pings_dropped;      /* ping replies not owed because too many were */
    uint32_t input_stalls;       /* times the receive pool was full and input waited */
    uint32_t pool_resets;        /* streams reset for sitting on the full pool unread */
};

enum yamux_in_state { YAMUX_IN_HDR, YAMUX_IN_DATA, YAMUX_IN_SKIP };

struct yamux_session {
    struct yamux_config cfg;
    enum yamux_session_state state;
    char name[YAMUX_NAME_MAX];
    /* tables inside the caller's block */
    struct yamux_stream *streams;
    unsigned nstreams_used, backlog;
    struct yamux_chunk *chunks;
    uint32_t nchunks, free_chunk, fresh_chunk, chunks_free;
    uint8_t *out;
    size_t out_head, out_len;
    /* IDs */
    uint32_t next_id;            /* ours; 0 when exhausted */
    uint32_t peer_last_id;       /* highest ID the peer opened */
    /* input */
    enum yamux_in_state in_state;
    uint8_t hdr[YAMUX_HDR_LEN];
    size_t hdr_len;
    uint32_t in_id, in_left;     /* frame being received: stream, payload bytes left */
    unsigned in_flags;
    int in_blocked;              /* the receive pool was full at the last input */
    uint32_t pool_log_ms;        /* last pool-reset log line (at most one a second) */
    /* control owed at session level */
    uint32_t pongs[YAMUX_PONG_MAX];
    unsigned npongs;
    uint32_t rsts[YAMUX_RST_MAX];
    unsigned nrsts;
    int ctl_dirty;               /* some stream may owe a control frame */
    int writers_waiting;         /* some stream's write came back short for queue space */
    uint32_t wake_from;          /* the slot wake_writers looks at first (round robin) */
    int ping_owed;
    int goaway_owed;             /* -1, or the code still to send */
    int goaway_sent, goaway_recv;   /* -1, or the code */
    /* keepalive */
    uint32_t now_ms;
    uint32_t ping_id, ping_sent_ms, last_ping_ms;
    uint32_t last_in_ms;         /* now_ms when input bytes were last taken: liveness */
    int ping_outstanding;
    uint32_t rtt_ms;             /* last measured round trip; 0 until the first reply */
    /* streams that got events, oldest first: yamux_poll takes from the head, so a turn
     * with one busy stream among thousands of slots costs O(1), not a scan */
    uint32_t ready_head, ready_tail;
    struct yamux_stats stats;
};

#define YAMUX_NONE 0xffffffffu

/* The same as a constant expression, for static blocks (the receive pool rounded down to
 * whole chunks, as yamux_mem_size does). */
#define YAMUX_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
#define YAMUX_MEM_SIZE(streams, pool, out)                                                   \
    (YAMUX_ALIGN8((size_t)(streams) * sizeof(struct yamux_stream))                          \
     + (size_t)(pool) / YAMUX_CHUNK * YAMUX_CHUNK + YAMUX_ALIGN8((size_t)(out)))
/* Bytes the caller's block must hold for cfg (0: cfg is invalid). */
size_t yamux_mem_size(const struct yamux_config *cfg);
/* Start a session in mem (len >= yamux_mem_size(cfg), 8-byte aligned). Returns YAMUX_OK or
 * YAMUX_EINVAL. now_ms is the time base for keepalive. */
int yamux_init(struct yamux_session *s, const struct yamux_config *cfg, void *mem, size_t len,
               uint32_t now_ms);

/* Received transport bytes: returns how many were consumed (less than len only when the
 * receive pool is full: feed the rest after the application read something), or
 * YAMUX_EPROTO once the session failed. Bytes after a fatal error are ignored. */
long yamux_input(struct yamux_session *s, const uint8_t *p, size_t len);
/* Was the last yamux_input() cut short by a full receive pool? */
int yamux_input_blocked(const struct yamux_session *s);

/* The output queue: a contiguous run of bytes to send (0: none), then how many were sent. */
size_t yamux_out_peek(struct yamux_session *s, const uint8_t **p);
void yamux_out_consume(struct yamux_session *s, size_t n);
size_t yamux_out_pending(const struct yamux_session *s);

/* Keepalive: call now and then with the time (and on every wake-up, cheaply). Returns
 * YAMUX_OK, or YAMUX_EDEAD once a ping went unanswered for dead_ms. */
int yamux_tick(struct yamux_session *s, uint32_t now_ms);
/* Send a ping now (if none is outstanding), for an RTT figure on demand. */
void yamux_ping(struct yamux_session *s, uint32_t now_ms);
/* Tell the peer we go away (no new streams either way); existing streams go on. */
void yamux_goaway(struct yamux_session *s, enum yamux_goaway code);

/* Open a stream (SYN goes out with the first write or control frame). NULL when the
 * session failed, a GoAway was sent or received, or no slot or ID is left. */
struct yamux_stream *yamux_open(struct yamux_session *s);
/* 1 when yamux_open() would give a stream now, 0 when it would give NULL. */
int yamux_can_open(const struct yamux_session *s);
/* The oldest peer-opened stream waiting to be accepted (it is ACKed now), or NULL. */
struct yamux_stream *yamux_accept(struct yamux_session *s);
/* The next held stream with news, its events in *ev (cleared); NULL when none. */
struct yamux_stream *yamux_poll(struct yamux_session *s, unsigned *ev);

/* Received bytes: how many (0: none yet), YAMUX_EOF after the peer's FIN and all data,
 * YAMUX_ERESET. Reading is what grants the peer more window. */
long yamux_read(struct yamux_stream *st, uint8_t *buf, size_t len);
/* Bytes ready to read. */
size_t yamux_readable(const struct yamux_stream *st);
/* Zero-copy reading (a splice hands received bytes straight to TCP): the next contiguous
 * run of received bytes (0: none), then how many of them were used; consuming grants the
 * peer window exactly as reading does. */
size_t yamux_peek(struct yamux_stream *st, const uint8_t **p);
void yamux_consume(struct yamux_stream *st, size_t n);
/* Queue bytes: how many were taken (0: window or output queue full: wait for
 * YAMUX_EV_WRITE), YAMUX_ECLOSED after yamux_close(), YAMUX_ERESET, YAMUX_EPROTO. */
long yamux_write(struct yamux_stream *st, const uint8_t *p, size_t len);
/* Bytes one yamux_write() takes in full now (0: wait for YAMUX_EV_WRITE), so a splice
 * reads from the other side no more than can go on. */
size_t yamux_write_room(struct yamux_stream *st);
/* Zero-copy writing (a splice reads from TCP straight into the output queue): room for one
 * Data frame, at most yamux_write_room() bytes, as one or two spans (the queue wraps; the
 * second's len may be 0); then yamux_write_commit() of the first n of those bytes puts the
 * frame's header before them. Nothing may write to the session in between; a reservation
 * not committed costs nothing; committing more than the room resets the stream. */
struct yamux_span {
    uint8_t *p;
    size_t len;
};
size_t yamux_write_reserve(struct yamux_stream *st, struct yamux_span span[2]);
void yamux_write_commit(struct yamux_stream *st, size_t n);
/* Half-close: FIN after everything written so far. Reading goes on. */
void yamux_close(struct yamux_stream *st);
/* Abort both ways: RST, unread data dropped. */
void yamux_reset(struct yamux_stream *st);
/* The application is done with st (RST first unless it is closed both ways); the slot is
 * reused once its last control frame is out. st must not be used afterwards. */
void yamux_release(struct yamux_stream *st);

/* Streams in use (any state but idle), and the session's counters. */
unsigned yamux_stream_count(const struct yamux_session *s);
const char *yamux_state_name(enum yamux_stream_state st);

/* Frame header codec, for tests and fuzzing. */
struct yamux_hdr {
    uint8_t version, type;
    uint16_t flags;
    uint32_t id, length;
};
void yamux_hdr_encode(const struct yamux_hdr *h, uint8_t out[YAMUX_HDR_LEN]);
void yamux_hdr_decode(const uint8_t in[YAMUX_HDR_LEN], struct yamux_hdr *h);

#endif
