/* The SOCKS5 entry's credentials. RFC 1929: user = Location ID, password = token, its
 * SHA-256 compared in constant time; an unknown location and a wrong token get the same
 * answer after the same work. SAP's method 0x80: a JWT and a base64 Location ID, judged by
 * jwtauth.c (a token that is no good: 01 01; a good one that does not reach the location:
 * reply 0x05 to the request). A 0x80 request's buffer (up to 16.6 KiB) grows as its bytes
 * arrive, at most RELAY_JWT_BUFS at once and RELAY_JWT_BUFS_PER_SOURCE from one address,
 * and is wiped when it goes: a token is a credential. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "socks_int.h"

static unsigned njbufs;          /* method 0x80 requests being read (RELAY_JWT_BUFS) */
static struct srclimit jwt_sources;  /* ... of them by address (RELAY_JWT_BUFS_PER_SOURCE) */

/* A token hash nobody has: an unknown location costs the same comparison. */
static const uint8_t no_location[32] = { 0 };

/* see socks_int.h */
void socks_jbuf_free(struct socks *s)
{
    if (s->jbuf) {
        explicit_bzero(s->jbuf, s->jbuf_cap);    /* a token is a credential */
        free(s->jbuf);
        s->jbuf = NULL;
        s->jbuf_cap = 0;
        njbufs--;
        srclimit_give(&jwt_sources, s->src);
    }
}

static int ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= a[i] ^ b[i];
    }
    return d == 0;
}

/* RFC 1929: the same work and the same answer whether the location exists or not. */
static int authenticate(struct socks *s, struct socks5_auth *a)
{
    uint8_t sha[32];
    br_sha256_context h;
    /* The index's lookup differs by nanoseconds between a location that exists and one
     * that does not; the hash and the comparison, the work that shows, are the same. */
    struct location *loc = relay_location(a->user);
    const uint8_t *want = loc ? loc->token_sha256 : no_location;
    br_sha256_init(&h);
    br_sha256_update(&h, a->pass, a->pass_len);
    br_sha256_out(&h, sha);
    int ok = ct_equal(sha, want, 32) && loc != NULL;
    memset(&h, 0, sizeof h);
    if (ok) {
        s->loc = loc;
        s->cred = CRED_TOKEN;
        memcpy(s->cred_id, loc->token_sha256, 32);
    }
    return ok;
}

/* A method 0x80 refusal: the auth status 01 01, a log line (at most one a second per
 * cause), and close. */
static void jwt_refuse(struct socks *s, enum refusal rf, const char *why)
{
    uint8_t r[2];
    socks5_auth_reply_encode(r, 0);
    socks_say(s, r, 2);
    relay_m.socks_auth_failed++;
    unsigned n = refusal(rf);
    if (n) {
        log_info("socks refused: client=%s method=0x80 reason=\"%s\" (%u like it since the "
                 "last such line)", s->peer, why, n);
    }
    s->state = SS_FLUSH_CLOSE;
    s->verdict = "authentication failed";
}

/* Method 0x80's whole request, in hand: judge it (jwtauth.c) and answer. */
static void jwt_authenticate(struct socks *s, const struct socks5_jwt_auth *a)
{
    static struct jwt space;     /* 13.5 KiB: one thread, the loop */
    struct jwtauth ja;
    struct timespec ts;
    uint8_t r[2];
    clock_gettime(CLOCK_REALTIME, &ts);
    jwtauth_check(&relay_cfg, &space, a->jwt, a->jwt_len, a->loc_b64, a->loc_b64_len,
                  (int64_t)ts.tv_sec, &ja);
    if (ja.cls == JA_UNAUTHENTICATED) {
        jwt_refuse(s, ja.rf, ja.why);
        return;
    }
    /* Authentic: what it authenticated with is kept for a reload to check again. */
    s->cred = CRED_JWT;
    memcpy(s->cred_id, ja.issuer->id, 32);
    if (ja.cls == JA_UNAUTHORIZED) {
        /* Refused at the request, as 0x05: the stream line says it for each client. */
        s->authz_rf = ja.rf;
        snprintf(s->why, sizeof s->why, "%.85s (0x05)", ja.why);
    } else {
        s->loc = relay_location(ja.location);
        s->unknown_loc = s->loc == NULL;
        relay_m.socks_jwt_ok++;
    }
    socks5_auth_reply_encode(r, 1);
    socks_say(s, r, 2);
    socks_authenticated(s);
}

/* The method for a greeting: 0x80 when offered and issuers are configured, else RFC 1929
 * when offered, else none (0xFF). A client offering both (the SAP Cloud SDK offers 0x00
 * and 0x80) gets the token method it came for. */
uint8_t socks_choose_method(const uint8_t *p, size_t len, long *n)
{
    int jwt = 0, userpass = 0;
    *n = socks5_greeting_offers(p, len, SOCKS5_M_JWT, &jwt);
    if (*n <= 0) {
        return SOCKS5_M_NOACCEPT;
    }
    (void)socks5_greeting_offers(p, len, SOCKS5_M_USERPASS, &userpass);
    return jwt && relay_cfg.nissuers ? SOCKS5_M_JWT
           : userpass ? SOCKS5_M_USERPASS : SOCKS5_M_NOACCEPT;
}

