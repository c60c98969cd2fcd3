/* see imap_client.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "imap_client.h"
#include "log.h"
#include "secure_wipe.h"

/* What a response line is (struct imap_line_ctx.kind). */
enum { L_NONE, L_IGNORE, L_STATUS, L_CAPA, L_NUMBERED, L_EXISTS, L_EXPUNGE, L_FETCH,
       L_SEARCH, L_CONT, L_TAGGED };
enum { ST_NONE, ST_OK, ST_NO, ST_BAD, ST_BYE, ST_PREAUTH };
enum { C_NONE, C_OTHER, C_CAPA, C_UIDVALIDITY, C_UIDNEXT, C_PERMFLAGS, C_ALERT, C_REFERRAL };
/* FETCH items (item) and where its BODY[] value stands (body_state). */
enum { I_NONE, I_UID, I_BODY, I_OTHER };
enum { B_NONE, B_STREAMING, B_DONE };
/* A body given as a quoted string comes out as three events over three calls (pending). */
enum { P_NONE, P_DATA, P_END };

/* ---- failure, output ---- */

static void set_verdict(struct imap_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_verdict(struct imap_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->verdict, sizeof c->verdict, fmt, ap);
    va_end(ap);
}

static long fail(struct imap_client *c, struct imap_cevent *ev)
{
    if (c->state != IC_S_FAILED) {
        log_warnx("imap: %s", c->verdict);
    }
    c->state = IC_S_FAILED;
    if (ev) {
        ev->type = IC_EV_FAILED;
    }
    return -1;
}

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

static int raw_line(struct imap_client *c, const char *s)
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

/* ---- session steps ---- */

static int send_capability(struct imap_client *c, enum imap_cstate next)
{
    c->state = next;
    return command(c, "CAPABILITY");
}

