/* see imap_inflight.h */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "imap_inflight.h"
#include "log.h"
#include "tunnel.h"

#define SLOTS (IMAP_INFLIGHT_MAX - 1)    /* the one being read: the receiver's */

enum slot_state {
    SL_SENT,             /* body, trailer (or the rest of it) and FIN going out */
    SL_ANSWERED,         /* the relay answered: answer */
    SL_GONE,             /* the tunnel went down under it: the stream is gone, not released */
};

struct slot {
    struct yamux_stream *st;         /* NULL: free (or its tunnel went down) */
    int used;
    enum slot_state state;
    uint32_t uid, since;
    uint64_t length;
    uint8_t tr[DELIVERY_TRAILER_LEN];    /* what of the trailer is not out yet, then FIN */
    size_t tr_len, tr_off;
    uint8_t fin_after;
    uint8_t ans[HELLO_MSG_MAX];
    size_t ans_len;
    struct hello_answer answer;
};

static struct slot slots[SLOTS];

/* see imap_inflight.h */
unsigned inflight_max(void)
{
    unsigned relay = tunnel_deliveries_min();
    return relay < IMAP_INFLIGHT_MAX ? relay : IMAP_INFLIGHT_MAX;
}

/* see imap_inflight.h */
unsigned inflight_waiting(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        n += slots[i].used;
    }
    return n;
}

/* see imap_inflight.h */
int inflight_park(const struct inflight_parked *p)
{
    if (inflight_waiting() + 2 > inflight_max() || p->rest_len > DELIVERY_TRAILER_LEN ||
        p->ans_len > HELLO_MSG_MAX) {
        return 0;                    /* parked and the next one read: one too many */
    }
    for (unsigned i = 0; i < SLOTS; i++) {
        struct slot *w = &slots[i];
        if (w->used) {
            continue;
        }
        memset(w, 0, sizeof *w);
        w->used = 1;
        w->st = p->st;
        w->state = SL_SENT;
        w->uid = p->uid;
        w->length = p->length;
        w->since = board_now_ms();
        w->tr_len = p->rest_len;
        memcpy(w->tr, p->rest, p->rest_len);
        w->fin_after = (uint8_t)p->fin_after;
        memcpy(w->ans, p->ans, p->ans_len);
        w->ans_len = p->ans_len;
        return 1;
    }
    return 0;
}

/* see imap_inflight.h */
int inflight_gone(struct yamux_stream *st)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        struct slot *w = &slots[i];
        if (w->used && w->st == st) {
            w->st = NULL;            /* already gone: not released by us */
            if (w->state != SL_ANSWERED) {
                w->state = SL_GONE;
            }
            return 1;
        }
    }
    return 0;
}

/* see imap_inflight.h */
void delivery_send_rest(struct yamux_stream *st, const uint8_t *out, size_t len, size_t *off,
                        uint8_t *fin_after)
{
    while (*off < len) {
        long k = yamux_write(st, out + *off, len - *off);
        if (k <= 0) {
            break;
        }
        *off += (size_t)k;
    }
    if (*fin_after && *off == len) {
        *fin_after = 0;
        yamux_close(st);             /* FIN: the relay checks length and SHA-256, fsyncs */
    }
}

/* see imap_inflight.h */
int delivery_read_answer(struct yamux_stream *st, uint8_t *ans, size_t *ans_len,
                         struct hello_answer *a)
{
    long n = yamux_read(st, ans + *ans_len, HELLO_MSG_MAX - *ans_len);
    if (n > 0) {
        *ans_len += (size_t)n;
    }
    long r = answer_parse(ans, *ans_len, HELLO_K_DELIVERY_ANSWER, a);
    if (r < 0 || (r == 0 && n < 0)) {
        a->status = DELIVERY_ST_ERROR;   /* a broken or missing answer counts as an error */
        snprintf(a->text, sizeof a->text, "%s",
                 r < 0 ? hello_strerror(r) : "stream ended without an answer");
        return 1;
    }
    return r > 0;
}

/* The rest of its trailer and FIN out, its answer in. */
static void pump(struct slot *w)
{
    if (w->st == NULL || w->state != SL_SENT) {
        return;
    }
    delivery_send_rest(w->st, w->tr, w->tr_len, &w->tr_off, &w->fin_after);
    if (delivery_read_answer(w->st, w->ans, &w->ans_len, &w->answer)) {
        w->state = SL_ANSWERED;
    }
}

static void slot_free(struct slot *w)
{
    if (w->st != NULL) {
        tunnel_release(w->st);       /* RST unless closed both ways: nothing half-stored */
    }
    memset(w, 0, sizeof *w);
}

/* see imap_inflight.h */
unsigned inflight_step(void (*take)(uint32_t uid, uint64_t length,
                                    const struct hello_answer *a))
{
    unsigned gone = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        struct slot *w = &slots[i];
        if (!w->used) {
            continue;
        }
        pump(w);
        if (w->state == SL_ANSWERED) {
            take(w->uid, w->length, &w->answer);
            slot_free(w);
        } else if (w->state == SL_GONE) {
            log_warnx("imap: UID %u: the tunnel went down before the relay answered",
                      (unsigned)w->uid);
            slot_free(w);
            gone++;
        }
    }
    return gone;
}

/* see imap_inflight.h */
int inflight_overdue(uint32_t now, uint32_t limit_ms)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slots[i].used && now - slots[i].since > limit_ms) {
            return 1;
        }
    }
    return 0;
}

/* see imap_inflight.h */
void inflight_drop_all(void)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slots[i].used) {         /* (a slot never used stays untouched: no RSS) */
            slot_free(&slots[i]);    /* unanswered: not delivered, fetched again later */
        }
    }
}
