/* yamux's session and its streams (see yamux.h): the caller's memory block, the stream
 * table and each stream's life, keepalive, and the application's calls. Frames in:
 * yamux_input.c; the receive pool and the output queue: yamux_flow.c. */
#include <stdio.h>
#include <string.h>

#include "yamux_int.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

/* see yamux.h */
const char *yamux_state_name(enum yamux_stream_state st)
{
    static const char *const names[] = { "idle", "syn-sent", "syn-recv", "open",
                                         "local-closed", "remote-closed", "closed", "reset" };
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

/* ---- streams ---- */

_Static_assert(sizeof(void *) != 8 || sizeof(struct yamux_stream) == 80,
               "yamux.h promises 80 bytes a slot on 64-bit (the ready link fills padding)");

/* Gives st events for yamux_poll and queues it once (a queued slot stays queued while it is
 * freed and reused: yamux_poll skips what no longer has news). */
void yx_notify(struct yamux_stream *st, unsigned ev)
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

struct yamux_stream *yx_slot_new(struct yamux_session *s, uint32_t id,
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
void yx_maybe_free(struct yamux_session *s, struct yamux_stream *st)
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
    yx_rx_drop(s, st);
    st->state = YAMUX_S_IDLE;
    s->nstreams_used--;
}

/* Over: unread data dropped, RST owed unless the peer sent it. */
void yx_stream_abort(struct yamux_session *s, struct yamux_stream *st, int send_rst)
{
    yx_rx_drop(s, st);
    st->state = YAMUX_S_RESET;
    st->owed = send_rst ? YAMUX_F_RST : 0;
    st->reset_here = (uint8_t)(send_rst != 0);
    s->ctl_dirty |= send_rst;
    yx_notify(st, YAMUX_EV_READ | YAMUX_EV_WRITE);
    yx_maybe_free(s, st);
}

void yx_abort_all(struct yamux_session *s)
{
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        struct yamux_stream *st = &s->streams[i];
        if (st->state != YAMUX_S_IDLE) {
            yx_stream_abort(s, st, 0);
        }
    }
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
        yx_abort_all(s);
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
        yx_flush_control(s);
    }
    return YAMUX_OK;
}

/* see yamux.h */
void yamux_ping(struct yamux_session *s, uint32_t now_ms)
{
    now_ms = clock_at(s, now_ms);
    if (s->state == YAMUX_SS_OPEN && !s->ping_outstanding) {
        start_ping(s, now_ms);
        yx_flush_control(s);
    }
}

/* see yamux.h */
void yamux_goaway(struct yamux_session *s, enum yamux_goaway code)
{
    if (s->state == YAMUX_SS_OPEN && s->goaway_sent < 0 && s->goaway_owed < 0) {
        s->goaway_owed = (int)code;
        yx_flush_control(s);
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
    struct yamux_stream *st = yx_slot_new(s, s->next_id, YAMUX_S_SYN_SENT, YAMUX_H_APP);
    if (st == NULL) {
        return NULL;
    }
    s->next_id = s->next_id > UINT32_MAX - 2 ? 0 : s->next_id + 2;
    st->owed = YAMUX_F_SYN | (st->rx_unacked ? OWE_WND : 0);
    s->ctl_dirty = 1;
    s->stats.streams_opened++;
    yx_flush_control(s);
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
    yx_notify(best, YAMUX_EV_READ | YAMUX_EV_WRITE);
    s->stats.streams_accepted++;
    yx_flush_control(s);
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
    yx_flush_control(st->sess);
}

/* see yamux.h */
void yamux_reset(struct yamux_stream *st)
{
    if (st->state != YAMUX_S_RESET && st->state != YAMUX_S_IDLE) {
        yx_stream_abort(st->sess, st, st->sess->state == YAMUX_SS_OPEN);
        st->events = 0;
        yx_flush_control(st->sess);
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
        yx_stream_abort(s, st, s->state == YAMUX_SS_OPEN);
    }
    yx_rx_drop(s, st);
    st->holder = YAMUX_H_RELEASED;
    st->events = 0;
    st->want_write = 0;
    st->user = NULL;
    yx_maybe_free(s, st);
    yx_flush_control(s);
}

/* see yamux.h */
unsigned yamux_stream_count(const struct yamux_session *s)
{
    return s->nstreams_used;
}
