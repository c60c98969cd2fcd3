/* see socks5.h */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "socks5.h"

/* see socks5.h */
long socks5_greeting_parse(const uint8_t *p, size_t len, int *userpass)
{
    return socks5_greeting_offers(p, len, SOCKS5_M_USERPASS, userpass);
}

/* see socks5.h */
long socks5_greeting_offers(const uint8_t *p, size_t len, uint8_t method, int *offered)
{
    *offered = 0;
    if (len < 1) {
        return 0;
    }
    if (p[0] != SOCKS5_VER) {
        return SOCKS5_EVERSION;
    }
    if (len < 2) {
        return 0;
    }
    size_t n = p[1];
    if (n == 0) {
        return SOCKS5_EMALFORMED;
    }
    if (len < 2 + n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[2 + i] == method) {
            *offered = 1;
        }
    }
    return (long)(2 + n);
}

static long jwt_auth_parse(const uint8_t *p, size_t len, struct socks5_jwt_auth *a,
                           size_t *need)
{
    if (len < 1) {
        return 0;
    }
    if (p[0] != SOCKS5_AUTH_VER) {
        return SOCKS5_EVERSION;
    }
    if (len < 5) {
        return 0;
    }
    uint32_t n = get_be32(p + 1);
    if (n > SOCKS5_JWT_MAX) {
        return SOCKS5_ETOOBIG;
    }
    if (n == 0) {
        return SOCKS5_EMALFORMED;
    }
    *need = 5 + (size_t)n + 1 + 255;
    if (len < 5 + (size_t)n + 1) {
        return 0;
    }
    size_t k = p[5 + n];
    *need = 5 + (size_t)n + 1 + k;
    if (len < *need) {
        return 0;
    }
    a->jwt = p + 5;
    a->jwt_len = n;
    a->loc_b64 = k ? p + 6 + n : NULL;
    a->loc_b64_len = k;
    return (long)*need;
}

/* see socks5.h */
long socks5_jwt_auth_parse(const uint8_t *p, size_t len, struct socks5_jwt_auth *a,
                           size_t *need)
{
    size_t dummy;
    memset(a, 0, sizeof *a);
    *(need ? need : &dummy) = 0;
    long r = jwt_auth_parse(p, len, a, need ? need : &dummy);
    if (r <= 0) {
        memset(a, 0, sizeof *a);
    }
    return r;
}

/* One length-prefixed field of 1..255 bytes without NUL into out (NUL-terminated). Returns
 * the bytes used, 0 for more, or SOCKS5_EMALFORMED. */
static long field(const uint8_t *p, size_t len, char *out, uint8_t *out_len)
{
    if (len < 1) {
        return 0;
    }
    size_t n = p[0];
    if (n == 0) {
        return SOCKS5_EMALFORMED;
    }
    if (len < 1 + n) {
        return 0;
    }
    if (memchr(p + 1, 0, n)) {
        return SOCKS5_EMALFORMED;
    }
    memcpy(out, p + 1, n);
    out[n] = 0;
    if (out_len) {
        *out_len = (uint8_t)n;
    }
    return (long)(1 + n);
}

static long auth_parse(const uint8_t *p, size_t len, struct socks5_auth *a)
{
    if (len < 1) {
        return 0;
    }
    if (p[0] != SOCKS5_AUTH_VER) {
        return SOCKS5_EVERSION;
    }
    long u = field(p + 1, len - 1, a->user, &a->user_len);
    if (u <= 0) {
        return u;
    }
    long w = field(p + 1 + u, len - 1 - (size_t)u, a->pass, &a->pass_len);
    if (w <= 0) {
        return w;
    }
    return 1 + u + w;
}

/* see socks5.h */
long socks5_auth_parse(const uint8_t *p, size_t len, struct socks5_auth *a)
{
    long n = auth_parse(p, len, a);
    if (n <= 0) {
        memset(a, 0, sizeof *a);         /* no half-read name, no piece of a password */
    }
    return n;
}

