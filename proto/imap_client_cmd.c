/* The IMAP engine's commands (see imap_client.h): each command line into the output
 * buffer, the session's steps, and which command follows when the one in flight completes
 * with OK. Responses are read in imap_client.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "imap_client_int.h"
#include "secure_wipe.h"

/* ---- output ---- */

/* Appends one command line "gN ..." and makes it the command in flight. */
static int command(struct imap_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int command(struct imap_client *c, const char *fmt, ...)
{
    size_t room = sizeof c->out - c->out_len;
    int n = snprintf((char *)c->out + c->out_len, room, "g%u ", (unsigned)(c->tag + 1));
    if (n < 0 || (size_t)n >= room) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf((char *)c->out + c->out_len + n, room - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m + 2) > room) {
        return -1;
    }
    memcpy(c->out + c->out_len + n + m, "\r\n", 2);
    c->out_len += (size_t)(n + m + 2);
    c->tag++;
    return 0;
}

int ic_raw_line(struct imap_client *c, const char *s)
{
    size_t n = strlen(s);
    if (c->out_len + n + 2 > sizeof c->out) {
        return -1;
    }
    memcpy(c->out + c->out_len, s, n);
    memcpy(c->out + c->out_len + n, "\r\n", 2);
    c->out_len += n + 2;
    return 0;
}

/* A quoted string for a name we send (RFC 3501 quoted: 7-bit, no CR/LF, \ and " escaped):
 * 0, or -1 when the name cannot be quoted. */
static int quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    if (cap < 3 || strlen(s) > IMAP_STRING_MAX) {
        return -1;
    }
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f || o + 4 > cap) {
            return -1;
        }
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
        }
        out[o++] = (char)ch;
    }
    out[o++] = '"';
    out[o] = 0;
    return 0;
}

/* see imap_client.h */
size_t imap_client_out(const struct imap_client *c, const uint8_t **p)
{
    *p = c->out + c->out_off;
    return c->out_len - c->out_off;
}

/* see imap_client.h */
void imap_client_out_done(struct imap_client *c, size_t n)
{
    c->out_off += n < c->out_len - c->out_off ? n : c->out_len - c->out_off;
    if (c->out_off == c->out_len) {
        if (c->secret_out) {
            secure_wipe(c->out, c->out_len);
            c->secret_out = 0;
        }
        c->out_off = c->out_len = 0;
    }
}

/* ---- session steps ---- */

int ic_send_capability(struct imap_client *c, enum imap_cstate next)
{
    c->state = next;
    return command(c, "CAPABILITY");
}

/* SASL PLAIN: authzid NUL authcid NUL password, base64 (RFC 4616). */
int ic_plain_b64(struct imap_client *c, char *out, size_t cap)
{
    uint8_t raw[2 * IMAP_STRING_MAX + 2];
    size_t u = strlen(c->cfg.user), p = strlen(c->cfg.pass);
    if (u > IMAP_STRING_MAX || p > IMAP_STRING_MAX || (u + p + 2 + 2) / 3 * 4 + 1 > cap) {
        return -1;
    }
    raw[0] = 0;
    memcpy(raw + 1, c->cfg.user, u);
    raw[1 + u] = 0;
    memcpy(raw + 2 + u, c->cfg.pass, p);
    base64_encode(out, raw, u + p + 2, BASE64_STD);
    secure_wipe(raw, sizeof raw);
    return 0;
}

static long start_auth(struct imap_client *c, struct imap_cevent *ev)
{
    char b64[(2 * IMAP_STRING_MAX + 4) / 3 * 4 + 8];
    char qu[2 * IMAP_STRING_MAX + 3], qp[2 * IMAP_STRING_MAX + 3];
    int r;
    if (!c->tls) {
        /* Never reached by design; kept so no future path can leak the password. */
        set_verdict(c, "login: transport not secured, credentials withheld");
        return fail(c, ev);
    }
    c->state = IC_S_AUTH;
    c->secret_out = 1;
    if (c->caps & IMAP_CAP_AUTH_PLAIN) {
        if (ic_plain_b64(c, b64, sizeof b64)) {
            set_verdict(c, "login: user or password too long");
            return fail(c, ev);
        }
        r = c->caps & IMAP_CAP_SASL_IR ? command(c, "AUTHENTICATE PLAIN %s", b64)
                                       : command(c, "AUTHENTICATE PLAIN");
        secure_wipe(b64, sizeof b64);
    } else if (!(c->caps & IMAP_CAP_LOGINDISABLED)) {
        if (quote(qu, sizeof qu, c->cfg.user) || quote(qp, sizeof qp, c->cfg.pass)) {
            set_verdict(c, "login: user or password not sendable by LOGIN (8-bit or control "
                        "bytes) and the server has no AUTH=PLAIN");
            return fail(c, ev);
        }
        r = command(c, "LOGIN %s %s", qu, qp);
        secure_wipe(qp, sizeof qp);
    } else {
        set_verdict(c, "login: the server offers neither AUTH=PLAIN nor LOGIN");
        return fail(c, ev);
    }
    if (r) {
        set_verdict(c, "login: command too long");
        return fail(c, ev);
    }
    return 0;
}

