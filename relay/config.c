/* relay's configuration file: one directive per line, the console language's lexical rules
 * (blanks separate tokens, "..." quotes with \" and \\, # starts a comment). Relative paths
 * are relative to the configuration file's folder. See relay.h and docs/protocol.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conftok.h"
#include "hex.h"
#include "hostport.h"
#include "relay.h"

#define LINE_MAX_LEN 1024
#define TOK_MAX 12  /* words in one directive (conftok.h): jwt-issuer has 12 */

struct relay_config relay_cfg;

/* Defaults that fit 10,000 gateways on one relay within LimitNOFILE=65536 (relay.service)
 * and a few hundred MiB: docs/protocol.md section 5 gives each with its cost. */
const struct relay_limits relay_limits_default = {
    .tunnels = 10240,
    .handshakes = 1024,
    .handshakes_per_source = 32,
    .handshake_threads = 0,
    .first_byte_s = 3,
    .handshake_s = 10,
    .socks = 4096,
    .socks_per_source = 128,
    .socks_auth_s = 5,
    .socks_idle_s = 1800,
    .deliveries = 256,
    .location_streams = 100,
    .location_deliveries = 16,
    .location_spool_bytes = 1ull << 30,
    .location_spool_messages = 50000,
    .delivery_stall_s = 60,
    .store_timeout_s = 60,
    .stop_drain_s = 30,
    .delivery_version = 2,
};

/* `limit NAME VALUE`: each limit, where it lives and its range. */
static const struct limit_def {
    const char *name;
    size_t off;
    int wide;                    /* uint64_t (bytes: K, M, G allowed), else unsigned */
    uint64_t min, max;
} limit_defs[] = {
#define U(name, field, lo, hi) { name, offsetof(struct relay_limits, field), 0, lo, hi }
    U("tunnels", tunnels, 1, 1000000),
    U("handshakes", handshakes, 1, 65536),
    U("handshakes-per-source", handshakes_per_source, 1, 65536),
    U("handshake-threads", handshake_threads, 0, 256),
    U("first-byte", first_byte_s, 1, 60),
    U("handshake", handshake_s, 1, 300),
    U("socks", socks, 1, 1000000),
    U("socks-per-source", socks_per_source, 1, 1000000),
    U("socks-auth", socks_auth_s, 1, 300),
    U("socks-idle", socks_idle_s, 1, 604800),
    U("deliveries", deliveries, 1, 65536),
    U("location-streams", location_streams, 1, 60000),
    U("location-deliveries", location_deliveries, 1, 1024),
    { "location-spool-bytes", offsetof(struct relay_limits, location_spool_bytes), 1, 1,
      1ull << 50 },
    U("location-spool-messages", location_spool_messages, 1, 1u << 30),
    U("delivery-stall", delivery_stall_s, 1, 3600),
    U("store-timeout", store_timeout_s, 1, 600),
    U("stop-drain", stop_drain_s, 0, 600),
    U("delivery-version", delivery_version, 1, 2),
#undef U
};

/* "4096", "512K", "1G" (binary multiples); -1 when it is not that. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : *end == 'T' ? 40 : 0;
    if (errno || end == s || s[0] == '-' || (shift && end[1] != 0) || (!shift && *end != 0)
        || v > (~0ull >> shift)) {
        return -1;
    }
    *out = (uint64_t)v << shift;
    return 0;
}

/* see relay.h */
int relay_parse_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    uint16_t port;
    if (hostport_split(s, host, sizeof host, &port) != 0) {
        return -1;
    }
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* see relay.h */
void relay_hex(const uint8_t *p, size_t n, char *out)
{
    hex_encode(out, p, n);
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    return hex_decode(s, strlen(s), out, n);
}

/* A SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it after the
 * '=' (AB:CD:...), or the same 64 hex digits without colons; either case. */