static long request_parse(const uint8_t *p, size_t len, struct socks5_request *r)
{
    size_t alen;
    if (len < 1) {
        return 0;
    }
    if (p[0] != SOCKS5_VER) {
        return SOCKS5_EVERSION;
    }
    if (len < 4) {
        return 0;
    }
    if (p[2] != 0) {
        return SOCKS5_EMALFORMED;
    }
    r->cmd = p[1];
    r->atyp = p[3];
    switch (p[3]) {
    case SOCKS5_ATYP_IPV4:
        alen = 4;
        break;
    case SOCKS5_ATYP_IPV6:
        alen = 16;
        break;
    case SOCKS5_ATYP_DOMAIN:
        if (len < 5) {
            return 0;
        }
        alen = 1 + (size_t)p[4];
        break;
    default:
        return SOCKS5_EATYP;     /* unknown type: its length is unknown too */
    }
    if (len < 4 + alen + 2) {
        return 0;
    }
    r->port = (uint16_t)(p[4 + alen] << 8 | p[4 + alen + 1]);
    if (p[3] == SOCKS5_ATYP_IPV4) {
        memcpy(r->ip4, p + 4, 4);
        snprintf(r->host, sizeof r->host, "%u.%u.%u.%u", p[4], p[5], p[6], p[7]);
    } else if (p[3] == SOCKS5_ATYP_DOMAIN) {
        long n = field(p + 4, alen, r->host, NULL);
        if (n < 0) {
            return n;
        }
    }
    if (r->cmd != SOCKS5_CMD_CONNECT) {
        return SOCKS5_ECMD;
    }
    if (p[3] == SOCKS5_ATYP_IPV6) {
        return SOCKS5_EATYP;
    }
    return (long)(4 + alen + 2);
}

/* see socks5.h */
long socks5_request_parse(const uint8_t *p, size_t len, struct socks5_request *r)
{
    long n = request_parse(p, len, r);
    if (n <= 0) {
        /* Every path but a whole CONNECT leaves the same defined result, whichever return
         * it took: nothing a caller could print as a target (it once logged stack bytes). */
        memset(r, 0, sizeof *r);
    }
    return n;
}

/* see socks5.h */
enum socks5_reply socks5_err_reply(long err)
{
    switch (err) {
    case SOCKS5_ECMD: return SOCKS5_REP_CMD_UNSUPPORTED;
    case SOCKS5_EATYP: return SOCKS5_REP_ATYP_UNSUPPORTED;
    default: return SOCKS5_REP_FAILURE;
    }
}

/* see socks5.h */
void socks5_method_encode(uint8_t out[2], uint8_t method)
{
    out[0] = SOCKS5_VER;
    out[1] = method;
}

/* see socks5.h */
void socks5_auth_reply_encode(uint8_t out[2], int ok)
{
    out[0] = SOCKS5_AUTH_VER;
    out[1] = ok ? 0x00 : 0x01;
}

/* see socks5.h */
void socks5_reply_encode(uint8_t out[SOCKS5_REPLY_LEN], enum socks5_reply rep,
                         const uint8_t *bind_ip4, uint16_t bind_port)
{
    static const uint8_t any[4];
    out[0] = SOCKS5_VER;
    out[1] = (uint8_t)rep;
    out[2] = 0;
    out[3] = SOCKS5_ATYP_IPV4;
    memcpy(out + 4, bind_ip4 ? bind_ip4 : any, 4);
    out[8] = (uint8_t)(bind_port >> 8);
    out[9] = (uint8_t)bind_port;
}

/* see socks5.h */
long socks5_reply_parse(const uint8_t *p, size_t len, uint8_t *rep)
{
    size_t alen;
    if (len < 1) {
        return 0;
    }
    if (p[0] != SOCKS5_VER) {
        return SOCKS5_EVERSION;
    }
    if (len < 4) {
        return 0;
    }
    switch (p[3]) {
    case SOCKS5_ATYP_IPV4: alen = 4; break;
    case SOCKS5_ATYP_IPV6: alen = 16; break;
    case SOCKS5_ATYP_DOMAIN:
        if (len < 5) {
            return 0;
        }
        alen = 1 + (size_t)p[4];
        break;
    default:
        return SOCKS5_EATYP;
    }
    if (len < 4 + alen + 2) {
        return 0;
    }
    *rep = p[1];
    return (long)(4 + alen + 2);
}

