/* What the IMAP engine's two files share (imap_client.h describes the engine): the reading
 * of responses (imap_client.c) and the commands (imap_client_cmd.c). Not for the owner. */
#ifndef GW_IMAP_CLIENT_INT_H
#define GW_IMAP_CLIENT_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "imap_client.h"
#include "log.h"

/* Failure: the verdict, then the final state. Static, by these names: the verdict check
 * (tools/check_verdicts.py) reads their calls as verdicts. */
static inline void set_verdict(struct imap_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void set_verdict(struct imap_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->verdict, sizeof c->verdict, fmt, ap);
    va_end(ap);
}

static inline long fail(struct imap_client *c, struct imap_cevent *ev)
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

/* imap_client_cmd.c: what reading a response line needs sent. */
int ic_raw_line(struct imap_client *c, const char *s);     /* a line without a tag */
int ic_plain_b64(struct imap_client *c, char *out, size_t cap);   /* SASL PLAIN's answer */
int ic_send_capability(struct imap_client *c, enum imap_cstate next);
/* The command in flight completed: READY, or with OK the session's next command. */
long ic_done_ready(struct imap_client *c, struct imap_cevent *ev);
long ic_on_tagged_ok(struct imap_client *c, struct imap_cevent *ev);

#endif
