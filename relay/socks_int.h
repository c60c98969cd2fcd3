/* The SOCKS5 entry's client, shared by socks.c (its life, its request, the splice) and
 * socks_auth.c (its credentials: RFC 1929 and SAP's method 0x80). Private to the two. */
#ifndef RELAY_SOCKS_INT_H
#define RELAY_SOCKS_INT_H

#include "relay.h"

enum socks_state {
    SS_GREETING,                 /* waiting for VER NMETHODS METHODS */
    SS_AUTH,                     /* waiting for the RFC 1929 request */
    SS_AUTH_JWT,                 /* waiting for method 0x80's request */
    SS_REQUEST,                  /* waiting for CONNECT */
    SS_WAIT_REPLY,               /* request sent to the gateway, its reply not yet back */
    SS_SPLICE,                   /* bytes both ways */
    SS_FLUSH_CLOSE,              /* sending a last reply, then closing */
    SS_DEAD,
};

struct socks {
    enum stream_kind kind;       /* SK_SOCKS, first: yamux_stream.user points here */
    struct relay_ev ev;
    enum socks_state state;
    char peer[64];
    struct location *loc;
    struct tunnel *tun;
    struct yamux_stream *st;
    unsigned tunnel_serial;
    char target[SOCKS5_NAME_MAX + 8];
    uint8_t hs[SOCKS5_AUTH_MAX + SOCKS5_REQUEST_MAX];   /* handshake bytes received */
    size_t hs_len;               /* ... in hs, or in jbuf while there is one */
    uint8_t *jbuf;               /* method 0x80's request while it is read */
    size_t jbuf_cap;
    uint8_t method;              /* the method chosen: 0x02 or 0x80 */
    enum refusal authz_rf;       /* RF_COUNT, or why its token may not reach the location */
    int unknown_loc;             /* a token for a location this relay does not have */
    enum { CRED_NONE, CRED_TOKEN, CRED_JWT } cred;
    uint8_t cred_id[32];         /* the token's SHA-256, or the issuer line's id */
    uint64_t hold_until;         /* 0x80: the reply goes out alone until then (hold_lim) */
    size_t hold_lim;
    struct socks *hprev, *hnext; /* the held list */
    uint8_t *c2g, *g2c;          /* RELAY_SPLICE_UP / _DOWN, held only while not empty */
    size_t c2g_off, c2g_len, g2c_off, g2c_len;
    int client_eof, fin_sent, gw_eof, shut_wr;
    int rep;                     /* the reply the client got, -1 before */
    const char *verdict;
    uint64_t up, down, start_ms, deadline_ms;
    uint64_t active_ms;          /* the last byte either way (socks-idle) */
    char why[96];                /* a verdict made up here */
    uint32_t src;
    int unauthenticated;         /* counted by its source (socks-per-source) */
    int counted_stream;          /* counted in its location's streams */
    struct socks *prev, *next;   /* every client, for the timers */
};

/* socks.c */
void socks_say(struct socks *s, const uint8_t *p, size_t n);  /* bytes for the client first */
void socks_finish(struct socks *s, const char *verdict);      /* close, log its line */
void socks_authenticated(struct socks *s);                    /* on to the request */

/* socks_auth.c */
int socks_auth_init(void);
/* The method for a greeting (0xFF: none); *n the greeting's length, <= 0 if not whole. */
uint8_t socks_choose_method(const uint8_t *p, size_t len, long *n);
/* RFC 1929's request from s->hs, answered: bytes consumed, 0 if not whole, < 0 malformed. */
long socks_userpass_step(struct socks *s);
/* Method 0x80's request from s->hs (or its grown buffer), answered: 1 when it consumed
 * something, 0 when it needs more (or closed the client). */
int socks_jwt_step(struct socks *s);
void socks_jbuf_free(struct socks *s);          /* wiped, and no longer counted */

#endif
