/* see yamux.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "yamux.h"

/* Received bytes live in chunks of the session's pool, a singly linked list per stream. */
#define CHUNK_DATA (YAMUX_CHUNK - 8)
struct yamux_chunk {
    uint32_t next;
    uint16_t start, end;         /* unread bytes are data[start..end) */
    uint8_t data[CHUNK_DATA];
};

_Static_assert(sizeof(struct yamux_chunk) == YAMUX_CHUNK, "YAMUX_MEM_SIZE assumes this");

/* Owed besides the wire flags: a WindowUpdate granting rx_unacked. */
#define OWE_WND 0x100u

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

/* see yamux.h */
void yamux_hdr_encode(const struct yamux_hdr *h, uint8_t out[YAMUX_HDR_LEN])
{
    out[0] = h->version;
    out[1] = h->type;
    put_be16(out + 2, h->flags);
    put_be32(out + 4, h->id);
    put_be32(out + 8, h->length);
}

/* see yamux.h */
void yamux_hdr_decode(const uint8_t in[YAMUX_HDR_LEN], struct yamux_hdr *h)
{
    h->version = in[0];
    h->type = in[1];
    h->flags = (uint16_t)(in[2] << 8 | in[3]);
    h->id = get_be32(in + 4);
    h->length = get_be32(in + 8);
}

/* see yamux.h */
const char *yamux_state_name(enum yamux_stream_state st)
{
    static const char *const names[] = { "idle", "syn-sent", "syn-recv", "open",
                                         "local-closed", "remote-closed", "closed", "reset" };
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

static void slog(const struct yamux_session *s, enum log_level lv, const char *fn,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void slog(const struct yamux_session *s, enum log_level lv, const char *fn,
                 const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(lv, "%s: %s: %s", fn, s->name, msg);
}

/* ---- the output queue ---- */

static size_t out_free(const struct yamux_session *s)
{
    return s->cfg.out_cap - s->out_len;
}

static void out_put(struct yamux_session *s, const uint8_t *p, size_t n)
{
    size_t tail = (s->out_head + s->out_len) % s->cfg.out_cap;
    size_t first = n < s->cfg.out_cap - tail ? n : s->cfg.out_cap - tail;
    memcpy(s->out + tail, p, first);
    memcpy(s->out, p + first, n - first);
    s->out_len += n;
}

/* A frame header (and for Data its payload) into the queue; the caller checked the room. */
static void emit(struct yamux_session *s, enum yamux_type type, unsigned flags, uint32_t id,
                 uint32_t length, const uint8_t *payload)
{
    uint8_t h[YAMUX_HDR_LEN];
    struct yamux_hdr hd = { YAMUX_VERSION, (uint8_t)type, (uint16_t)flags, id, length };
    yamux_hdr_encode(&hd, h);
    out_put(s, h, sizeof h);
    if (payload) {
        out_put(s, payload, length);
        s->stats.bytes_out += length;
    }
    s->stats.frames_out++;
}

/* ---- the receive pool ---- */

/* Freed chunks first (LIFO: recently used memory is reused), then never-used ones in
 * order, so a pool that is never filled is never touched (on Linux: never committed). */
static uint32_t chunk_alloc(struct yamux_session *s)
{
    uint32_t i = s->free_chunk;
    if (i != YAMUX_NONE) {
        s->free_chunk = s->chunks[i].next;
    } else if (s->fresh_chunk < s->nchunks) {
        i = s->fresh_chunk++;
    } else {
        return YAMUX_NONE;
    }
    s->chunks[i].next = YAMUX_NONE;
    s->chunks[i].start = s->chunks[i].end = 0;
    s->chunks_free--;
    return i;
}

static void chunk_free(struct yamux_session *s, uint32_t i)
{
    s->chunks[i].next = s->free_chunk;
    s->free_chunk = i;
    s->chunks_free++;
}

static void rx_drop(struct yamux_session *s, struct yamux_stream *st)
{
    while (st->rx_head != YAMUX_NONE) {
        uint32_t next = s->chunks[st->rx_head].next;
        chunk_free(s, st->rx_head);
        st->rx_head = next;
    }
    st->rx_tail = YAMUX_NONE;
    st->rx_buffered = 0;
}

/* Appends what fits in the pool; returns how much that was. */
static size_t rx_append(struct yamux_session *s, struct yamux_stream *st, const uint8_t *p,
                        size_t n)
{
    size_t done = 0;
    while (done < n) {
        struct yamux_chunk *c = st->rx_tail != YAMUX_NONE ? &s->chunks[st->rx_tail] : NULL;
        if (c == NULL || c->end == CHUNK_DATA) {
            uint32_t i = chunk_alloc(s);
            if (i == YAMUX_NONE) {
                break;
            }
            if (c) {
                c->next = i;
            } else {
                st->rx_head = i;
            }
            st->rx_tail = i;
            c = &s->chunks[i];
        }
        size_t k = n - done < (size_t)(CHUNK_DATA - c->end) ? n - done
                                                             : (size_t)(CHUNK_DATA - c->end);
        memcpy(c->data + c->end, p + done, k);
        c->end = (uint16_t)(c->end + k);
        done += k;
    }
    if (st->rx_buffered == 0 && done > 0) {
        st->rx_since_ms = s->now_ms;    /* unread data starts to wait now */
        st->rx_progress = 0;
    }
    st->rx_buffered += (uint32_t)done;
    return done;
}

/* ---- streams ---- */

static struct yamux_stream *find(struct yamux_session *s, uint32_t id)
{
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state != YAMUX_S_IDLE && st->id == id) {
            return st;
        }
    }
    return NULL;
}

