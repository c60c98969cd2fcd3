/* see svc_imap.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bearssl.h"
#include "board.h"
#include "imap_inflight.h"
#include "log.h"
#include "mappings.h"
#include "secure_wipe.h"
#include "svc_imap_int.h"
#include "tunnel.h"

/* enum im_state (svc_imap_int.h) for show imap */
static const char *const state_names[] = {
    "off", "waiting to reconnect", "connecting", "logging in", "searching", "reading (hash)",
    "delivering", "waiting for the relay", "after-action", "idle", "polling", "noop",
    "waiting for the relay",
};

struct imap_sv im;

/* see svc_imap_int.h */
void sv_verdict(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im.verdict, sizeof im.verdict, fmt, ap);
    va_end(ap);
}

/* ---- session end, reconnect ---- */

static void session_down(const char *why)
{
    if (why != NULL) {
        sv_verdict("%s", why);
        log_warnx("imap: %s", why);
    }
    deliver_drop();
    inflight_drop_all();             /* unanswered: not delivered, fetched again later */
    dial_abort(&im.conn.dial);
    secure_wipe(&im.ic, sizeof im.ic);       /* the engine saw the credentials */
    im.backoff = im.backoff ? im.backoff * 2 : IMAP_RETRY_MIN_MS;
    if (im.backoff > IMAP_RETRY_MAX_MS) {
        im.backoff = IMAP_RETRY_MAX_MS;
    }
    im.retry_at = board_now_ms() + im.backoff;
    im.state = IM_WAIT;
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
    imap_client_init(&im.ic, &ic);
    im.rx_len = im.rx_off = 0;
    im.run = im.single = 0;
    im.left_for_later = im.search_again = 0;     /* the login's search is the next */
    im.since = board_now_ms();
    im.state = IM_LOGIN;
}