static int parse_fingerprint(const char *s, uint8_t out[32])
{
    char hex[65];
    size_t len = strlen(s), k = 0;
    if (len == 95) {
        for (size_t i = 0; i < len; i++) {
            if (i % 3 == 2) {
                if (s[i] != ':') {
                    return -1;
                }
            } else {
                hex[k++] = s[i];
            }
        }
        hex[k] = 0;
        s = hex;
    }
    return unhex(s, out, 32);
}

static int add_revoked(struct relay_config *c, const uint8_t sha[32])
{
    if (c->nrevoked == c->revoked_cap) {
        if (c->revoked_cap == RELAY_REVOKED_MAX) {
            return -1;
        }
        unsigned cap = c->revoked_cap ? 2 * c->revoked_cap : 64;
        void *p = realloc(c->revoked, (size_t)cap * sizeof *c->revoked);
        if (p == NULL) {
            return -1;
        }
        c->revoked = p;
        c->revoked_cap = cap;
    }
    memcpy(c->revoked[c->nrevoked++], sha, 32);
    return 0;
}

static int cmp_sha(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Sorted and without repeats, for relay_revoked's binary search. */
static void sort_revoked(struct relay_config *c)
{
    unsigned k = 0;
    if (c->nrevoked == 0) {
        return;
    }
    qsort(c->revoked, c->nrevoked, sizeof *c->revoked, cmp_sha);
    for (unsigned i = 1; i < c->nrevoked; i++) {
        if (memcmp(c->revoked[i], c->revoked[k], 32) != 0) {
            memcpy(c->revoked[++k], c->revoked[i], 32);
        }
    }
    c->nrevoked = k + 1;
}

/* see relay.h */
int relay_revoked(const struct relay_config *c, const uint8_t sha[32])
{
    return c->nrevoked && bsearch(sha, c->revoked, c->nrevoked, sizeof *c->revoked, cmp_sha);
}

static unsigned bucket_of(const char *id)
{
    uint32_t h = 2166136261u;                   /* FNV-1a */
    while (*id) {
        h = (h ^ (uint8_t)*id++) * 16777619u;
    }
    return h & (RELAY_LOC_BUCKETS - 1);
}

/* see relay.h */
struct location *relay_location_in(const struct relay_config *c, const char *id)
{
    if (c->hash == NULL) {
        return NULL;
    }
    for (struct location *l = c->hash[bucket_of(id)]; l; l = l->hash_next) {
        if (strcmp(l->id, id) == 0) {
            return l;
        }
    }
    return NULL;
}

/* see relay.h */
void relay_location_index(struct relay_config *c, struct location *loc)
{
    unsigned b = bucket_of(loc->id);
    loc->hash_next = c->hash[b];
    c->hash[b] = loc;
}

/* see relay.h */
struct location *relay_location(const char *id)
{
    struct location *l = relay_location_in(&relay_cfg, id);
    return l && !l->removed ? l : NULL;
}

static int path_from(char *out, size_t cap, const char *dir, const char *p)
{
    int n = p[0] == '/' || dir[0] == 0 ? snprintf(out, cap, "%s", p)
                                       : snprintf(out, cap, "%s/%s", dir, p);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

struct parse {
    const char *file;
    unsigned line;
    char *err;
    size_t errlen;
};

static int bad(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct parse *ps, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ps->line) {
        snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->file, ps->line, msg);
    } else {
        snprintf(ps->err, ps->errlen, "%s: %s", ps->file, msg);
    }
    return -1;
}

/* A jwt-issuer line's `locations` value: "*", or valid Location IDs joined by ','. 0 or -1. */
static int issuer_locations(struct jwt_issuer *is, const char *v)
{
    if (strcmp(v, "*") != 0) {
        for (const char *p = v;; p++) {
            size_t len = strcspn(p, ",");
            if (!hello_location_valid(p, len)) {
                return -1;
            }
            p += len;
            if (*p == 0) {
                break;
            }
        }
    }
    if (strlen(v) >= sizeof is->locations) {
        return -1;
    }
    snprintf(is->locations, sizeof is->locations, "%s", v);
    return 0;
}

