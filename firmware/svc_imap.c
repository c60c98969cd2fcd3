/* see svc_imap.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bearssl.h"
#include "board.h"
#include "hello_delivery.h"
#include "imap_client.h"
#include "imap_connect.h"
#include "imap_inflight.h"
#include "log.h"
#include "mappings.h"
#include "secure_wipe.h"
#include "settings.h"
#include "sha256_bulk.h"
#include "svc_imap.h"
#include "tunnel.h"

/* The receiver: where the connection is, then what the session does (one state per IMAP
 * command in flight). A STARTTLS handshake runs under IM_LOGIN: sv.conn.dial says
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
static const char *const state_names[] = {
    "off", "waiting to reconnect", "connecting", "logging in", "searching", "reading (hash)",
    "delivering", "waiting for the relay", "after-action", "idle", "polling", "noop",
    "waiting for the relay",
};

/* The message being read: on its way to the relay (IM_SEND, IM_ANSWER), or why not. */
enum dl_state {
    DL_NONE,             /* no delivery stream */
    DL_TOO_BIG,          /* the hash read found it over the limit: it stays on the server */
    DL_STREAM,           /* a stream: the header goes out, the body has not begun */
    DL_BODY,             /* the body goes into the stream as the server sends it */
    DL_SENT,             /* all of it and our FIN are out */
    DL_ANSWERED,         /* the relay answered (early for a duplicate): sv.answer */
    DL_GONE,             /* the tunnel went down under it: the stream is gone, not released */
};

static struct {
    enum im_state state;
    struct imap_connect conn;        /* to the server; sv.conn.dial.ep once open */
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
} sv;

static void sv_verdict(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sv_verdict(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sv.verdict, sizeof sv.verdict, fmt, ap);
    va_end(ap);
}

static const struct config *cfg(void)
{
    return settings_running();
}

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
static void no_stream(uint32_t uid)
{
    sv_verdict("UID %u: no tunnel stream now: left on the server", (unsigned)uid);
    log_warnx("imap: %s", sv.verdict);
    sv.left_for_later = 1;
}

static void stream_drop(void)
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

/* ---- session end, reconnect ---- */

static void session_down(const char *why)
{
    if (why != NULL) {
        sv_verdict("%s", why);
        log_warnx("imap: %s", why);
    }
    stream_drop();
    inflight_drop_all();             /* unanswered: not delivered, fetched again later */
    dial_abort(&sv.conn.dial);
    secure_wipe(&sv.ic, sizeof sv.ic);       /* the engine saw the credentials */
    sv.backoff = sv.backoff ? sv.backoff * 2 : IMAP_RETRY_MIN_MS;
    if (sv.backoff > IMAP_RETRY_MAX_MS) {
        sv.backoff = IMAP_RETRY_MAX_MS;
    }
    sv.retry_at = board_now_ms() + sv.backoff;
    sv.state = IM_WAIT;
}

/* ---- connecting through the mapping (imap_connect.c) ---- */

static void session_begin(void)
{
    const struct config *c = cfg();
    struct imap_client_config ic = {
        .user = c->imap.user, .pass = c->imap.password, .folder = c->imap.folder,
        .after = c->imap.after == IMAP_AFTER_SEEN ? IMAP_DO_SEEN
               : c->imap.after == IMAP_AFTER_MOVE ? IMAP_DO_MOVE : IMAP_DO_DELETE,
        .move_to = c->imap.move_folder,
        .starttls = c->imap.security == IMAP_SEC_STARTTLS,
        .body_max = 1ull << 40,      /* sizes are judged here, not by ending the session */
    };
    imap_client_init(&sv.ic, &ic);
    sv.rx_len = sv.rx_off = 0;
    sv.run = sv.single = 0;
    sv.left_for_later = sv.search_again = 0;     /* the login's search is the next */
    sv.since = board_now_ms();
    sv.state = IM_LOGIN;
}

/* The dial to the server, one step. */
static int dial_step(void)
{
    char v[IMAP_VERDICT_MAX];
    switch (imap_connect_step(&sv.conn, v, sizeof v)) {
    case IMAP_CONNECT_CONNECTING:
        sv.since = board_now_ms();
        return 0;
    case IMAP_CONNECT_FAILED:
        session_down(v);
        return 0;
    case IMAP_CONNECT_OPEN:
        session_begin();
        return 1;
    default:
        return 0;
    }
}