/* SASL PLAIN: authzid NUL authcid NUL password, base64 (RFC 4616). */
static int plain_b64(struct imap_client *c, char *out, size_t cap)
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
        if (plain_b64(c, b64, sizeof b64)) {
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

/* ---- what untagged lines say ---- */

static void caps_reset(struct imap_client *c)
{
    c->caps = 0;
    c->caps_text[0] = 0;
}

static void caps_add(struct imap_client *c, const struct imap_ev *e)
{
    static const struct { const char *name; uint32_t bit; } known[] = {
        { "IMAP4rev1", IMAP_CAP_IMAP4REV1 }, { "IMAP4rev2", IMAP_CAP_IMAP4REV2 },
        { "STARTTLS", IMAP_CAP_STARTTLS }, { "LOGINDISABLED", IMAP_CAP_LOGINDISABLED },
        { "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN }, { "SASL-IR", IMAP_CAP_SASL_IR },
        { "IDLE", IMAP_CAP_IDLE }, { "UIDPLUS", IMAP_CAP_UIDPLUS }, { "MOVE", IMAP_CAP_MOVE },
    };
    if (e->type != IMAP_T_ATOM) {
        return;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (imap_tok_is(e, known[i].name)) {
            c->caps |= known[i].bit;
        }
    }
    size_t have = strlen(c->caps_text);
    if (have + e->len + 2 < sizeof c->caps_text) {
        snprintf(c->caps_text + have, sizeof c->caps_text - have, "%s%.*s", have ? " " : "",
                 (int)e->len, (const char *)e->p);
    }
}

/* Keeps the smallest IMAP_BATCH_MAX UIDs, sorted (servers list them in any order). */
static void search_add(struct imap_client *c, uint32_t uid)
{
    unsigned i = c->nuids;
    if (i == IMAP_BATCH_MAX) {
        c->search_more = 1;
        if (uid >= c->uids[IMAP_BATCH_MAX - 1]) {
            return;
        }
        i--;
    } else {
        c->nuids++;
    }
    while (i > 0 && c->uids[i - 1] > uid) {
        c->uids[i] = c->uids[i - 1];
        i--;
    }
    c->uids[i] = uid;
}

/* A response code: [CAPABILITY ...], [UIDVALIDITY n], [UIDNEXT n], [PERMANENTFLAGS (...)],
 * [ALERT], [REFERRAL]. */
static void on_code_token(struct imap_client *c, const struct imap_ev *e)
{
    struct imap_line_ctx *ln = &c->ln;
    if (ln->code_idx++ == 0) {
        ln->code = imap_tok_is(e, "CAPABILITY") ? C_CAPA
                 : imap_tok_is(e, "UIDVALIDITY") ? C_UIDVALIDITY
                 : imap_tok_is(e, "UIDNEXT") ? C_UIDNEXT
                 : imap_tok_is(e, "PERMANENTFLAGS") ? C_PERMFLAGS
                 : imap_tok_is(e, "ALERT") ? C_ALERT
                 : imap_tok_is(e, "REFERRAL") ? C_REFERRAL : C_OTHER;
        if (ln->code == C_CAPA) {
            caps_reset(c);
            ln->saw_caps = 1;
        }
        return;
    }
    long long v = imap_tok_u32(e);
    /* Before login nothing but capabilities is taken from the server. */
    if (ln->code == C_CAPA) {
        caps_add(c, e);
    } else if (c->authed && ln->code == C_PERMFLAGS && imap_tok_is(e, "\\*")) {
        c->keywords = 1;             /* the folder keeps keywords we make up */
    } else if (c->authed && ln->code_idx == 2 && v > 0) {
        if (ln->code == C_UIDVALIDITY) {
            c->uidvalidity = (uint32_t)v;
        } else if (ln->code == C_UIDNEXT) {
            c->uidnext = (uint32_t)v;
        }
    }
}

/* The first words of an untagged line decide what it is. */
static void on_untagged_word(struct imap_client *c, const struct imap_ev *e)
{
    struct imap_line_ctx *ln = &c->ln;
    if (e->word == 0) {
        static const char *const st[] = { "", "OK", "NO", "BAD", "BYE", "PREAUTH" };
        for (unsigned i = ST_OK; i <= ST_PREAUTH; i++) {
            if (imap_tok_is(e, st[i])) {
                ln->kind = L_STATUS;
                ln->status = (uint8_t)i;
                return;
            }
        }
        long long n = imap_tok_u32(e);
        if (imap_tok_is(e, "CAPABILITY")) {
            ln->kind = L_CAPA;
            caps_reset(c);
        } else if (!c->authed) {
            ln->kind = L_IGNORE;
        } else if (n >= 0) {
            ln->kind = L_NUMBERED;
            ln->num = (uint32_t)n;
        } else {
            ln->kind = imap_tok_is(e, "SEARCH") ? L_SEARCH : L_IGNORE;
        }
        return;
    }
    if (ln->kind == L_NUMBERED && e->word == 1) {
        ln->kind = imap_tok_is(e, "EXISTS") ? L_EXISTS
                 : imap_tok_is(e, "EXPUNGE") ? L_EXPUNGE
                 : imap_tok_is(e, "FETCH") && c->state == IC_S_FETCH ? L_FETCH : L_IGNORE;
    }
}

/* FETCH (UID n BODY[] {size}...): items alternate name and value at depth 1. */
static long on_fetch_token(struct imap_client *c, const struct imap_ev *e,
                           struct imap_cevent *ev)
{
    struct imap_line_ctx *ln = &c->ln;
    if (e->depth != 1 || e->word < 2) {
        return 0;
    }
    if (ln->item == I_NONE) {
        ln->item = e->type != IMAP_T_ATOM ? I_OTHER
                 : imap_tok_is(e, "UID") ? I_UID
                 : imap_tok_is(e, "BODY[]") ? I_BODY : I_OTHER;
        return 0;
    }
    uint8_t item = ln->item;
    ln->item = I_NONE;
    if (item == I_UID) {
        long long v = imap_tok_u32(e);
        ln->fetch_uid = v > 0 ? (uint32_t)v : 0;
    } else if (item == I_BODY && e->type != IMAP_T_LIST_OPEN) {
        if (c->fetch_set) {
            /* A run: this body is the UID's named before it on its line (0: none was, and
             * the owner skips it); each body has its own skip. */
            c->fetch_uid = ln->fetch_uid;
            c->skip_body = 0;
            c->body_found = 0;
        }
        if (ln->body_state != B_NONE || c->body_found) {
            set_verdict(c, "fetch: two bodies for UID %u", (unsigned)c->fetch_uid);
            return fail(c, ev);
        }
        if (e->type == IMAP_T_ATOM) {          /* NIL: no body */
            return 0;
        }
        c->body_found = 1;
        ln->body_state = e->type == IMAP_T_LITERAL ? B_STREAMING : B_DONE;
        c->body_size = e->type == IMAP_T_LITERAL ? e->size : e->len;
        ln->pending = e->type == IMAP_T_STRING ? P_DATA : P_NONE;
        ev->type = IC_EV_BODY_BEGIN;
    } else if (e->type == IMAP_T_LIST_OPEN) {
        ln->item = I_OTHER;                    /* a list value: its close ends the item */
    }
    return 0;
}

/* ---- tagged answers: the command in flight completes ---- */

static long done_ready(struct imap_client *c, struct imap_cevent *ev)
{
    c->state = IC_S_READY;
    imap_parser_literal_max(&c->ps, IMAP_SMALL_LITERAL_MAX);
    ev->type = IC_EV_READY;
    return 0;
}

static long after_login_capa(struct imap_client *c, struct imap_cevent *ev)
{
    if (!c->caps_in_answer) {
        return send_capability(c, IC_S_CAPA_AUTHED) ? -1 : 0;
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
        return done_ready(c, ev);
    case IMAP_DO_DELETE:
        if (step == 0) {
            return command(c, "UID STORE %s +FLAGS.SILENT (\\Deleted)", c->uidset);
        }
        if (step == 1) {
            return expunge ? command(c, "UID EXPUNGE %s", c->uidset) : command(c, "EXPUNGE");
        }
        return done_ready(c, ev);
    default:
        if (quote(q, sizeof q, c->cfg.move_to)) {
            set_verdict(c, "move: folder name not sendable (8-bit or control bytes)");
            return fail(c, ev);
        }
        if (c->caps & IMAP_CAP_MOVE) {
            return step == 0 ? command(c, "UID MOVE %s %s", c->uidset, q) : done_ready(c, ev);
        }
        if (step == 0) {
            r = command(c, "UID COPY %s %s", c->uidset, q);
        } else if (step == 1) {
            r = command(c, "UID STORE %s +FLAGS.SILENT (\\Deleted)", c->uidset);
        } else if (step == 2) {
            r = expunge ? command(c, "UID EXPUNGE %s", c->uidset) : command(c, "EXPUNGE");
        } else {
            return done_ready(c, ev);
        }
        return r;
    }
}

static long on_tagged_ok(struct imap_client *c, struct imap_cevent *ev)
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
        return done_ready(c, ev);
    case IC_S_DISPOSE:
        return dispose_next(c, ev);
    case IC_S_LOGOUT:
        c->state = IC_S_CLOSED;
        ev->type = IC_EV_CLOSED;
        return 0;
    default:        /* SEARCH, FETCH, NOOP, IDLE */
        return done_ready(c, ev);
    }
}