/* `jwt-issuer ISS key FILE aud AUD locations ID[,ID...]|* [kid KID] [claim NAME]`: the key
 * file is read by relay_config_load (load_issuer_keys), so the text alone can be checked
 * (and fuzzed). aud and locations are required: an identity provider signs tokens for
 * every application it serves, and which locations an issuer may reach is the operator's
 * decision, made explicitly ("*" for all). */
static int jwt_issuer_line(struct relay_config *c, struct parse *ps, struct conftok *tk,
                           const char *dir)
{
    static const char usage[] = "jwt-issuer: expected ISS key FILE aud AUD locations "
                                "ID[,ID...]|* [kid KID] [claim NAME]";
    unsigned n = tk->n, same = 0;
    int has_kid = 0, has_claim = 0;
    if (n < 8 || n % 2 != 0) {
        return bad(ps, usage);
    }
    if (c->nissuers == RELAY_ISSUERS_MAX) {
        return bad(ps, "jwt-issuer: more than %d", RELAY_ISSUERS_MAX);
    }
    if (c->nissuers % 8 == 0) {
        void *p = realloc(c->issuers, (c->nissuers + 8) * sizeof *c->issuers);
        if (p == NULL) {
            return bad(ps, "out of memory");
        }
        c->issuers = p;
    }
    struct jwt_issuer *is = &c->issuers[c->nissuers];
    memset(is, 0, sizeof *is);
    if (strlen(tk->t[1]) == 0 || strlen(tk->t[1]) >= sizeof is->iss) {
        return bad(ps, "jwt-issuer: ISS must be 1 to %zu bytes", sizeof is->iss - 1);
    }
    snprintf(is->iss, sizeof is->iss, "%s", tk->t[1]);
    snprintf(is->claim, sizeof is->claim, "locations");
    is->line = ps->line;
    for (unsigned i = 2; i < n; i += 2) {
        const char *w = tk->t[i], *v = tk->t[i + 1];
        if (strcmp(w, "key") == 0 && is->path[0] == 0) {
            if (path_from(is->path, RELAY_PATH_MAX, dir, v) != 0) {
                return bad(ps, "jwt-issuer: key: path longer than %d bytes", RELAY_PATH_MAX - 1);
            }
        } else if (strcmp(w, "kid") == 0 && !has_kid++) {
            if (v[0] == 0 || strlen(v) >= sizeof is->kid) {
                return bad(ps, "jwt-issuer: kid must be 1 to %zu bytes", sizeof is->kid - 1);
            }
            snprintf(is->kid, sizeof is->kid, "%s", v);
        } else if (strcmp(w, "claim") == 0 && !has_claim++) {
            if (v[0] == 0 || strlen(v) >= sizeof is->claim) {
                return bad(ps, "jwt-issuer: claim must be 1 to %zu bytes",
                           sizeof is->claim - 1);
            }
            snprintf(is->claim, sizeof is->claim, "%s", v);
        } else if (strcmp(w, "aud") == 0 && is->aud[0] == 0) {
            if (v[0] == 0 || strlen(v) >= sizeof is->aud) {
                return bad(ps, "jwt-issuer: aud must be 1 to %zu bytes", sizeof is->aud - 1);
            }
            snprintf(is->aud, sizeof is->aud, "%s", v);
        } else if (strcmp(w, "locations") == 0 && is->locations[0] == 0) {
            if (issuer_locations(is, v) != 0) {
                return bad(ps, "jwt-issuer: locations: expected * or Location IDs joined by "
                           "commas");
            }
        } else {
            return bad(ps, usage);
        }
    }
    if (is->path[0] == 0 || is->aud[0] == 0 || is->locations[0] == 0) {
        return bad(ps, usage);
    }
    for (unsigned i = 0; i < c->nissuers; i++) {
        if (strcmp(c->issuers[i].iss, is->iss) == 0) {
            same++;
            if (strcmp(c->issuers[i].kid, is->kid) == 0
                && strcmp(c->issuers[i].path, is->path) == 0) {
                return bad(ps, "jwt-issuer %s: the same key given twice", is->iss);
            }
        }
    }
    if (same >= RELAY_ISSUER_KEYS_MAX) {
        return bad(ps, "jwt-issuer %s: more than %d keys (a token is tried against each)",
                   is->iss, RELAY_ISSUER_KEYS_MAX);
    }
    c->nissuers++;
    return 0;
}

