/* The IMAP receiver's deliveries in flight (svc_imap_deliver.c; delivery version 2, issue 21): a
 * message whose body and trailer are out waits in a slot for the relay's answer (its
 * fsyncs) while the next one is read. With the one being read, at most inflight_max()
 * deliveries are in flight: IMAP_INFLIGHT_MAX, and no more than the relays up admit (their
 * hello answers name their location-deliveries: 16 by default, 4 from a relay from
 * before). The deeper the pipeline, the more deliveries share the relay's group commit.
 *
 * Memory: IMAP_INFLIGHT_MAX - 1 slots, static, ~1.4 KiB each (the answer buffer, the rest
 * of the trailer): 21 KiB. */
#ifndef GW_IMAP_INFLIGHT_H
#define GW_IMAP_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "hello_delivery.h"
#include "yamux.h"

#define IMAP_INFLIGHT_MAX 16

/* A delivery handed over to a slot: its stream (the slot owns it from then on), and what
 * of its trailer and of the relay's answer is not yet out, or already in. */
struct inflight_parked {
    struct yamux_stream *st;
    uint32_t uid;
    uint64_t length;
    const uint8_t *rest;             /* the trailer bytes not written yet (at most 32) */
    size_t rest_len;
    int fin_after;                   /* our FIN still to send once rest is out */
    const uint8_t *ans;              /* answer bytes read so far */
    size_t ans_len;
};

/* How many deliveries may be in flight now (the one being read included). */
unsigned inflight_max(void);
/* Slots in use. */
unsigned inflight_waiting(void);
/* Into a free slot: 1, or 0 when one more would pass inflight_max() (the caller keeps it). */
int inflight_park(const struct inflight_parked *p);
/* The tunnel dropped st: 1 when a slot had it (its answer, if it came, still counts). */
int inflight_gone(struct yamux_stream *st);
/* Every turn: each slot's trailer and FIN out, its answer in; an answered one goes to
 * take(uid, length, answer), a gone one is logged; both are freed. Returns how many were
 * gone (their messages must be searched for again). */
unsigned inflight_step(void (*take)(uint32_t uid, uint64_t length,
                                    const struct hello_answer *a));
/* 1 when a slot has waited for its answer longer than limit_ms. */
int inflight_overdue(uint32_t now, uint32_t limit_ms);
/* The session ends: every slot released, unanswered (the messages are fetched again). */
void inflight_drop_all(void);

/* One delivery stream's turn, for the slots and for the delivery being read alike:
 * what of out[*off..len) the stream takes, then our FIN once all is out (when *fin_after). */
void delivery_send_rest(struct yamux_stream *st, const uint8_t *out, size_t len, size_t *off,
                        uint8_t *fin_after);
/* The relay's answer read on into ans[HELLO_MSG_MAX] (*ans_len so far): 1 once it is whole
 * in *a (a broken or missing answer as DELIVERY_ST_ERROR with why), else 0. */
int delivery_read_answer(struct yamux_stream *st, uint8_t *ans, size_t *ans_len,
                         struct hello_answer *a);

#endif