static long on_tagged(struct imap_client *c, struct imap_cevent *ev)
{
    if (c->ln.status == ST_OK) {
        return on_tagged_ok(c, ev);
    }
    /* A message expunged by someone else meanwhile: no body, not a failure. */
    if (c->state == IC_S_FETCH && c->ln.status == ST_NO) {
        c->body_found = 0;
        return done_ready(c, ev);
    }
    if (c->state == IC_S_AUTH) {
        set_verdict(c, "login refused: %s", c->text);
    } else {
        set_verdict(c, "%s: %s %s", imap_client_state_name(c->state),
                    c->ln.status == ST_NO ? "NO" : "BAD", c->text);
    }
    return fail(c, ev);
}

/* ---- one response line ---- */

static long on_status_untagged(struct imap_client *c, struct imap_cevent *ev)
{
    struct imap_line_ctx *ln = &c->ln;
    if (ln->code == C_ALERT) {
        log_warnx("imap: server alert: %s", c->text);
    } else if (ln->code == C_REFERRAL) {
        log_info("imap: referral ignored");
    }
    if (ln->status == ST_BYE) {
        if (c->state == IC_S_LOGOUT) {
            return 0;
        }
        set_verdict(c, "server closed the session: %s", c->text);
        return fail(c, ev);
    }
    if (c->state == IC_S_GREETING) {
        if (ln->status == ST_PREAUTH) {
            set_verdict(c, "greeting is PREAUTH: refused (we log in as the configured user)");
            return fail(c, ev);
        }
        if (ln->status != ST_OK) {
            set_verdict(c, "greeting is not OK: %s", c->text);
            return fail(c, ev);
        }
        if (c->cfg.starttls) {
            /* Even a CAPABILITY code in the greeting is asked again: simpler, and the
             * pre-TLS list only decides whether STARTTLS is there. */
            return send_capability(c, IC_S_CAPA_PRE) ? -1 : 0;
        }
        return send_capability(c, IC_S_CAPA) ? -1 : 0;
    }
    if (ln->status == ST_PREAUTH) {
        set_verdict(c, "PREAUTH after the greeting");
        return fail(c, ev);
    }
    return 0;
}

