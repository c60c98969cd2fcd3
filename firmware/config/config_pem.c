/* see config_int.h: pasted PEM (trust anchors, device chain, device key) into the candidate's
 * arena, and blobs printed back as PEM. Base64 here is RFC 4648 with '=' padding. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>

#include <bearssl_hash.h>

#include "base64.h"
#include "config_int.h"
#include "secure_wipe.h"
#include "pem.h"

/* see config_int.h */
void cfg_sha256(const void *p, size_t len, uint8_t out[32])
{
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, p, len);
    br_sha256_out(&h, out);
}

/* Decode the PEM blocks in arena[start, end) in place. For each block whose label ends with
 * `suffix` ("PRIVATE KEY": the device key of an export, which tls/pem refuses by design),
 * fn gets its DER. Returns the blocks found, or -1
 * for bad base64 or an unterminated block. */
static int pem_decode(struct config_ctx *c, uint32_t start, uint32_t end, const char *suffix,
                      int (*fn)(struct config_ctx *c, uint32_t off, uint32_t len))
{
    uint8_t *a = c->arena;
    uint32_t r = start, w = start;
    int blocks = 0;
    while (r < end) {
        uint32_t eol = r;
        while (eol < end && a[eol] != '\n') {
            eol++;
        }
        const char *line = (const char *)a + r;
        size_t n = eol - r;
        r = eol + 1;
        if (n < 16 || memcmp(line, "-----BEGIN ", 11) != 0) {
            continue;
        }
        size_t sl = strlen(suffix);
        int wanted = n >= 11 + sl + 5 && memcmp(line + n - 5 - sl, suffix, sl) == 0;
        uint32_t out = w, acc = 0;
        int bits = 0, done = 0;
        while (r < end && !done) {
            eol = r;
            while (eol < end && a[eol] != '\n') {
                eol++;
            }
            if (eol - r >= 9 && memcmp(a + r, "-----END ", 9) == 0) {
                done = 1;
            } else {
                for (uint32_t i = r; i < eol; i++) {
                    int v = base64_value((char)a[i]);
                    if (a[i] == '=' || a[i] == '\r' || a[i] == ' ') {
                        continue;
                    }
                    if (v < 0) {
                        return -1;
                    }
                    acc = acc << 6 | (uint32_t)v;
                    bits += 6;
                    if (bits >= 8) {
                        bits -= 8;
                        a[out++] = (uint8_t)(acc >> bits);
                    }
                }
            }
            r = eol + 1;
        }
        if (!done) {
            return -1;
        }
        if (wanted) {
            int err = fn(c, w, out - w);
            if (err) {
                return err;
            }
            w = out;
            blocks++;
        }
    }
    c->arena_used = w;
    return blocks;
}

static int add_anchor(struct config_ctx *c, uint32_t off, uint32_t len, int relay)
{
    struct config *cf = &c->candidate;
    uint8_t fp[32];
    if (len == 0 || len > CONFIG_CERT_MAX) {
        snprintf(c->error, sizeof c->error, "line %u: a certificate of %u bytes (at most %d)",
                 c->line, len, CONFIG_CERT_MAX);
        return CONFIG_ESYNTAX;
    }
    cfg_sha256(c->arena + off, len, fp);
    for (unsigned i = 0; i < cf->ntrust; i++) {
        if (cf->trust[i].relay == relay && memcmp(cf->trust[i].sha256, fp, 32) == 0) {
            return CONFIG_OK;   /* already trusted: importing it again changes nothing */
        }
    }
    if (cf->ntrust == CONFIG_TRUST_MAX) {
        snprintf(c->error, sizeof c->error, "line %u: trust store full (%d)", c->line,
                 CONFIG_TRUST_MAX);
        return CONFIG_EFULL;
    }
    struct config_trust *t = &cf->trust[cf->ntrust++];
    memset(t, 0, sizeof *t);
    t->id = 0xffff;
    t->relay = (uint8_t)relay;
    memcpy(t->sha256, fp, 32);
    t->arena_off = off;
    t->len = len;
    return CONFIG_OK;
}

/* 1 when blob key on flash holds exactly p[0..len): importing it again is no change. */
static int same_as_stored(struct config_ctx *c, uint32_t key, const uint8_t *p, size_t len)
{
    size_t have;
    int same = c->store != NULL &&
               store_get(c->store, key, c->scratch, sizeof c->scratch, &have) == STORE_OK &&
               have == len && memcmp(c->scratch, p, len) == 0;
    secure_wipe(c->scratch, sizeof c->scratch);   /* it may have been the device key */
    return same;
}