/* `spool lmtp ADDR:PORT|unix:PATH`: where the mail store's LMTP listens. */
static int spool_lmtp(struct relay_config *c, struct parse *ps, const char *target,
                      const char *dir)
{
    struct sockaddr_in in;
    struct sockaddr_un un;
    if (c->spool[0]) {
        return bad(ps, "spool: a Maildir and lmtp both given (the relay has one spool)");
    }
    if (strlen(target) >= sizeof c->lmtp_target) {
        return bad(ps, "spool lmtp: longer than %d bytes", RELAY_PATH_MAX - 1);
    }
    memset(&c->lmtp_addr, 0, sizeof c->lmtp_addr);
    if (strncmp(target, "unix:", 5) == 0) {
        memset(&un, 0, sizeof un);
        un.sun_family = AF_UNIX;
        if (target[5] == 0 || path_from(un.sun_path, sizeof un.sun_path, dir, target + 5) != 0) {
            return bad(ps, "spool lmtp: unix:PATH needs a path of at most %zu bytes",
                       sizeof un.sun_path - 1);
        }
        memcpy(&c->lmtp_addr, &un, sizeof un);
        c->lmtp_addr_len = (unsigned)sizeof un;
        snprintf(c->lmtp_target, sizeof c->lmtp_target, "unix:%s", un.sun_path);
    } else if (relay_parse_addr(target, &in) == 0) {
        memcpy(&c->lmtp_addr, &in, sizeof in);
        c->lmtp_addr_len = (unsigned)sizeof in;
        snprintf(c->lmtp_target, sizeof c->lmtp_target, "%s", target);
    } else {
        return bad(ps, "spool lmtp: '%s' is neither an IPv4 ADDR:PORT nor unix:PATH", target);
    }
    c->lmtp = 1;
    return 0;
}

/* Once every line is read (locations may follow the jwt-issuer lines): each location a
 * jwt-issuer line names must be configured. An error rather than a warning: a misspelt ID
 * would deny quietly, and a location removed while an issuer still names it would come
 * back to that issuer with the next line that adds it. */
static int issuers_locations_known(const struct relay_config *c, struct parse *ps)
{
    for (unsigned i = 0; i < c->nissuers; i++) {
        const struct jwt_issuer *is = &c->issuers[i];
        char id[HELLO_LOCATION_MAX + 1];
        if (strcmp(is->locations, "*") == 0) {
            continue;
        }
        for (const char *p = is->locations; *p;) {
            size_t len = strcspn(p, ",");
            memcpy(id, p, len);
            id[len] = 0;
            if (relay_location_in(c, id) == NULL) {
                ps->line = is->line;
                return bad(ps, "jwt-issuer %s: locations: no location %s is configured",
                           is->iss, id);
            }
            p += len + (p[len] == ',');
        }
    }
    return 0;
}