static long start_select(struct imap_client *c, struct imap_cevent *ev)
{
    char q[2 * IMAP_STRING_MAX + 3];
    if (quote(q, sizeof q, c->cfg.folder)) {
        set_verdict(c, "select: folder name not sendable (8-bit or control bytes)");
        return fail(c, ev);
    }
    c->state = IC_S_SELECT;
    c->uidvalidity = c->uidnext = c->exists = 0;
    c->keywords = 0;
    imap_parser_literal_max(&c->ps, IMAP_SMALL_LITERAL_MAX);
    return command(c, "SELECT %s", q) ? -1 : 0;
}

/* ---- tagged answers: the command in flight completes ---- */

long ic_done_ready(struct imap_client *c, struct imap_cevent *ev)
{
    c->state = IC_S_READY;
    imap_parser_literal_max(&c->ps, IMAP_SMALL_LITERAL_MAX);
    ev->type = IC_EV_READY;
    return 0;
}

static long after_login_capa(struct imap_client *c, struct imap_cevent *ev)
{
    if (!c->caps_in_answer) {
        return ic_send_capability(c, IC_S_CAPA_AUTHED) ? -1 : 0;
    }
    return start_select(c, ev);
}

/* The next command of the after-action, or READY when the set has been disposed of. */
static long dispose_next(struct imap_client *c, struct imap_cevent *ev)
{
    char q[2 * IMAP_STRING_MAX + 3];
    int r = 0;
    uint8_t step = c->dispose_step++;
    int expunge = c->caps & IMAP_CAP_UIDPLUS;
    switch (c->cfg.after) {
    case IMAP_DO_SEEN:
        if (step == 0) {
            return command(c, "UID STORE %s +FLAGS.SILENT (\\Seen%s)", c->uidset,
                           c->keywords ? " " IMAP_DELIVERED_KEYWORD : "");
        }
        return ic_done_ready(c, ev);
    case IMAP_DO_DELETE:
        if (step == 0) {
            return command(c, "UID STORE %s +FLAGS.SILENT (\\Deleted)", c->uidset);
        }
        if (step == 1) {
            return expunge ? command(c, "UID EXPUNGE %s", c->uidset) : command(c, "EXPUNGE");
        }
        return ic_done_ready(c, ev);
    default:
        if (quote(q, sizeof q, c->cfg.move_to)) {
            set_verdict(c, "move: folder name not sendable (8-bit or control bytes)");
            return fail(c, ev);
        }
        if (c->caps & IMAP_CAP_MOVE) {
            return step == 0 ? command(c, "UID MOVE %s %s", c->uidset, q) : ic_done_ready(c, ev);
        }
        if (step == 0) {
            r = command(c, "UID COPY %s %s", c->uidset, q);
        } else if (step == 1) {
            r = command(c, "UID STORE %s +FLAGS.SILENT (\\Deleted)", c->uidset);
        } else if (step == 2) {
            r = expunge ? command(c, "UID EXPUNGE %s", c->uidset) : command(c, "EXPUNGE");
        } else {
            return ic_done_ready(c, ev);
        }
        return r;
    }
}

/* The command in flight completed with OK: the session's next step. */
long ic_on_tagged_ok(struct imap_client *c, struct imap_cevent *ev)
{
    switch (c->state) {
    case IC_S_CAPA_PRE:
        if (!(c->caps & IMAP_CAP_STARTTLS)) {
            set_verdict(c, "starttls: the server does not offer STARTTLS");
            return fail(c, ev);
        }
        c->state = IC_S_STARTTLS;
        return command(c, "STARTTLS");
    case IC_S_STARTTLS:
        c->state = IC_S_TLS_WAIT;
        ev->type = IC_EV_STARTTLS;
        return 0;
    case IC_S_CAPA:
        return start_auth(c, ev);
    case IC_S_AUTH:
        c->authed = 1;
        c->caps_in_answer = c->ln.saw_caps;
        return after_login_capa(c, ev);
    case IC_S_CAPA_AUTHED:
        return start_select(c, ev);
    case IC_S_SELECT:
        if (c->uidvalidity == 0) {
            set_verdict(c, "select: the server gave no UIDVALIDITY");
            return fail(c, ev);
        }
        return ic_done_ready(c, ev);
    case IC_S_DISPOSE:
        return dispose_next(c, ev);
    case IC_S_LOGOUT:
        c->state = IC_S_CLOSED;
        ev->type = IC_EV_CLOSED;
        return 0;
    default:        /* SEARCH, FETCH, NOOP, IDLE */
        return ic_done_ready(c, ev);
    }
}