static int set_key(struct config_ctx *c, uint32_t off, uint32_t len)
{
    if (c->candidate.key_new) {
        return CONFIG_OK;   /* the first key block counts */
    }
    if (c->candidate.has_key && same_as_stored(c, STORE_KEY(CFG_T_DEVKEY, 0), c->arena + off,
                                               len)) {
        return CONFIG_OK;
    }
    if (len == 0 || len > CONFIG_KEY_MAX) {
        snprintf(c->error, sizeof c->error, "line %u: a key of %u bytes (at most %d)", c->line,
                 len, CONFIG_KEY_MAX);
        return CONFIG_ESYNTAX;
    }
    c->candidate.key_off = off;
    c->candidate.key_len = len;
    c->candidate.key_new = c->candidate.has_key = 1;
    return CONFIG_OK;
}

/* Pasted certificates (trust import): decoded by tls/pem in place, DER over the text
 * (the DER of a block is always shorter than, and behind, the text still to be read).
 * A private key pasted by mistake, a truncated block or garbage refuses the whole paste. */
static int trust_pem_done(struct config_ctx *c, uint32_t start, uint32_t end, int relay)
{
    static struct pem_decoder d;
    static struct pem_cert certs[CONFIG_TRUST_MAX];
    unsigned before = c->candidate.ntrust;
    int n = pem_decode_certs(&d, c->arena + start, end - start, c->arena + start, end - start,
                             certs, CONFIG_TRUST_MAX);
    int err = n;
    for (int i = 0; i < n && err >= 0; i++) {
        err = add_anchor(c, (uint32_t)(certs[i].der - c->arena), (uint32_t)certs[i].len, relay);
    }
    if (n < 0) {
        char why[PEM_MSG_MAX];
        snprintf(c->error, sizeof c->error, "line %u: %s", c->line,
                 pem_describe(&d, why, sizeof why));
        err = CONFIG_ESYNTAX;
    }
    if (err < 0) {
        c->candidate.ntrust = before;
        c->arena_used = start;
        return err;
    }
    c->arena_used = n > 0 ? (size_t)(certs[n - 1].der + certs[n - 1].len - c->arena) : start;
    return CONFIG_OK;
}

/* The device chain stays PEM text on flash; it must decode to certificates. */
static int chain_pem_valid(struct config_ctx *c, uint32_t start, uint32_t end)
{
    static struct pem_decoder d;
    struct pem_cert certs[8];
    int n = pem_decode_certs(&d, c->arena + start, end - start, c->scratch, sizeof c->scratch,
                             certs, 8);
    if (n < 0) {
        char why[PEM_MSG_MAX];
        snprintf(c->error, sizeof c->error, "line %u: %s", c->line,
                 pem_describe(&d, why, sizeof why));
        return CONFIG_ESYNTAX;
    }
    return CONFIG_OK;
}

static int pem_decode_done(struct config_ctx *c)
{
    enum config_input in = c->input;
    uint32_t start = c->pem_start, end = (uint32_t)c->arena_used;
    int n;
    c->input = CFG_IN_COMMAND;
    if (in == CFG_IN_TRUST_PEM || in == CFG_IN_RELAY_TRUST_PEM) {
        return trust_pem_done(c, start, end, in == CFG_IN_RELAY_TRUST_PEM);
    }
    if (in == CFG_IN_CHAIN_PEM) {
        if (end - start > CONFIG_CHAIN_MAX) {
            c->arena_used = start;
            snprintf(c->error, sizeof c->error, "line %u: expected a PEM certificate chain of "
                     "at most %d bytes", c->line, CONFIG_CHAIN_MAX);
            return CONFIG_ESYNTAX;
        }
        if (chain_pem_valid(c, start, end) != CONFIG_OK) {
            c->arena_used = start;
            return CONFIG_ESYNTAX;
        }
        if (c->candidate.has_chain && !c->candidate.chain_new &&
            same_as_stored(c, STORE_KEY(CFG_T_CHAIN, 0), c->arena + start, end - start)) {
            c->arena_used = start;
            return CONFIG_OK;
        }
        c->candidate.chain_off = start;
        c->candidate.chain_len = end - start;
        c->candidate.chain_new = c->candidate.has_chain = 1;
        return CONFIG_OK;
    }
    unsigned before = c->candidate.ntrust;
    /* a later `tunnel key import` replaces an earlier one; a failed one changes nothing */
    struct { int has, is_new; uint32_t off, len; } saved_key = {
        c->candidate.has_key, c->candidate.key_new, c->candidate.key_off, c->candidate.key_len
    };
    if (in == CFG_IN_KEY_PEM) {
        c->candidate.key_new = 0;
    }
    n = pem_decode(c, start, end, "PRIVATE KEY", set_key);
    if (in == CFG_IN_KEY_PEM && n > 0 && !c->candidate.key_new) {
        c->candidate.key_new = saved_key.is_new;   /* the same key as on flash: unchanged */
        c->candidate.key_off = saved_key.off;
        c->candidate.key_len = saved_key.len;
    }
    if (n <= 0) {
        if (in == CFG_IN_KEY_PEM) {
            c->candidate.has_key = saved_key.has;
            c->candidate.key_new = saved_key.is_new;
            c->candidate.key_off = saved_key.off;
            c->candidate.key_len = saved_key.len;
        }
        c->arena_used = start;
        c->candidate.ntrust = before;
        if (n == 0 || n == -1) {
            snprintf(c->error, sizeof c->error, "line %u: expected a PEM private key",
                     c->line);
            return CONFIG_ESYNTAX;
        }
        return n;
    }
    return CONFIG_OK;
}