_Static_assert(sizeof(void *) != 8 || sizeof(struct yamux_stream) == 80,
               "yamux.h promises 80 bytes a slot on 64-bit (the ready link fills padding)");

/* Gives st events for yamux_poll and queues it once (a queued slot stays queued while it is
 * freed and reused: yamux_poll skips what no longer has news). */
static void notify(struct yamux_stream *st, unsigned ev)
{
    struct yamux_session *s = st->sess;
    st->events |= (uint8_t)ev;
    if (st->queued) {
        return;
    }
    uint32_t i = (uint32_t)(st - s->streams);
    st->queued = 1;
    st->ready_next = YAMUX_NONE;
    if (s->ready_head == YAMUX_NONE) {
        s->ready_head = i;
    } else {
        s->streams[s->ready_tail].ready_next = i;
    }
    s->ready_tail = i;
}

static struct yamux_stream *slot_new(struct yamux_session *s, uint32_t id,
                                     enum yamux_stream_state state, enum yamux_holder holder)
{
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state == YAMUX_S_IDLE) {
            uint8_t queued = st->queued;
            uint32_t ready_next = st->ready_next;
            memset(st, 0, sizeof *st);
            st->queued = queued;             /* still linked on the ready queue */
            st->ready_next = ready_next;
            st->id = id;
            st->state = state;
            st->holder = holder;
            st->sess = s;
            st->tx_credit = YAMUX_INITIAL_WINDOW;
            st->rx_window = YAMUX_INITIAL_WINDOW;
            st->rx_unacked = s->cfg.window - YAMUX_INITIAL_WINDOW;   /* granted with SYN/ACK */
            st->rx_head = st->rx_tail = YAMUX_NONE;
            s->nstreams_used++;
            return st;
        }
    }
    return NULL;
}

/* A slot is free again when nobody holds it and it owes nothing. */
static void maybe_free(struct yamux_session *s, struct yamux_stream *st)
{
    if (st->state == YAMUX_S_IDLE || st->owed != 0) {
        return;
    }
    int backlog_dead = st->holder == YAMUX_H_BACKLOG && st->state == YAMUX_S_RESET;
    if (st->holder != YAMUX_H_RELEASED && !backlog_dead) {
        return;
    }
    if (st->holder == YAMUX_H_BACKLOG) {
        s->backlog--;
    }
    rx_drop(s, st);
    st->state = YAMUX_S_IDLE;
    s->nstreams_used--;
}

/* Over: unread data dropped, RST owed unless the peer sent it. */
static void stream_abort(struct yamux_session *s, struct yamux_stream *st, int send_rst)
{
    rx_drop(s, st);
    st->state = YAMUX_S_RESET;
    st->owed = send_rst ? YAMUX_F_RST : 0;
    st->reset_here = (uint8_t)(send_rst != 0);
    s->ctl_dirty |= send_rst;
    notify(st, YAMUX_EV_READ | YAMUX_EV_WRITE);
    maybe_free(s, st);
}

static void violation(struct yamux_session *s, struct yamux_stream *st, const char *what)
{
    slog(s, LOG_WARN, __func__, "stream %lu: %s: reset", (unsigned long)st->id, what);
    s->stats.violations++;
    stream_abort(s, st, 1);
}

/* The pool policy (yamux.h): a holder that made no progress for YAMUX_STALL_MS may be
 * reset for a full pool. One time for all: a shorter one for big holders let fresh streams
 * that filled the pool pick an innocent big transfer whose reader paused for a moment. */
static int stalled(const struct yamux_session *s, const struct yamux_stream *st)
{
    return s->now_ms - st->rx_since_ms >= YAMUX_STALL_MS;
}

/* The pool is full: reset the stalled stream that holds the most of it. Returns 1 if one
 * was reset, 0 when no holder is stalled (input then waits for them). */
