/* relay mail delivery: a gateway-opened stream (after hello) carries a delivery header,
 * then exactly `length` message bytes, then FIN. Version 2 (agreed in hello, Maildir spool
 * only) has no hash in the header: the 32 bytes of SHA-256 follow the message, and the
 * check, the duplicate test and the answer all wait for them. Two spools:
 *
 * Maildir (spool DIR): the relay writes the bytes to a tmp file in the location's Maildir
 * while hashing (starting their writeback as they come), checks length and SHA-256, fsyncs
 * the file, renames it into new/, fsyncs the directory, records the hash, and only then
 * answers "stored". For the location's deliveries whose body ends in the same turn of the
 * event loop these steps are done together (group commit: delivery_commit_pending): each
 * file's fsync and rename, then one fsync of new/ and one index append and its fsync for
 * all. That costs no wait (the turn's events are all in), and the loop does not stop for a
 * file's fsync as each body ends.
 * A message whose hash it already has is answered "already have it" as soon as the header
 * is read (the gateway may stop sending; the rest is discarded). Any failure answers
 * "error" and leaves nothing in new/ (but for a failed fsync of new/ itself: spool.c says
 * why it stays).
 *
 * spool lmtp: the header opens an LMTP transaction to the location's mailbox in the mail
 * store (spool_lmtp.c); the body is read from the stream only as fast as the store takes it
 * (its bytes wait in the stream's window meanwhile), hashed on the way, and the end of data
 * is sent only once length and SHA-256 are right: else the connection is dropped and the
 * store keeps nothing. "stored" after the store's 250; "error" when the store is down,
 * slow or answers 4xx (the gateway retries); "rejected" on 5xx (the gateway keeps the
 * message on its server and does not deliver it again). Nothing touches the relay's disk.
 *
 * One log line per delivery.
 *
 * Limits (relay.h): at most `deliveries` messages in flight on the relay and
 * `location-deliveries` of one location, and a location's spool may hold at most
 * `location-spool-bytes` and `location-spool-messages`: beyond that the header is answered
 * "error" with a text that starts "quota:", and the gateway delivers again later; other
 * locations are not affected. A delivery that moves no byte for `delivery-stall` seconds is
 * reset and its tmp file removed: a gateway that stops mid-body cannot hold a file and a
 * slot for ever. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "sha256_bulk.h"

/* A large message's writeback is started every this many bytes as it comes (1 MiB), so its
 * fsync at the end waits for the last step only, not for the whole file. */
#define WRITEBACK_STEP (1u << 20)

enum dl_state {
    DL_HEADER,                   /* reading the header */
    DL_BODY,                     /* writing the message (to the tmp file, or to the store) */
    DL_STORING,                  /* spool lmtp: whole and checked, the end of data sent: the
                                    store's reply decides */
    DL_COMMITTING,               /* Maildir: whole and checked, its writeback started; on
                                    the committing list until this turn's group commit
                                    fsyncs it with the others */
    DL_DISCARD,                  /* answered early: reading to the end and dropping */
    DL_ANSWERED,                 /* answer queued and FIN sent; waiting for the peer's FIN */
};

struct delivery_rx {
    enum stream_kind kind;       /* SK_DELIVERY, first */
    enum dl_state state;
    struct tunnel *t;
    struct yamux_stream *st;
    unsigned stream_id;
    uint8_t hdr[HELLO_MSG_MAX];
    size_t hdr_len;
    struct delivery d;
    int fd;
    char tmp[RELAY_PATH_MAX + 128];
    struct lmtp_tx *tx;          /* spool lmtp: the store's transaction, until it ends */
    size_t pend;                 /* body bytes that came with the header: hdr[pend..hdr_len),
                                    taken as the tmp file or the store takes the rest */
    uint64_t got;
    uint64_t synced;             /* Maildir: bytes whose writeback was started */
    uint8_t trailer[DELIVERY_TRAILER_LEN];   /* version 2: the SHA-256 after the body */
    size_t trailer_got;
    br_sha256_context sha;
    uint8_t answer[HELLO_MSG_MAX];
    size_t answer_len, answer_off;
    uint64_t start_ms, active_ms;
    int counted;                 /* in flight: counted in deliveries and the location's */
    struct delivery_rx *prev, *next;     /* every delivery, for the stall timer */
    struct delivery_rx *cnext;   /* DL_COMMITTING: the committing list */
    char name[RELAY_PATH_MAX];   /* DL_COMMITTING: its name in new/, once renamed */
};

