/* yamux's input (see yamux.h): the frame header codec, frames decoded and checked as they
 * arrive in pieces of any size, payload into the receive pool, and the pool policy when a
 * frame finds the pool full. */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "yamux_int.h"

/* ---- the frame header ---- */

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

/* ---- streams by ID, violations ---- */

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

static void violation(struct yamux_session *s, struct yamux_stream *st, const char *what)
{
    slog(s, LOG_WARN, __func__, "stream %lu: %s: reset", (unsigned long)st->id, what);
    s->stats.violations++;
    yx_stream_abort(s, st, 1);
}

static long fail(struct yamux_session *s, const char *what, unsigned long v)
{
    slog(s, LOG_WARN, __func__, "protocol error: %s %lu: going away", what, v);
    yx_abort_all(s);
    s->goaway_owed = YAMUX_GOAWAY_PROTO;
    yx_flush_control(s);
    s->state = YAMUX_SS_FAILED;
    return YAMUX_EPROTO;
}

/* ---- the pool policy ---- */

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
    yx_stream_abort(s, v, 1);
    return 1;
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
        yx_stream_abort(s, st, 0);
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
        yx_notify(st, YAMUX_EV_READ);
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
               || (st = yx_slot_new(s, h->id, YAMUX_S_SYN_RECV, YAMUX_H_BACKLOG)) == NULL) {
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
                yx_notify(st, YAMUX_EV_WRITE);
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
    size_t k = yx_rx_append(s, st, p, n);
    while (k < n && st->state != YAMUX_S_RESET && pool_reclaim(s)) {
        k += yx_rx_append(s, st, p + k, n - k);
    }
    s->in_left -= (uint32_t)k;
    if (st->state == YAMUX_S_RESET) {
        /* the victim was this stream itself: the rest of its frame is skipped */
        s->in_state = s->in_left ? YAMUX_IN_SKIP : YAMUX_IN_HDR;
        return k;
    }
    if (k > 0) {
        yx_notify(st, YAMUX_EV_READ);
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
    yx_flush_control(s);
    return (long)used;
}

/* see yamux.h */
int yamux_input_blocked(const struct yamux_session *s)
{
    return s->in_blocked;
}