static int pool_reclaim(struct yamux_session *s)
{
    struct yamux_stream *v = NULL;
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state != YAMUX_S_IDLE && st->state != YAMUX_S_RESET && st->rx_buffered > 0
            && stalled(s, st) && (v == NULL || st->rx_buffered > v->rx_buffered)) {
            v = st;
        }
    }
    if (v == NULL) {
        return 0;
    }
    if (s->stats.pool_resets++ == 0 || s->now_ms - s->pool_log_ms >= 1000) {
        slog(s, LOG_WARN, __func__,
             "stream %lu: %lu bytes on the full receive pool, no progress for %lu ms: "
             "reset (%lu such resets)", (unsigned long)v->id, (unsigned long)v->rx_buffered,
             (unsigned long)(s->now_ms - v->rx_since_ms), (unsigned long)s->stats.pool_resets);
        s->pool_log_ms = s->now_ms;
    }
    stream_abort(s, v, 1);
    return 1;
}

static void abort_all(struct yamux_session *s)
{
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state != YAMUX_S_IDLE) {
            stream_abort(s, st, 0);
        }
    }
}

/* ---- control frames owed ---- */

static void wake_writers(struct yamux_session *s)
{
    if (!s->writers_waiting || out_free(s) < YAMUX_HDR_LEN + YAMUX_CTL_RESERVE + 512) {
        return;
    }
    s->writers_waiting = 0;
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->want_write && st->tx_credit > 0) {
            st->want_write = 0;
            notify(st, YAMUX_EV_WRITE);
        }                   /* a stream out of window is woken by its WindowUpdate instead */
    }
}

/* Everything owed that fits: pongs first (they measure latency), then our ping, RSTs for
 * refused SYNs, per-stream flags and window updates, and a GoAway last. */
static void flush_control(struct yamux_session *s)
{
    if (s->state == YAMUX_SS_DEAD) {
        return;
    }
    while (s->npongs && out_free(s) >= YAMUX_HDR_LEN) {
        emit(s, YAMUX_T_PING, YAMUX_F_ACK, 0, s->pongs[0], NULL);
        memmove(s->pongs, s->pongs + 1, --s->npongs * sizeof s->pongs[0]);
    }
    if (s->ping_owed && out_free(s) >= YAMUX_HDR_LEN) {
        emit(s, YAMUX_T_PING, YAMUX_F_SYN, 0, s->ping_id, NULL);
        s->ping_owed = 0;
    }
    while (s->nrsts && out_free(s) >= YAMUX_HDR_LEN) {
        emit(s, YAMUX_T_WINDOW, YAMUX_F_RST, s->rsts[0], 0, NULL);
        memmove(s->rsts, s->rsts + 1, --s->nrsts * sizeof s->rsts[0]);
    }
    /* The stream table is scanned only when some stream may owe something. */
    int complete = 1;
    for (unsigned i = 0; i < s->cfg.max_streams && s->ctl_dirty && s->state == YAMUX_SS_OPEN;
         i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state == YAMUX_S_IDLE || st->owed == 0) {
            continue;
        }
        if (out_free(s) < YAMUX_HDR_LEN) {
            complete = 0;
            break;
        }
        if (st->owed & YAMUX_F_RST) {
            emit(s, YAMUX_T_WINDOW, YAMUX_F_RST, st->id, 0, NULL);
        } else {
            uint32_t delta = (st->owed & OWE_WND) ? st->rx_unacked : 0;
            emit(s, YAMUX_T_WINDOW, st->owed & (YAMUX_F_SYN | YAMUX_F_ACK | YAMUX_F_FIN),
                 st->id, delta, NULL);
            st->rx_window += delta;
            st->rx_unacked -= delta;
        }
        st->owed = 0;
        maybe_free(s, st);
    }
    if (complete) {
        s->ctl_dirty = 0;
    }
    if (s->goaway_owed >= 0 && out_free(s) >= YAMUX_HDR_LEN) {
        emit(s, YAMUX_T_GOAWAY, 0, 0, (uint32_t)s->goaway_owed, NULL);
        s->goaway_sent = s->goaway_owed;
        s->goaway_owed = -1;
    }
}

static long fail(struct yamux_session *s, const char *what, unsigned long v)
{
    slog(s, LOG_WARN, __func__, "protocol error: %s %lu: going away", what, v);
    abort_all(s);
    s->goaway_owed = YAMUX_GOAWAY_PROTO;
    flush_control(s);
    s->state = YAMUX_SS_FAILED;
    return YAMUX_EPROTO;
}

/* ---- the session ---- */

/* see yamux.h */
size_t yamux_mem_size(const struct yamux_config *cfg)
{
    if (cfg->max_streams == 0 || cfg->max_streams > 65536 || cfg->own_reserve >= cfg->max_streams
        || cfg->out_cap < 1024
        || cfg->window < YAMUX_INITIAL_WINDOW || cfg->rx_pool < YAMUX_CHUNK
        || cfg->rx_pool / YAMUX_CHUNK >= YAMUX_NONE) {
        return 0;
    }
    return ALIGN8(cfg->max_streams * sizeof(struct yamux_stream))
           + ALIGN8(cfg->rx_pool / YAMUX_CHUNK * sizeof(struct yamux_chunk))
           + ALIGN8(cfg->out_cap);
}