/* ---- public ---- */

static int ready(struct imap_client *c)
{
    return c->state == IC_S_READY;
}

/* see imap_client.h */
int imap_client_search(struct imap_client *c)
{
    if (!ready(c)) {
        return -1;
    }
    c->nuids = 0;
    c->search_more = 0;
    c->news = 0;
    c->state = IC_S_SEARCH;
    /* With seen, "not yet delivered" is our own keyword where the folder keeps one: \Seen
     * alone would skip a message a person read before we came to it. */
    return command(c, "UID SEARCH %s", c->cfg.after != IMAP_DO_SEEN ? "ALL"
                   : c->keywords ? "UNKEYWORD " IMAP_DELIVERED_KEYWORD : "UNSEEN");
}

/* A fetch of one UID (uid) or of the set in c->uidset (uid 0) begins: no body seen yet. */
static void fetch_begin(struct imap_client *c, uint32_t uid)
{
    c->fetch_uid = uid;
    c->fetch_set = uid == 0;
    c->body_found = 0;
    c->skip_body = 0;
    c->body_size = 0;
    c->state = IC_S_FETCH;
    imap_parser_literal_max(&c->ps, c->cfg.body_max);
}

/* see imap_client.h */
int imap_client_fetch(struct imap_client *c, uint32_t uid)
{
    if (!ready(c) || uid == 0) {
        return -1;
    }
    fetch_begin(c, uid);
    return command(c, "UID FETCH %u BODY.PEEK[]", (unsigned)uid);
}

/* see imap_client.h */
int imap_client_fetch_set(struct imap_client *c, const uint32_t *uids, unsigned n)
{
    if (!ready(c) || n == 0 || n > IMAP_FETCH_SET_MAX ||
        imap_uidset(c->uidset, sizeof c->uidset, uids, n) < 0) {
        return -1;
    }
    fetch_begin(c, 0);
    /* UID asked before the body: servers answer the items in the order asked (Dovecot,
     * Cyrus, Gmail do), so each body comes with its UID already known. */
    return command(c, "UID FETCH %s (UID BODY.PEEK[])", c->uidset);
}

/* see imap_client.h */
int imap_client_dispose(struct imap_client *c, const uint32_t *uids, unsigned n)
{
    struct imap_cevent ev;
    if (!ready(c) || n == 0 || n > IMAP_BATCH_MAX ||
        imap_uidset(c->uidset, sizeof c->uidset, uids, n) < 0) {
        return -1;
    }
    c->state = IC_S_DISPOSE;
    c->dispose_step = 0;
    return dispose_next(c, &ev) < 0 ? -1 : 0;
}

/* see imap_client.h */
void imap_client_skip_body(struct imap_client *c)
{
    if (c->state == IC_S_FETCH) {
        c->skip_body = 1;
    }
}

/* see imap_client.h */
int imap_client_idle(struct imap_client *c)
{
    if (!ready(c) || !(c->caps & IMAP_CAP_IDLE)) {
        return -1;
    }
    c->state = IC_S_IDLE;
    c->idling = 0;
    c->idle_done_wanted = 0;
    return command(c, "IDLE");
}

/* see imap_client.h */
int imap_client_idle_done(struct imap_client *c)
{
    if (c->state != IC_S_IDLE || c->idle_done_wanted) {
        return -1;
    }
    c->idle_done_wanted = 1;
    return c->idling ? ic_raw_line(c, "DONE") : 0;
}

/* see imap_client.h */
int imap_client_noop(struct imap_client *c)
{
    if (!ready(c)) {
        return -1;
    }
    c->state = IC_S_NOOP;
    return command(c, "NOOP");
}

/* see imap_client.h */
int imap_client_logout(struct imap_client *c)
{
    if (!ready(c)) {
        return -1;
    }
    c->state = IC_S_LOGOUT;
    return command(c, "LOGOUT");
}

/* see imap_client.h */
int imap_uidset(char *out, size_t cap, const uint32_t *uids, unsigned n)
{
    size_t o = 0;
    for (unsigned i = 0; i < n;) {
        unsigned j = i;
        while (j + 1 < n && uids[j + 1] == uids[j] + 1) {
            j++;
        }
        int m = j > i ? snprintf(out + o, cap - o, "%s%u:%u", o ? "," : "",
                                 (unsigned)uids[i], (unsigned)uids[j])
                      : snprintf(out + o, cap - o, "%s%u", o ? "," : "", (unsigned)uids[i]);
        if (m < 0 || (size_t)m >= cap - o) {
            return -1;
        }
        o += (size_t)m;
        i = j + 1;
    }
    return n ? (int)o : -1;
}