static int directive(struct relay_config *c, struct parse *ps, struct conftok *tk,
                     const char *dir, unsigned *seen)
{
    const char *d = tk->t[0];
    unsigned n = tk->n;
    if (strcmp(d, "listen") == 0 || strcmp(d, "socks") == 0 || strcmp(d, "metrics") == 0) {
        struct sockaddr_in *a = d[0] == 'l' ? &c->listen : d[0] == 's' ? &c->socks : &c->metrics;
        if (n != 2) {
            return bad(ps, "%s: expected ADDR:PORT", d);
        }
        if (relay_parse_addr(tk->t[1], a) != 0) {
            return bad(ps, "%s: '%s' is not an IPv4 ADDR:PORT", d, tk->t[1]);
        }
        *seen |= d[0] == 'l' ? 1u : d[0] == 's' ? 2u : 0u;
        c->has_metrics |= d[0] == 'm';
        return 0;
    }
    if (strcmp(d, "spool") == 0 && n == 3 && strcmp(tk->t[1], "lmtp") == 0) {
        *seen |= 32u;
        return spool_lmtp(c, ps, tk->t[2], dir);
    }
    if (strcmp(d, "cert") == 0 || strcmp(d, "key") == 0 || strcmp(d, "client-ca") == 0
        || strcmp(d, "spool") == 0) {
        /* "cert CHAIN.pem key KEY.pem" on one line works too. */
        for (unsigned i = 0; i < n; i += 2) {
            const char *w = tk->t[i];
            char *dst = strcmp(w, "cert") == 0 ? c->cert : strcmp(w, "key") == 0 ? c->key
                        : strcmp(w, "client-ca") == 0 ? c->client_ca
                        : strcmp(w, "spool") == 0 ? c->spool : NULL;
            if (dst == NULL) {
                return bad(ps, "%s: unexpected '%s'", d, w);
            }
            if (dst == c->spool && c->lmtp) {
                return bad(ps, "spool: a Maildir and lmtp both given (the relay has one spool)");
            }
            if (i + 1 >= n) {
                return bad(ps, "%s: expected a file name", w);
            }
            if (path_from(dst, RELAY_PATH_MAX, dir, tk->t[i + 1]) != 0) {
                return bad(ps, "%s: path longer than %d bytes", w, RELAY_PATH_MAX - 1);
            }
            *seen |= dst == c->cert ? 4u : dst == c->key ? 8u : dst == c->client_ca ? 16u : 32u;
        }
        return 0;
    }
    if (strcmp(d, "location") == 0) {
        if ((n != 4 && n != 6) || strcmp(tk->t[2], "token-sha256") != 0
            || (n == 6 && strcmp(tk->t[4], "mailbox") != 0)) {
            return bad(ps, "location: expected ID token-sha256 HEX [mailbox ADDRESS]");
        }
        if (n == 6 && !lmtp_address_valid(tk->t[5], strlen(tk->t[5]))) {
            return bad(ps, "location %s: mailbox '%s' is not an address LMTP can carry "
                       "(local@domain, at most %d bytes, no blanks, <, >, \" or \\)", tk->t[1],
                       tk->t[5], LMTP_ADDR_MAX);
        }
        if (!hello_location_valid(tk->t[1], strlen(tk->t[1]))) {
            return bad(ps, "location: '%s' is not a Location ID (1..%d of A-Z a-z 0-9 . _ -)",
                       tk->t[1], HELLO_LOCATION_MAX);
        }
        if (relay_location_in(c, tk->t[1]) != NULL) {
            return bad(ps, "location: '%s' is configured twice", tk->t[1]);
        }
        if (c->nlocs == RELAY_LOCATIONS_MAX || c->nlocs == c->locs_cap) {
            return bad(ps, "location: more than %d locations", RELAY_LOCATIONS_MAX);
        }
        struct location *loc = &c->locs[c->nlocs];
        memset(loc, 0, sizeof *loc);
        snprintf(loc->id, sizeof loc->id, "%s", tk->t[1]);
        if (n == 6) {
            snprintf(loc->mailbox, sizeof loc->mailbox, "%s", tk->t[5]);
        }
        if (unhex(tk->t[3], loc->token_sha256, 32) != 0) {
            return bad(ps, "location %s: token-sha256 must be 64 hex digits "
                       "(`relay token %s` makes one)", tk->t[1], tk->t[1]);
        }
        relay_location_index(c, loc);
        c->nlocs++;
        return 0;
    }
    if (strcmp(d, "limit") == 0) {
        const struct limit_def *ld = NULL;
        uint64_t v;
        for (size_t i = 0; n >= 2 && i < sizeof limit_defs / sizeof limit_defs[0]; i++) {
            ld = strcmp(limit_defs[i].name, tk->t[1]) == 0 ? &limit_defs[i] : ld;
        }
        if (n != 3 || ld == NULL) {
            return bad(ps, "limit: expected NAME VALUE, NAME one of tunnels, handshakes, "
                       "handshakes-per-source, handshake-threads, first-byte, handshake, socks, "
                       "socks-per-source, socks-auth, socks-idle, deliveries, location-streams, "
                       "location-deliveries, location-spool-bytes, location-spool-messages, "
                       "delivery-stall, store-timeout, stop-drain, delivery-version");
        }
        if (parse_size(tk->t[2], &v) != 0 || v < ld->min || v > ld->max) {
            return bad(ps, "limit %s: '%s' is not a number from %llu to %llu", ld->name, tk->t[2],
                       (unsigned long long)ld->min, (unsigned long long)ld->max);
        }
        if (ld->wide) {
            *(uint64_t *)(void *)((char *)&c->lim + ld->off) = v;
        } else {
            *(unsigned *)(void *)((char *)&c->lim + ld->off) = (unsigned)v;
        }
        return 0;
    }
    if (strcmp(d, "revoked") == 0) {
        uint8_t sha[32];
        if (n != 2 || parse_fingerprint(tk->t[1], sha) != 0) {
            return bad(ps, "revoked: expected the SHA-256 fingerprint of a gateway certificate "
                       "(64 hex digits, colons allowed)");
        }
        if (add_revoked(c, sha) != 0) {
            return bad(ps, "revoked: more than %d certificates", RELAY_REVOKED_MAX);
        }
        return 0;
    }
    if (strcmp(d, "revoked-file") == 0) {
        if (n != 2) {
            return bad(ps, "revoked-file: expected a file name");
        }
        if (c->revoked_file[0]) {
            return bad(ps, "revoked-file: given twice (one file; it may list any number)");
        }
        if (path_from(c->revoked_file, RELAY_PATH_MAX, dir, tk->t[1]) != 0) {
            return bad(ps, "revoked-file: path longer than %d bytes", RELAY_PATH_MAX - 1);
        }
        return 0;
    }
    if (strcmp(d, "jwt-issuer") == 0) {
        return jwt_issuer_line(c, ps, tk, dir);
    }
    if (strcmp(d, "jwt-skew") == 0) {
        uint64_t v;
        if (n != 2 || parse_size(tk->t[1], &v) != 0 || v > RELAY_JWT_SKEW_MAX) {
            return bad(ps, "jwt-skew: expected seconds from 0 to %d", RELAY_JWT_SKEW_MAX);
        }
        c->jwt_skew_s = (unsigned)v;
        return 0;
    }
    return bad(ps, "unknown directive '%s' (expected listen, cert, key, client-ca, socks, "
               "location, spool, metrics, revoked, revoked-file, jwt-issuer, jwt-skew or "
               "limit)", d);
}

