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
        im.st = NULL;                /* already gone: not released by us */
        if (im.dl != DL_ANSWERED) {
            im.dl = DL_GONE;         /* (an answer that came first still counts) */
            im.missed = 1;           /* in the body or after it: search again at the batch's
                                        end, whatever tunnel is up then */
        }
    }
}

/* A message stays on the server: no tunnel up takes a stream now (next_cycle). */
void deliver_no_stream(uint32_t uid)
{
    sv_verdict("UID %u: no tunnel stream now: left on the server", (unsigned)uid);
    log_warnx("imap: %s", im.verdict);
    im.left_for_later = 1;
}

/* see svc_imap_int.h */
void deliver_drop(void)
{
    if (im.st != NULL) {
        tunnel_release(im.st);       /* RST unless closed both ways: nothing half-stored */
        im.st = NULL;
    }
    im.dl = DL_NONE;
    im.fin_after = 0;
}

/* The header goes out before the body; the answer may come early (a duplicate). */
static void stream_pump(void)
{
    if (im.st == NULL) {
        return;
    }
    delivery_send_rest(im.st, im.hdr, im.hdr_len, &im.hdr_off, &im.fin_after);
    if (im.dl == DL_ANSWERED) {
        return;
    }
    if (delivery_read_answer(im.st, im.ans, &im.ans_len, &im.answer)) {
        im.dl = DL_ANSWERED;
    }
    if (im.dl == DL_ANSWERED && im.state == IM_SEND) {
        /* "Already have it" comes right after the header: the rest need not be sent. */
        imap_client_skip_body(&im.ic);
    }
}

/* ---- UIDs not read again ---- */

/* see svc_imap_int.h */
int deliver_skipped(uint32_t uid)
{
    for (unsigned i = 0; i < im.nskipped; i++) {
        if (im.skipped[i].uid == uid && im.skipped[i].uidvalidity == im.ic.uidvalidity) {
            return 1;
        }
    }
    return 0;
}

static void skip_remember(uint32_t uid)
{
    im.skipped[im.nskipped % IMAP_SKIP_MAX].uid = uid;
    im.skipped[im.nskipped % IMAP_SKIP_MAX].uidvalidity = im.ic.uidvalidity;
    if (im.nskipped < IMAP_SKIP_MAX) {
        im.nskipped++;
    }
}

/* ---- the delivery, the relay's answer ---- */

/* Second read, into a tunnel stream behind the delivery header. */
static void send_start(void)
{
    const struct config *c = cfg();
    im.d.version = 1;
    im.d.uidvalidity = im.ic.uidvalidity;
    im.d.uid = im.ic.fetch_uid;
    snprintf(im.d.folder, sizeof im.d.folder, "%s", c->imap.folder);
    long n = delivery_encode(im.hdr, sizeof im.hdr, &im.d);
    im.st = n > 0 ? tunnel_open(on_stream, NULL) : NULL;
    if (im.st == NULL) {
        deliver_no_stream(im.d.uid);
        sv_dispose_or_rest();
        return;
    }
    im.hdr_len = (size_t)n;
    im.hdr_off = im.ans_len = 0;
    im.dl = DL_STREAM;
    im.sent = 0;
    sv_command_sent(IM_SEND, imap_client_fetch(&im.ic, im.d.uid));
}

/* The relay's answer decides: stored or already there is delivered; rejected (its store
 * refused the message for good) stays on the server and is not fetched again; else it is
 * retried later. */
static void answer_take(uint32_t uid, uint64_t length, const struct hello_answer *a)
{
    if (a->status == DELIVERY_ST_STORED || a->status == DELIVERY_ST_DUPLICATE) {
        im.search_backoff = 0;       /* the way is open again */
        if (im.ndelivered < IMAP_BATCH_MAX) {
            im.delivered[im.ndelivered++] = uid;
        }
        im.msgs += a->status == DELIVERY_ST_STORED;
        im.dups += a->status == DELIVERY_ST_DUPLICATE;
        im.bytes += a->status == DELIVERY_ST_STORED ? length : 0;
        log_info("imap: UID %u (%llu bytes) %s", (unsigned)uid, (unsigned long long)length,
                 a->status == DELIVERY_ST_STORED ? "stored" : "already delivered");
    } else if (a->status == DELIVERY_ST_REJECTED) {
        im.rejected++;
        skip_remember(uid);
        sv_verdict("UID %u left on the server, not delivered again: %s", (unsigned)uid,
                   a->text);
        log_warnx("imap: %s", im.verdict);
    } else {
        sv_verdict("relay refused UID %u: %s", (unsigned)uid, a->text);
        log_warnx("imap: %s", im.verdict);
        im.left_for_later = 1;       /* an error passes: searched again later */
    }
}

static void answer_done(void)
{
    answer_take(im.d.uid, im.d.length, &im.answer);
    deliver_drop();
    sv_next_message();
}

/* Version 2, body and trailer handed to the stream: into a free waiting slot, so the next
 * message is read while the relay stores this one. 1 when it went, 0 when all are busy. */
