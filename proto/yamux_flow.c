/* yamux's flow of bytes (see yamux.h): the receive pool the application reads from (reading
 * grants the peer more window) and the output queue that writes and owed control frames go
 * into (no more than the peer's window, a slice kept for control frames). */
#include <string.h>

#include "yamux_int.h"

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

void yx_rx_drop(struct yamux_session *s, struct yamux_stream *st)
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
size_t yx_rx_append(struct yamux_session *s, struct yamux_stream *st, const uint8_t *p,
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

/* ---- reading ---- */

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
        yx_flush_control(s);
    }
}

/* see yamux.h */
size_t yamux_readable(const struct yamux_stream *st)
{
    return st->rx_buffered;
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

/* A frame header (and for Data its payload, unless it is in the queue already) into the
 * queue; the caller checked the room. */
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

/* ---- control frames owed ---- */

static void wake_writers(struct yamux_session *s)
{
    if (!s->writers_waiting || out_free(s) < YAMUX_HDR_LEN + YAMUX_CTL_RESERVE + 512) {
        return;
    }
    s->writers_waiting = 0;
    /* The first woken writes first and may fill the queue again: the scan starts after the
     * one that came first last time. From slot 0 each time, of 100 uploads through the
     * relay in `make bench` the first streams carried three times what the last did. */
    unsigned n = s->cfg.max_streams, from = s->wake_from < n ? s->wake_from : 0;
    int first = 1;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = from + k < n ? from + k : from + k - n;
        struct yamux_stream *st = &s->streams[i];
        if (st->want_write && st->tx_credit > 0) {
            st->want_write = 0;
            yx_notify(st, YAMUX_EV_WRITE);
            if (first) {
                s->wake_from = i + 1;
                first = 0;
            }
        }                   /* a stream out of window is woken by its WindowUpdate instead */
    }
}

/* Everything owed that fits: pongs first (they measure latency), then our ping, RSTs for
 * refused SYNs, per-stream flags and window updates, and a GoAway last. */
void yx_flush_control(struct yamux_session *s)
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
        yx_maybe_free(s, st);
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
    yx_flush_control(s);
    wake_writers(s);
}

/* see yamux.h */
size_t yamux_out_pending(const struct yamux_session *s)
{
    return s->out_len;
}

/* ---- writing ---- */

/* The largest Data frame of this stream the queue and the peer's window take now: what
 * yamux_write, yamux_write_room and yamux_write_commit all go by. No side effects. */
static size_t frame_room(const struct yamux_stream *st)
{
    size_t room = out_free(st->sess);
    room = room > YAMUX_HDR_LEN + YAMUX_CTL_RESERVE ? room - YAMUX_HDR_LEN - YAMUX_CTL_RESERVE
                                                    : 0;
    room = room < st->tx_credit ? room : st->tx_credit;
    return room < YAMUX_FRAME_MAX ? room : YAMUX_FRAME_MAX;
}

/* see yamux.h */
size_t yamux_write_room(struct yamux_stream *st)
{
    struct yamux_session *s = st->sess;
    if (s->state != YAMUX_SS_OPEN || (st->state != YAMUX_S_SYN_SENT && st->state != YAMUX_S_OPEN
                                      && st->state != YAMUX_S_REMOTE_CLOSED)) {
        return 0;
    }
    yx_flush_control(s);
    size_t room = frame_room(st);
    if (room == 0) {
        st->want_write = 1;         /* YAMUX_EV_WRITE says when there is room again */
        s->writers_waiting |= st->tx_credit > 0;   /* queue full: wake_writers; else the peer's
                                                      WindowUpdate wakes it (no table scans) */
    }
    return room;
}

/* One Data frame of n bytes: payload NULL when they are in the queue after the header's
 * place already (yamux_write_reserve). */
static void data_frame(struct yamux_stream *st, const uint8_t *payload, size_t n)
{
    struct yamux_session *s = st->sess;
    unsigned flags = st->owed & (YAMUX_F_SYN | YAMUX_F_ACK);
    st->owed &= ~flags;
    emit(s, YAMUX_T_DATA, flags, st->id, (uint32_t)n, payload);
    if (payload == NULL) {
        s->out_len += n;
        s->stats.bytes_out += n;
    }
    st->tx_credit -= (uint32_t)n;
    st->bytes_out += n;
}

/* see yamux.h */
size_t yamux_write_reserve(struct yamux_stream *st, struct yamux_span span[2])
{
    struct yamux_session *s = st->sess;
    size_t n = yamux_write_room(st);     /* control frames owed are queued by now */
    size_t at = (s->out_head + s->out_len + YAMUX_HDR_LEN) % s->cfg.out_cap;
    span[0].p = s->out + at;
    span[0].len = n < s->cfg.out_cap - at ? n : s->cfg.out_cap - at;
    span[1].p = s->out;
    span[1].len = n - span[0].len;
    return n;
}

/* see yamux.h */
void yamux_write_commit(struct yamux_stream *st, size_t n)
{
    if (n == 0) {
        return;
    }
    if (n > frame_room(st)) {
        yamux_reset(st);                 /* more than was reserved: the caller's bug */
        return;
    }
    data_frame(st, NULL, n);
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
    yx_flush_control(s);
    while (taken < len) {
        size_t n = frame_room(st);
        n = n < len - taken ? n : len - taken;
        if (n == 0) {
            break;
        }
        data_frame(st, p + taken, n);
        taken += n;
    }
    if (taken < len) {
        st->want_write = 1;
        s->writers_waiting |= st->tx_credit > 0;
    }
    return (long)taken;
}