/* The revoked-file: one fingerprint per line, as `relay --check` and the loader read it;
 * blank lines and # comments are skipped, and openssl's own "sha256 Fingerprint=" before
 * the digits is accepted, so its output can be appended as it is. */
static int load_revoked_file(struct relay_config *c, char *err, size_t errlen)
{
    char line[256];
    unsigned lineno = 0;
    int ret = -1;
    FILE *f = fopen(c->revoked_file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "revoked-file %s: cannot open: %s", c->revoked_file,
                 strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        uint8_t sha[32];
        char *p = line, *end;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line longer than %zu bytes", c->revoked_file,
                     lineno, sizeof line - 2);
            goto done;
        }
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        end = p + strcspn(p, "#\r\n");
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        *end = 0;
        if (*p == 0) {
            continue;
        }
        if (strncasecmp(p, "sha256 Fingerprint=", 19) == 0) {
            p += 19;
        }
        if (parse_fingerprint(p, sha) != 0) {
            snprintf(err, errlen, "%s:%u: not a SHA-256 fingerprint (64 hex digits, colons "
                     "allowed)", c->revoked_file, lineno);
            goto done;
        }
        if (add_revoked(c, sha) != 0) {
            snprintf(err, errlen, "%s:%u: more than %d revoked certificates", c->revoked_file,
                     lineno, RELAY_REVOKED_MAX);
            goto done;
        }
    }
    ret = 0;
done:
    fclose(f);
    return ret;
}