/* Method 0x80's buffer, once the request outgrows hs: taken (within RELAY_JWT_BUFS, and
 * RELAY_JWT_BUFS_PER_SOURCE for the client's address), then doubled each time it is full,
 * up to need: what a client makes the relay hold is at most twice what it has sent, never
 * what it declared. 0, or -1 with the client refused or finished. */
static int jbuf_grow(struct socks *s, size_t need)
{
    char why[96];
    size_t cap = s->jbuf ? s->jbuf_cap : sizeof s->hs;
    size_t want = 2 * cap < need ? 2 * cap : need;
    if (s->jbuf == NULL) {
        enum refusal rf = RF_COUNT;
        if (njbufs >= RELAY_JWT_BUFS) {
            rf = RF_JWT_BUFFERS;
            snprintf(why, sizeof why, "%d tokens being read at once already", RELAY_JWT_BUFS);
        } else if (srclimit_take(&jwt_sources, s->src, RELAY_JWT_BUFS_PER_SOURCE) != 0) {
            rf = RF_JWT_SOURCE_BUFFERS;
            snprintf(why, sizeof why, "%u tokens being read from this address already",
                     srclimit_count(&jwt_sources, s->src));
        }
        if (rf != RF_COUNT) {
            jwt_refuse(s, rf, why);
            explicit_bzero(s->hs, sizeof s->hs);
            s->hs_len = 0;
            return -1;
        }
    }
    /* A new buffer, the old one wiped: realloc would leave token bytes in freed memory. */
    uint8_t *b = malloc(want);
    if (b == NULL) {
        if (s->jbuf == NULL) {
            srclimit_give(&jwt_sources, s->src);
        }
        socks_finish(s, "relay out of memory");
        return -1;
    }
    memcpy(b, s->jbuf ? s->jbuf : s->hs, s->hs_len);
    if (s->jbuf) {
        explicit_bzero(s->jbuf, s->jbuf_cap);
        free(s->jbuf);
    } else {
        explicit_bzero(s->hs, sizeof s->hs);
        njbufs++;
    }
    s->jbuf = b;
    s->jbuf_cap = want;
    return 0;
}

/* Method 0x80: the request's first bytes are in hs; when it is longer, a buffer that grows
 * as its bytes arrive (jbuf) takes over, and gives what follows it back to hs. Returns 1
 * when it consumed something, 0 when it needs more (or closed the client). */
int socks_jwt_step(struct socks *s)
{
    struct socks5_jwt_auth a;
    size_t need = 0;
    uint8_t *in = s->jbuf ? s->jbuf : s->hs;
    size_t cap = s->jbuf ? s->jbuf_cap : sizeof s->hs;
    long n = socks5_jwt_auth_parse(in, s->hs_len, &a, &need);
    if (n == SOCKS5_ETOOBIG) {
        /* Refused at once, before a byte of the token is read or a buffer taken. */
        char why[80];
        snprintf(why, sizeof why, "JWT longer than %d bytes", SOCKS5_JWT_MAX);
        jwt_refuse(s, RF_JWT_TOO_LONG, why);
        explicit_bzero(s->hs, sizeof s->hs);
        s->hs_len = 0;
        return 1;
    }
    if (n < 0) {
        explicit_bzero(in, s->hs_len);
        socks_finish(s, "malformed SOCKS5 handshake");
        return 0;
    }
    if (n == 0) {
        /* Full, and the request is longer: room for more, only now. */
        if (need > cap && s->hs_len == cap && jbuf_grow(s, need) != 0) {
            return s->state != SS_DEAD;
        }
        return 0;
    }
    jwt_authenticate(s, &a);
    /* What followed (a request sent without waiting) stays in hs for the next step. */
    size_t rest = s->hs_len - (size_t)n;
    if (rest > sizeof s->hs) {
        socks_finish(s, "malformed SOCKS5 handshake");
        return 0;
    }
    memmove(s->hs, in + n, rest);
    explicit_bzero(in + rest, s->hs_len - rest);
    s->hs_len = rest;
    socks_jbuf_free(s);
    return 1;
}

/* see socks_int.h */
long socks_userpass_step(struct socks *s)
{
    struct socks5_auth a;
    uint8_t r[2];
    long n = socks5_auth_parse(s->hs, s->hs_len, &a);
    if (n > 0) {
        int ok = authenticate(s, &a);
        socks5_auth_reply_encode(r, ok);
        socks_say(s, r, 2);
        if (!ok) {
            relay_m.socks_auth_failed++;
            log_info("socks refused: client=%s user=\"%s\" reason=\"authentication failed\"",
                     s->peer, hello_location_valid(a.user, a.user_len) ? a.user : "?");
            s->state = SS_FLUSH_CLOSE;
            s->verdict = "authentication failed";
        } else {
            socks_authenticated(s);
        }
        explicit_bzero(&a, sizeof a);
    }
    return n;
}

/* see socks_int.h */
int socks_auth_init(void)
{
    return srclimit_init(&jwt_sources, RELAY_JWT_BUFS);
}