static struct delivery_rx *head;
/* Deliveries whose body ended in this turn of the event loop (DL_COMMITTING), newest
 * first: delivery_commit_pending() renames each location's into new/ and makes them last
 * with one fsync of new/ and one index append and fsync (group commit), then answers. */
static struct delivery_rx *committing;

/* The body is over (stored, failed or dropped): its tmp file goes unless renamed, a store
 * transaction still open is dropped (the store keeps nothing), and it no longer counts as
 * in flight. */
static void drop_tmp(struct delivery_rx *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
        unlink(r->tmp);
    }
    if (r->tx) {
        lmtp_tx_abort(r->tx);
        r->tx = NULL;
    }
    if (r->counted) {
        r->counted = 0;
        relay_m.deliveries_open--;
        r->t->loc->deliveries--;
    }
}

/* Writes message bytes to the tmp file; on failure logs the file and the reason (a full
 * disk shows as a short write or ENOSPC) and returns -1. */
static int tmp_write(struct delivery_rx *r, const uint8_t *p, size_t n)
{
    ssize_t w = write(r->fd, p, n);
    if (w == (ssize_t)n) {
        return 0;
    }
    log_err("%s: %s: %s", __func__, r->tmp,
            w < 0 ? strerror(errno) : "short write (disk full?)");
    return -1;
}

/* Starts the writeback of what the tmp file has since the last call (not waiting for it):
 * a large message's bytes go to disk as they come, a small one's at its end, so the fsync
 * of the group commit has little left to write. Only a hint: the fsync decides. */
static void writeback_start(struct delivery_rx *r)
{
    if (r->got > r->synced) {
        (void)sync_file_range(r->fd, (off_t)r->synced, (off_t)(r->got - r->synced),
                              SYNC_FILE_RANGE_WRITE);
        r->synced = r->got;
    }
}

/* Close the tmp file after its fsync (err: what that fsync said); the descriptor is closed
 * whatever fsync said (it once leaked one per failed fsync). Returns 0, or -1 logged, with
 * the file unlinked. */
static int tmp_close_synced(struct delivery_rx *r, int err)
{
    const char *what = "fsync";
    if (close(r->fd) != 0 && err == 0) {
        err = errno;
        what = "close";
    }
    r->fd = -1;
    if (err) {
        log_err("%s: %s: %s: %s", __func__, r->tmp, what, strerror(err));
        unlink(r->tmp);
        return -1;
    }
    return 0;
}

static void dl_free(struct delivery_rx *r)
{
    if (r->state == DL_COMMITTING) {         /* gone before its group: never renamed */
        struct delivery_rx **pp = &committing;
        while (*pp != r) {
            pp = &(*pp)->cnext;
        }
        *pp = r->cnext;
        unlink(r->tmp);
    }
    drop_tmp(r);
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        head = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    free(r);
}

static void answer(struct delivery_rx *r, enum delivery_status st, const char *text)
{
    char sha[65];
    long n = answer_encode(r->answer, sizeof r->answer, HELLO_K_DELIVERY_ANSWER, (uint8_t)st,
                           text);
    r->answer_len = n > 0 ? (size_t)n : 0;
    r->answer_off = 0;
    relay_hex(r->d.sha256, 32, sha);
    if (st == DELIVERY_ST_STORED) {
        relay_m.deliveries_stored++;
        r->t->loc->delivered++;
    } else if (st == DELIVERY_ST_DUPLICATE) {
        relay_m.deliveries_duplicate++;
        r->t->loc->duplicates++;
    } else if (st == DELIVERY_ST_REJECTED) {
        relay_m.deliveries_rejected++;
    } else {
        relay_m.deliveries_failed++;
    }
    log_info("delivery: location=%s tunnel=%u stream=%u folder=\"%s\" uidvalidity=%lu uid=%lu "
             "bytes=%llu sha256=%.16s duration=%.3fs verdict=\"%s\"", r->t->loc->id,
             r->t->serial, r->stream_id, r->d.folder, (unsigned long)r->d.uidvalidity,
             (unsigned long)r->d.uid, (unsigned long long)r->got, sha,
             (double)(relay_now_ms() - r->start_ms) / 1000.0, text);
}