/* see relay.h */
int relay_config_parse(struct relay_config *c, const char *text, size_t len, const char *dir,
                       const char *name, char *err, size_t errlen)
{
    struct parse ps = { name, 0, err, errlen };
    static struct conftok tk;
    unsigned seen = 0;
    memset(c, 0, sizeof *c);
    c->lim = relay_limits_default;
    c->jwt_skew_s = RELAY_JWT_SKEW_DEFAULT;
    /* A location per line at most. */
    size_t lines = 1;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++) {
        lines++;
    }
    c->locs_cap = lines < RELAY_LOCATIONS_MAX ? (unsigned)lines : RELAY_LOCATIONS_MAX;
    c->locs = calloc(c->locs_cap, sizeof *c->locs);
    c->hash = calloc(RELAY_LOC_BUCKETS, sizeof *c->hash);
    if (c->locs == NULL || c->hash == NULL) {
        return bad(&ps, "out of memory");
    }
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        ps.line++;
        if (n > LINE_MAX_LEN) {
            return bad(&ps, "line longer than %d bytes", LINE_MAX_LEN);
        }
        if (memchr(text + at, 0, n)) {
            return bad(&ps, "a NUL byte in the line");
        }
        if (conftok_split(&tk, text + at, n, TOK_MAX) != 0) {
            return bad(&ps, "unterminated quote or more than %d words", TOK_MAX);
        }
        if (tk.n > 0 && directive(c, &ps, &tk, dir, &seen) != 0) {
            return -1;
        }
        at += n + 1;
    }
    ps.line = 0;
    static const char *const need[] = { "listen", "socks", "cert", "key", "client-ca", "spool" };
    for (unsigned i = 0; i < 6; i++) {
        if (!(seen & (1u << i))) {
            return bad(&ps, "no '%s' directive", need[i]);
        }
    }
    if (c->nlocs == 0) {
        return bad(&ps, "no 'location' directive: no gateway could connect");
    }
    for (unsigned i = 0; c->lmtp && i < c->nlocs; i++) {
        if (c->locs[i].mailbox[0] == 0) {
            return bad(&ps, "location %s has no mailbox: spool lmtp delivers each location's "
                       "mail to its own (location %s token-sha256 HEX mailbox ADDRESS)",
                       c->locs[i].id, c->locs[i].id);
        }
    }
    if (issuers_locations_known(c, &ps) != 0) {
        return -1;
    }
    sort_revoked(c);
    return 0;
}

/* see relay.h */
int relay_config_reserve(struct relay_config *c)
{
    if (c->locs_cap == RELAY_LOCATIONS_MAX) {
        return 0;
    }
    /* Large and zeroed: the allocator maps it, and only slots in use are touched. */
    struct location *big = calloc(RELAY_LOCATIONS_MAX, sizeof *big);
    if (big == NULL) {
        return -1;
    }
    memcpy(big, c->locs, (size_t)c->nlocs * sizeof *big);
    free(c->locs);
    c->locs = big;
    c->locs_cap = RELAY_LOCATIONS_MAX;
    memset(c->hash, 0, RELAY_LOC_BUCKETS * sizeof *c->hash);
    for (unsigned i = 0; i < c->nlocs; i++) {
        relay_location_index(c, &c->locs[i]);
    }
    return 0;
}

/* see relay.h */
void relay_config_free(struct relay_config *c)
{
    free(c->locs);
    c->locs = NULL;
    free(c->hash);
    c->hash = NULL;
    c->nlocs = 0;
    free(c->revoked);
    c->revoked = NULL;
    c->nrevoked = c->revoked_cap = 0;
    free(c->issuers);
    c->issuers = NULL;
    c->nissuers = 0;
}

