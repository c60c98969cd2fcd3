/* What yamux's files share (yamux.h describes the module): the session and its streams
 * (yamux.c), the input (yamux_input.c), the receive pool and the output queue
 * (yamux_flow.c). Not for the application. */
#ifndef GW_YAMUX_INT_H
#define GW_YAMUX_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* A log line naming the function and the session. Static, by this name: the verdict check
 * (tools/check_verdicts.py) reads its calls as log lines. */
static inline void slog(const struct yamux_session *s, enum log_level lv, const char *fn,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline void slog(const struct yamux_session *s, enum log_level lv, const char *fn,
                        const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(lv, "%s: %s: %s", fn, s->name, msg);
}

/* yamux.c: the stream table. */
void yx_notify(struct yamux_stream *st, unsigned ev);
struct yamux_stream *yx_slot_new(struct yamux_session *s, uint32_t id,
                                 enum yamux_stream_state state, enum yamux_holder holder);
void yx_maybe_free(struct yamux_session *s, struct yamux_stream *st);
void yx_stream_abort(struct yamux_session *s, struct yamux_stream *st, int send_rst);
void yx_abort_all(struct yamux_session *s);

/* yamux_flow.c: a stream's chunks in the pool; the control frames owed, into the queue. */
void yx_rx_drop(struct yamux_session *s, struct yamux_stream *st);
size_t yx_rx_append(struct yamux_session *s, struct yamux_stream *st, const uint8_t *p,
                    size_t n);
void yx_flush_control(struct yamux_session *s);

#endif