static void connect_start(void)
{
    char v[IMAP_VERDICT_MAX];
    if (imap_connect_start(&sv.conn, v, sizeof v) != 0) {
        session_down(v);
        return;
    }
    sv.state = IM_DIAL;
    dial_step();
}

/* ---- the batch: search, hash, deliver, after-action ---- */

static int skipped(uint32_t uid)
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

static void command_sent(enum im_state s, int r)
{
    sv.state = s;
    sv.since = board_now_ms();
    if (r != 0) {
        imap_client_abort(&sv.ic, "the engine refused the command");
        session_down(sv.ic.verdict);
    }
}

/* A batch left mail for a passing cause: the next search waits 2, 4 ... 60 s while such
 * batches follow each other (a delivery stored starts again at 2 s). Mail that finds no
 * stream is not read from the server meanwhile: hash_next asks before each fetch. */
static void search_later(void)
{
    uint32_t b = sv.search_backoff ? sv.search_backoff * 2 : IMAP_RETRY_MIN_MS;
    sv.search_backoff = b < IMAP_RETRY_MAX_MS ? b : IMAP_RETRY_MAX_MS;
    sv.search_again_at = board_now_ms() + sv.search_backoff;
    sv.search_again = 1;
    log_info("imap: mail left on the server: searched again in %u s",
             (unsigned)(sv.search_backoff / 1000));
}

/* What comes after a batch, or when a search is due: SEARCH if a tunnel is up and a search
 * is due or new mail was announced meanwhile (IDLE would not hear of it again), unless the
 * batch left mail for later (search_later); else IDLE when the server has it, or a pause
 * until the poll interval. With no tunnel up nothing is fetched: the mailbox stays the
 * queue, searched again when a tunnel comes up. */
static void next_cycle(int due)
{
    uint32_t poll = cfg()->imap.poll ? cfg()->imap.poll : IMAP_POLL_DEFAULT_S;
    int tunnel = tunnel_up_count() > 0;
    int refused = sv.left_for_later;
    sv.left_for_later = 0;
    if (!refused && (due || (tunnel && (sv.ic.news || sv.missed)))) {
        sv.last_poll = board_now_ms();
    }
    if (tunnel && !refused && (due || sv.ic.news || sv.missed)) {
        sv.missed = 0;
        sv.search_again = 0;
        command_sent(IM_SEARCH, imap_client_search(&sv.ic));
        return;
    }
    if (tunnel && refused) {
        search_later();
    } else if (!tunnel) {
        sv.search_again = 0;         /* a tunnel that comes up brings the search */
        sv.search_backoff = 0;
    }
    sv.idle_without_tunnel = !tunnel;
    if (sv.ic.caps & IMAP_CAP_IDLE) {
        command_sent(IM_IDLE, imap_client_idle(&sv.ic));
        return;
    }
    sv.state = IM_PAUSE;
    sv.next_poll = board_now_ms() + poll * 1000u;
}

static void hash_next(void);

static void dispose_or_rest(void)
{
    if (inflight_waiting() > 0) {
        sv.state = IM_DRAIN;         /* the after-action waits for every answer */
        sv.since = board_now_ms();
        return;
    }
    if (sv.ndelivered) {
        command_sent(IM_DISPOSE, imap_client_dispose(&sv.ic, sv.delivered, sv.ndelivered));
        return;
    }
    next_cycle(0);
}

static void next_message(void)
{
    sv.cur = sv.run ? sv.run_end : sv.cur + 1;
    sv.run = 0;
    hash_next();
}

/* Version 2: the UIDs from cur on (not skipped, within the batch) in one command. */
static int fetch_run(void)
{
    uint32_t uids[IMAP_FETCH_SET_MAX];
    unsigned n = 0, j = sv.cur;
    for (; j < sv.ic.nuids && j < cfg()->imap.batch && n < IMAP_FETCH_SET_MAX; j++) {
        if (!skipped(sv.ic.uids[j])) {
            uids[n++] = sv.ic.uids[j];
        }
    }
    sv.run = 1;
    sv.run_end = j;
    return imap_client_fetch_set(&sv.ic, uids, n);
}