/* Each jwt-issuer's key file (a PEM public key or certificate), and the issuer's id. */
static int load_issuer_keys(struct relay_config *c, const char *conf, char *err,
                            size_t errlen)
{
    static uint8_t pem[JWS_PEM_MAX + 1];
    for (unsigned i = 0; i < c->nissuers; i++) {
        struct jwt_issuer *is = &c->issuers[i];
        char why[160];
        FILE *f = fopen(is->path, "rb");
        if (f == NULL) {
            snprintf(err, errlen, "%s:%u: jwt-issuer %s: key %s: cannot open: %s", conf,
                     is->line, is->iss, is->path, strerror(errno));
            return -1;
        }
        size_t len = fread(pem, 1, sizeof pem, f);
        fclose(f);
        if (len > JWS_PEM_MAX) {
            snprintf(err, errlen, "%s:%u: jwt-issuer %s: key %s: larger than %d bytes", conf,
                     is->line, is->iss, is->path, JWS_PEM_MAX);
            return -1;
        }
        if (jws_key_load(&is->key, pem, len, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%u: jwt-issuer %s: key %s: %s", conf, is->line, is->iss,
                     is->path, why);
            return -1;
        }
        /* What a session authenticated by this line remembers: a reload that changes the
         * key, the kid, the claim or aud for this iss closes the sessions (reload.c); its
         * locations are checked again by themselves (socks_recheck), so adding one closes
         * nothing. */
        br_sha256_context h;
        br_sha256_init(&h);
        br_sha256_update(&h, is->iss, strlen(is->iss) + 1);
        br_sha256_update(&h, is->kid, strlen(is->kid) + 1);
        br_sha256_update(&h, is->claim, strlen(is->claim) + 1);
        br_sha256_update(&h, is->aud, strlen(is->aud) + 1);
        br_sha256_update(&h, is->key.id, sizeof is->key.id);
        br_sha256_out(&h, is->id);
    }
    return 0;
}

/* see relay.h */
int relay_config_load(struct relay_config *c, const char *path, char *err, size_t errlen)
{
    char dir[RELAY_PATH_MAX];
    static char text[1u << 20];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t len = fread(text, 1, sizeof text, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, sizeof text);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
    } else {
        dir[0] = 0;
    }
    if (relay_config_parse(c, text, len, dir, path, err, errlen) != 0) {
        return -1;
    }
    struct stat st;
    if (!c->lmtp && (stat(c->spool, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(err, errlen, "%s: spool %s: not a directory", path, c->spool);
        return -1;
    }
    if (c->revoked_file[0]) {
        if (load_revoked_file(c, err, errlen) != 0) {
            return -1;
        }
        sort_revoked(c);
    }
    return load_issuer_keys(c, path, err, errlen);
}

static int slurp(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    size_t cap = 65536;
    *out = malloc(cap);
    *len = fread(*out, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    return more ? -1 : 0;
}

/* see relay.h */
int relay_identity_load(const struct relay_config *c, struct tls_server_identity *id,
                        char *err, size_t errlen)
{
    uint8_t *chain = NULL, *key = NULL, *ca = NULL;
    size_t chain_len = 0, key_len = 0, ca_len = 0;
    int ret = -1;
    const char *which = slurp(c->cert, &chain, &chain_len) ? c->cert
                        : slurp(c->key, &key, &key_len) ? c->key
                        : slurp(c->client_ca, &ca, &ca_len) ? c->client_ca : NULL;
    if (which) {
        snprintf(err, errlen, "%s: cannot read (or larger than 64 KiB): %s", which,
                 strerror(errno));
        goto done;
    }
    char why[200];
    if (tls_server_identity_load(id, chain, chain_len, key, key_len, ca, ca_len, why,
                                 sizeof why) != 0) {
        /* "key: reason" -> "/etc/relay/key.pem: reason": name the file. */
        const char *file = strncmp(why, "key:", 4) == 0 ? c->key
                           : strncmp(why, "client-ca:", 10) == 0 ? c->client_ca : c->cert;
        const char *colon = strchr(why, ':');
        snprintf(err, errlen, "%s:%s", file, colon ? colon + 1 : why);
        goto done;
    }
    ret = 0;
done:
    if (key) {
        memset(key, 0, key_len);
        __asm__ __volatile__("" : : "r"(key) : "memory");
    }
    free(chain);
    free(key);
    free(ca);
    return ret;
}
