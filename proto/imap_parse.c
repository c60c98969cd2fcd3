/* see imap_parse.h */
#include <string.h>
#include <strings.h>

#include "imap_parse.h"

enum state {
    S_LINE,          /* start of a response */
    S_TAG,           /* reading a tag */
    S_STAR,          /* after "*", SP must follow */
    S_PLUS,          /* after "+", SP or CRLF */
    S_TOKEN,         /* between tokens of data */
    S_ATOM,
    S_QUOTED,
    S_QESC,          /* after a backslash in a quoted string */
    S_LITLEN,        /* digits of {n} */
    S_LITBRACE,      /* after "+" of {n+} */
    S_LITCR,
    S_LITLF,
    S_LITDATA,
    S_LITEND,        /* emit LITEND, consume nothing */
    S_RESP_TEXT,     /* after a status word: SP or CRLF */
    S_RT_START,      /* an optional [code], then text */
    S_AFTER_CODE,
    S_TEXT,
    S_CR,            /* CR seen, LF must follow */
};

#define STR_(x) #x
#define STR(x) STR_(x)

/* Results of one byte's step: whether the byte was taken, whether an event is out. */
#define TOOK 1
#define EMIT 2

/* ---- helpers ---- */

static int is_ctl(uint8_t c)
{
    return c < 0x20 || c == 0x7f;
}

/* Bytes that may stand in a tag (ASTRING-CHAR but "+"): atom bytes without "]" and "+". */
static int is_tag_char(uint8_t c)
{
    return !is_ctl(c) && !strchr("(){ %*\"\\]+", c);
}

static long fail(struct imap_parser *ps, long err)
{
    ps->err = err;
    return err;
}

static int emit(struct imap_parser *ps, struct imap_ev *ev, enum imap_tok t,
                const uint8_t *p, size_t len)
{
    ev->type = t;
    ev->line = (enum imap_line)ps->line;
    ev->p = p;
    ev->len = len;
    ev->depth = ps->depth;
    ev->in_code = ps->in_code;
    ev->word = ps->word;
    return EMIT;
}

/* A token at the top level of the line (not in a list, not in a code) counts as a word. */
static void count_word(struct imap_parser *ps)
{
    if (ps->depth == 0 && !ps->in_code) {
        ps->word++;
    }
}

static int tok_add(struct imap_parser *ps, uint8_t c)
{
    if (ps->tok_len >= IMAP_TOKEN_MAX) {
        return (int)fail(ps, IMAP_PE_TOKEN);
    }
    ps->tok[ps->tok_len++] = c;
    return TOOK;
}

static int is_status_word(const uint8_t *p, size_t n, int tagged)
{
    static const char *const words[] = { "OK", "NO", "BAD", "BYE", "PREAUTH" };
    for (size_t i = 0; i < (tagged ? 3u : 5u); i++) {
        if (strlen(words[i]) == n && !strncasecmp((const char *)p, words[i], n)) {
            return 1;
        }
    }
    return 0;
}

/* ---- line start and prefixes ---- */

static int st_line(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    if (c == '*') {
        ps->state = S_STAR;
        return TOOK;
    }
    if (c == '+') {
        ps->line = IMAP_L_CONTINUATION;
        ps->state = S_PLUS;
        return TOOK | emit(ps, ev, IMAP_T_BEGIN, NULL, 0);
    }
    if (!is_tag_char(c)) {
        return (int)fail(ps, IMAP_PE_SYNTAX);
    }
    ps->state = S_TAG;
    ps->tok_len = 0;
    return tok_add(ps, c);
}