/* First read of the message: its SHA-256 and length for the delivery header. */
static void hash_next(void)
{
    while (sv.cur < sv.ic.nuids && skipped(sv.ic.uids[sv.cur])) {
        sv.cur++;
    }
    if (sv.cur >= sv.ic.nuids || sv.cur >= cfg()->imap.batch || tunnel_up_count() == 0) {
        dispose_or_rest();           /* the rest waits for the next cycle */
        return;
    }
    if (!tunnel_can_open()) {
        no_stream(sv.ic.uids[sv.cur]);   /* not read while no stream could take it */
        dispose_or_rest();
        return;
    }
    sv.dl = DL_NONE;
    /* Version 2 when every tunnel up speaks it (tunnel_open picks any): one read, the stream
     * opened when the server names the length (body_begin_v2). Else the hash read first. */
    sv.v2 = tunnel_delivery_version_min() == 2;
    if (sv.v2 && !sv.single) {
        command_sent(IM_SEND, fetch_run());
        return;
    }
    command_sent(sv.v2 ? IM_SEND : IM_HASH, imap_client_fetch(&sv.ic, sv.ic.uids[sv.cur]));
}

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
        no_stream(sv.d.uid);
        dispose_or_rest();
        return;
    }
    sv.hdr_len = (size_t)n;
    sv.hdr_off = sv.ans_len = 0;
    sv.dl = DL_STREAM;
    sv.sent = 0;
    command_sent(IM_SEND, imap_client_fetch(&sv.ic, sv.d.uid));
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
    stream_drop();
    next_message();
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
        dispose_or_rest();
    }
}

static void on_uidvalidity(void)
{
    if (sv.last_uidvalidity && sv.last_uidvalidity != sv.ic.uidvalidity) {
        /* Every UID we knew is void; the relay's SHA-256 dedup keeps delivery exact. */
        log_warnx("imap: folder %s: UIDVALIDITY changed %u -> %u: all messages are new",
                  cfg()->imap.folder, (unsigned)sv.last_uidvalidity,
                  (unsigned)sv.ic.uidvalidity);
        sv.nskipped = 0;
    }
    sv.last_uidvalidity = sv.ic.uidvalidity;
}

/* The command in flight finished. */
static void on_ready(void)
{
    switch (sv.state) {
    case IM_LOGIN:
        log_info("imap: logged in, folder %s (UIDVALIDITY %u, %u messages)", cfg()->imap.folder,
                 (unsigned)sv.ic.uidvalidity, (unsigned)sv.ic.exists);
        if (cfg()->imap.after == IMAP_AFTER_SEEN && !sv.ic.keywords) {
            log_warnx("imap: folder %s keeps no keywords: with after seen, a message a person "
                      "read first is not fetched (set imap after move FOLDER has no such gap)",
                      cfg()->imap.folder);
        }
        sv.backoff = 0;
        sv.verdict[0] = 0;
        on_uidvalidity();
        next_cycle(1);
        return;
    case IM_SEARCH:
        sv.cur = sv.ndelivered = 0;
        hash_next();
        return;
    case IM_HASH:
        if (!sv.ic.body_found || sv.dl == DL_TOO_BIG) {
            next_message();
        } else {
            send_start();
        }
        return;
    case IM_SEND:
        if (sv.run && sv.st == NULL) {
            next_message();          /* the run's bodies are all parked, answered or not sent */
            return;
        }
        if (sv.dl == DL_ANSWERED) {
            answer_done();           /* early: a duplicate (or a refusal) */
            return;
        }
        if (!sv.ic.body_found || sv.dl != DL_SENT || sv.sent != sv.d.length) {
            /* vanished between the reads, tunnel gone, or changed: not delivered */
            stream_drop();
            next_message();
            return;
        }
        if (sv.v2 && park()) {
            next_message();          /* read the next while the relay stores this one */
            return;
        }
        sv.state = IM_ANSWER;
        sv.since = board_now_ms();
        return;
    case IM_DISPOSE:
        sv.ndelivered = 0;
        next_cycle(1);               /* more may be waiting beyond this batch */
        return;
    default:                         /* IDLE ended, NOOP done */
        next_cycle(1);
        return;
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
        stream_drop();
    }
    if (sv.st == NULL) {
        no_stream(sv.d.uid);
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
        stream_drop();
    } else if (sv.dl != DL_SENT) {
        stream_drop();
    } else {
        (void)park();
    }
}

