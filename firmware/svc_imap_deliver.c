/* The IMAP receiver's delivery sub-state (see svc_imap.h): the message on its way to the
 * relay. Its stream and delivery header, its body as the server sends it (hashed; version 1
 * after a first read for the hash), the relay's answer, the hand-over to imap_inflight.c,
 * and the UIDs not read again. The session's states are in svc_imap.c. */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "imap_inflight.h"
#include "log.h"
#include "sha256_bulk.h"
#include "svc_imap_int.h"
#include "tunnel.h"

/* ---- the delivery stream ---- */

static void on_stream(struct yamux_stream *st, unsigned events, void *arg)
{
    (void)arg;
    if ((events & TUNNEL_EV_GONE) && !inflight_gone(st)) {
        sv.st = NULL;                /* already gone: not released by us */
        if (sv.dl != DL_ANSWERED) {
            sv.dl = DL_GONE;         /* (an answer that came first still counts) */
            sv.missed = 1;           /* in the body or after it: search again at the batch's
                                        end, whatever tunnel is up then */
        }
    }
}

/* A message stays on the server: no tunnel up takes a stream now (next_cycle). */
void deliver_no_stream(uint32_t uid)
{
    sv_verdict("UID %u: no tunnel stream now: left on the server", (unsigned)uid);
    log_warnx("imap: %s", sv.verdict);
    sv.left_for_later = 1;
}

/* see svc_imap_int.h */
void deliver_drop(void)
{
    if (sv.st != NULL) {
        tunnel_release(sv.st);       /* RST unless closed both ways: nothing half-stored */
        sv.st = NULL;
    }
    sv.dl = DL_NONE;
    sv.fin_after = 0;
}

/* The header goes out before the body; the answer may come early (a duplicate). */
static void stream_pump(void)
{
    if (sv.st == NULL) {
        return;
    }
    delivery_send_rest(sv.st, sv.hdr, sv.hdr_len, &sv.hdr_off, &sv.fin_after);
    if (sv.dl == DL_ANSWERED) {
        return;
    }
    if (delivery_read_answer(sv.st, sv.ans, &sv.ans_len, &sv.answer)) {
        sv.dl = DL_ANSWERED;
    }
    if (sv.dl == DL_ANSWERED && sv.state == IM_SEND) {
        /* "Already have it" comes right after the header: the rest need not be sent. */
        imap_client_skip_body(&sv.ic);
    }
}

/* ---- UIDs not read again ---- */

/* see svc_imap_int.h */
int deliver_skipped(uint32_t uid)
{
    for (unsigned i = 0; i < sv.nskipped; i++) {
        if (sv.skipped[i].uid == uid && sv.skipped[i].uidvalidity == sv.ic.uidvalidity) {
            return 1;
        }
    }
    return 0;
}

static void skip_remember(uint32_t uid)
{
    sv.skipped[sv.nskipped % IMAP_SKIP_MAX].uid = uid;
    sv.skipped[sv.nskipped % IMAP_SKIP_MAX].uidvalidity = sv.ic.uidvalidity;
    if (sv.nskipped < IMAP_SKIP_MAX) {
        sv.nskipped++;
    }
}

/* ---- the delivery, the relay's answer ---- */

/* Second read, into a tunnel stream behind the delivery header. */
static void send_start(void)
{
    const struct config *c = cfg();
    sv.d.version = 1;
    sv.d.uidvalidity = sv.ic.uidvalidity;
    sv.d.uid = sv.ic.fetch_uid;
    snprintf(sv.d.folder, sizeof sv.d.folder, "%s", c->imap.folder);
    long n = delivery_encode(sv.hdr, sizeof sv.hdr, &sv.d);
    sv.st = n > 0 ? tunnel_open(on_stream, NULL) : NULL;
    if (sv.st == NULL) {
        deliver_no_stream(sv.d.uid);
        sv_dispose_or_rest();
        return;
    }
    sv.hdr_len = (size_t)n;
    sv.hdr_off = sv.ans_len = 0;
    sv.dl = DL_STREAM;
    sv.sent = 0;
    sv_command_sent(IM_SEND, imap_client_fetch(&sv.ic, sv.d.uid));
}