/* May a body start? The relay's and the location's deliveries in flight, and the spool
 * quota. RF_COUNT, or the cause with why ("quota: ..."). */
static enum refusal admit_body(struct delivery_rx *r, char *why, size_t cap)
{
    const struct relay_limits *lim = &relay_cfg.lim;
    struct location *loc = r->t->loc;
    if (relay_m.deliveries_open >= lim->deliveries) {
        snprintf(why, cap, "quota: %u deliveries in flight on this relay (limit deliveries)",
                 relay_m.deliveries_open);
        return RF_DELIVERIES;
    }
    if (loc->deliveries >= lim->location_deliveries) {
        snprintf(why, cap, "quota: %u deliveries of this location in flight (limit "
                 "location-deliveries)", loc->deliveries);
        return RF_DELIVERIES;
    }
    /* The store keeps its own quota, and answers for it (4xx or 5xx). */
    return !relay_cfg.lmtp && spool_quota(loc, r->d.length, why, cap) != 0 ? RF_SPOOL_QUOTA
                                                                           : RF_COUNT;
}

static void header_step(struct delivery_rx *r)
{
    char why[160];
    long n = delivery_parse(r->hdr, r->hdr_len, &r->d);
    if (n == 0 && r->hdr_len < sizeof r->hdr) {
        return;
    }
    if (n <= 0) {
        snprintf(why, sizeof why, "bad delivery header: %s",
                 n == 0 ? "too long" : hello_strerror(n));
        answer(r, DELIVERY_ST_ERROR, why);
        r->state = DL_DISCARD;
        return;
    }
    if (r->d.version == 2 && (r->t->delivery_version != 2 || relay_cfg.lmtp)) {
        answer(r, DELIVERY_ST_ERROR, "bad delivery header: version 2 not agreed in hello");
        r->state = DL_DISCARD;
        return;
    }
    /* Version 1 names the hash up front: a duplicate is answered now. Version 2's hash
     * comes after the body, and the end decides (body_end). */
    int seen = r->d.version == 1 ? spool_seen(r->t->loc, r->d.sha256) : 0;
    if (seen == 2 && spool_settle(r->t->loc, &r->d) != 0) {
        answer(r, DELIVERY_ST_ERROR, "relay cannot write its spool");
        r->state = DL_DISCARD;
        return;
    }
    if (seen) {
        answer(r, DELIVERY_ST_DUPLICATE, "already have it");
        r->state = DL_DISCARD;
        return;
    }
    enum refusal rf = admit_body(r, why, sizeof why);
    if (rf != RF_COUNT) {
        (void)refusal(rf);                   /* the delivery line says why, every time */
        answer(r, DELIVERY_ST_ERROR, why);
        r->state = DL_DISCARD;
        return;
    }
    r->counted = 1;
    relay_m.deliveries_open++;
    r->t->loc->deliveries++;
    if (relay_cfg.lmtp) {
        r->tx = lmtp_tx_start(r->t->loc, &r->d, r, why, sizeof why);
    } else {
        r->fd = spool_tmp_open(r->t->loc, &r->d, r->tmp, sizeof r->tmp);
        snprintf(why, sizeof why, "relay cannot write its spool");
    }
    if (r->tx == NULL && r->fd < 0) {
        answer(r, DELIVERY_ST_ERROR, why);
        drop_tmp(r);
        r->state = DL_DISCARD;
        return;
    }
    br_sha256_init(&r->sha);
    r->pend = (size_t)n;                     /* message bytes that came with the header */
    r->state = DL_BODY;
}