static void on_body(const struct imap_cevent *ev)
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
                stream_drop();       /* the body is cut: the relay sees RST, stores nothing */
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

/* ---- the session's I/O ---- */

/* A session runs and its connection carries IMAP (no STARTTLS handshake under way). */
static int session_live(void)
{
    return sv.state >= IM_LOGIN && sv.conn.dial.state == DIAL_OPEN;
}

static void starttls_now(void)
{
    const char *why = NULL;
    if (sv.rx_off < sv.rx_len) {
        why = "starttls: bytes arrived after the STARTTLS OK, before TLS: refused";
    } else {
        (void)imap_connect_starttls(&sv.conn, &why);
    }
    if (why != NULL) {
        imap_client_abort(&sv.ic, why);
        session_down(sv.ic.verdict);
    }
}

/* The STARTTLS handshake, one step: then the engine goes on over TLS. */
static int starttls_step(void)
{
    char v[IMAP_VERDICT_MAX];
    switch (dial_poll(&sv.conn.dial)) {
    case DIAL_FAILED:
        snprintf(v, sizeof v, "tls handshake: %s", dial_verdict(&sv.conn.dial));
        session_down(v);
        return 0;
    case DIAL_OPEN:
        imap_client_tls_done(&sv.ic);
        sv.since = board_now_ms();
        return 1;
    default:
        return 0;
    }
}

static void on_event(const struct imap_cevent *ev)
{
    switch (ev->type) {
    case IC_EV_READY:
        on_ready();
        return;
    case IC_EV_NEWMAIL:
        imap_client_idle_done(&sv.ic);
        return;
    case IC_EV_STARTTLS:
        starttls_now();
        return;
    case IC_EV_FAILED:
        session_down(sv.ic.verdict);
        return;
    case IC_EV_CLOSED:
        session_down("the server ended the session");
        return;
    default:
        on_body(ev);
    }
}

/* How many received bytes the engine may take now: a body waits for the stream's room. */
static size_t feed_limit(void)
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

static int feed(void)
{
    int moved = 0;
    for (unsigned guard = 0; guard < 4096 && session_live(); guard++) {
        struct imap_cevent ev;
        size_t limit = feed_limit();
        long k = imap_client_feed(&sv.ic, sv.rx + sv.rx_off, limit, &ev);
        if (k < 0) {
            session_down(sv.ic.verdict);
            return 1;
        }
        sv.rx_off += (size_t)k;
        moved |= k > 0;
        if (ev.type == IC_EV_NONE) {
            break;
        }
        on_event(&ev);
    }
    return moved;
}

static int flush_out(void)
{
    const uint8_t *p;
    size_t n = imap_client_out(&sv.ic, &p);
    if (n == 0) {
        return 0;
    }
    long w = endpoint_write(&sv.conn.dial.ep, p, n);
    if (w < 0) {
        imap_client_abort(&sv.ic, "connection lost while sending");
        session_down(sv.ic.verdict);
        return 0;
    }
    imap_client_out_done(&sv.ic, (size_t)w);
    return w > 0;
}

static int receive(void)
{
    if (sv.rx_off == sv.rx_len) {
        sv.rx_off = sv.rx_len = 0;
    }
    if (sv.rx_len == sizeof sv.rx) {
        return 0;                    /* still feeding what we have (back-pressure) */
    }
    long n = endpoint_read(&sv.conn.dial.ep, sv.rx + sv.rx_len, sizeof sv.rx - sv.rx_len);
    if (n < 0) {
        imap_client_abort(&sv.ic, n == TCP_STREAM_EOF ? "the server closed the connection"
                                                      : "connection lost");
        session_down(sv.ic.verdict);
        return 0;
    }
    sv.rx_len += (size_t)n;
    return n > 0;
}