static long on_line_end(struct imap_client *c, struct imap_cevent *ev)
{
    struct imap_line_ctx *ln = &c->ln;
    switch (ln->kind) {
    case L_TAGGED:
        return on_tagged(c, ev);
    case L_STATUS:
        return on_status_untagged(c, ev);
    case L_EXISTS:
        /* Any EXISTS while idle is news: comparing counts would need every EXPUNGE seen
         * by every client to be accounted for exactly. */
        if (c->state == IC_S_IDLE) {
            ev->type = IC_EV_NEWMAIL;
        } else {
            c->news = 1;    /* announced now and never again: the next SEARCH must come */
        }
        c->exists = ln->num;
        return 0;
    case L_EXPUNGE:
        c->exists -= c->exists > 0;
        return 0;
    case L_FETCH:
        /* (a run: only a line with a body, whose UID came first, must name it again) */
        if ((c->fetch_set ? ln->body_state != B_NONE : c->body_found) && c->fetch_uid &&
            ln->fetch_uid != c->fetch_uid) {
            set_verdict(c, "fetch: asked for UID %u, the body came for UID %u",
                        (unsigned)c->fetch_uid, (unsigned)ln->fetch_uid);
            return fail(c, ev);
        }
        return 0;
    default:
        return 0;
    }
}