/* see yamux.h */
int yamux_init(struct yamux_session *s, const struct yamux_config *cfg, void *mem, size_t len,
               uint32_t now_ms)
{
    size_t need = yamux_mem_size(cfg);
    if (need == 0 || len < need || ((uintptr_t)mem & 7u)) {
        return YAMUX_EINVAL;
    }
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    snprintf(s->name, sizeof s->name, "%s", cfg->name ? cfg->name : "yamux");
    s->cfg.name = s->name;
    uint8_t *m = mem;
    s->streams = (struct yamux_stream *)(void *)m;
    m += ALIGN8(cfg->max_streams * sizeof(struct yamux_stream));
    s->chunks = (struct yamux_chunk *)(void *)m;
    s->nchunks = (uint32_t)(cfg->rx_pool / YAMUX_CHUNK);
    m += ALIGN8(s->nchunks * sizeof(struct yamux_chunk));
    s->out = m;
    memset(s->streams, 0, cfg->max_streams * sizeof(struct yamux_stream));
    s->ready_head = s->ready_tail = YAMUX_NONE;
    s->free_chunk = YAMUX_NONE;
    s->fresh_chunk = 0;
    s->chunks_free = s->nchunks;
    s->next_id = cfg->client ? 1 : 2;
    s->goaway_owed = s->goaway_sent = s->goaway_recv = -1;
    s->now_ms = s->last_ping_ms = s->last_in_ms = now_ms;
    s->state = YAMUX_SS_OPEN;
    return YAMUX_OK;
}

/* ---- input ---- */

static void owe_rst_id(struct yamux_session *s, uint32_t id)
{
    if (s->nrsts < YAMUX_RST_MAX) {
        s->rsts[s->nrsts++] = id;
    }       /* else: a SYN flood; the peer's stream stays unanswered, our memory does not grow */
}

static void skip_payload(struct yamux_session *s, const struct yamux_hdr *h)
{
    if (h->type == YAMUX_T_DATA && h->length > 0) {
        s->in_state = YAMUX_IN_SKIP;
        s->in_left = h->length;
    }
}

/* FIN and RST of a frame, applied after its payload. */
static void end_flags(struct yamux_session *s, struct yamux_stream *st, unsigned flags)
{
    if (st->state == YAMUX_S_RESET) {
        return;
    }
    if (flags & YAMUX_F_RST) {
        stream_abort(s, st, 0);
        return;
    }
    if (flags & YAMUX_F_FIN) {
        switch (st->state) {
        case YAMUX_S_SYN_SENT:
        case YAMUX_S_SYN_RECV:
        case YAMUX_S_OPEN:
            st->state = YAMUX_S_REMOTE_CLOSED;
            break;
        case YAMUX_S_LOCAL_CLOSED:
            st->state = YAMUX_S_CLOSED;
            break;
        default:
            break;           /* a repeated FIN changes nothing */
        }
        notify(st, YAMUX_EV_READ);
    }
}

/* A SYN: a new peer stream, or a refusal that keeps no state. Returns the stream or NULL
 * (refused; the caller skips the payload), or sets the session failed. */
static struct yamux_stream *peer_open(struct yamux_session *s, const struct yamux_hdr *h)
{
    const char *why = NULL;
    struct yamux_stream *st = NULL;
    if (find(s, h->id)) {
        fail(s, "SYN for an open stream", h->id);
        return NULL;
    }
    if ((h->id & 1u) == (s->cfg.client ? 1u : 0u)) {
        fail(s, "SYN with our ID parity", h->id);
        return NULL;
    }
    if (h->id <= s->peer_last_id) {
        why = "reused stream ID";
    } else if (s->goaway_sent >= 0 || s->goaway_owed >= 0) {
        why = "after our GoAway";
    } else if (s->nstreams_used + s->cfg.own_reserve >= s->cfg.max_streams
               || (st = slot_new(s, h->id, YAMUX_S_SYN_RECV, YAMUX_H_BACKLOG)) == NULL) {
        why = "stream limit reached";
    }
    if (h->id > s->peer_last_id) {
        s->peer_last_id = h->id;
    }
    if (why) {
        slog(s, LOG_WARN, __func__, "stream %lu refused: %s", (unsigned long)h->id, why);
        s->stats.streams_refused++;
        owe_rst_id(s, h->id);
        return NULL;
    }
    s->backlog++;
    return st;
}

