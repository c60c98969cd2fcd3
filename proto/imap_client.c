/* The IMAP engine's reading (see imap_client.h): each response line as the lexer gives it,
 * what it says (capabilities, UIDs, a body) and the end of the command in flight; the
 * commands themselves are in imap_client_cmd.c. */
#include <stdio.h>
#include <string.h>

#include "imap_client_int.h"
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

static long on_tagged(struct imap_client *c, struct imap_cevent *ev)
{
    if (c->ln.status == ST_OK) {
        return ic_on_tagged_ok(c, ev);
    }
    /* A message expunged by someone else meanwhile: no body, not a failure. */
    if (c->state == IC_S_FETCH && c->ln.status == ST_NO) {
        c->body_found = 0;
        return ic_done_ready(c, ev);
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
            return ic_send_capability(c, IC_S_CAPA_PRE) ? -1 : 0;
        }
        return ic_send_capability(c, IC_S_CAPA) ? -1 : 0;
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
                return ic_raw_line(c, "DONE");
            }
            return 0;
        }
        if (c->state == IC_S_AUTH && (c->caps & IMAP_CAP_AUTH_PLAIN) &&
            !(c->caps & IMAP_CAP_SASL_IR) && !c->auth_cont) {
            char b64[(2 * IMAP_STRING_MAX + 4) / 3 * 4 + 8];
            if (ic_plain_b64(c, b64, sizeof b64) || ic_raw_line(c, b64)) {
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
    ic_send_capability(c, IC_S_CAPA);
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
