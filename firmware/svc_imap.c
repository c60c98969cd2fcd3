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

struct imap_sv sv;

/* see svc_imap_int.h */
void sv_verdict(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sv.verdict, sizeof sv.verdict, fmt, ap);
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

/* see svc_imap_int.h */
void sv_command_sent(enum im_state s, int r)
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
        sv_command_sent(IM_SEARCH, imap_client_search(&sv.ic));
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
        sv_command_sent(IM_IDLE, imap_client_idle(&sv.ic));
        return;
    }
    sv.state = IM_PAUSE;
    sv.next_poll = board_now_ms() + poll * 1000u;
}

static void hash_next(void);

/* see svc_imap_int.h */
void sv_dispose_or_rest(void)
{
    if (inflight_waiting() > 0) {
        sv.state = IM_DRAIN;         /* the after-action waits for every answer */
        sv.since = board_now_ms();
        return;
    }
    if (sv.ndelivered) {
        sv_command_sent(IM_DISPOSE, imap_client_dispose(&sv.ic, sv.delivered, sv.ndelivered));
        return;
    }
    next_cycle(0);
}

/* see svc_imap_int.h */
void sv_next_message(void)
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
        if (!deliver_skipped(sv.ic.uids[j])) {
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
    while (sv.cur < sv.ic.nuids && deliver_skipped(sv.ic.uids[sv.cur])) {
        sv.cur++;
    }
    if (sv.cur >= sv.ic.nuids || sv.cur >= cfg()->imap.batch || tunnel_up_count() == 0) {
        sv_dispose_or_rest();        /* the rest waits for the next cycle */
        return;
    }
    if (!tunnel_can_open()) {
        deliver_no_stream(sv.ic.uids[sv.cur]); /* not read while no stream could take it */
        sv_dispose_or_rest();
        return;
    }
    sv.dl = DL_NONE;
    /* Version 2 when every tunnel up speaks it (tunnel_open picks any): one read, the stream
     * opened when the server names the length (body_begin_v2). Else the hash read first. */
    sv.v2 = tunnel_delivery_version_min() == 2;
    if (sv.v2 && !sv.single) {
        sv_command_sent(IM_SEND, fetch_run());
        return;
    }
    sv_command_sent(sv.v2 ? IM_SEND : IM_HASH, imap_client_fetch(&sv.ic, sv.ic.uids[sv.cur]));
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
        deliver_hash_done();
        return;
    case IM_SEND:
        deliver_send_done();
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
        deliver_body(ev);
    }
}

static int feed(void)
{
    int moved = 0;
    for (unsigned guard = 0; guard < 4096 && session_live(); guard++) {
        struct imap_cevent ev;
        size_t limit = deliver_feed_limit();
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
                sv_command_sent(IM_NOOP, imap_client_noop(&sv.ic));
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
    deliver_step();
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
    return busy || (session_live() && sv.rx_off < sv.rx_len && deliver_feed_limit() > 0);
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
