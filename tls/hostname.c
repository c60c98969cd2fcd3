/* see hostname.h */
#include <string.h>

#include "hostname.h"
#include "tls_err.h"

/* ---- IP literals ---- */

/* Reads a decimal 0..255 without leading zeros; returns chars used, 0 on failure. */
static size_t parse_octet(const char *s, unsigned *v)
{
    size_t n = 0;
    unsigned x = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 3) {
        x = x * 10 + (unsigned)(s[n] - '0');
        n++;
    }
    if (n == 0 || x > 255 || (n > 1 && s[0] == '0')) {
        return 0;
    }
    *v = x;
    return n;
}

static int parse_ipv4(const char *s, uint8_t out[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v;
        size_t n = parse_octet(s, &v);
        if (n == 0) {
            return 0;
        }
        out[i] = (uint8_t)v;
        s += n;
        if (i < 3 && *s++ != '.') {
            return 0;
        }
    }
    return *s == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 4291 text: groups of 1..4 hex digits, one "::", an optional dotted-quad tail. */
static int parse_ipv6(const char *s, uint8_t out[16])
{
    uint8_t a[16] = { 0 };
    int n = 0, gap = -1;
    if (s[0] == ':') {
        if (s[1] != ':') {
            return 0;
        }
        gap = 0;
        s += 2;
    }
    while (*s && n < 16) {
        if (n <= 12 && strchr(s, '.') && !strchr(s, ':')) {
            if (!parse_ipv4(s, a + n)) {
                return 0;
            }
            n += 4;
            s += strlen(s);
            break;
        }
        unsigned v = 0;
        int d = 0, h;
        while ((h = hexval(s[d])) >= 0 && d < 4) {
            v = v << 4 | (unsigned)h;
            d++;
        }
        if (d == 0) {
            return 0;
        }
        a[n++] = (uint8_t)(v >> 8);
        a[n++] = (uint8_t)v;
        s += d;
        if (*s == 0) {
            break;
        }
        if (*s++ != ':') {
            return 0;
        }
        if (*s == ':') {
            if (gap >= 0) {
                return 0;                 /* a second "::" */
            }
            gap = n;
            s++;
            if (*s == 0) {
                break;
            }
        } else if (*s == 0) {
            return 0;                     /* a trailing single ':' */
        }
    }
    if (*s) {
        return 0;
    }
    if (gap < 0) {
        if (n != 16) {
            return 0;
        }
    } else {
        if (n > 14) {
            return 0;                     /* "::" must stand for at least one group */
        }
        memmove(a + gap + (16 - n), a + gap, (size_t)(n - gap));
        memset(a + gap, 0, (size_t)(16 - n));
    }
    memcpy(out, a, 16);
    return 1;
}

/* see hostname.h */
int host_parse_ip(const char *host, uint8_t addr[16])
{
    if (parse_ipv4(host, addr)) {
        return 4;
    }
    if (strchr(host, ':') && parse_ipv6(host, addr)) {
        return 16;
    }
    return 0;
}

/* ---- DNS names ---- */

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

static int eq_nocase(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (lower(a[i]) != lower(b[i])) {
            return 0;
        }
    }
    return 1;
}

/* Letters, digits, '-', '_' and '.', and nothing else (no NULs, no spaces). */
static int dns_chars_ok(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = lower(p[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
              || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* see hostname.h */
int host_match_dns(const uint8_t *pattern, size_t len, const char *host)
{
    const uint8_t *h = (const uint8_t *)host;
    size_t hlen = strlen(host);
    if (hlen > 0 && h[hlen - 1] == '.') {
        hlen--;
    }
    if (len > 0 && pattern[len - 1] == '.') {
        len--;
    }
    if (hlen == 0 || len == 0 || hlen > HOST_NAME_MAX_LEN || !dns_chars_ok(h, hlen)
        || h[0] == '.') {
        return 0;
    }
    if (len >= 2 && pattern[0] == '*' && pattern[1] == '.') {
        const uint8_t *rest = pattern + 1;        /* ".b.c" */
        size_t rlen = len - 1;
        if (!dns_chars_ok(rest, rlen) || memchr(rest + 1, '.', rlen - 1) == NULL) {
            return 0;                             /* "*.test": too broad */
        }
        const uint8_t *dot = memchr(h, '.', hlen);
        if (dot == NULL || dot == h) {
            return 0;                             /* the wildcard's label must be non-empty */
        }
        size_t tail = hlen - (size_t)(dot - h);
        return tail == rlen && eq_nocase(dot, rest, rlen);
    }
    if (!dns_chars_ok(pattern, len)) {
        return 0;                                 /* includes any other '*' */
    }
    return len == hlen && eq_nocase(pattern, h, len);
}

/* ---- the leaf ---- */

struct name_check {
    const char *host;
    uint8_t ip[16];
    int ip_len;               /* 0 for a DNS host */
    int matched;
    int names;                /* SAN dNSName and iPAddress entries seen */
    char *have;
    size_t have_len, have_used;
    int full;
};

/* Appends a name to the list for the verdict; once the next would not fit (with room kept
 * for ", ..." and the NUL), the list ends in "..." and takes no more. */
static void have_add(struct name_check *c, const char *s, size_t len)
{
    if (c->full || c->have_len < 6) {
        return;
    }
    size_t sep = c->have_used ? 2 : 0;
    if (c->have_used + sep + len + 6 > c->have_len) {
        memcpy(c->have + c->have_used, sep ? ", ..." : "...", sep ? 6 : 4);
        c->full = 1;
        return;
    }
    memcpy(c->have + c->have_used, ", ", sep);
    c->have_used += sep;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        c->have[c->have_used++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    c->have[c->have_used] = 0;
}

static int check_san(void *arg, int type, const uint8_t *p, size_t len)
{
    struct name_check *c = arg;
    c->names++;
    if (type == X509_SAN_IP) {
        char text[X509_IP_TEXT_MAX];
        if (c->ip_len && (size_t)c->ip_len == len && memcmp(p, c->ip, len) == 0) {
            c->matched = 1;
        }
        x509_ip_text(p, len, text, sizeof text);
        have_add(c, text, strlen(text));
    } else {
        if (!c->ip_len && host_match_dns(p, len, c->host)) {
            c->matched = 1;
        }
        have_add(c, (const char *)p, len);
    }
    return 0;
}

/* see hostname.h */
int host_check_cert(const struct x509_parts *x, const char *host, char *have, size_t have_len)
{
    struct name_check c = { .host = host, .have = have, .have_len = have_len };
    if (have_len) {
        have[0] = 0;
    }
    c.ip_len = host_parse_ip(host, c.ip);
    int err = x509_san_foreach(x, check_san, &c);
    if (err < 0) {
        return err;
    }
    if (err == 0) {                              /* no SAN extension: the legacy CN */
        const uint8_t *cn;
        size_t cn_len;
        err = x509_subject_cn(x, &cn, &cn_len);
        if (err < 0) {
            return err;
        }
        if (err == 1) {
            if (!c.ip_len && host_match_dns(cn, cn_len, host)) {
                c.matched = 1;
            }
            have_add(&c, (const char *)cn, cn_len);
        }
    }
    if (!c.matched && have_len && have[0] == 0) {
        have_add(&c, "no names", 8);
    }
    return c.matched;
}