/* The gateway's FIN: the body is whole. Returns the state that follows. */
static enum dl_state body_end(struct delivery_rx *r)
{
    uint8_t sha[32];
    br_sha256_out(&r->sha, sha);
    int seen = 0;
    if (r->d.version == 2 && r->got == r->d.length && r->trailer_got == sizeof r->trailer) {
        memcpy(r->d.sha256, r->trailer, 32);     /* (logged as the message's) */
        seen = memcmp(sha, r->d.sha256, 32) == 0 ? spool_seen(r->t->loc, sha) : 0;
    }
    if (r->got != r->d.length) {
        answer(r, DELIVERY_ST_ERROR, "stream ended before the announced length");
    } else if (r->d.version == 2 && r->trailer_got != sizeof r->trailer) {
        answer(r, DELIVERY_ST_ERROR, "stream ended before the SHA-256 trailer");
    } else if (memcmp(sha, r->d.sha256, 32) != 0) {
        answer(r, DELIVERY_ST_ERROR, "SHA-256 mismatch");
    } else if (seen == 2 && spool_settle(r->t->loc, &r->d) != 0) {
        answer(r, DELIVERY_ST_ERROR, "relay cannot write its spool");
    } else if (seen) {
        answer(r, DELIVERY_ST_DUPLICATE, "already have it");   /* version 2: tmp dropped */
    } else if (r->tx) {
        lmtp_tx_end(r->tx);                  /* the store's reply answers the gateway */
        return DL_STORING;
    } else {
        /* Its fsync waits for the group commit (delivery_commit_pending), with the other
         * files of the turn: their writeback is started now, so the fsyncs there find
         * little to write, and the loop does not stop for each message as it ends.
         * Still counted in flight; the tunnel marked dirty so that the loop does not sleep
         * before this turn's group commit. */
        writeback_start(r);
        r->cnext = committing;
        committing = r;
        tunnel_mark_dirty(r->t);
        return DL_COMMITTING;
    }
    drop_tmp(r);
    return DL_ANSWERED;
}

/* Body bytes arrived: into the tmp file or to the store, hashed on the way. A failure is
 * answered and the rest of the body discarded. */
static void body_bytes(struct delivery_rx *r, const uint8_t *p, size_t n)
{
    size_t body = (uint64_t)n > r->d.length - r->got ? (size_t)(r->d.length - r->got) : n;
    if (r->d.version == 2 && n > body) {         /* past the body: the trailer */
        size_t k = n - body;
        if (k > sizeof r->trailer - r->trailer_got) {
            answer(r, DELIVERY_ST_ERROR, "more bytes than the header announced");
            drop_tmp(r);
            r->state = DL_DISCARD;
            return;
        }
        memcpy(r->trailer + r->trailer_got, p + body, k);
        r->trailer_got += k;
        n = body;
    }
    if ((uint64_t)n > r->d.length - r->got) {
        answer(r, DELIVERY_ST_ERROR, "more bytes than the header announced");
    } else if (r->tx == NULL && tmp_write(r, p, n) != 0) {
        answer(r, DELIVERY_ST_ERROR, "relay cannot write its spool");
    } else {
        if (r->tx) {
            lmtp_tx_write(r->tx, p, n);
        }
        sha256_bulk_update(&r->sha, p, n);
        r->got += (uint64_t)n;
        if (r->tx == NULL && r->got - r->synced >= WRITEBACK_STEP) {
            writeback_start(r);
        }
        return;
    }
    drop_tmp(r);
    r->state = DL_DISCARD;
}

/* How many body bytes to take now, at most cap: a tmp file takes any, the store what it
 * has room for (0: it calls delivery_store_room() when it has). */
static size_t body_room(const struct delivery_rx *r, size_t cap)
{
    size_t room = r->tx ? lmtp_tx_room(r->tx) : cap;
    return room < cap ? room : cap;
}

/* Reads what the stream has and the state takes, then sends the answer and FIN, and frees
 * the delivery once both sides are closed. */