/* Timers: IDLE re-issued before servers drop it, polling, silent servers and relays. */
static void timers(void)
{
    uint32_t now = board_now_ms();
    int tunnel = tunnel_up_count() > 0;
    int search_due = sv.search_again && (int32_t)(now - sv.search_again_at) >= 0;
    if (sv.state == IM_IDLE) {
        if ((now - sv.since > IMAP_IDLE_MAX_MS || (sv.idle_without_tunnel && tunnel) ||
             search_due) && sv.ic.state == IC_S_IDLE && !sv.ic.idle_done_wanted) {
            imap_client_idle_done(&sv.ic);
        }
        return;
    }
    if (sv.state == IM_PAUSE) {
        if ((int32_t)(now - sv.next_poll) >= 0 || (sv.idle_without_tunnel && tunnel) ||
            search_due) {
            if (tunnel) {
                next_cycle(1);
            } else {
                command_sent(IM_NOOP, imap_client_noop(&sv.ic));
            }
        }
        return;
    }
    if (inflight_overdue(now, IMAP_ANSWER_MS)) {
        imap_client_abort(&sv.ic, "the relay did not answer the delivery");
        session_down(sv.ic.verdict);
        return;
    }
    if (sv.state == IM_DRAIN) {
        return;                      /* (no command in flight: the slots' own limits) */
    }
    uint32_t limit = sv.state == IM_ANSWER ? IMAP_ANSWER_MS : IMAP_IO_MS;
    if (now - sv.since > limit) {
        imap_client_abort(&sv.ic, sv.state == IM_ANSWER
                                      ? "the relay did not answer the delivery"
                                      : "the server did not answer");
        session_down(sv.ic.verdict);
    }
}

/* The session, one turn: the delivery stream, then commands out, answers in, timers. */
static int session_step(void)
{
    int busy = 0;
    if (sv.conn.dial.state == DIAL_HANDSHAKING) {
        return starttls_step();
    }
    if (sv.state == IM_ANSWER && sv.dl == DL_GONE) {
        log_warnx("imap: UID %u: the tunnel went down before the relay answered",
                  (unsigned)sv.d.uid);
        stream_drop();
        next_message();
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
        stream_drop();
    }
    busy |= session_live() && flush_out();
    busy |= session_live() && receive();
    int fed = session_live() && feed();
    if (fed && sv.state != IM_IDLE && sv.state != IM_PAUSE) {
        sv.since = board_now_ms();   /* a big message is slow, not silent */
    }
    busy |= fed;
    if (session_live()) {
        busy |= flush_out();
        timers();
    }
    /* Bytes wait in rx only when the stream has no room: retry next turn. */
    return busy || (session_live() && sv.rx_off < sv.rx_len && feed_limit() > 0);
}

/* ---- public ---- */

/* What a running session depends on (its settings, password included, and its mapping), as
 * a SHA-256: a commit that changes none of it keeps the session; no second copy of the
 * password stays in RAM to compare against. */
static uint8_t applied[32];

static void applied_now(uint8_t fp[32])
{
    const struct config *c = cfg();
    struct config_mapping map;
    br_sha256_context h;
    memset(&map, 0, sizeof map);
    int i = mappings_find(c->imap.server.host, c->imap.server.port);
    if (mappings_get(i) != NULL) {
        map = *mappings_get(i);
    }
    br_sha256_init(&h);
    br_sha256_update(&h, &c->imap, sizeof c->imap);
    br_sha256_update(&h, &map, sizeof map);
    br_sha256_out(&h, fp);
    secure_wipe(&h, sizeof h);       /* its state saw the password */
}

/* see svc_imap.h */
void imap_svc_start(void)
{
    uint64_t msgs = sv.msgs, dups = sv.dups, bytes = sv.bytes, rejected = sv.rejected;
    uint32_t uidvalidity = sv.last_uidvalidity;
    uint8_t now[32];
    applied_now(now);
    int same = memcmp(now, applied, sizeof now) == 0;
    memcpy(applied, now, sizeof now);
    if (same && sv.state != IM_OFF) {
        return;
    }
    if (sv.state != IM_OFF) {
        session_down(NULL);
    }
    memset(&sv, 0, sizeof sv);
    sv.msgs = msgs;                  /* counters are since boot, not since the last commit */
    sv.dups = dups;
    sv.bytes = bytes;
    sv.rejected = rejected;
    sv.last_uidvalidity = uidvalidity;   /* a change across restarts is still noticed */
    const struct config *c = cfg();
    if (!c->imap.enabled || !c->imap.server.host[0]) {
        sv.state = IM_OFF;
        return;
    }
    sv.state = IM_WAIT;
    sv.retry_at = board_now_ms();
}

