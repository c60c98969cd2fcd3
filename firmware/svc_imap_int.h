/* What the IMAP receiver's two files share (svc_imap.h describes the receiver): its state,
 * the session (svc_imap.c) and the delivery sub-state (svc_imap_deliver.c). */
#ifndef GW_SVC_IMAP_INT_H
#define GW_SVC_IMAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "hello_delivery.h"
#include "imap_client.h"
#include "imap_connect.h"
#include "settings.h"
#include "svc_imap.h"
#include "yamux.h"

/* The receiver: where the connection is, then what the session does (one state per IMAP
 * command in flight). A STARTTLS handshake runs under IM_LOGIN: im.conn.dial says
 * HANDSHAKING. */
enum im_state {
    IM_OFF,              /* disabled, or no server set */
    IM_WAIT,             /* backing off until retry_at */
    IM_DIAL,             /* through the server's mapping: name, connect, implicit TLS */
    IM_LOGIN,            /* greeting, capabilities, STARTTLS, login, select */
    IM_SEARCH,
    IM_HASH,             /* delivery version 1: first read of a message, its SHA-256 */
    IM_SEND,             /* the read into the delivery stream (version 2: the only one) */
    IM_ANSWER,           /* the message is out: waiting for the relay's answer */
    IM_DISPOSE,          /* the after-action on the delivered batch */
    IM_IDLE,
    IM_PAUSE,            /* no IDLE on the server: waiting for the poll interval */
    IM_NOOP,
    IM_DRAIN,            /* the batch is read: waiting for the answers still in flight */
};

/* The message being read: on its way to the relay (IM_SEND, IM_ANSWER), or why not. */
enum dl_state {
    DL_NONE,             /* no delivery stream */
    DL_TOO_BIG,          /* the hash read found it over the limit: it stays on the server */
    DL_STREAM,           /* a stream: the header goes out, the body has not begun */
    DL_BODY,             /* the body goes into the stream as the server sends it */
    DL_SENT,             /* all of it and our FIN are out */
    DL_ANSWERED,         /* the relay answered (early for a duplicate): im.answer */
    DL_GONE,             /* the tunnel went down under it: the stream is gone, not released */
};

/* The receiver's whole state: one, `im` (as its states IM_), defined in svc_imap.c. */
struct imap_sv {
    enum im_state state;
    struct imap_connect conn;        /* to the server; im.conn.dial.ep once open */
    struct imap_client ic;
    uint8_t rx[IMAP_RX_MAX];
    size_t rx_len, rx_off;
    uint32_t retry_at, backoff, since, next_poll;
    uint8_t idle_without_tunnel;     /* IDLE or PAUSE began with no tunnel up */
    uint8_t missed;                  /* a delivery lost its tunnel unanswered since the last
                                        SEARCH: search again before IDLE (it would not hear
                                        of that message again: test_relay_ha kills a relay
                                        in the body of a batch's last delivery) */
    /* A message of the batch stays on the server for a cause that passes: every tunnel up
     * refused a stream (a relay going away), or the relay answered error. Nothing tells the
     * receiver when it has passed, so it searches again later (search_later). */
    uint8_t left_for_later;          /* this batch left such a message */
    uint8_t search_again;            /* a search is due at search_again_at */
    uint32_t search_again_at, search_backoff;
    /* the batch: UIDs from the last search, the ones the relay confirmed */
    unsigned cur;
    uint32_t delivered[IMAP_BATCH_MAX];
    unsigned ndelivered;
    /* the message being delivered */
    br_sha256_context sha;
    struct delivery d;
    uint8_t v2;                      /* version 2: one read, the SHA-256 in a trailer */
    /* version 2: the batch's UIDs from cur to run_end asked in one command (one round trip
     * to the server for them all), each body delivered as it comes; single: a server that
     * named a body's UID after it gets one UID per command for the rest of the session */
    uint8_t run, single;
    unsigned run_end;
    uint8_t fin_after;               /* version 2: FIN once hdr[] (now the trailer) is out */
    struct yamux_stream *st;
    enum dl_state dl;
    uint64_t sent;
    uint8_t hdr[HELLO_MSG_MAX];      /* the header, then (version 2) the trailer */
    size_t hdr_len, hdr_off;
    uint8_t ans[HELLO_MSG_MAX];
    size_t ans_len;
    struct hello_answer answer;
    struct { uint32_t uidvalidity, uid; } skipped[IMAP_SKIP_MAX];
    unsigned nskipped;
    /* for show imap */
    uint32_t last_poll, last_uidvalidity;
    uint64_t msgs, dups, bytes, rejected;
    char verdict[IMAP_VERDICT_MAX];
};
extern struct imap_sv im;

static inline const struct config *cfg(void)
{
    return settings_running();
}

/* svc_imap.c: the verdict for show imap, and the batch's steps the delivery takes. */
void sv_verdict(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sv_command_sent(enum im_state s, int r);    /* in s now; r != 0: the engine refused */
void sv_next_message(void);
void sv_dispose_or_rest(void);       /* the batch is read: after-action, or the next cycle */

/* svc_imap_deliver.c: the message on its way, for the session. */
void deliver_drop(void);             /* the stream released (RST unless closed both ways) */
void deliver_no_stream(uint32_t uid);
int deliver_skipped(uint32_t uid);   /* too big or rejected: not read again */
void deliver_step(void);             /* each turn: the stream, the answers, the run */
void deliver_hash_done(void);        /* IM_HASH's fetch finished */
void deliver_send_done(void);        /* IM_SEND's fetch finished */
void deliver_body(const struct imap_cevent *ev);
size_t deliver_feed_limit(void);     /* received bytes the engine may take now */

#endif