/* The relay's answer decides: stored or already there is delivered; rejected (its store
 * refused the message for good) stays on the server and is not fetched again; else it is
 * retried later. */
static void answer_take(uint32_t uid, uint64_t length, const struct hello_answer *a)
{
    if (a->status == DELIVERY_ST_STORED || a->status == DELIVERY_ST_DUPLICATE) {
        sv.search_backoff = 0;       /* the way is open again */
        if (sv.ndelivered < IMAP_BATCH_MAX) {
            sv.delivered[sv.ndelivered++] = uid;
        }
        sv.msgs += a->status == DELIVERY_ST_STORED;
        sv.dups += a->status == DELIVERY_ST_DUPLICATE;
        sv.bytes += a->status == DELIVERY_ST_STORED ? length : 0;
        log_info("imap: UID %u (%llu bytes) %s", (unsigned)uid, (unsigned long long)length,
                 a->status == DELIVERY_ST_STORED ? "stored" : "already delivered");
    } else if (a->status == DELIVERY_ST_REJECTED) {
        sv.rejected++;
        skip_remember(uid);
        sv_verdict("UID %u left on the server, not delivered again: %s", (unsigned)uid,
                   a->text);
        log_warnx("imap: %s", sv.verdict);
    } else {
        sv_verdict("relay refused UID %u: %s", (unsigned)uid, a->text);
        log_warnx("imap: %s", sv.verdict);
        sv.left_for_later = 1;       /* an error passes: searched again later */
    }
}

static void answer_done(void)
{
    answer_take(sv.d.uid, sv.d.length, &sv.answer);
    deliver_drop();
    sv_next_message();
}

/* Version 2, body and trailer handed to the stream: into a free waiting slot, so the next
 * message is read while the relay stores this one. 1 when it went, 0 when all are busy. */
static int park(void)
{
    struct inflight_parked p = {
        .st = sv.st, .uid = sv.d.uid, .length = sv.d.length, .rest = sv.hdr + sv.hdr_off,
        .rest_len = sv.hdr_len - sv.hdr_off, .fin_after = sv.fin_after, .ans = sv.ans,
        .ans_len = sv.ans_len,
    };
    if (p.rest_len > DELIVERY_TRAILER_LEN || !inflight_park(&p)) {
        return 0;                    /* header bytes not out yet, or no room: it waits */
    }
    sv.st = NULL;                    /* the slot owns the stream now */
    sv.dl = DL_NONE;
    sv.fin_after = 0;
    return 1;
}

/* Every turn: the waiting deliveries' answers, each taken as it comes (the after-action
 * waits for the batch's end, IM_DRAIN). */
static void waiting_step(void)
{
    if (inflight_step(answer_take) > 0) {
        sv.missed = 1;
    }
    if (sv.state == IM_DRAIN && inflight_waiting() == 0) {
        sv_dispose_or_rest();
    }
}

/* ---- message bytes ---- */

/* A message over set imap max-size or what the relay takes stays on the server, and is
 * not fetched again: 1 (the body is skipped) or 0. */
static int too_big(void)
{
    uint64_t max = cfg()->imap.max_size ? cfg()->imap.max_size : DELIVERY_SIZE_MAX;
    if (max > DELIVERY_SIZE_MAX) {
        max = DELIVERY_SIZE_MAX;
    }
    if (sv.ic.body_size <= max) {
        return 0;
    }
    const char *whose = cfg()->imap.max_size && max == cfg()->imap.max_size
                            ? "of set imap max-size" : "the relay takes";
    sv_verdict("UID %u: %llu bytes, over the %llu %s: left on the server",
               (unsigned)sv.ic.fetch_uid, (unsigned long long)sv.ic.body_size,
               (unsigned long long)max, whose);
    log_warnx("imap: %s", sv.verdict);
    skip_remember(sv.ic.fetch_uid);
    sv.dl = DL_TOO_BIG;
    imap_client_skip_body(&sv.ic);
    return 1;
}

/* Version 2, the whole body sent: the trailer goes out behind it, then FIN (stream_pump),
 * behind what of the header is not out yet (an empty body follows it at once). */