/* The dial to the server, one step. */
static int dial_step(void)
{
    char v[IMAP_VERDICT_MAX];
    switch (imap_connect_step(&im.conn, v, sizeof v)) {
    case IMAP_CONNECT_CONNECTING:
        im.since = board_now_ms();
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
    if (imap_connect_start(&im.conn, v, sizeof v) != 0) {
        session_down(v);
        return;
    }
    im.state = IM_DIAL;
    dial_step();
}

/* ---- the batch: search, hash, deliver, after-action ---- */

/* see svc_imap_int.h */
void sv_command_sent(enum im_state s, int r)
{
    im.state = s;
    im.since = board_now_ms();
    if (r != 0) {
        imap_client_abort(&im.ic, "the engine refused the command");
        session_down(im.ic.verdict);
    }
}

/* A batch left mail for a passing cause: the next search waits 2, 4 ... 60 s while such
 * batches follow each other (a delivery stored starts again at 2 s). Mail that finds no
 * stream is not read from the server meanwhile: hash_next asks before each fetch. */
static void search_later(void)
{
    uint32_t b = im.search_backoff ? im.search_backoff * 2 : IMAP_RETRY_MIN_MS;
    im.search_backoff = b < IMAP_RETRY_MAX_MS ? b : IMAP_RETRY_MAX_MS;
    im.search_again_at = board_now_ms() + im.search_backoff;
    im.search_again = 1;
    log_info("imap: mail left on the server: searched again in %u s",
             (unsigned)(im.search_backoff / 1000));
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
    int refused = im.left_for_later;
    im.left_for_later = 0;
    if (!refused && (due || (tunnel && (im.ic.news || im.missed)))) {
        im.last_poll = board_now_ms();
    }
    if (tunnel && !refused && (due || im.ic.news || im.missed)) {
        im.missed = 0;
        im.search_again = 0;
        sv_command_sent(IM_SEARCH, imap_client_search(&im.ic));
        return;
    }
    if (tunnel && refused) {
        search_later();
    } else if (!tunnel) {
        im.search_again = 0;         /* a tunnel that comes up brings the search */
        im.search_backoff = 0;
    }
    im.idle_without_tunnel = !tunnel;
    if (im.ic.caps & IMAP_CAP_IDLE) {
        sv_command_sent(IM_IDLE, imap_client_idle(&im.ic));
        return;
    }
    im.state = IM_PAUSE;
    im.next_poll = board_now_ms() + poll * 1000u;
}

static void hash_next(void);

/* see svc_imap_int.h */
void sv_dispose_or_rest(void)
{
    if (inflight_waiting() > 0) {
        im.state = IM_DRAIN;         /* the after-action waits for every answer */
        im.since = board_now_ms();
        return;
    }
    if (im.ndelivered) {
        sv_command_sent(IM_DISPOSE, imap_client_dispose(&im.ic, im.delivered, im.ndelivered));
        return;
    }
    next_cycle(0);
}

/* see svc_imap_int.h */
void sv_next_message(void)
{
    im.cur = im.run ? im.run_end : im.cur + 1;
    im.run = 0;
    hash_next();
}

/* Version 2: the UIDs from cur on (not skipped, within the batch) in one command. */
static int fetch_run(void)
{
    uint32_t uids[IMAP_FETCH_SET_MAX];
    unsigned n = 0, j = im.cur;
    for (; j < im.ic.nuids && j < cfg()->imap.batch && n < IMAP_FETCH_SET_MAX; j++) {
        if (!deliver_skipped(im.ic.uids[j])) {
            uids[n++] = im.ic.uids[j];
        }
    }
    im.run = 1;
    im.run_end = j;
    return imap_client_fetch_set(&im.ic, uids, n);
}

/* First read of the message: its SHA-256 and length for the delivery header. */
static void hash_next(void)
{
    while (im.cur < im.ic.nuids && deliver_skipped(im.ic.uids[im.cur])) {
        im.cur++;
    }
    if (im.cur >= im.ic.nuids || im.cur >= cfg()->imap.batch || tunnel_up_count() == 0) {
        sv_dispose_or_rest();        /* the rest waits for the next cycle */
        return;
    }
    if (!tunnel_can_open()) {
        deliver_no_stream(im.ic.uids[im.cur]); /* not read while no stream could take it */
        sv_dispose_or_rest();
        return;
    }
    im.dl = DL_NONE;
    /* Version 2 when every tunnel up speaks it (tunnel_open picks any): one read, the stream
     * opened when the server names the length (body_begin_v2). Else the hash read first. */
    im.v2 = tunnel_delivery_version_min() == 2;
    if (im.v2 && !im.single) {
        sv_command_sent(IM_SEND, fetch_run());
        return;
    }
    sv_command_sent(im.v2 ? IM_SEND : IM_HASH, imap_client_fetch(&im.ic, im.ic.uids[im.cur]));
}

static void on_uidvalidity(void)
{
    if (im.last_uidvalidity && im.last_uidvalidity != im.ic.uidvalidity) {
        /* Every UID we knew is void; the relay's SHA-256 dedup keeps delivery exact. */
        log_warnx("imap: folder %s: UIDVALIDITY changed %u -> %u: all messages are new",
                  cfg()->imap.folder, (unsigned)im.last_uidvalidity,
                  (unsigned)im.ic.uidvalidity);
        im.nskipped = 0;
    }
    im.last_uidvalidity = im.ic.uidvalidity;
}

/* The command in flight finished. */
static void on_ready(void)
{
    switch (im.state) {
    case IM_LOGIN:
        log_info("imap: logged in, folder %s (UIDVALIDITY %u, %u messages)", cfg()->imap.folder,
                 (unsigned)im.ic.uidvalidity, (unsigned)im.ic.exists);
        if (cfg()->imap.after == IMAP_AFTER_SEEN && !im.ic.keywords) {
            log_warnx("imap: folder %s keeps no keywords: with after seen, a message a person "
                      "read first is not fetched (set imap after move FOLDER has no such gap)",
                      cfg()->imap.folder);
        }
        im.backoff = 0;
        im.verdict[0] = 0;
        on_uidvalidity();
        next_cycle(1);
        return;
    case IM_SEARCH:
        im.cur = im.ndelivered = 0;
        hash_next();
        return;
    case IM_HASH:
        deliver_hash_done();
        return;
    case IM_SEND:
        deliver_send_done();
        return;
    case IM_DISPOSE:
        im.ndelivered = 0;
        next_cycle(1);               /* more may be waiting beyond this batch */
        return;
    default:                         /* IDLE ended, NOOP done */
        next_cycle(1);
        return;
    }
}

/* ---- the session's I/O ---- */

/* A session runs and its connection carries IMAP (no STARTTLS handshake under way). */
static int session_live(void)
{
    return im.state >= IM_LOGIN && im.conn.dial.state == DIAL_OPEN;
}

static void starttls_now(void)
{
    const char *why = NULL;
    if (im.rx_off < im.rx_len) {
        why = "starttls: bytes arrived after the STARTTLS OK, before TLS: refused";
    } else {
        (void)imap_connect_starttls(&im.conn, &why);
    }
    if (why != NULL) {
        imap_client_abort(&im.ic, why);
        session_down(im.ic.verdict);
    }
}

/* The STARTTLS handshake, one step: then the engine goes on over TLS. */
static int starttls_step(void)
{
    char v[IMAP_VERDICT_MAX];
    switch (dial_poll(&im.conn.dial)) {
    case DIAL_FAILED:
        snprintf(v, sizeof v, "tls handshake: %s", dial_verdict(&im.conn.dial));
        session_down(v);
        return 0;
    case DIAL_OPEN:
        imap_client_tls_done(&im.ic);
        im.since = board_now_ms();
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
        imap_client_idle_done(&im.ic);
        return;
    case IC_EV_STARTTLS:
        starttls_now();
        return;
    case IC_EV_FAILED:
        session_down(im.ic.verdict);
        return;
    case IC_EV_CLOSED:
        session_down("the server ended the session");
        return;
    default:
        deliver_body(ev);
    }
}

static int feed(void)
{
    int moved = 0;
    for (unsigned guard = 0; guard < 4096 && session_live(); guard++) {
        struct imap_cevent ev;
        size_t limit = deliver_feed_limit();
        long k = imap_client_feed(&im.ic, im.rx + im.rx_off, limit, &ev);
        if (k < 0) {
            session_down(im.ic.verdict);
            return 1;
        }
        im.rx_off += (size_t)k;
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
    size_t n = imap_client_out(&im.ic, &p);
    if (n == 0) {
        return 0;
    }
    long w = endpoint_write(&im.conn.dial.ep, p, n);
    if (w < 0) {
        imap_client_abort(&im.ic, "connection lost while sending");
        session_down(im.ic.verdict);
        return 0;
    }
    imap_client_out_done(&im.ic, (size_t)w);
    return w > 0;
}

static int receive(void)
{
    if (im.rx_off == im.rx_len) {
        im.rx_off = im.rx_len = 0;
    }
    if (im.rx_len == sizeof im.rx) {
        return 0;                    /* still feeding what we have (back-pressure) */
    }
    long n = endpoint_read(&im.conn.dial.ep, im.rx + im.rx_len, sizeof im.rx - im.rx_len);
    if (n < 0) {
        imap_client_abort(&im.ic, n == TCP_STREAM_EOF ? "the server closed the connection"
                                                      : "connection lost");
        session_down(im.ic.verdict);
        return 0;
    }
    im.rx_len += (size_t)n;
    return n > 0;
}

/* Timers: IDLE re-issued before servers drop it, polling, silent servers and relays. */
static void timers(void)
{
    uint32_t now = board_now_ms();
    int tunnel = tunnel_up_count() > 0;
    int search_due = im.search_again && (int32_t)(now - im.search_again_at) >= 0;
    if (im.state == IM_IDLE) {
        if ((now - im.since > IMAP_IDLE_MAX_MS || (im.idle_without_tunnel && tunnel) ||
             search_due) && im.ic.state == IC_S_IDLE && !im.ic.idle_done_wanted) {
            imap_client_idle_done(&im.ic);
        }
        return;
    }
    if (im.state == IM_PAUSE) {
        if ((int32_t)(now - im.next_poll) >= 0 || (im.idle_without_tunnel && tunnel) ||
            search_due) {
            if (tunnel) {
                next_cycle(1);
            } else {
                sv_command_sent(IM_NOOP, imap_client_noop(&im.ic));
            }
        }
        return;
    }
    if (inflight_overdue(now, IMAP_ANSWER_MS)) {
        imap_client_abort(&im.ic, "the relay did not answer the delivery");
        session_down(im.ic.verdict);
        return;
    }
    if (im.state == IM_DRAIN) {
        return;                      /* (no command in flight: the slots' own limits) */
    }
    uint32_t limit = im.state == IM_ANSWER ? IMAP_ANSWER_MS : IMAP_IO_MS;
    if (now - im.since > limit) {
        imap_client_abort(&im.ic, im.state == IM_ANSWER
                                      ? "the relay did not answer the delivery"
                                      : "the server did not answer");
        session_down(im.ic.verdict);
    }
}

/* The session, one turn: the delivery stream, then commands out, answers in, timers. */
static int session_step(void)
{
    int busy = 0;
    if (im.conn.dial.state == DIAL_HANDSHAKING) {
        return starttls_step();
    }
    deliver_step();
    busy |= session_live() && flush_out();
    busy |= session_live() && receive();
    int fed = session_live() && feed();
    if (fed && im.state != IM_IDLE && im.state != IM_PAUSE) {
        im.since = board_now_ms();   /* a big message is slow, not silent */
    }
    busy |= fed;
    if (session_live()) {
        busy |= flush_out();
        timers();
    }
    /* Bytes wait in rx only when the stream has no room: retry next turn. */
    return busy || (session_live() && im.rx_off < im.rx_len && deliver_feed_limit() > 0);
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
    uint64_t msgs = im.msgs, dups = im.dups, bytes = im.bytes, rejected = im.rejected;
    uint32_t uidvalidity = im.last_uidvalidity;
    uint8_t now[32];
    applied_now(now);
    int same = memcmp(now, applied, sizeof now) == 0;
    memcpy(applied, now, sizeof now);
    if (same && im.state != IM_OFF) {
        return;
    }
    if (im.state != IM_OFF) {
        session_down(NULL);
    }
    memset(&im, 0, sizeof im);
    im.msgs = msgs;                  /* counters are since boot, not since the last commit */
    im.dups = dups;
    im.bytes = bytes;
    im.rejected = rejected;
    im.last_uidvalidity = uidvalidity;   /* a change across restarts is still noticed */
    const struct config *c = cfg();
    if (!c->imap.enabled || !c->imap.server.host[0]) {
        im.state = IM_OFF;
        return;
    }
    im.state = IM_WAIT;
    im.retry_at = board_now_ms();
}

/* see svc_imap.h */
int imap_svc_poll(void)
{
    uint32_t now = board_now_ms();
    switch (im.state) {
    case IM_OFF:
        return 0;
    case IM_WAIT:
        if ((int32_t)(now - im.retry_at) >= 0) {
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
    if (im.state == IM_OFF) {
        out("imap:      off%s\n", c->imap.enabled ? " (no server set)" : "");
        return;
    }
    out("imap:      %s:%u, %s", c->imap.server.host, c->imap.server.port,
        session ? "session"
        : im.state >= IM_LOGIN ? "tls handshake"
        : im.state == IM_DIAL && im.conn.dial.state == DIAL_RESOLVING ? "resolving"
        : state_names[im.state]);
    if (session) {
        out(", %s", state_names[im.state]);
    } else if (im.state == IM_WAIT) {
        out(" (in %u s)", secs_until(im.retry_at, now));
    }
    out("\n");
    if (session && im.ic.caps_text[0]) {
        out("caps:      %s\n", im.ic.caps_text);
        out("folder:    %s, UIDVALIDITY %u, %u message%s%s\n", c->imap.folder,
            (unsigned)im.ic.uidvalidity, (unsigned)im.ic.exists, im.ic.exists == 1 ? "" : "s",
            c->imap.after != IMAP_AFTER_SEEN ? ""
            : im.ic.keywords ? ", delivered marked " IMAP_DELIVERED_KEYWORD
                             : ", no keywords: delivered marked \\Seen only");
    }
    if (im.last_poll) {
        out("last poll: %u s ago\n", (unsigned)((now - im.last_poll) / 1000));
    }
    if (session && im.search_again) {            /* (a pause's own poll may come first) */
        uint32_t at = im.state == IM_PAUSE && (int32_t)(im.next_poll - im.search_again_at) < 0
                          ? im.next_poll : im.search_again_at;
        out("next poll: in %u s (mail left on the server by a failed delivery)\n",
            secs_until(at, now));
    }
    out("delivered: %llu message%s, %llu bytes; %llu already delivered\n",
        (unsigned long long)im.msgs, im.msgs == 1 ? "" : "s", (unsigned long long)im.bytes,
        (unsigned long long)im.dups);
    if (im.rejected) {
        out("rejected:  %llu message%s by the relay's store, left on the server\n",
            (unsigned long long)im.rejected, im.rejected == 1 ? "" : "s");
    }
    if (session && (im.state == IM_HASH || im.state == IM_SEND || im.state == IM_ANSWER)) {
        out("current:   UID %u, %llu bytes\n", (unsigned)im.ic.fetch_uid,
            (unsigned long long)im.ic.body_size);
    }
    unsigned inflight = inflight_waiting() + (im.st != NULL);
    if (session && inflight) {
        out("in flight: %u deliver%s (at most %u), waiting for the relay's answer\n", inflight,
            inflight == 1 ? "y" : "ies", inflight_max());
    }
    if (im.verdict[0]) {
        out("last error: %s\n", im.verdict);
    }
}