static int park(void)
{
    struct inflight_parked p = {
        .st = im.st, .uid = im.d.uid, .length = im.d.length, .rest = im.hdr + im.hdr_off,
        .rest_len = im.hdr_len - im.hdr_off, .fin_after = im.fin_after, .ans = im.ans,
        .ans_len = im.ans_len,
    };
    if (p.rest_len > DELIVERY_TRAILER_LEN || !inflight_park(&p)) {
        return 0;                    /* header bytes not out yet, or no room: it waits */
    }
    im.st = NULL;                    /* the slot owns the stream now */
    im.dl = DL_NONE;
    im.fin_after = 0;
    return 1;
}

/* Every turn: the waiting deliveries' answers, each taken as it comes (the after-action
 * waits for the batch's end, IM_DRAIN). */
static void waiting_step(void)
{
    if (inflight_step(answer_take) > 0) {
        im.missed = 1;
    }
    if (im.state == IM_DRAIN && inflight_waiting() == 0) {
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
    if (im.ic.body_size <= max) {
        return 0;
    }
    const char *whose = cfg()->imap.max_size && max == cfg()->imap.max_size
                            ? "of set imap max-size" : "the relay takes";
    sv_verdict("UID %u: %llu bytes, over the %llu %s: left on the server",
               (unsigned)im.ic.fetch_uid, (unsigned long long)im.ic.body_size,
               (unsigned long long)max, whose);
    log_warnx("imap: %s", im.verdict);
    skip_remember(im.ic.fetch_uid);
    im.dl = DL_TOO_BIG;
    imap_client_skip_body(&im.ic);
    return 1;
}

/* Version 2, the whole body sent: the trailer goes out behind it, then FIN (stream_pump),
 * behind what of the header is not out yet (an empty body follows it at once). */
static void body_end_v2(void)
{
    size_t rest = im.hdr_len - im.hdr_off;
    br_sha256_out(&im.sha, im.d.sha256);
    memmove(im.hdr, im.hdr + im.hdr_off, rest);
    memcpy(im.hdr + rest, im.d.sha256, DELIVERY_TRAILER_LEN);
    im.hdr_len = rest + DELIVERY_TRAILER_LEN;
    im.hdr_off = 0;
    im.fin_after = 1;
    im.dl = DL_SENT;
    stream_pump();
}

/* Version 2: the server named the length, so the header can go out and the body follow
 * it as it comes, hashed on the way. No stream now, or one on a tunnel that agreed version
 * 1 (a relay replaced since the fetch began): the body is skipped and the message waits for
 * the next round. */
static void body_begin_v2(void)
{
    im.d.version = 2;
    im.d.length = im.ic.body_size;
    im.d.uidvalidity = im.ic.uidvalidity;
    im.d.uid = im.ic.fetch_uid;
    memset(im.d.sha256, 0, sizeof im.d.sha256);
    snprintf(im.d.folder, sizeof im.d.folder, "%s", cfg()->imap.folder);
    long n = delivery_encode(im.hdr, sizeof im.hdr, &im.d);
    im.st = n > 0 ? tunnel_open(on_stream, NULL) : NULL;
    if (im.st != NULL && tunnel_delivery_version(im.st) != 2) {
        deliver_drop();
    }
    if (im.st == NULL) {
        deliver_no_stream(im.d.uid);
        imap_client_skip_body(&im.ic);
        return;
    }
    br_sha256_init(&im.sha);
    im.hdr_len = (size_t)n;
    im.hdr_off = im.ans_len = 0;
    im.fin_after = 0;
    im.sent = 0;
    im.dl = DL_BODY;
    stream_pump();                   /* the header now: the body waits for it (feed_limit) */
}

/* A run's body begins: delivered if the line named its UID first and the UID is one asked
 * for (the one before it is parked or done: feed_limit). Else skipped, and a server that
 * names UIDs after bodies gets one UID per command from now on. */
static int run_body_ok(void)
{
    uint32_t uid = im.ic.fetch_uid;
    int asked = 0;
    for (unsigned j = im.cur; j < im.run_end && !asked; j++) {
        asked = im.ic.uids[j] == uid;
    }
    if (uid == 0 && !im.single) {
        im.single = 1;
        log_info("imap: the server names a message's UID after its body: one UID per FETCH");
    }
    im.dl = DL_NONE;
    if (uid == 0 || !asked || im.st != NULL) {
        imap_client_skip_body(&im.ic);
        return 0;
    }
    return 1;
}

/* A run's body ended: parked for its answer (else it waits as the current, feed_limit),
 * its early answer taken, or not delivered (too big, cut, gone: the stream is dropped). */
static void run_body_end(void)
{
    if (im.dl == DL_ANSWERED) {
        answer_take(im.d.uid, im.d.length, &im.answer);
        deliver_drop();
    } else if (im.dl != DL_SENT) {
        deliver_drop();
    } else {
        (void)park();
    }
}

/* see svc_imap_int.h */
void deliver_body(const struct imap_cevent *ev)
{
    if (im.state == IM_SEND && im.v2 && ev->type == IC_EV_BODY_BEGIN) {
        if ((!im.run || run_body_ok()) && !too_big()) {
            body_begin_v2();
        }
        return;
    }
    if (im.state == IM_SEND && im.run && ev->type == IC_EV_BODY_END) {
        if (im.st != NULL && im.sent == im.d.length && im.dl == DL_BODY) {
            body_end_v2();
        }
        run_body_end();
        return;
    }
    if (im.state == IM_HASH) {
        if (ev->type == IC_EV_BODY_BEGIN) {
            br_sha256_init(&im.sha);
            im.d.length = 0;
            (void)too_big();
        } else if (ev->type == IC_EV_BODY_DATA) {
            sha256_bulk_update(&im.sha, ev->p, ev->len);
            im.d.length += ev->len;
        } else {
            br_sha256_out(&im.sha, im.d.sha256);
        }
        return;
    }
    if (ev->type == IC_EV_BODY_BEGIN) {
        if (im.dl == DL_STREAM && im.ic.body_size == im.d.length) {
            im.dl = DL_BODY;
        } else {
            imap_client_skip_body(&im.ic);  /* answered, gone, or not the message hashed */
        }
    } else if (ev->type == IC_EV_BODY_DATA && im.dl == DL_BODY) {
        /* feed() gave no more than yamux_write_room(): it all goes in. */
        long w = yamux_write(im.st, ev->p, ev->len);
        if (w != (long)ev->len) {
            stream_pump();           /* the relay may have answered and closed: keep it */
            if (im.dl != DL_ANSWERED) {
                deliver_drop();      /* the body is cut: the relay sees RST, stores nothing */
            }
            imap_client_skip_body(&im.ic);
            return;
        }
        if (im.v2) {
            sha256_bulk_update(&im.sha, ev->p, ev->len);
        }
        im.sent += ev->len;
    } else if (ev->type == IC_EV_BODY_END && im.v2) {
        if (im.st != NULL && im.sent == im.d.length && im.dl == DL_BODY) {
            body_end_v2();
        }
    } else if (ev->type == IC_EV_BODY_END) {
        if (im.st != NULL && im.sent == im.d.length &&
            (im.dl == DL_BODY || im.dl == DL_ANSWERED)) {
            yamux_close(im.st);      /* FIN: the relay checks length and SHA-256, fsyncs */
        }
        if (im.dl == DL_BODY) {
            im.dl = DL_SENT;
        }
    }
}

/* How many received bytes the engine may take now: a body waits for the stream's room. */
size_t deliver_feed_limit(void)
{
    size_t n = im.rx_len - im.rx_off;
    if (im.state == IM_SEND && im.run && im.st != NULL && im.dl == DL_SENT) {
        return 0;                    /* a run's body waits for a free slot before the next */
    }
    if (im.state == IM_SEND && im.dl == DL_BODY && !im.ic.skip_body) {
        /* (the header first: body bytes must not pass it) */
        size_t room = im.hdr_off < im.hdr_len ? 0 : yamux_write_room(im.st);
        n = n < room ? n : room;
    }
    return n;
}

/* ---- the session's calls ---- */

/* see svc_imap_int.h */
void deliver_step(void)
{
    if (im.state == IM_ANSWER && im.dl == DL_GONE) {
        log_warnx("imap: UID %u: the tunnel went down before the relay answered",
                  (unsigned)im.d.uid);
        deliver_drop();
        sv_next_message();
    }
    stream_pump();
    if (im.state == IM_ANSWER && im.dl == DL_ANSWERED) {
        answer_done();
    }
    waiting_step();
    if (im.state == IM_SEND && im.run && im.st != NULL && im.dl == DL_SENT) {
        (void)park();                /* a slot came free: the run goes on */
        im.since = board_now_ms();   /* (waiting for the relay: the slots' timer, not IO's) */
    } else if (im.state == IM_SEND && im.run && im.dl == DL_ANSWERED) {
        answer_take(im.d.uid, im.d.length, &im.answer);     /* early: the body is skipped */
        deliver_drop();
    }
}

/* see svc_imap_int.h */
void deliver_hash_done(void)
{
    if (!im.ic.body_found || im.dl == DL_TOO_BIG) {
        sv_next_message();
    } else {
        send_start();
    }
}

/* see svc_imap_int.h */
void deliver_send_done(void)
{
    if (im.run && im.st == NULL) {
        sv_next_message();           /* the run's bodies are all parked, answered or not sent */
        return;
    }
    if (im.dl == DL_ANSWERED) {
        answer_done();               /* early: a duplicate (or a refusal) */
        return;
    }
    if (!im.ic.body_found || im.dl != DL_SENT || im.sent != im.d.length) {
        /* vanished between the reads, tunnel gone, or changed: not delivered */
        deliver_drop();
        sv_next_message();
        return;
    }
    if (im.v2 && park()) {
        sv_next_message();           /* read the next while the relay stores this one */
        return;
    }
    im.state = IM_ANSWER;
    im.since = board_now_ms();
}