static void body_end_v2(void)
{
    size_t rest = sv.hdr_len - sv.hdr_off;
    br_sha256_out(&sv.sha, sv.d.sha256);
    memmove(sv.hdr, sv.hdr + sv.hdr_off, rest);
    memcpy(sv.hdr + rest, sv.d.sha256, DELIVERY_TRAILER_LEN);
    sv.hdr_len = rest + DELIVERY_TRAILER_LEN;
    sv.hdr_off = 0;
    sv.fin_after = 1;
    sv.dl = DL_SENT;
    stream_pump();
}

/* Version 2: the server named the length, so the header can go out and the body follow
 * it as it comes, hashed on the way. No stream now, or one on a tunnel that agreed version
 * 1 (a relay replaced since the fetch began): the body is skipped and the message waits for
 * the next round. */
static void body_begin_v2(void)
{
    sv.d.version = 2;
    sv.d.length = sv.ic.body_size;
    sv.d.uidvalidity = sv.ic.uidvalidity;
    sv.d.uid = sv.ic.fetch_uid;
    memset(sv.d.sha256, 0, sizeof sv.d.sha256);
    snprintf(sv.d.folder, sizeof sv.d.folder, "%s", cfg()->imap.folder);
    long n = delivery_encode(sv.hdr, sizeof sv.hdr, &sv.d);
    sv.st = n > 0 ? tunnel_open(on_stream, NULL) : NULL;
    if (sv.st != NULL && tunnel_delivery_version(sv.st) != 2) {
        deliver_drop();
    }
    if (sv.st == NULL) {
        deliver_no_stream(sv.d.uid);
        imap_client_skip_body(&sv.ic);
        return;
    }
    br_sha256_init(&sv.sha);
    sv.hdr_len = (size_t)n;
    sv.hdr_off = sv.ans_len = 0;
    sv.fin_after = 0;
    sv.sent = 0;
    sv.dl = DL_BODY;
    stream_pump();                   /* the header now: the body waits for it (feed_limit) */
}

/* A run's body begins: delivered if the line named its UID first and the UID is one asked
 * for (the one before it is parked or done: feed_limit). Else skipped, and a server that
 * names UIDs after bodies gets one UID per command from now on. */
static int run_body_ok(void)
{
    uint32_t uid = sv.ic.fetch_uid;
    int asked = 0;
    for (unsigned j = sv.cur; j < sv.run_end && !asked; j++) {
        asked = sv.ic.uids[j] == uid;
    }
    if (uid == 0 && !sv.single) {
        sv.single = 1;
        log_info("imap: the server names a message's UID after its body: one UID per FETCH");
    }
    sv.dl = DL_NONE;
    if (uid == 0 || !asked || sv.st != NULL) {
        imap_client_skip_body(&sv.ic);
        return 0;
    }
    return 1;
}

/* A run's body ended: parked for its answer (else it waits as the current, feed_limit),
 * its early answer taken, or not delivered (too big, cut, gone: the stream is dropped). */
static void run_body_end(void)
{
    if (sv.dl == DL_ANSWERED) {
        answer_take(sv.d.uid, sv.d.length, &sv.answer);
        deliver_drop();
    } else if (sv.dl != DL_SENT) {
        deliver_drop();
    } else {
        (void)park();
    }
}