static int st_prefix(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    switch (ps->state) {
    case S_STAR:
        if (c != ' ') {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->line = IMAP_L_UNTAGGED;
        ps->state = S_TOKEN;
        return TOOK | emit(ps, ev, IMAP_T_BEGIN, NULL, 0);
    case S_TAG:
        if (c == ' ') {
            ps->line = IMAP_L_TAGGED;
            ps->state = S_TOKEN;
            return TOOK | emit(ps, ev, IMAP_T_BEGIN, ps->tok, ps->tok_len);
        }
        if (!is_tag_char(c)) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        return tok_add(ps, c);
    default: /* S_PLUS */
        if (c == ' ') {
            ps->state = S_RT_START;
            return TOOK;
        }
        if (c == '\r') {
            ps->state = S_CR;
            return TOOK;
        }
        return (int)fail(ps, IMAP_PE_SYNTAX);
    }
}

/* ---- data tokens ---- */

static int st_token(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    switch (c) {
    case ' ':
        return TOOK;
    case '(':
        if (ps->depth >= IMAP_DEPTH_MAX) {
            return (int)fail(ps, IMAP_PE_DEPTH);
        }
        emit(ps, ev, IMAP_T_LIST_OPEN, NULL, 0);
        count_word(ps);
        ps->depth++;
        return TOOK | EMIT;
    case ')':
        if (ps->depth == 0) {
            return (int)fail(ps, IMAP_PE_DEPTH);
        }
        ps->depth--;
        return TOOK | emit(ps, ev, IMAP_T_LIST_CLOSE, NULL, 0);
    case ']':
        if (!ps->in_code || ps->depth) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->in_code = 0;
        ps->state = S_AFTER_CODE;
        return TOOK | emit(ps, ev, IMAP_T_CODE_CLOSE, NULL, 0);
    case '"':
        ps->state = S_QUOTED;
        ps->tok_len = 0;
        return TOOK;
    case '{':
        if (ps->in_code) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->state = S_LITLEN;
        ps->tok_len = 0;       /* digits seen */
        ps->lit_left = 0;
        ps->nonsync = 0;
        return TOOK;
    case '\r':
        if (ps->depth || ps->in_code) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->state = S_CR;
        return TOOK;
    default:
        if (is_ctl(c)) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->state = S_ATOM;
        ps->tok_len = 0;
        ps->bracket = 0;
        return 0;
    }
}

/* The atom ends before c: emit it; a status word switches the line to resp-text. */
static int atom_done(struct imap_parser *ps, struct imap_ev *ev)
{
    int top = ps->depth == 0 && !ps->in_code;
    ps->state = S_TOKEN;
    if (top && ps->word == 0 && ps->line != IMAP_L_CONTINUATION &&
        is_status_word(ps->tok, ps->tok_len, ps->line == IMAP_L_TAGGED)) {
        ps->state = S_RESP_TEXT;
    }
    emit(ps, ev, IMAP_T_ATOM, ps->tok, ps->tok_len);
    count_word(ps);
    return EMIT;
}

static int st_atom(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    if (c == '\r' || c == '\n' || c == 0) {
        if (ps->bracket) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        return atom_done(ps, ev);
    }
    if (ps->bracket) {
        if (c == ']') {
            ps->bracket = 0;
        } else if (is_ctl(c)) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        return tok_add(ps, c);
    }
    if (c == ' ' || c == '(' || c == ')' || (c == ']' && ps->in_code)) {
        return atom_done(ps, ev);
    }
    if (c == '"' || c == '{' || c == ']' || is_ctl(c)) {
        return (int)fail(ps, IMAP_PE_SYNTAX);
    }
    if (c == '[') {
        ps->bracket = 1;
    }
    return tok_add(ps, c);
}

static int st_quoted(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    if (ps->state == S_QESC) {
        if (c != '"' && c != '\\') {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->state = S_QUOTED;
        return tok_add(ps, c);
    }
    if (c == '"') {
        ps->state = S_TOKEN;
        emit(ps, ev, IMAP_T_STRING, ps->tok, ps->tok_len);
        count_word(ps);
        return TOOK | EMIT;
    }
    if (c == '\\') {
        ps->state = S_QESC;
        return TOOK;
    }
    if (c == '\r' || c == '\n' || c == 0) {
        return (int)fail(ps, IMAP_PE_SYNTAX);
    }
    return tok_add(ps, c);
}

/* ---- literals ---- */

static int st_literal_head(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    switch (ps->state) {
    case S_LITLEN:
        if (c >= '0' && c <= '9') {
            ps->lit_left = ps->lit_left * 10 + (uint64_t)(c - '0');
            ps->tok_len++;
            /* literal_max is at most 2^40, so this never overflows before it fails. */
            if (ps->lit_left > ps->literal_max) {
                return (int)fail(ps, IMAP_PE_LITERAL);
            }
            return TOOK;
        }
        if (ps->tok_len == 0 || (c != '}' && c != '+')) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->nonsync = c == '+';
        ps->state = c == '+' ? S_LITBRACE : S_LITCR;
        return TOOK;
    case S_LITBRACE:
        if (c != '}') {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->state = S_LITCR;
        return TOOK;
    case S_LITCR:
        if (c != '\r') {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        ps->state = S_LITLF;
        return TOOK;
    default: /* S_LITLF */
        if (c != '\n') {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        emit(ps, ev, IMAP_T_LITERAL, NULL, 0);
        count_word(ps);
        ev->size = ps->lit_left;
        ps->state = ps->lit_left ? S_LITDATA : S_LITEND;
        return TOOK | EMIT;
    }
}

/* ---- resp-text: [code] and free text ---- */

static int st_resp_text(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    switch (ps->state) {
    case S_RESP_TEXT:
        if (c == ' ') {
            ps->state = S_RT_START;
            return TOOK;
        }
        if (c == '\r') {
            ps->state = S_CR;
            return TOOK;
        }
        return (int)fail(ps, IMAP_PE_SYNTAX);
    case S_RT_START:
        ps->text_len = 0;
        ps->truncated = 0;
        if (c == '[') {
            ps->in_code = 1;
            ps->state = S_TOKEN;
            return TOOK | emit(ps, ev, IMAP_T_CODE_OPEN, NULL, 0);
        }
        ps->state = S_TEXT;
        return 0;
    case S_AFTER_CODE:
        ps->state = S_TEXT;
        return c == ' ' ? TOOK : 0;
    default: /* S_TEXT */
        if (c == '\r') {
            ps->state = S_CR;
            emit(ps, ev, IMAP_T_TEXT, ps->text, ps->text_len);
            ev->truncated = ps->truncated;
            return TOOK | EMIT;
        }
        if (c == '\n' || c == 0) {
            return (int)fail(ps, IMAP_PE_SYNTAX);
        }
        if (ps->text_len < IMAP_TEXT_MAX) {
            ps->text[ps->text_len++] = c;
        } else {
            ps->truncated = 1;
        }
        return TOOK;
    }
}

static int st_cr(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    if (c != '\n') {
        return (int)fail(ps, IMAP_PE_SYNTAX);
    }
    emit(ps, ev, IMAP_T_END, NULL, 0);
    ps->state = S_LINE;
    ps->line_len = 0;
    ps->word = 0;
    ps->depth = 0;
    ps->in_code = 0;
    return TOOK | EMIT;
}

static int step(struct imap_parser *ps, uint8_t c, struct imap_ev *ev)
{
    switch (ps->state) {
    case S_LINE:
        return st_line(ps, c, ev);
    case S_TAG:
    case S_STAR:
    case S_PLUS:
        return st_prefix(ps, c, ev);
    case S_TOKEN:
        return st_token(ps, c, ev);
    case S_ATOM:
        return st_atom(ps, c, ev);
    case S_QUOTED:
    case S_QESC:
        return st_quoted(ps, c, ev);
    case S_LITLEN:
    case S_LITBRACE:
    case S_LITCR:
    case S_LITLF:
        return st_literal_head(ps, c, ev);
    case S_CR:
        return st_cr(ps, c, ev);
    default:
        return st_resp_text(ps, c, ev);
    }
}

/* ---- public ---- */

/* see imap_parse.h */
void imap_parser_init(struct imap_parser *ps)
{
    memset(ps, 0, sizeof(*ps));
    ps->state = S_LINE;
    ps->literal_max = IMAP_LITERAL_MAX_DEFAULT;
}

/* see imap_parse.h */
void imap_parser_literal_max(struct imap_parser *ps, uint64_t max)
{
    ps->literal_max = max > (1ull << 40) ? (1ull << 40) : max;
}

/* Literal bytes pass through as they are, in the pieces they came in. */
static long literal_piece(struct imap_parser *ps, const uint8_t *p, size_t len,
                          struct imap_ev *ev)
{
    if (ps->state == S_LITEND) {
        ps->state = S_TOKEN;
        emit(ps, ev, IMAP_T_LITEND, NULL, 0);
        return 0;
    }
    if (len == 0) {
        return 0;
    }
    size_t n = len < ps->lit_left ? len : (size_t)ps->lit_left;
    ps->lit_left -= n;
    if (ps->lit_left == 0) {
        ps->state = S_LITEND;
    }
    emit(ps, ev, IMAP_T_LITDATA, p, n);
    return (long)n;
}

/* see imap_parse.h */
long imap_next(struct imap_parser *ps, const uint8_t *p, size_t len, struct imap_ev *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = IMAP_T_NONE;
    if (ps->err) {
        return ps->err;
    }
    if (ps->state == S_LITDATA || ps->state == S_LITEND) {
        return literal_piece(ps, p, len, ev);
    }
    size_t i = 0;
    while (i < len) {
        if (++ps->line_len > IMAP_LINE_MAX) {
            return fail(ps, IMAP_PE_LINE);
        }
        int r = step(ps, p[i], ev);
        if (r < 0) {
            return r;
        }
        if (r & TOOK) {
            i++;
        } else {
            ps->line_len--;    /* the byte is looked at again */
        }
        if (r & EMIT) {
            break;
        }
    }
    return (long)i;
}

/* see imap_parse.h */
int imap_parser_idle(const struct imap_parser *ps)
{
    return ps->state == S_LINE && !ps->err;
}

/* see imap_parse.h */
const char *imap_perror(long err)
{
    switch (err) {
    case IMAP_PE_SYNTAX: return "response syntax error";
    case IMAP_PE_TOKEN: return "token longer than " STR(IMAP_TOKEN_MAX) " bytes";
    case IMAP_PE_LINE: return "response line longer than 1 MiB";
    case IMAP_PE_DEPTH: return "lists nested too deep or unbalanced";
    case IMAP_PE_LITERAL: return "literal larger than allowed";
    default: return "no error";
    }
}

/* see imap_parse.h */
int imap_tok_is(const struct imap_ev *ev, const char *s)
{
    size_t n = strlen(s);
    return ev->len == n && (n == 0 || !strncasecmp((const char *)ev->p, s, n));
}

/* see imap_parse.h */
long long imap_tok_u32(const struct imap_ev *ev)
{
    if (ev->type != IMAP_T_ATOM || ev->len == 0 || ev->len > 10) {
        return -1;
    }
    long long v = 0;
    for (size_t i = 0; i < ev->len; i++) {
        if (ev->p[i] < '0' || ev->p[i] > '9') {
            return -1;
        }
        v = v * 10 + (ev->p[i] - '0');
    }
    return v > 0xffffffffll ? -1 : v;
}