/* see socks5.h */
long socks5_greeting_encode(uint8_t *out, size_t cap, const uint8_t *methods, size_t n)
{
    if (n == 0 || n > 255) {
        return SOCKS5_EMALFORMED;
    }
    if (cap < 2 + n) {
        return SOCKS5_ENOSPC;
    }
    out[0] = SOCKS5_VER;
    out[1] = (uint8_t)n;
    memcpy(out + 2, methods, n);
    return (long)(2 + n);
}

/* see socks5.h */
long socks5_auth_encode(uint8_t *out, size_t cap, const char *user, const char *pass)
{
    size_t u = strlen(user), w = strlen(pass);
    if (u == 0 || u > 255 || w == 0 || w > 255) {
        return SOCKS5_EMALFORMED;
    }
    if (cap < 3 + u + w) {
        return SOCKS5_ENOSPC;
    }
    out[0] = SOCKS5_AUTH_VER;
    out[1] = (uint8_t)u;
    memcpy(out + 2, user, u);
    out[2 + u] = (uint8_t)w;
    memcpy(out + 3 + u, pass, w);
    return (long)(3 + u + w);
}

/* see socks5.h */
long socks5_jwt_auth_encode(uint8_t *out, size_t cap, const uint8_t *jwt, size_t jwt_len,
                            const char *loc_b64)
{
    size_t k = strlen(loc_b64);
    if (jwt_len == 0 || jwt_len > 0xffffffffu || k > 255) {
        return SOCKS5_EMALFORMED;
    }
    if (cap < 6 + jwt_len + k) {
        return SOCKS5_ENOSPC;
    }
    out[0] = SOCKS5_AUTH_VER;
    out[1] = (uint8_t)(jwt_len >> 24);
    out[2] = (uint8_t)(jwt_len >> 16);
    out[3] = (uint8_t)(jwt_len >> 8);
    out[4] = (uint8_t)jwt_len;
    memcpy(out + 5, jwt, jwt_len);
    out[5 + jwt_len] = (uint8_t)k;
    memcpy(out + 6 + jwt_len, loc_b64, k);
    return (long)(6 + jwt_len + k);
}

/* see socks5.h */
int socks5_parse_ip4(const char *s, uint8_t out[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || *s != (i < 3 ? '.' : 0)) {
            return 0;
        }
        out[i] = (uint8_t)v;
        s += i < 3;
    }
    return 1;
}

/* see socks5.h */
long socks5_request_encode(uint8_t *out, size_t cap, const char *host, uint16_t port)
{
    size_t n = strlen(host), len;
    uint8_t ip[4];
    if (cap < 4) {
        return SOCKS5_ENOSPC;
    }
    out[0] = SOCKS5_VER;
    out[1] = SOCKS5_CMD_CONNECT;
    out[2] = 0;
    if (socks5_parse_ip4(host, ip)) {
        if (cap < 10) {
            return SOCKS5_ENOSPC;
        }
        out[3] = SOCKS5_ATYP_IPV4;
        memcpy(out + 4, ip, 4);
        len = 8;
    } else {
        if (n == 0 || n > SOCKS5_NAME_MAX) {
            return SOCKS5_EMALFORMED;
        }
        if (cap < 7 + n) {
            return SOCKS5_ENOSPC;
        }
        out[3] = SOCKS5_ATYP_DOMAIN;
        out[4] = (uint8_t)n;
        memcpy(out + 5, host, n);
        len = 5 + n;
    }
    out[len] = (uint8_t)(port >> 8);
    out[len + 1] = (uint8_t)port;
    return (long)(len + 2);
}

/* see socks5.h */
const char *socks5_reply_text(unsigned rep)
{
    switch (rep) {
    case SOCKS5_REP_OK: return "ok";
    case SOCKS5_REP_FAILURE: return "general failure";
    case SOCKS5_REP_NO_MAPPING: return "no mapping";
    case SOCKS5_REP_NOT_CONNECTED: return "location not connected";
    case SOCKS5_REP_UNREACHABLE: return "internal host unreachable";
    case SOCKS5_REP_REFUSED: return "connection refused";
    case SOCKS5_REP_TIMEOUT: return "timeout";
    case SOCKS5_REP_CMD_UNSUPPORTED: return "command not supported";
    case SOCKS5_REP_ATYP_UNSUPPORTED: return "address type not supported";
    default: return "unknown reply";
    }
}