static long on_begin(struct imap_client *c, const struct imap_ev *e, struct imap_cevent *ev)
{
    memset(&c->ln, 0, sizeof c->ln);
    c->text[0] = 0;
    if (e->line == IMAP_L_CONTINUATION) {
        c->ln.kind = L_CONT;
        if (c->state == IC_S_IDLE && !c->idling) {
            c->idling = 1;
            if (c->idle_done_wanted) {
                return raw_line(c, "DONE");
            }
            return 0;
        }
        if (c->state == IC_S_AUTH && (c->caps & IMAP_CAP_AUTH_PLAIN) &&
            !(c->caps & IMAP_CAP_SASL_IR) && !c->auth_cont) {
            char b64[(2 * IMAP_STRING_MAX + 4) / 3 * 4 + 8];
            if (plain_b64(c, b64, sizeof b64) || raw_line(c, b64)) {
                secure_wipe(b64, sizeof b64);
                set_verdict(c, "login: credentials do not fit");
                return fail(c, ev);
            }
            secure_wipe(b64, sizeof b64);
            c->secret_out = 1;
            c->auth_cont = 1;
            c->ln.kind = L_IGNORE;     /* the base64 challenge (empty) means nothing */
            return 0;
        }
        set_verdict(c, "%s: unexpected continuation request", imap_client_state_name(c->state));
        return fail(c, ev);
    }
    if (e->line == IMAP_L_TAGGED) {
        char want[16];
        snprintf(want, sizeof want, "g%u", (unsigned)c->tag);
        int ours = c->state != IC_S_GREETING && c->state != IC_S_READY &&
                   e->len == strlen(want) && !memcmp(e->p, want, e->len);
        if (!ours) {
            set_verdict(c, "%s: tagged response %.*s is not for the command in flight",
                        imap_client_state_name(c->state), (int)(e->len < 16 ? e->len : 16),
                        (const char *)e->p);
            return fail(c, ev);
        }
        c->ln.kind = L_TAGGED;
    }
    return 0;
}

/* A token of a line; sets ev when it makes an event. */
static long on_token(struct imap_client *c, const struct imap_ev *e, struct imap_cevent *ev)
{
    struct imap_line_ctx *ln = &c->ln;
    if (e->type == IMAP_T_TEXT) {
        snprintf(c->text, sizeof c->text, "%.*s", (int)e->len, (const char *)e->p);
        return 0;
    }
    if (ln->kind == L_TAGGED && e->word == 0 && !e->in_code) {
        ln->status = imap_tok_is(e, "OK") ? ST_OK : imap_tok_is(e, "NO") ? ST_NO : ST_BAD;
        return 0;
    }
    if (ln->kind == L_TAGGED || ln->kind == L_STATUS) {
        if (e->in_code) {
            on_code_token(c, e);
        }
        return 0;
    }
    if (ln->kind == L_NONE || ln->kind == L_NUMBERED) {
        on_untagged_word(c, e);
        return 0;
    }
    switch (ln->kind) {
    case L_CAPA:
        caps_add(c, e);
        return 0;
    case L_SEARCH: {
        long long v = imap_tok_u32(e);
        if (c->state == IC_S_SEARCH && v > 0) {
            search_add(c, (uint32_t)v);
        }
        return 0;
    }
    case L_FETCH:
        return on_fetch_token(c, e, ev);
    default:
        return 0;
    }
}

/* Literal bytes: a body being streamed, or something we skip. */
static void on_literal(struct imap_client *c, const struct imap_ev *e, struct imap_cevent *ev)
{
    if (c->ln.kind != L_FETCH || c->ln.body_state != B_STREAMING) {
        return;
    }
    if (e->type == IMAP_T_LITDATA) {
        if (c->skip_body) {
            return;
        }
        ev->type = IC_EV_BODY_DATA;
        ev->p = e->p;
        ev->len = e->len;
    } else {
        c->ln.body_state = B_DONE;
        ev->type = IC_EV_BODY_END;
    }
}

static long dispatch(struct imap_client *c, const struct imap_ev *e, struct imap_cevent *ev)
{
    switch (e->type) {
    case IMAP_T_BEGIN:
        return on_begin(c, e, ev);
    case IMAP_T_END:
        return on_line_end(c, ev);
    case IMAP_T_LITDATA:
    case IMAP_T_LITEND:
        on_literal(c, e, ev);
        return 0;
    case IMAP_T_LITERAL:
        if (c->ln.kind == L_FETCH) {
            return on_fetch_token(c, e, ev);
        }
        return 0;
    case IMAP_T_CODE_OPEN:
        c->ln.code_idx = 0;
        c->ln.code = C_NONE;
        return 0;
    case IMAP_T_CODE_CLOSE:
    case IMAP_T_LIST_CLOSE:
        if (c->ln.kind == L_FETCH && e->depth == 1) {
            c->ln.item = I_NONE;
        }
        return 0;
    default:
        return on_token(c, e, ev);
    }
}