/* see svc_imap.h */
int imap_svc_poll(void)
{
    uint32_t now = board_now_ms();
    switch (sv.state) {
    case IM_OFF:
        return 0;
    case IM_WAIT:
        if ((int32_t)(now - sv.retry_at) >= 0) {
            connect_start();
        }
        return 0;
    case IM_DIAL:
        return dial_step();
    default:
        return session_step();
    }
}

/* Whole seconds from now until at, rounded up; 0 once it has passed. */
static unsigned secs_until(uint32_t at, uint32_t now)
{
    int32_t left = (int32_t)(at - now);
    return left > 0 ? (unsigned)(left + 999) / 1000 : 0;
}

/* see svc_imap.h */
void imap_show(void (*out)(const char *fmt, ...))
{
    const struct config *c = cfg();
    uint32_t now = board_now_ms();
    int session = session_live();
    if (sv.state == IM_OFF) {
        out("imap:      off%s\n", c->imap.enabled ? " (no server set)" : "");
        return;
    }
    out("imap:      %s:%u, %s", c->imap.server.host, c->imap.server.port,
        session ? "session"
        : sv.state >= IM_LOGIN ? "tls handshake"
        : sv.state == IM_DIAL && sv.conn.dial.state == DIAL_RESOLVING ? "resolving"
        : state_names[sv.state]);
    if (session) {
        out(", %s", state_names[sv.state]);
    } else if (sv.state == IM_WAIT) {
        out(" (in %u s)", secs_until(sv.retry_at, now));
    }
    out("\n");
    if (session && sv.ic.caps_text[0]) {
        out("caps:      %s\n", sv.ic.caps_text);
        out("folder:    %s, UIDVALIDITY %u, %u message%s%s\n", c->imap.folder,
            (unsigned)sv.ic.uidvalidity, (unsigned)sv.ic.exists, sv.ic.exists == 1 ? "" : "s",
            c->imap.after != IMAP_AFTER_SEEN ? ""
            : sv.ic.keywords ? ", delivered marked " IMAP_DELIVERED_KEYWORD
                             : ", no keywords: delivered marked \\Seen only");
    }
    if (sv.last_poll) {
        out("last poll: %u s ago\n", (unsigned)((now - sv.last_poll) / 1000));
    }
    if (session && sv.search_again) {            /* (a pause's own poll may come first) */
        uint32_t at = sv.state == IM_PAUSE && (int32_t)(sv.next_poll - sv.search_again_at) < 0
                          ? sv.next_poll : sv.search_again_at;
        out("next poll: in %u s (mail left on the server by a failed delivery)\n",
            secs_until(at, now));
    }
    out("delivered: %llu message%s, %llu bytes; %llu already delivered\n",
        (unsigned long long)sv.msgs, sv.msgs == 1 ? "" : "s", (unsigned long long)sv.bytes,
        (unsigned long long)sv.dups);
    if (sv.rejected) {
        out("rejected:  %llu message%s by the relay's store, left on the server\n",
            (unsigned long long)sv.rejected, sv.rejected == 1 ? "" : "s");
    }
    if (session && (sv.state == IM_HASH || sv.state == IM_SEND || sv.state == IM_ANSWER)) {
        out("current:   UID %u, %llu bytes\n", (unsigned)sv.ic.fetch_uid,
            (unsigned long long)sv.ic.body_size);
    }
    unsigned inflight = inflight_waiting() + (sv.st != NULL);
    if (session && inflight) {
        out("in flight: %u deliver%s (at most %u), waiting for the relay's answer\n", inflight,
            inflight == 1 ? "y" : "ies", inflight_max());
    }
    if (sv.verdict[0]) {
        out("last error: %s\n", sv.verdict);
    }
}
