/* A streaming IMAP response lexer (RFC 3501, with RFC 9051's clarifications): bytes from
 * the server in, one token event at a time out, without ever holding a whole line or a
 * whole literal. The client engine (imap_client.h) gives the tokens their meaning.
 *
 * A response line comes out as
 *   BEGIN (tagged: tag in p/len | untagged | continuation)
 *   then tokens: ATOM, STRING (a quoted string, unescaped), LITERAL (size; then LITDATA
 *   pieces exactly as they arrived, then LITEND), LIST_OPEN/LIST_CLOSE "( )",
 *   CODE_OPEN/CODE_CLOSE around a response code "[...]", TEXT (the human text of a status
 *   response or of a continuation request)
 *   then END (CRLF).
 * After the first word of a status response (tagged OK/NO/BAD, untagged OK/NO/BAD/BYE/
 * PREAUTH) and after "+", the rest is resp-text: an optional [code] then free text, where
 * quotes, braces and parentheses mean nothing. Atoms include bracketed sections, so
 * "BODY[HEADER.FIELDS (FROM)]" is one atom; NIL and numbers are atoms.
 *
 *   long imap_next(ps, p, len, &ev)
 * consumes bytes of p (up to len) and returns how many, with ev.type IMAP_T_NONE when all
 * of p went into the token being built (call again with more), or with one event. It may
 * return an event having consumed 0 bytes (call again with the same bytes). ev.p points
 * into ps (tokens, text) or into p (LITDATA) and is valid until the next call. Errors are
 * negative, sticky, and say which limit or rule was broken (imap_perror).
 *
 * Memory: struct imap_parser is ~1.1 KiB (IMAP_TOKEN_MAX + IMAP_TEXT_MAX + a few words). */
#ifndef GW_IMAP_PARSE_H
#define GW_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Longest atom, tag or quoted string: capability names, mailbox names, flags, numbers are
 * far shorter; a server that sends more is broken or hostile. */
#define IMAP_TOKEN_MAX 768
/* Human text kept of a status response; the rest of the text is dropped, not an error
 * (an ALERT may be long, and only a log line is made of it). */
#define IMAP_TEXT_MAX 256
/* Bytes of one response outside its literals. Long lines are legitimate (UID SEARCH of a
 * full mailbox: ~7 bytes per message), and cost no memory here, but a line without end is
 * a server that will never let us parse anything else. */
#define IMAP_LINE_MAX (1024 * 1024)
/* Parenthesis nesting (BODYSTRUCTURE nests a few levels). */
#define IMAP_DEPTH_MAX 32
/* Largest literal by default (imap_parser_init); the engine may lower it. */
#define IMAP_LITERAL_MAX_DEFAULT (256ull * 1024 * 1024)

enum imap_perr {
    IMAP_PE_SYNTAX = -1,         /* a byte that cannot come here */
    IMAP_PE_TOKEN = -2,          /* an atom, tag or quoted string over IMAP_TOKEN_MAX */
    IMAP_PE_LINE = -3,           /* a response over IMAP_LINE_MAX */
    IMAP_PE_DEPTH = -4,          /* lists nested over IMAP_DEPTH_MAX, or ")" without "(" */
    IMAP_PE_LITERAL = -5,        /* a literal over the parser's literal_max */
};

enum imap_tok {
    IMAP_T_NONE,                 /* need more bytes */
    IMAP_T_BEGIN,
    IMAP_T_ATOM,
    IMAP_T_STRING,
    IMAP_T_LITERAL,              /* size in ev.size */
    IMAP_T_LITDATA,
    IMAP_T_LITEND,
    IMAP_T_LIST_OPEN,
    IMAP_T_LIST_CLOSE,
    IMAP_T_CODE_OPEN,
    IMAP_T_CODE_CLOSE,
    IMAP_T_TEXT,                 /* ev.truncated when the text was longer than kept */
    IMAP_T_END,
};

enum imap_line { IMAP_L_TAGGED, IMAP_L_UNTAGGED, IMAP_L_CONTINUATION };

struct imap_ev {
    enum imap_tok type;
    enum imap_line line;         /* of the current response, from BEGIN on */
    const uint8_t *p;            /* token bytes (BEGIN of a tagged line: the tag) */
    size_t len;
    uint64_t size;               /* LITERAL: its size */
    unsigned depth;              /* list nesting of this token (0: top level) */
    uint8_t truncated;           /* TEXT: more text came than IMAP_TEXT_MAX */
    uint8_t in_code;             /* the token is inside a [response code] */
    unsigned word;               /* 0-based index of this top-level token on the line */
};

struct imap_parser {
    uint8_t state;               /* enum in imap_parse.c */
    uint8_t line;                /* enum imap_line */
    uint8_t in_code;             /* inside [ ] of a response code */
    uint8_t nonsync;             /* literal header had "+" */
    uint8_t truncated;
    uint8_t bracket;             /* inside [ ] within an atom */
    unsigned depth;
    unsigned word;               /* top-level tokens seen on this line */
    long err;                    /* sticky: first error */
    size_t line_len;
    uint64_t literal_max;
    uint64_t lit_left;           /* literal bytes still to come, or its size being read */
    size_t tok_len, text_len;
    uint8_t tok[IMAP_TOKEN_MAX];
    uint8_t text[IMAP_TEXT_MAX];
};

void imap_parser_init(struct imap_parser *ps);
/* Reject literals over max (the engine lowers this for everything but message bodies). */
void imap_parser_literal_max(struct imap_parser *ps, uint64_t max);
long imap_next(struct imap_parser *ps, const uint8_t *p, size_t len, struct imap_ev *ev);
/* The parser is between responses (no partial line). */
int imap_parser_idle(const struct imap_parser *ps);
const char *imap_perror(long err);

/* Token helpers for the engine: case-insensitive compare of an event's bytes with s;
 * an atom as an unsigned 32-bit number (nz-number or 0), -1 if it is not one. */
int imap_tok_is(const struct imap_ev *ev, const char *s);
long long imap_tok_u32(const struct imap_ev *ev);

#endif