static void pump(struct delivery_rx *r)
{
    static uint8_t buf[65536];
    for (int round = 0; round < 64; round++) {
        long n;
        if (r->state == DL_HEADER) {
            n = yamux_read(r->st, r->hdr + r->hdr_len, sizeof r->hdr - r->hdr_len);
            if (n > 0) {
                r->active_ms = relay_now_ms();
                r->hdr_len += (size_t)n;
                header_step(r);
                continue;
            }
        } else if (r->state == DL_BODY && r->pend < r->hdr_len) {
            size_t k = body_room(r, r->hdr_len - r->pend);   /* those that came with the header */
            if (k == 0) {
                break;
            }
            r->pend += k;
            body_bytes(r, r->hdr + r->pend - k, k);
            continue;
        } else {
            size_t want = r->state == DL_BODY ? body_room(r, sizeof buf) : sizeof buf;
            if (want == 0) {
                break;                           /* the store has no room yet */
            }
            /* (after the body, reads see FIN again or the gateway's RST; nothing else) */
            n = yamux_read(r->st, buf, want);
            if (n > 0) {
                r->active_ms = relay_now_ms();
                if (r->state == DL_BODY) {
                    body_bytes(r, buf, (size_t)n);
                }
                continue;
            }
        }
        if (n == YAMUX_EOF) {
            if (r->state == DL_HEADER) {
                answer(r, DELIVERY_ST_ERROR, "stream ended inside the header");
                r->state = DL_ANSWERED;
            } else if (r->state == DL_BODY) {
                r->state = body_end(r);
            } else if (r->state == DL_DISCARD) {
                r->state = DL_ANSWERED;
            }
        } else if (n < 0) {                       /* reset: nobody to answer */
            if (r->state == DL_BODY || r->state == DL_STORING) {
                log_info("delivery: location=%s tunnel=%u stream=%u reset by the gateway after "
                         "%llu bytes", r->t->loc->id, r->t->serial, r->stream_id,
                         (unsigned long long)r->got);
            }
            r->st->user = NULL;
            yamux_release(r->st);
            dl_free(r);
            return;
        }
        break;
    }
    /* The answer, then FIN; release once both sides are closed. */
    while (r->answer_off < r->answer_len) {
        long w = yamux_write(r->st, r->answer + r->answer_off, r->answer_len - r->answer_off);
        if (w <= 0) {
            break;
        }
        r->answer_off += (size_t)w;
    }
    if (r->answer_len && r->answer_off == r->answer_len
        && (r->st->state == YAMUX_S_OPEN || r->st->state == YAMUX_S_REMOTE_CLOSED)) {
        yamux_close(r->st);
    }
    if (r->state == DL_ANSWERED && r->st->state == YAMUX_S_CLOSED) {
        r->st->user = NULL;
        yamux_release(r->st);
        dl_free(r);
    }
}

/* see relay.h */
void delivery_commit_pending(void)
{
    enum { GROUP_MAX = 64 };                 /* (more make a second group) */
    struct delivery_rx *g[GROUP_MAX], *r, **pp;
    const struct delivery *d[GROUP_MAX];
    const char *names[GROUP_MAX];
    uint8_t renamed[GROUP_MAX];
    int fds[GROUP_MAX], errs[GROUP_MAX];
    while (committing) {
        /* The oldest's location, and its deliveries out of the list. */
        for (r = committing; r->cnext; r = r->cnext) {
        }
        struct location *loc = r->t->loc;
        size_t n = 0, ok = 0;
        for (pp = &committing; *pp && n < GROUP_MAX;) {
            if ((*pp)->t->loc == loc) {
                g[n++] = *pp;
                *pp = (*pp)->cnext;
            } else {
                pp = &(*pp)->cnext;
            }
        }
        /* The files fsynced all at once (fsync_pool.c: about one journal commit for
         * them all), each (a failure: its tmp file removed) then renamed into new/ (a
         * failed rename: likewise), then one fsync of new/ and one index append and fsync
         * for all. */
        for (size_t i = 0; i < n; i++) {
            fds[i] = g[i]->fd;
        }
        fsync_many(fds, errs, n);
        for (size_t i = 0; i < n; i++) {
            r = g[i];
            r->state = DL_ANSWERED;
            if (tmp_close_synced(r, errs[i]) != 0) {
                renamed[i] = 0;
                continue;
            }
            renamed[i] = spool_publish(loc, r->tmp, &r->d, r->name, sizeof r->name) == 0;
            if (!renamed[i]) {
                unlink(r->tmp);
                continue;
            }
            d[ok] = &r->d;
            names[ok++] = r->name;
        }
        int lasts = ok ? spool_commit_group(loc, d, names, ok) == 0 : 0;
        for (size_t i = 0; i < n; i++) {
            r = g[i];
            struct tunnel *t = r->t;
            if (renamed[i] && lasts) {
                answer(r, DELIVERY_ST_STORED, "stored");
            } else {
                answer(r, DELIVERY_ST_ERROR, "relay cannot write its spool");
            }
            drop_tmp(r);                     /* no longer in flight (fd closed already) */
            pump(r);                         /* the answer and FIN; it may free r */
            tunnel_mark_dirty(t);
        }
    }
}

