/* see lmtp.h */
#include <stdio.h>
#include <string.h>

#include "lmtp.h"

/* ---- set-up ---- */

static int name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LMTP_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || ch == '.' || ch == '-')) {
            return 0;
        }
    }
    return 1;
}

/* see lmtp.h */
int lmtp_address_valid(const char *s, size_t len)
{
    size_t at = len;
    if (len == 0 || len > LMTP_ADDR_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '<' || ch == '>' || ch == '"' || ch == '\\') {
            return 0;
        }
        if (ch == '@') {
            if (at != len) {
                return 0;
            }
            at = i;
        }
    }
    return at > 0 && at + 1 < len;
}

/* "VERB ARG END" CRLF to send, then wait for its reply in state next. The arguments were
 * checked at lmtp_init, and LMTP_OUT_MAX holds the longest. */
static void command(struct lmtp_client *c, enum lmtp_state next, const char *verb,
                    const char *arg, const char *end)
{
    int n = snprintf((char *)c->out, sizeof c->out, "%s%s%s\r\n", verb, arg, end);
    c->out_len = n > 0 && (size_t)n < sizeof c->out ? (size_t)n : 0;
    c->out_off = 0;
    c->state = next;
}

/* see lmtp.h */
int lmtp_init(struct lmtp_client *c, const char *name, const char *rcpt)
{
    memset(c, 0, sizeof *c);
    if (!name_valid(name) || !lmtp_address_valid(rcpt, strlen(rcpt))) {
        return -1;
    }
    memcpy(c->name, name, strlen(name));
    memcpy(c->rcpt, rcpt, strlen(rcpt));
    c->state = LMTP_S_GREETING;
    c->failed_at = LMTP_S_GREETING;
    return 0;
}

/* see lmtp.h */
const char *lmtp_step_name(enum lmtp_state s)
{
    switch (s) {
    case LMTP_S_GREETING: return "the greeting";
    case LMTP_S_LHLO: return "LHLO";
    case LMTP_S_MAIL: return "MAIL FROM";
    case LMTP_S_RCPT: return "RCPT TO";
    case LMTP_S_DATA: return "DATA";
    case LMTP_S_BODY: return "the message";
    case LMTP_S_DOT: return "the end of data";
    default: return "nothing";
    }
}

/* ---- replies ---- */

static enum lmtp_ev fail(struct lmtp_client *c, enum lmtp_fail how, const char *text)
{
    c->fail = how;
    c->failed_at = c->state;
    snprintf(c->text, sizeof c->text, "%s", text);
    c->state = LMTP_S_FAILED;
    c->out_len = c->out_off = 0;
    return LMTP_EV_FAILED;
}

/* "CODE text" as the log may show it: printable ASCII, the rest '?' (the relay's log
 * escapes again; a delivery answer's text must be printable). */