static long on_stream_frame(struct yamux_session *s, const struct yamux_hdr *h)
{
    struct yamux_stream *st;
    if (h->id == 0) {
        return fail(s, "stream frame for stream ID 0, type", h->type);
    }
    if (h->flags & YAMUX_F_SYN) {
        st = peer_open(s, h);
        if (s->state != YAMUX_SS_OPEN) {
            return YAMUX_EPROTO;
        }
    } else {
        st = find(s, h->id);
        if (st == NULL) {
            s->stats.unknown_frames++;
        }
    }
    if (st == NULL) {
        skip_payload(s, h);
        return 0;
    }
    if ((h->flags & YAMUX_F_ACK) && st->state == YAMUX_S_SYN_SENT) {
        st->state = YAMUX_S_OPEN;
    }
    if (h->type == YAMUX_T_WINDOW) {
        if (st->state != YAMUX_S_RESET) {
            if (h->length > UINT32_MAX - st->tx_credit) {
                violation(s, st, "window update overflows the window");
                return 0;
            }
            st->tx_credit += h->length;
            if (h->length && st->want_write) {
                st->want_write = 0;
                notify(st, YAMUX_EV_WRITE);
            }
        }
        end_flags(s, st, h->flags);
        return 0;
    }
    if (h->length == 0) {
        end_flags(s, st, h->flags);
        return 0;
    }
    if (st->state == YAMUX_S_RESET) {
        skip_payload(s, h);          /* in flight when we reset it */
        return 0;
    }
    if (st->state == YAMUX_S_REMOTE_CLOSED || st->state == YAMUX_S_CLOSED) {
        violation(s, st, "data after FIN");
        skip_payload(s, h);
        return 0;
    }
    if (h->length > st->rx_window) {
        char what[64];
        snprintf(what, sizeof what, "%lu bytes of data with %lu of window",
                 (unsigned long)h->length, (unsigned long)st->rx_window);
        violation(s, st, what);
        skip_payload(s, h);
        return 0;
    }
    st->rx_window -= h->length;
    s->in_state = YAMUX_IN_DATA;
    s->in_id = h->id;
    s->in_left = h->length;
    s->in_flags = h->flags;
    return 0;
}

static long on_header(struct yamux_session *s)
{
    struct yamux_hdr h;
    yamux_hdr_decode(s->hdr, &h);
    s->stats.frames_in++;
    if (h.version != YAMUX_VERSION) {
        return fail(s, "bad version", h.version);
    }
    switch (h.type) {
    case YAMUX_T_DATA:
    case YAMUX_T_WINDOW:
        return on_stream_frame(s, &h);
    case YAMUX_T_PING:
        if (h.flags & YAMUX_F_SYN) {
            if (s->npongs < YAMUX_PONG_MAX) {
                s->pongs[s->npongs++] = h.length;
            } else if ((s->stats.pings_dropped++ & 1023u) == 0) {
                slog(s, LOG_WARN, __func__, "ping flood: replies dropped");
            }
        } else if ((h.flags & YAMUX_F_ACK) && s->ping_outstanding && h.length == s->ping_id) {
            s->rtt_ms = s->now_ms - s->ping_sent_ms;
            s->ping_outstanding = 0;
        }
        return 0;
    case YAMUX_T_GOAWAY:
        if (s->goaway_recv < 0) {
            slog(s, LOG_INFO, __func__, "peer goes away (code %lu)", (unsigned long)h.length);
        }
        s->goaway_recv = (int)(h.length > 2 ? 2 : h.length);
        return 0;
    default:
        return fail(s, "unknown frame type", h.type);
    }
}

/* Payload bytes of the Data frame being received; returns how many were taken. */
static size_t on_payload(struct yamux_session *s, const uint8_t *p, size_t n)
{
    struct yamux_stream *st = find(s, s->in_id);
    if (st == NULL || st->state == YAMUX_S_RESET) {
        s->in_state = YAMUX_IN_SKIP;        /* reset or released while it arrived */
        return 0;
    }
    if (n > s->in_left) {
        n = s->in_left;
    }
    size_t k = rx_append(s, st, p, n);
    while (k < n && st->state != YAMUX_S_RESET && pool_reclaim(s)) {
        k += rx_append(s, st, p + k, n - k);
    }
    s->in_left -= (uint32_t)k;
    if (st->state == YAMUX_S_RESET) {
        /* the victim was this stream itself: the rest of its frame is skipped */
        s->in_state = s->in_left ? YAMUX_IN_SKIP : YAMUX_IN_HDR;
        return k;
    }
    if (k > 0) {
        notify(st, YAMUX_EV_READ);
    }
    if (s->in_left == 0) {
        s->in_state = YAMUX_IN_HDR;
        end_flags(s, st, s->in_flags);
    } else if (k < n) {
        s->in_blocked = 1;
        s->stats.input_stalls++;
    }
    return k;
}