/* The end of a paste: what the arena no longer holds (the text a block was decoded from,
 * a refused paste) is wiped at once, since it may have been a private key. */
static int pem_done(struct config_ctx *c)
{
    size_t end = c->arena_used;
    int err = pem_decode_done(c);
    if (end > c->arena_used) {
        secure_wipe(c->arena + c->arena_used, end - c->arena_used);
    }
    return err;
}

/* see config_int.h */
int cfg_pem_line(struct config_ctx *c, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ')) {
        len--;
    }
    if (len == 0) {
        return pem_done(c);
    }
    if (c->arena_cap - c->arena_used < len + 1) {
        secure_wipe(c->arena + c->pem_start, c->arena_used - c->pem_start);
        c->arena_used = c->pem_start;
        c->input = CFG_IN_COMMAND;
        snprintf(c->error, sizeof c->error, "line %u: pasted text larger than the %zu-byte "
                 "import buffer", c->line, c->arena_cap);
        return CONFIG_EFULL;
    }
    memcpy(c->arena + c->arena_used, p, len);
    c->arena[c->arena_used + len] = '\n';
    c->arena_used += len + 1;
    return CONFIG_OK;
}

/* ---- printing blobs ------------------------------------------------------------------- */

static void put_pem(config_sink sink, void *arg, const char *label, const uint8_t *der,
                    size_t len)
{
    char line[80];
    int n = snprintf(line, sizeof line, "-----BEGIN %s-----\n", label);
    sink(arg, line, (size_t)n);
    for (size_t i = 0; i < len; i += 48) {               /* 64 characters a line */
        size_t k = base64_encode(line, der + i, len - i < 48 ? len - i : 48, BASE64_STD);
        line[k++] = '\n';
        sink(arg, line, k);
    }
    n = snprintf(line, sizeof line, "-----END %s-----\n", label);
    sink(arg, line, (size_t)n);
}

/* A blob of the configuration: new ones from the arena, the others from flash (scratch). */
static const uint8_t *blob(struct config_ctx *c, int is_new, uint32_t off, uint32_t key,
                           size_t *len)
{
    if (is_new) {
        return c->arena + off;
    }
    if (c->store == NULL || store_get(c->store, key, c->scratch, sizeof c->scratch, len)) {
        return NULL;
    }
    return c->scratch;
}

/* see config_int.h */
int cfg_print_blobs(struct config_ctx *c, const struct config *cf, unsigned flags,
                    config_sink sink, void *arg)
{
    size_t len;
    const uint8_t *p;
    int ret = CONFIG_OK;
    if (cf->has_key) {
        if (!(flags & CONFIG_PRINT_SECRETS)) {
            const char *s = "# tunnel key: present (secret, shown only by export)\n";
            sink(arg, s, strlen(s));
        } else if ((p = blob(c, cf->key_new, cf->key_off, STORE_KEY(CFG_T_DEVKEY, 0), &len))) {
            len = cf->key_new ? cf->key_len : len;
            sink(arg, "tunnel key import\n", 18);
            put_pem(sink, arg, "PRIVATE KEY", p, len);
            sink(arg, "\n", 1);
        } else {
            ret = CONFIG_ESTORE;
        }
    }
    if (cf->has_chain) {
        if ((p = blob(c, cf->chain_new, cf->chain_off, STORE_KEY(CFG_T_CHAIN, 0), &len))) {
            len = cf->chain_new ? cf->chain_len : len;
            sink(arg, "tunnel cert import\n", 19);
            sink(arg, (const char *)p, len);
            sink(arg, "\n", 1);
        } else {
            ret = CONFIG_ESTORE;
        }
    }
    for (int relay = 0; relay < 2; relay++) {   /* the server anchors, then the relay's */
        unsigned shown = 0;
        for (unsigned i = 0; i < cf->ntrust; i++) {
            const struct config_trust *t = &cf->trust[i];
            if (t->relay != relay) {
                continue;
            }
            if (shown++ == 0) {
                const char *head = relay ? "trust import relay\n" : "trust import\n";
                sink(arg, head, strlen(head));
            }
            p = blob(c, t->len != 0, t->arena_off, config_trust_key(t), &len);
            if (p == NULL) {
                ret = CONFIG_ESTORE;
                continue;
            }
            put_pem(sink, arg, "CERTIFICATE", p, t->len ? t->len : len);
        }
        if (shown) {
            sink(arg, "\n", 1);
        }
    }
    secure_wipe(c->scratch, sizeof c->scratch);   /* the device key of an export */
    return ret;
}