static void keep_text(char *dst, size_t cap, unsigned code, const uint8_t *p, size_t n)
{
    int k = snprintf(dst, cap, "%u", code);
    size_t at = k > 0 ? (size_t)k : 0;
    if (n > 0 && at + 1 < cap) {
        dst[at++] = ' ';
    }
    for (size_t i = 0; i < n && at + 1 < cap; i++) {
        dst[at++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    }
    dst[at] = 0;
}

/* A whole reply came (its first line in reply_text): the step it answers goes on or ends. */
static enum lmtp_ev step(struct lmtp_client *c, unsigned code)
{
    char why[LMTP_TEXT_MAX + 1];
    unsigned cls = code / 100;
    c->code = code;
    if (c->state == LMTP_S_BODY) {
        /* The server spoke while the message was being sent: it gave up on it. */
        snprintf(why, sizeof why, "reply during the message: %.170s", c->reply_text);
        return fail(c, LMTP_TEMP, why);
    }
    if (cls == 4 || cls == 5) {
        /* 5xx before RCPT refuses us, not the message: the same as a store that is down. */
        return fail(c, cls == 5 && c->state > LMTP_S_MAIL ? LMTP_PERM : LMTP_TEMP,
                    c->reply_text);
    }
    if (c->state == LMTP_S_DATA ? code != 354 : cls != 2) {
        snprintf(why, sizeof why, "unexpected reply to %s: %.160s", lmtp_step_name(c->state),
                 c->reply_text);
        return fail(c, LMTP_TEMP, why);
    }
    switch (c->state) {
    case LMTP_S_GREETING:
        command(c, LMTP_S_LHLO, "LHLO ", c->name, "");
        return LMTP_EV_NONE;
    case LMTP_S_LHLO:
        command(c, LMTP_S_MAIL, "MAIL FROM:<>", "", "");
        return LMTP_EV_NONE;
    case LMTP_S_MAIL:
        command(c, LMTP_S_RCPT, "RCPT TO:<", c->rcpt, ">");
        return LMTP_EV_NONE;
    case LMTP_S_RCPT:
        command(c, LMTP_S_DATA, "DATA", "", "");
        return LMTP_EV_NONE;
    case LMTP_S_DATA:
        c->state = LMTP_S_BODY;
        c->bol = 1;
        return LMTP_EV_BODY;
    default:                                     /* LMTP_S_DOT */
        c->state = LMTP_S_DONE;
        snprintf(c->text, sizeof c->text, "%s", c->reply_text);
        return LMTP_EV_DONE;
    }
}

/* One line of a reply, without its line end. */
static enum lmtp_ev line(struct lmtp_client *c, const uint8_t *p, size_t n)
{
    char why[LMTP_TEXT_MAX + 1];
    if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0'
        || p[2] > '9' || (n > 3 && p[3] != ' ' && p[3] != '-')) {
        snprintf(why, sizeof why, "malformed reply to %s", lmtp_step_name(c->state));
        return fail(c, LMTP_TEMP, why);
    }
    unsigned code = (unsigned)(p[0] - '0') * 100u + (unsigned)(p[1] - '0') * 10u
                    + (unsigned)(p[2] - '0');
    const uint8_t *text = p + (n > 3 ? 4 : 3);
    size_t tlen = n > 3 ? n - 4 : 0;
    if (c->out_len > c->out_off) {
        /* Our command is not all out yet: nothing can answer it. */
        snprintf(why, sizeof why, "reply %u before %s was sent", code,
                 lmtp_step_name(c->state));
        return fail(c, LMTP_TEMP, why);
    }
    if (!c->more) {
        c->reply_code = code;
        keep_text(c->reply_text, sizeof c->reply_text, code, text, tlen);
    } else if (code != c->reply_code) {
        snprintf(why, sizeof why, "reply to %s with lines of codes %u and %u",
                 lmtp_step_name(c->state), c->reply_code, code);
        return fail(c, LMTP_TEMP, why);
    }
    /* During the message any reply ends it, continued or not. */
    c->more = n > 3 && p[3] == '-' && c->state != LMTP_S_BODY;
    return c->more ? LMTP_EV_NONE : step(c, code);
}

/* see lmtp.h */
size_t lmtp_input(struct lmtp_client *c, const uint8_t *p, size_t len, enum lmtp_ev *ev)
{
    size_t i = 0;
    *ev = LMTP_EV_NONE;
    while (i < len && *ev == LMTP_EV_NONE) {
        if (c->state == LMTP_S_DONE || c->state == LMTP_S_FAILED) {
            return len;
        }
        uint8_t b = p[i++];
        if (b == '\n') {
            size_t n = c->line_len;
            if (n > 0 && c->line[n - 1] == '\r') {
                n--;
            }
            c->line_len = 0;
            *ev = line(c, c->line, n);
        } else if (c->line_len < sizeof c->line) {
            c->line[c->line_len++] = b;
        }                                /* (the rest of a long line is dropped) */
    }
    return i;
}

/* ---- what we send ---- */

/* see lmtp.h */
size_t lmtp_out(const struct lmtp_client *c, const uint8_t **p)
{
    *p = c->out + c->out_off;
    return c->out_len - c->out_off;
}

/* see lmtp.h */
void lmtp_out_consume(struct lmtp_client *c, size_t n)
{
    c->out_off += n < c->out_len - c->out_off ? n : c->out_len - c->out_off;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
}

/* see lmtp.h */
size_t lmtp_body(struct lmtp_client *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                 size_t *used)
{
    size_t i = 0, o = 0;
    if (c->state == LMTP_S_BODY) {
        while (i < len && o < cap) {
            uint8_t b = in[i];
            if (c->bol && b == '.') {
                if (cap - o < 2) {
                    break;
                }
                out[o++] = '.';
            }
            out[o++] = b;
            c->bol = b == '\n';
            i++;
        }
    }
    *used = i;
    return o;
}

/* see lmtp.h */
size_t lmtp_body_end(struct lmtp_client *c, uint8_t *out, size_t cap)
{
    static const uint8_t end[] = "\r\n.\r\n";
    if (c->state != LMTP_S_BODY || cap < LMTP_END_MAX) {
        return 0;
    }
    size_t n = c->bol ? 3 : 5;
    memcpy(out, end + 5 - n, n);
    c->state = LMTP_S_DOT;
    return n;
}