/* see svc_imap_int.h */
void deliver_body(const struct imap_cevent *ev)
{
    if (sv.state == IM_SEND && sv.v2 && ev->type == IC_EV_BODY_BEGIN) {
        if ((!sv.run || run_body_ok()) && !too_big()) {
            body_begin_v2();
        }
        return;
    }
    if (sv.state == IM_SEND && sv.run && ev->type == IC_EV_BODY_END) {
        if (sv.st != NULL && sv.sent == sv.d.length && sv.dl == DL_BODY) {
            body_end_v2();
        }
        run_body_end();
        return;
    }
    if (sv.state == IM_HASH) {
        if (ev->type == IC_EV_BODY_BEGIN) {
            br_sha256_init(&sv.sha);
            sv.d.length = 0;
            (void)too_big();
        } else if (ev->type == IC_EV_BODY_DATA) {
            sha256_bulk_update(&sv.sha, ev->p, ev->len);
            sv.d.length += ev->len;
        } else {
            br_sha256_out(&sv.sha, sv.d.sha256);
        }
        return;
    }
    if (ev->type == IC_EV_BODY_BEGIN) {
        if (sv.dl == DL_STREAM && sv.ic.body_size == sv.d.length) {
            sv.dl = DL_BODY;
        } else {
            imap_client_skip_body(&sv.ic);  /* answered, gone, or not the message hashed */
        }
    } else if (ev->type == IC_EV_BODY_DATA && sv.dl == DL_BODY) {
        /* feed() gave no more than yamux_write_room(): it all goes in. */
        long w = yamux_write(sv.st, ev->p, ev->len);
        if (w != (long)ev->len) {
            stream_pump();           /* the relay may have answered and closed: keep it */
            if (sv.dl != DL_ANSWERED) {
                deliver_drop();      /* the body is cut: the relay sees RST, stores nothing */
            }
            imap_client_skip_body(&sv.ic);
            return;
        }
        if (sv.v2) {
            sha256_bulk_update(&sv.sha, ev->p, ev->len);
        }
        sv.sent += ev->len;
    } else if (ev->type == IC_EV_BODY_END && sv.v2) {
        if (sv.st != NULL && sv.sent == sv.d.length && sv.dl == DL_BODY) {
            body_end_v2();
        }
    } else if (ev->type == IC_EV_BODY_END) {
        if (sv.st != NULL && sv.sent == sv.d.length &&
            (sv.dl == DL_BODY || sv.dl == DL_ANSWERED)) {
            yamux_close(sv.st);      /* FIN: the relay checks length and SHA-256, fsyncs */
        }
        if (sv.dl == DL_BODY) {
            sv.dl = DL_SENT;
        }
    }
}

/* How many received bytes the engine may take now: a body waits for the stream's room. */
size_t deliver_feed_limit(void)
{
    size_t n = sv.rx_len - sv.rx_off;
    if (sv.state == IM_SEND && sv.run && sv.st != NULL && sv.dl == DL_SENT) {
        return 0;                    /* a run's body waits for a free slot before the next */
    }
    if (sv.state == IM_SEND && sv.dl == DL_BODY && !sv.ic.skip_body) {
        /* (the header first: body bytes must not pass it) */
        size_t room = sv.hdr_off < sv.hdr_len ? 0 : yamux_write_room(sv.st);
        n = n < room ? n : room;
    }
    return n;
}

/* ---- the session's calls ---- */

/* see svc_imap_int.h */
void deliver_step(void)
{
    if (sv.state == IM_ANSWER && sv.dl == DL_GONE) {
        log_warnx("imap: UID %u: the tunnel went down before the relay answered",
                  (unsigned)sv.d.uid);
        deliver_drop();
        sv_next_message();
    }
    stream_pump();
    if (sv.state == IM_ANSWER && sv.dl == DL_ANSWERED) {
        answer_done();
    }
    waiting_step();
    if (sv.state == IM_SEND && sv.run && sv.st != NULL && sv.dl == DL_SENT) {
        (void)park();                /* a slot came free: the run goes on */
        sv.since = board_now_ms();   /* (waiting for the relay: the slots' timer, not IO's) */
    } else if (sv.state == IM_SEND && sv.run && sv.dl == DL_ANSWERED) {
        answer_take(sv.d.uid, sv.d.length, &sv.answer);     /* early: the body is skipped */
        deliver_drop();
    }
}

/* see svc_imap_int.h */
void deliver_hash_done(void)
{
    if (!sv.ic.body_found || sv.dl == DL_TOO_BIG) {
        sv_next_message();
    } else {
        send_start();
    }
}

/* see svc_imap_int.h */
void deliver_send_done(void)
{
    if (sv.run && sv.st == NULL) {
        sv_next_message();           /* the run's bodies are all parked, answered or not sent */
        return;
    }
    if (sv.dl == DL_ANSWERED) {
        answer_done();               /* early: a duplicate (or a refusal) */
        return;
    }
    if (!sv.ic.body_found || sv.dl != DL_SENT || sv.sent != sv.d.length) {
        /* vanished between the reads, tunnel gone, or changed: not delivered */
        deliver_drop();
        sv_next_message();
        return;
    }
    if (sv.v2 && park()) {
        sv_next_message();           /* read the next while the relay stores this one */
        return;
    }
    sv.state = IM_ANSWER;
    sv.since = board_now_ms();
}
