/* The IMAP client protocol engine (RFC 3501/9051, STARTTLS per RFC 2595 hardened as in
 * "Why TLS is better without STARTTLS", USENIX Security 2021; IDLE per RFC 2177), sans-IO:
 * the owner feeds received bytes, sends what imap_client_out() holds, and acts on events.
 * It never touches a socket, a clock or TLS: the owner does TLS when told (IC_EV_STARTTLS)
 * and keeps time (IDLE re-issue, NOOP polling).
 *
 * Session: greeting -> [CAPABILITY -> STARTTLS -> owner does TLS -> imap_client_tls_done]
 *   -> CAPABILITY -> AUTHENTICATE PLAIN (SASL-IR when offered) or LOGIN -> CAPABILITY when
 *   the login answer did not carry it -> SELECT folder -> IC_EV_READY.
 * Then, one at a time, each ending with IC_EV_READY (or IC_EV_FAILED):
 *   imap_client_search    UID SEARCH (ALL; with the after-action seen, UNKEYWORD
 *                         IMAP_DELIVERED_KEYWORD where PERMANENTFLAGS has \*, else UNSEEN):
 *                         the smallest IMAP_BATCH_MAX UIDs in c->uids, sorted.
 *   imap_client_fetch     UID FETCH uid BODY.PEEK[]: IC_EV_BODY_BEGIN (c->body_size),
 *                         IC_EV_BODY_DATA pieces, IC_EV_BODY_END; then READY with
 *                         c->body_found (0: the message is gone). The body is only good
 *                         once READY came: a FAILED before it means discard what came.
 *   imap_client_fetch_set UID FETCH set (UID BODY.PEEK[]): the same per message, each
 *                         BODY_BEGIN naming its UID in c->fetch_uid, one READY at the end.
 *   imap_client_dispose   the after-action on a UID set, in one round trip per command:
 *                         seen: UID STORE +FLAGS.SILENT (\Seen [keyword]); delete: UID STORE \Deleted,
 *                         UID EXPUNGE (UIDPLUS) or EXPUNGE; move: UID MOVE (MOVE) or UID COPY,
 *                         UID STORE \Deleted, UID EXPUNGE or EXPUNGE.
 *   imap_client_idle      IDLE; IC_EV_NEWMAIL when EXISTS grows; imap_client_idle_done ends it.
 *   imap_client_noop      NOOP (polling when the server has no IDLE).
 *   imap_client_logout    LOGOUT; IC_EV_CLOSED.
 *
 * Security rules it enforces:
 *   - credentials are only sent once the transport is secure: after our STARTTLS, or when
 *     the owner said the transport is already secured (implicit TLS, or a tls mapping);
 *   - STARTTLS mode: a PREAUTH greeting, no STARTTLS capability, a STARTTLS answer other
 *     than a tagged OK, or any byte after that OK before imap_client_tls_done: failure;
 *     everything learned before TLS is forgotten at imap_client_tls_done;
 *   - before authentication only status responses and CAPABILITY are looked at;
 *   - a tagged response whose tag is not the command in flight is a failure (injection);
 *   - referrals are never followed; PREAUTH is never accepted (we log in as the configured
 *     user or not at all); literals are capped (bodies at body_max, others at 64 KiB).
 *
 * Memory: struct imap_client 5.4 KiB on x86_64 (parser 1.1 KiB, output 2 KiB, the UID set
 * being disposed of 1.4 KiB, UIDs 0.25 KiB, capability and status texts 0.7 KiB). */
#ifndef GW_IMAP_CLIENT_H
#define GW_IMAP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"

#define IMAP_OUT_MAX 2048          /* one command: a 64-UID set is at most ~1.4 KiB */
/* With `after seen`, delivered messages carry this keyword too (where the folder allows
 * keywords): a message a person marked \Seen is still ours to deliver. */