/* see yamux.h */
long yamux_input(struct yamux_session *s, const uint8_t *p, size_t len)
{
    size_t used = 0;
    if (s->state != YAMUX_SS_OPEN) {
        return YAMUX_EPROTO;
    }
    s->in_blocked = 0;
    while (used < len && !s->in_blocked) {
        size_t n = len - used;
        switch (s->in_state) {
        case YAMUX_IN_HDR:
            if (n > YAMUX_HDR_LEN - s->hdr_len) {
                n = YAMUX_HDR_LEN - s->hdr_len;
            }
            memcpy(s->hdr + s->hdr_len, p + used, n);
            s->hdr_len += n;
            used += n;
            if (s->hdr_len == YAMUX_HDR_LEN) {
                s->hdr_len = 0;
                if (on_header(s) < 0) {
                    return YAMUX_EPROTO;
                }
            }
            break;
        case YAMUX_IN_DATA:
            used += on_payload(s, p + used, n);
            break;
        case YAMUX_IN_SKIP:
            if (n > s->in_left) {
                n = s->in_left;
            }
            s->in_left -= (uint32_t)n;
            used += n;
            if (s->in_left == 0) {
                s->in_state = YAMUX_IN_HDR;
            }
            break;
        }
    }
    if (used > 0) {
        s->last_in_ms = s->now_ms;            /* the peer is alive, however slow we read */
    }
    flush_control(s);
    return (long)used;
}

/* see yamux.h */
int yamux_input_blocked(const struct yamux_session *s)
{
    return s->in_blocked;
}

/* ---- output ---- */

/* see yamux.h */
size_t yamux_out_peek(struct yamux_session *s, const uint8_t **p)
{
    size_t run = s->cfg.out_cap - s->out_head;
    *p = s->out + s->out_head;
    return s->out_len < run ? s->out_len : run;
}

/* see yamux.h */
void yamux_out_consume(struct yamux_session *s, size_t n)
{
    if (n > s->out_len) {
        n = s->out_len;
    }
    s->out_head = (s->out_head + n) % s->cfg.out_cap;
    s->out_len -= n;
    if (s->out_len == 0) {
        s->out_head = 0;             /* keeps the next run contiguous */
    }
    flush_control(s);
    wake_writers(s);
}

/* see yamux.h */
size_t yamux_out_pending(const struct yamux_session *s)
{
    return s->out_len;
}

/* ---- time ---- */

static void start_ping(struct yamux_session *s, uint32_t now_ms)
{
    s->ping_id++;
    s->ping_owed = 1;
    s->ping_outstanding = 1;
    s->ping_sent_ms = s->last_ping_ms = now_ms;
}

/* The session's clock never runs back. Callers stamp time where they are (a service
 * stamps a fresh clock, a timer pass its own earlier one), and now_ms - then would wrap:
 * a ping sent a millisecond "later" would look unanswered for 49 days, the link dead. */
static uint32_t clock_at(struct yamux_session *s, uint32_t now_ms)
{
    if ((int32_t)(now_ms - s->now_ms) > 0) {
        s->now_ms = now_ms;
    }
    return s->now_ms;
}

/* see yamux.h */
int yamux_tick(struct yamux_session *s, uint32_t now_ms)
{
    now_ms = clock_at(s, now_ms);
    if (s->state == YAMUX_SS_DEAD) {
        return YAMUX_EDEAD;
    }
    if (s->state != YAMUX_SS_OPEN) {
        return YAMUX_EPROTO;
    }
    if (s->ping_outstanding && s->cfg.dead_ms && now_ms - s->ping_sent_ms >= s->cfg.dead_ms
        && now_ms - s->last_in_ms >= s->cfg.dead_ms) {
        slog(s, LOG_WARN, __func__, "no ping reply for %lu ms: link dead",
             (unsigned long)(now_ms - s->ping_sent_ms));
        abort_all(s);
        s->state = YAMUX_SS_DEAD;
        return YAMUX_EDEAD;
    }
    if (s->cfg.keepalive_ms && now_ms - s->last_ping_ms >= s->cfg.keepalive_ms) {
        if (!s->ping_outstanding) {
            start_ping(s, now_ms);
        } else {
            /* the answer is late (our peer may be reading slowly): ping again with the same
             * ID, so the peer keeps hearing from us and knows the link is alive */
            s->ping_owed = 1;
            s->last_ping_ms = now_ms;
        }
        flush_control(s);
    }
    return YAMUX_OK;
}

/* see yamux.h */
void yamux_ping(struct yamux_session *s, uint32_t now_ms)
{
    now_ms = clock_at(s, now_ms);
    if (s->state == YAMUX_SS_OPEN && !s->ping_outstanding) {
        start_ping(s, now_ms);
        flush_control(s);
    }
}

/* see yamux.h */
void yamux_goaway(struct yamux_session *s, enum yamux_goaway code)
{
    if (s->state == YAMUX_SS_OPEN && s->goaway_sent < 0 && s->goaway_owed < 0) {
        s->goaway_owed = (int)code;
        flush_control(s);
    }
}

/* ---- the application's side ---- */

/* see yamux.h */
int yamux_can_open(const struct yamux_session *s)
{
    return s->state == YAMUX_SS_OPEN && s->goaway_sent < 0 && s->goaway_owed < 0
           && s->goaway_recv < 0 && s->next_id != 0 && s->nstreams_used < s->cfg.max_streams;
}

