/* An LMTP client engine (RFC 2033; commands and replies as RFC 5321 has them), sans-IO:
 * one message to one recipient per session, as the relay's `spool lmtp` hands each mail
 * delivery to a mail store. The owner connects, feeds what the server sends (lmtp_input),
 * sends what lmtp_out() holds, and once the engine says LMTP_EV_BODY passes the message
 * through lmtp_body() (dot-stuffed into the owner's buffer) and ends it with
 * lmtp_body_end() only when it has checked the message: until that final "." the server
 * keeps nothing, so an owner that finds the message bad (or dies) leaves nothing behind
 * by closing the connection.
 *
 *   greeting 220 -> LHLO name -> 250 -> MAIL FROM:<> -> 250 -> RCPT TO:<rcpt> -> 250
 *   -> DATA -> 354: LMTP_EV_BODY -> body, "." -> the recipient's reply: LMTP_EV_DONE
 *
 * One command in flight at a time (no PIPELINING: a store next door answers in a round
 * trip, and a reply then always belongs to the one command sent). A reply is one or more
 * lines "CODE-text" ending with "CODE text" (or a bare CODE), CRLF or LF; a line longer
 * than LMTP_LINE_MAX is cut there. The first line's text is kept for the log. Meaning:
 *
 *   2xx (354 to DATA)                 the next step
 *   4xx anywhere; 5xx to the          LMTP_EV_FAILED, LMTP_TEMP: the store cannot take mail
 *   greeting, LHLO or MAIL FROM       now, or refuses this client (not this message): the
 *                                     owner tries again later
 *   5xx to RCPT TO, DATA or the "."   LMTP_EV_FAILED, LMTP_PERM: the store refuses this
 *                                     mailbox or this message: trying again gets the same
 *   a malformed line, a reply out of  LMTP_EV_FAILED, LMTP_TEMP (a protocol error is not the
 *   turn, a code the step does not    message's fault)
 *   take
 *
 * The body: a "." that starts a line is doubled (after LF, bare or in CRLF: the way
 * Dovecot and Postfix read lines), and lmtp_body_end() writes "." CRLF after a final LF,
 * else CRLF "." CRLF. So a message in Internet form (CRLF line ends, the last line ended)
 * arrives byte for byte; one whose last line has no line end gets CRLF, which DATA
 * cannot avoid.
 *
 * Memory: struct lmtp_client 1.6 KiB (a reply line 512 B, a command 600 B, the recipient
 * and the text kept for the log). */
#ifndef GW_LMTP_H
#define GW_LMTP_H

#include <stddef.h>
#include <stdint.h>

#define LMTP_LINE_MAX 512            /* a reply line (RFC 5321 4.5.3.1.5), CRLF included */
#define LMTP_ADDR_MAX 254            /* a recipient address (RFC 5321 4.5.3.1.3: a path of
                                        256 with its angle brackets) */
#define LMTP_NAME_MAX 64             /* the name LHLO gives */
#define LMTP_TEXT_MAX 200            /* a reply's text kept for the log and the answer */
#define LMTP_OUT_MAX 600             /* one command: RCPT TO:<254 bytes> fits */
#define LMTP_END_MAX 5               /* what lmtp_body_end() writes at most: CRLF "." CRLF */

enum lmtp_state {
    LMTP_S_GREETING,                 /* waiting for the server's 220 */
    LMTP_S_LHLO,                     /* a command sent, waiting for its reply */
    LMTP_S_MAIL,
    LMTP_S_RCPT,
    LMTP_S_DATA,
    LMTP_S_BODY,                     /* 354 came: the owner sends the message */
    LMTP_S_DOT,                      /* the final "." is out: waiting for the recipient's reply */
    LMTP_S_DONE,                     /* stored (2xx after the ".") */
    LMTP_S_FAILED,                   /* see fail, code, text */
};

enum lmtp_ev {
    LMTP_EV_NONE,                    /* more bytes needed */
    LMTP_EV_BODY,                    /* the message may be sent now */
    LMTP_EV_DONE,                    /* final: the store has the message */
    LMTP_EV_FAILED,                  /* final: fail, code and text say why */
};

enum lmtp_fail {
    LMTP_OK,
    LMTP_TEMP,                       /* try again later */
    LMTP_PERM,                       /* this message or mailbox is refused for good */
};

struct lmtp_client {
    enum lmtp_state state;
    enum lmtp_fail fail;
    enum lmtp_state failed_at;       /* the step whose reply (or lack of one) failed */
    unsigned code;                   /* the last complete reply's code, 0 before one */
    char text[LMTP_TEXT_MAX + 1];    /* "550 5.1.1 <x> User doesn't exist", or why not */
    char name[LMTP_NAME_MAX + 1];
    char rcpt[LMTP_ADDR_MAX + 1];
    /* the reply being read */
    uint8_t line[LMTP_LINE_MAX];
    size_t line_len;
    uint8_t more;                    /* a "CODE-" line came: the reply goes on */
    unsigned reply_code;             /* the code of the reply's first line */
    char reply_text[LMTP_TEXT_MAX + 1];
    /* the command to send */
    uint8_t out[LMTP_OUT_MAX];
    size_t out_len, out_off;
    /* the body */
    uint8_t bol;                     /* at the start of a line (a "." there is doubled) */
};

/* Starts a session that will deliver to rcpt, saying LHLO name. name: 1..LMTP_NAME_MAX of
 * A-Z a-z 0-9 . - (a host name); rcpt: lmtp_address_valid. 0, or -1 when either is not. */
int lmtp_init(struct lmtp_client *c, const char *name, const char *rcpt);
/* Feeds received bytes. Returns how many were taken: after an event (*ev not NONE) the
 * rest waits for the next call; after DONE or FAILED everything is taken and ignored. */
size_t lmtp_input(struct lmtp_client *c, const uint8_t *p, size_t len, enum lmtp_ev *ev);
/* The command waiting to be sent (0 bytes: none), and how much of it went out. */
size_t lmtp_out(const struct lmtp_client *c, const uint8_t **p);
void lmtp_out_consume(struct lmtp_client *c, size_t n);
/* In LMTP_S_BODY: message bytes from in, dot-stuffed into out. Returns the bytes written
 * (at most cap), *used the bytes of in they carry (a "." that needs its double waits for
 * room for both). Nothing outside the body state. */
size_t lmtp_body(struct lmtp_client *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                 size_t *used);
/* The message is whole: writes the end of data into out (needs LMTP_END_MAX bytes of cap)
 * and waits for the recipient's reply. Returns the bytes written, 0 when not in the body
 * state or cap is too small. */
size_t lmtp_body_end(struct lmtp_client *c, uint8_t *out, size_t cap);
/* The command a step waits on, for the log: "the greeting", "LHLO", "MAIL FROM", "RCPT TO",
 * "DATA", "the message", "the end of data". */
const char *lmtp_step_name(enum lmtp_state s);
/* A recipient address as the relay's configuration may name one: 1..LMTP_ADDR_MAX bytes of
 * printable ASCII without blanks, angle brackets, quotes or backslashes (nothing that could
 * end the address or the command), with one "@" not at either end. 1 or 0. */
int lmtp_address_valid(const char *s, size_t len);

#endif