#define IMAP_DELIVERED_KEYWORD "$GatewayDelivered"
#define IMAP_BATCH_MAX 64          /* UIDs per SEARCH answer kept and per disposal */
#define IMAP_FETCH_SET_MAX IMAP_BATCH_MAX   /* UIDs per imap_client_fetch_set */
#define IMAP_STRING_MAX 255        /* user, password, folder names (quoted on the wire) */
#define IMAP_SMALL_LITERAL_MAX 65536   /* any literal that is not a message body */
#define IMAP_CAPS_TEXT_MAX 256     /* capabilities as the server listed them, for show imap */
#define IMAP_VERDICT_MAX 160
#define IMAP_IDLE_MAX_MS (28u * 60 * 1000)  /* re-issue IDLE before servers' 30 min cut */

enum imap_after { IMAP_DO_SEEN, IMAP_DO_DELETE, IMAP_DO_MOVE };

struct imap_client_config {
    const char *user, *pass;       /* kept by pointer: must outlive the client */
    const char *folder;
    enum imap_after after;
    const char *move_to;           /* IMAP_DO_MOVE */
    int starttls;                  /* 1: STARTTLS first; 0: transport already secured */
    uint64_t body_max;             /* largest body literal parsed (0: 256 MiB; at most 2^40):
                                      a larger one ends the session, so an owner with its
                                      own size limit sets this high and skips by size */
};

/* Capabilities that change what we do. */
enum imap_cap {
    IMAP_CAP_IMAP4REV1 = 1u << 0,
    IMAP_CAP_STARTTLS = 1u << 1,
    IMAP_CAP_LOGINDISABLED = 1u << 2,
    IMAP_CAP_AUTH_PLAIN = 1u << 3,
    IMAP_CAP_SASL_IR = 1u << 4,
    IMAP_CAP_IDLE = 1u << 5,
    IMAP_CAP_UIDPLUS = 1u << 6,
    IMAP_CAP_MOVE = 1u << 7,
    IMAP_CAP_IMAP4REV2 = 1u << 8,
};

enum imap_cev_type {
    IC_EV_NONE,                    /* need more bytes */
    IC_EV_STARTTLS,                /* send nothing, read nothing: do TLS, then tls_done */
    IC_EV_READY,                   /* logged in and selected, or the last command is done */
    IC_EV_NEWMAIL,                 /* during IDLE: the mailbox grew */
    IC_EV_BODY_BEGIN,
    IC_EV_BODY_DATA,               /* p, len: a piece of the message */
    IC_EV_BODY_END,
    IC_EV_FAILED,                  /* final: c->verdict says why */
    IC_EV_CLOSED,                  /* final: logged out */
};

struct imap_cevent {
    enum imap_cev_type type;
    const uint8_t *p;
    size_t len;
};

enum imap_cstate {
    IC_S_GREETING, IC_S_CAPA_PRE, IC_S_STARTTLS, IC_S_TLS_WAIT, IC_S_CAPA, IC_S_AUTH,
    IC_S_CAPA_AUTHED, IC_S_SELECT, IC_S_READY, IC_S_SEARCH, IC_S_FETCH, IC_S_DISPOSE,
    IC_S_IDLE, IC_S_NOOP, IC_S_LOGOUT, IC_S_CLOSED, IC_S_FAILED,
};

/* What the line being parsed is, as far as we care. */
struct imap_line_ctx {
    uint8_t kind, status, code, item, body_state, pending;
    unsigned code_idx;
    uint32_t num, fetch_uid;
    uint8_t saw_caps;
};