/* see yamux.h */
struct yamux_stream *yamux_open(struct yamux_session *s)
{
    if (!yamux_can_open(s)) {
        return NULL;
    }
    struct yamux_stream *st = slot_new(s, s->next_id, YAMUX_S_SYN_SENT, YAMUX_H_APP);
    if (st == NULL) {
        return NULL;
    }
    s->next_id = s->next_id > UINT32_MAX - 2 ? 0 : s->next_id + 2;
    st->owed = YAMUX_F_SYN | (st->rx_unacked ? OWE_WND : 0);
    s->ctl_dirty = 1;
    s->stats.streams_opened++;
    flush_control(s);
    return st;
}

/* see yamux.h */
struct yamux_stream *yamux_accept(struct yamux_session *s)
{
    struct yamux_stream *best = NULL;
    if (s->backlog == 0 || s->state != YAMUX_SS_OPEN) {
        return NULL;
    }
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state != YAMUX_S_IDLE && st->holder == YAMUX_H_BACKLOG
            && (best == NULL || st->id < best->id)) {
            best = st;
        }
    }
    if (best == NULL) {
        return NULL;
    }
    s->backlog--;
    best->holder = YAMUX_H_APP;
    if (best->state == YAMUX_S_SYN_RECV) {
        best->state = YAMUX_S_OPEN;
    }
    best->owed |= YAMUX_F_ACK | (best->rx_unacked ? OWE_WND : 0);
    s->ctl_dirty = 1;
    notify(best, YAMUX_EV_READ | YAMUX_EV_WRITE);
    s->stats.streams_accepted++;
    flush_control(s);
    return best;
}

/* see yamux.h */
struct yamux_stream *yamux_poll(struct yamux_session *s, unsigned *ev)
{
    while (s->ready_head != YAMUX_NONE) {
        struct yamux_stream *st = &s->streams[s->ready_head];
        s->ready_head = st->ready_next;
        st->queued = 0;
        /* A backlog stream's news wait for yamux_accept, which queues it again. */
        if (st->state != YAMUX_S_IDLE && st->holder == YAMUX_H_APP && st->events) {
            *ev = st->events;
            st->events = 0;
            return st;
        }
    }
    return NULL;
}

/* see yamux.h */
long yamux_read(struct yamux_stream *st, uint8_t *buf, size_t len)
{
    size_t n = 0;
    const uint8_t *p;
    size_t k;
    if (st->state == YAMUX_S_RESET) {
        return st->sess->state == YAMUX_SS_OPEN ? YAMUX_ERESET : YAMUX_EPROTO;
    }
    while (n < len && (k = yamux_peek(st, &p)) > 0) {
        k = k < len - n ? k : len - n;
        memcpy(buf + n, p, k);
        yamux_consume(st, k);
        n += k;
    }
    if (n > 0) {
        return (long)n;
    }
    if (st->state == YAMUX_S_REMOTE_CLOSED || st->state == YAMUX_S_CLOSED) {
        return YAMUX_EOF;
    }
    return 0;
}

/* see yamux.h */
size_t yamux_peek(struct yamux_stream *st, const uint8_t **p)
{
    if (st->state == YAMUX_S_RESET || st->rx_head == YAMUX_NONE) {
        return 0;
    }
    struct yamux_chunk *c = &st->sess->chunks[st->rx_head];
    *p = c->data + c->start;
    return (size_t)(c->end - c->start);
}

/* see yamux.h */
void yamux_consume(struct yamux_stream *st, size_t n)
{
    struct yamux_session *s = st->sess;
    size_t done = 0;
    while (done < n && st->rx_head != YAMUX_NONE) {
        struct yamux_chunk *c = &s->chunks[st->rx_head];
        size_t k = (size_t)(c->end - c->start);
        k = k < n - done ? k : n - done;
        c->start = (uint16_t)(c->start + k);
        done += k;
        if (c->start == c->end) {
            uint32_t next = c->next;
            chunk_free(s, st->rx_head);
            st->rx_head = next;
            if (next == YAMUX_NONE) {
                st->rx_tail = YAMUX_NONE;
            }
        }
    }
    if (done == 0) {
        return;
    }
    st->rx_buffered -= (uint32_t)done;
    st->rx_progress += (uint32_t)done;
    if (st->rx_progress >= YAMUX_PROGRESS_MIN || st->rx_buffered == 0) {
        st->rx_since_ms = s->now_ms;    /* progress: not stalled */
        st->rx_progress = 0;
    }
    st->rx_unacked += (uint32_t)done;
    st->bytes_in += done;
    /* Grant back once half a window was read, as hashicorp does; a peer that is done
     * sending needs no more. */
    if (st->rx_unacked >= s->cfg.window / 2 && st->state != YAMUX_S_REMOTE_CLOSED
        && st->state != YAMUX_S_CLOSED) {
        st->owed |= OWE_WND;
        s->ctl_dirty = 1;
        flush_control(s);
    }
}