/* see relay.h */
void delivery_on_stream(void *owner, unsigned ev)
{
    (void)ev;
    pump(owner);
}

/* see relay.h */
void delivery_store_room(void *owner)
{
    struct delivery_rx *r = owner;
    struct tunnel *t = r->t;
    r->active_ms = relay_now_ms();           /* the store moves: the delivery is not stalled */
    pump(r);
    tunnel_mark_dirty(t);                    /* the window updates go out */
}

/* see relay.h */
void delivery_store_done(void *owner, enum delivery_status status, const char *text)
{
    struct delivery_rx *r = owner;
    struct tunnel *t = r->t;
    r->tx = NULL;                            /* it ended: nothing to abort */
    answer(r, status, text);
    /* A store that failed before the body was all in: the rest is read and dropped. */
    r->state = r->state == DL_STORING ? DL_ANSWERED : DL_DISCARD;
    drop_tmp(r);
    pump(r);
    tunnel_mark_dirty(t);
}

/* see relay.h */
void delivery_start(struct tunnel *t, struct yamux_stream *st)
{
    struct delivery_rx *r = calloc(1, sizeof *r);
    if (r == NULL) {
        yamux_release(st);
        return;
    }
    r->kind = SK_DELIVERY;
    r->t = t;
    r->st = st;
    r->stream_id = st->id;
    r->fd = -1;
    r->start_ms = r->active_ms = relay_now_ms();
    st->user = r;
    r->next = head;
    if (head) {
        head->prev = r;
    }
    head = r;
    pump(r);
}

/* see relay.h */
void delivery_on_tunnel_gone(void *owner)
{
    dl_free(owner);
}

/* see relay.h */
void delivery_timers(uint64_t now)
{
    static uint64_t next;
    uint64_t limit = (uint64_t)relay_cfg.lim.delivery_stall_s * 1000u;
    if (now < next) {
        return;
    }
    next = now + 1000;                       /* a second's precision is plenty */
    for (struct delivery_rx *r = head, *n; r; r = n) {
        n = r->next;
        if (relay_ms_since(now, r->active_ms) < limit || (r->tx && lmtp_tx_waiting(r->tx))) {
            continue;                        /* (a store that owes us: store-timeout's) */
        }
        unsigned k = refusal(RF_DELIVERY_STALL);
        if (k) {
            log_warnx("delivery: location=%s tunnel=%u stream=%u dropped: no byte for %u s after "
                      "%llu bytes (limit delivery-stall) (%u like it since the last such line)",
                      r->t->loc->id, r->t->serial, r->stream_id, relay_cfg.lim.delivery_stall_s,
                      (unsigned long long)r->got, k);
        }
        struct tunnel *t = r->t;
        r->st->user = NULL;
        yamux_reset(r->st);
        yamux_release(r->st);
        tunnel_mark_dirty(t);                /* the RST goes out */
        dl_free(r);
    }
}