struct imap_client {
    enum imap_cstate state;
    struct imap_client_config cfg;
    struct imap_parser ps;
    struct imap_line_ctx ln;
    uint32_t caps;
    uint32_t tag;                  /* number of the command in flight */
    uint8_t tls;                   /* transport secure (TLS below us) */
    uint8_t authed;
    uint8_t idling;                /* IDLE's "+" came */
    uint8_t idle_done_wanted;
    uint8_t news;                  /* an EXISTS outside IDLE since the last SEARCH */
    uint8_t dispose_step;
    uint8_t secret_out;            /* the output holds credentials: wipe once sent */
    uint8_t caps_in_answer;        /* the login answer carried CAPABILITY */
    uint8_t body_found;
    uint8_t skip_body;             /* the owner does not want this body (too large) */
    uint8_t auth_cont;             /* credentials went out after a continuation */
    uint32_t uidvalidity, uidnext, exists;
    uint8_t keywords;              /* the selected folder's PERMANENTFLAGS has \* */
    uint32_t fetch_uid;            /* UID being fetched */
    uint8_t fetch_set;             /* the fetch is a run of UIDs (imap_client_fetch_set) */
    uint64_t body_size;
    uint32_t uids[IMAP_BATCH_MAX];
    unsigned nuids;
    uint8_t search_more;           /* the server listed more than IMAP_BATCH_MAX */
    char uidset[IMAP_BATCH_MAX * 22];   /* disposal set "1:5,9" being applied */
    size_t out_len, out_off;
    uint8_t out[IMAP_OUT_MAX];
    char caps_text[IMAP_CAPS_TEXT_MAX];
    char text[IMAP_VERDICT_MAX];   /* human text of the last status response */
    char verdict[IMAP_VERDICT_MAX];
};

void imap_client_init(struct imap_client *c, const struct imap_client_config *cfg);
/* Bytes received: returns how many were consumed (<= len), with one event in *ev (or
 * IC_EV_NONE once all of p is consumed), or -1 with IC_EV_FAILED. Call again with the rest.
 * During a body, the owner may pass fewer bytes than it has to apply back-pressure. */
long imap_client_feed(struct imap_client *c, const uint8_t *p, size_t len,
                      struct imap_cevent *ev);
/* Bytes to send now (0: nothing), and how many of them went out. */
size_t imap_client_out(const struct imap_client *c, const uint8_t **p);
void imap_client_out_done(struct imap_client *c, size_t n);
/* The owner's TLS handshake on the connection completed (after IC_EV_STARTTLS). */
void imap_client_tls_done(struct imap_client *c);

/* Commands, valid in READY (return 0), else -1 and nothing is sent. */
int imap_client_search(struct imap_client *c);
int imap_client_fetch(struct imap_client *c, uint32_t uid);
/* A run of UIDs (sorted, at most IMAP_FETCH_SET_MAX) in one command: one round trip for
 * them all. For each message the server has: IC_EV_BODY_BEGIN with c->fetch_uid the UID
 * its line named before the body (0 when none did: the owner skips that body and fetches
 * it alone later), DATA, END; then one READY (a FAILED before it: discard what came).
 * A UID with no body in the answer is gone from the server. */
int imap_client_fetch_set(struct imap_client *c, const uint32_t *uids, unsigned n);
int imap_client_dispose(struct imap_client *c, const uint32_t *uids, unsigned n);
int imap_client_idle(struct imap_client *c);
int imap_client_noop(struct imap_client *c);
int imap_client_logout(struct imap_client *c);
/* After IC_EV_BODY_BEGIN: the rest of this body is read and dropped, no DATA events
 * (a message over the configured maximum stays on the server); BODY_END still comes. */
void imap_client_skip_body(struct imap_client *c);
/* End IDLE (valid while in IDLE; READY follows). */
int imap_client_idle_done(struct imap_client *c);

/* The owner gives up (connection lost, timeout): the client fails with this verdict. */
void imap_client_abort(struct imap_client *c, const char *verdict);
const char *imap_client_state_name(enum imap_cstate s);
/* "1:3,5,9:10" from sorted UIDs: length written, or -1 when cap is too small. */
int imap_uidset(char *out, size_t cap, const uint32_t *uids, unsigned n);

#endif