/* see yamux.h */
size_t yamux_readable(const struct yamux_stream *st)
{
    return st->rx_buffered;
}

/* see yamux.h */
size_t yamux_write_room(struct yamux_stream *st)
{
    struct yamux_session *s = st->sess;
    if (s->state != YAMUX_SS_OPEN || (st->state != YAMUX_S_SYN_SENT && st->state != YAMUX_S_OPEN
                                      && st->state != YAMUX_S_REMOTE_CLOSED)) {
        return 0;
    }
    flush_control(s);
    size_t room = out_free(s);
    room = room > YAMUX_HDR_LEN + YAMUX_CTL_RESERVE ? room - YAMUX_HDR_LEN - YAMUX_CTL_RESERVE
                                                    : 0;
    room = room < st->tx_credit ? room : st->tx_credit;
    if (room == 0) {
        st->want_write = 1;         /* YAMUX_EV_WRITE says when there is room again */
        s->writers_waiting |= st->tx_credit > 0;   /* queue full: wake_writers; else the peer's
                                                      WindowUpdate wakes it (no table scans) */
    }
    return room < YAMUX_FRAME_MAX ? room : YAMUX_FRAME_MAX;
}

/* see yamux.h */
long yamux_write(struct yamux_stream *st, const uint8_t *p, size_t len)
{
    struct yamux_session *s = st->sess;
    size_t taken = 0;
    if (s->state != YAMUX_SS_OPEN) {
        return YAMUX_EPROTO;
    }
    switch (st->state) {
    case YAMUX_S_RESET:
        return YAMUX_ERESET;
    case YAMUX_S_LOCAL_CLOSED:
    case YAMUX_S_CLOSED:
        return YAMUX_ECLOSED;
    case YAMUX_S_SYN_SENT:
    case YAMUX_S_OPEN:
    case YAMUX_S_REMOTE_CLOSED:
        break;
    default:
        return YAMUX_EINVAL;
    }
    flush_control(s);
    while (taken < len) {
        size_t room = out_free(s);
        if (room <= YAMUX_HDR_LEN + YAMUX_CTL_RESERVE) {
            break;
        }
        size_t n = len - taken;
        n = n < st->tx_credit ? n : st->tx_credit;
        n = n < YAMUX_FRAME_MAX ? n : YAMUX_FRAME_MAX;
        n = n < room - YAMUX_HDR_LEN - YAMUX_CTL_RESERVE ? n
                                                         : room - YAMUX_HDR_LEN - YAMUX_CTL_RESERVE;
        if (n == 0) {
            break;
        }
        unsigned flags = st->owed & (YAMUX_F_SYN | YAMUX_F_ACK);
        st->owed &= ~flags;
        emit(s, YAMUX_T_DATA, flags, st->id, (uint32_t)n, p + taken);
        st->tx_credit -= (uint32_t)n;
        st->bytes_out += n;
        taken += n;
    }
    if (taken < len) {
        st->want_write = 1;
        s->writers_waiting |= st->tx_credit > 0;
    }
    return (long)taken;
}

/* see yamux.h */
void yamux_close(struct yamux_stream *st)
{
    switch (st->state) {
    case YAMUX_S_SYN_SENT:
    case YAMUX_S_SYN_RECV:
    case YAMUX_S_OPEN:
        st->state = YAMUX_S_LOCAL_CLOSED;
        break;
    case YAMUX_S_REMOTE_CLOSED:
        st->state = YAMUX_S_CLOSED;
        break;
    default:
        return;                      /* closed already, or reset */
    }
    st->owed |= YAMUX_F_FIN;
    st->sess->ctl_dirty = 1;
    flush_control(st->sess);
}

/* see yamux.h */
void yamux_reset(struct yamux_stream *st)
{
    if (st->state != YAMUX_S_RESET && st->state != YAMUX_S_IDLE) {
        stream_abort(st->sess, st, st->sess->state == YAMUX_SS_OPEN);
        st->events = 0;
        flush_control(st->sess);
    }
}

/* see yamux.h */
void yamux_release(struct yamux_stream *st)
{
    struct yamux_session *s = st->sess;
    if (st->state == YAMUX_S_IDLE) {
        return;
    }
    if (st->state != YAMUX_S_CLOSED && st->state != YAMUX_S_RESET) {
        stream_abort(s, st, s->state == YAMUX_SS_OPEN);
    }
    rx_drop(s, st);
    st->holder = YAMUX_H_RELEASED;
    st->events = 0;
    st->want_write = 0;
    st->user = NULL;
    maybe_free(s, st);
    flush_control(s);
}

/* see yamux.h */
unsigned yamux_stream_count(const struct yamux_session *s)
{
    return s->nstreams_used;
}