/* A quoted body: BEGIN came with the token; DATA and END follow on the next calls, while
 * the token is still in the parser's buffer (the parser is not called meanwhile). */
static int pending_body(struct imap_client *c, struct imap_cevent *ev)
{
    if (c->ln.pending == P_DATA) {
        c->ln.pending = P_END;
        if (!c->skip_body) {
            ev->type = IC_EV_BODY_DATA;
            ev->p = c->ps.tok;
            ev->len = (size_t)c->body_size;
            return 1;
        }
    }
    if (c->ln.pending == P_END) {
        c->ln.pending = P_NONE;
        ev->type = IC_EV_BODY_END;
        return 1;
    }
    return 0;
}

/* ---- public ---- */

/* see imap_client.h */
void imap_client_init(struct imap_client *c, const struct imap_client_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (c->cfg.body_max == 0) {
        c->cfg.body_max = IMAP_LITERAL_MAX_DEFAULT;
    }
    imap_parser_init(&c->ps);
    imap_parser_literal_max(&c->ps, IMAP_SMALL_LITERAL_MAX);
    c->tls = !cfg->starttls;
    c->state = IC_S_GREETING;
}

/* see imap_client.h */
long imap_client_feed(struct imap_client *c, const uint8_t *p, size_t len,
                      struct imap_cevent *ev)
{
    memset(ev, 0, sizeof *ev);
    if (c->state == IC_S_FAILED) {
        ev->type = IC_EV_FAILED;
        return -1;
    }
    if (pending_body(c, ev)) {
        return 0;
    }
    if (c->state == IC_S_TLS_WAIT && len) {
        set_verdict(c, "starttls: %zu bytes arrived after the STARTTLS OK, before TLS: "
                    "refused (plaintext injection)", len);
        return fail(c, ev);
    }
    if (c->state == IC_S_CLOSED) {
        return (long)len;
    }
    size_t used = 0;
    for (;;) {
        struct imap_ev e;
        long r = imap_next(&c->ps, p + used, len - used, &e);
        if (r < 0) {
            set_verdict(c, "%s: %s", imap_client_state_name(c->state), imap_perror(r));
            return fail(c, ev);
        }
        used += (size_t)r;
        if (e.type == IMAP_T_NONE) {
            break;
        }
        if (dispatch(c, &e, ev) < 0) {
            if (c->state != IC_S_FAILED) {
                set_verdict(c, "%s: command does not fit the output buffer",
                            imap_client_state_name(c->state));
            }
            return fail(c, ev);
        }
        if (ev->type != IC_EV_NONE) {
            break;
        }
    }
    return (long)used;
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

/* see imap_client.h */
void imap_client_tls_done(struct imap_client *c)
{
    if (c->state != IC_S_TLS_WAIT) {
        return;
    }
    /* Nothing from before TLS is kept: capabilities, parser state, pending output. */
    c->tls = 1;
    caps_reset(c);
    imap_parser_init(&c->ps);
    imap_parser_literal_max(&c->ps, IMAP_SMALL_LITERAL_MAX);
    c->out_len = c->out_off = 0;
    send_capability(c, IC_S_CAPA);
}

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
    return c->idling ? raw_line(c, "DONE") : 0;
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
void imap_client_abort(struct imap_client *c, const char *verdict)
{
    if (c->state == IC_S_FAILED || c->state == IC_S_CLOSED) {
        return;
    }
    set_verdict(c, "%s: %s", imap_client_state_name(c->state), verdict);
    fail(c, NULL);
}

/* see imap_client.h */
const char *imap_client_state_name(enum imap_cstate s)
{
    static const char *const names[] = {
        "greeting", "capability", "starttls", "tls handshake", "capability", "login",
        "capability", "select", "ready", "search", "fetch", "after-action", "idle", "noop",
        "logout", "closed", "failed",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
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
