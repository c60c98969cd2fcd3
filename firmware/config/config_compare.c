/* see config.h: `compare`, the candidate against the running configuration as the lines of
 * `show config` that a commit would remove and add (Junos' `show | compare`). */
#include <stdio.h>
#include <string.h>

#include "config_int.h"
#include "hex.h"
#include "secure_wipe.h"

/* One section's text: a half of c->render (the largest section, the IMAP settings with
 * every name quoted and escaped, stays under 700 bytes). */
struct text {
    char *buf;
    size_t len, cap;
};

struct cmp {
    config_sink sink;
    void *arg;
    int lines;
};

static void text_sink(void *arg, const char *p, size_t len)
{
    struct text *t = arg;
    if (len > t->cap - t->len) {
        len = t->cap - t->len;   /* cannot happen (see above); a cut line still compares */
    }
    memcpy(t->buf + t->len, p, len);
    t->len += len;
}

static void emit(struct cmp *m, char sign, const char *line, size_t len)
{
    char pre[2] = { sign, ' ' };
    m->sink(m->arg, pre, 2);
    m->sink(m->arg, line, len);
    m->sink(m->arg, "\n", 1);
    m->lines++;
}

/* Is line[0..len) one of the lines of t? */
static int has_line(const struct text *t, const char *line, size_t len)
{
    size_t i = 0;
    while (i < t->len) {
        const char *nl = memchr(t->buf + i, '\n', t->len - i);
        size_t e = nl ? (size_t)(nl - t->buf) : t->len;
        if (e - i == len && memcmp(t->buf + i, line, len) == 0) {
            return 1;
        }
        i = e + 1;
    }
    return 0;
}

/* Every line of a that b lacks (all of them when force), with sign. */
static void lines_not_in(struct cmp *m, char sign, const struct text *a, const struct text *b,
                         int force)
{
    size_t i = 0;
    while (i < a->len) {
        const char *nl = memchr(a->buf + i, '\n', a->len - i);
        size_t e = nl ? (size_t)(nl - a->buf) : a->len;
        if (e > i && (force || !has_line(b, a->buf + i, e - i))) {
            emit(m, sign, a->buf + i, e - i);
        }
        i = e + 1;
    }
}

/* One section (type, id) of both configs; force: a secret in it changed behind its mask. */
static void section(struct config_ctx *c, struct cmp *m, enum config_type type, unsigned id,
                    int force)
{
    size_t half = sizeof c->render / 2;
    struct text a = { c->render, 0, half }, b = { c->render + half, 0, half };
    cfg_print_section(&c->running, type, id, 0, text_sink, &a);
    cfg_print_section(&c->candidate, type, id, 0, text_sink, &b);
    lines_not_in(m, '-', &a, &b, force);
    lines_not_in(m, '+', &b, &a, force);
}

/* A table (hosts, mappings): an entry is unchanged when the other side has its very line. */
static void table(struct config_ctx *c, struct cmp *m, enum config_type type, unsigned nrun,
                  unsigned ncand)
{
    size_t half = sizeof c->render / 2;
    struct text a = { c->render, 0, half }, b = { c->render + half, 0, half };
    for (int pass = 0; pass < 2; pass++) {
        const struct config *mine = pass ? &c->candidate : &c->running;
        const struct config *other = pass ? &c->running : &c->candidate;
        unsigned n = pass ? ncand : nrun, nother = pass ? nrun : ncand;
        for (unsigned i = 0; i < n; i++) {
            int found = 0;
            a.len = 0;
            cfg_print_section(mine, type, i, 0, text_sink, &a);
            for (unsigned j = 0; j < nother && !found; j++) {
                b.len = 0;
                cfg_print_section(other, type, j, 0, text_sink, &b);
                found = a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0;
            }
            if (!found && a.len > 0) {
                emit(m, pass ? '+' : '-', a.buf, a.len - 1);   /* without its newline */
            }
        }
    }
}

static int has_anchor(const struct config *cf, const struct config_trust *t)
{
    for (unsigned i = 0; i < cf->ntrust; i++) {
        if (cf->trust[i].relay == t->relay && memcmp(cf->trust[i].sha256, t->sha256, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The device key, chain and trust anchors: one comment line each, never their bytes. */
static void blobs(struct config_ctx *c, struct cmp *m)
{
    static const char key[] = "# tunnel key: present (secret, shown only by export)";
    const struct config *run = &c->running, *cand = &c->candidate;
    if (cand->key_new || run->has_key != cand->has_key) {
        if (run->has_key) {
            emit(m, '-', key, sizeof key - 1);
        }
        if (cand->has_key) {
            emit(m, '+', key, sizeof key - 1);
        }
    }
    if (cand->chain_new || run->has_chain != cand->has_chain) {
        char line[80];
        if (run->has_chain) {
            emit(m, '-', "# tunnel cert import: the stored chain", 38);
        }
        if (cand->has_chain) {
            int n = snprintf(line, sizeof line, "# tunnel cert import: a new chain (%u bytes of "
                             "PEM)", (unsigned)cand->chain_len);
            emit(m, '+', line, (size_t)n);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        const struct config *mine = pass ? cand : run, *other = pass ? run : cand;
        for (unsigned i = 0; i < mine->ntrust; i++) {
            char line[112];
            size_t n = (size_t)snprintf(line, sizeof line, "# trust %scertificate sha256 ",
                                        mine->trust[i].relay ? "relay " : "");
            if (has_anchor(other, &mine->trust[i])) {
                continue;
            }
            hex_encode(line + n, mine->trust[i].sha256, 32);
            emit(m, pass ? '+' : '-', line, n + 64);
        }
    }
}

/* see config.h */
int config_compare(struct config_ctx *c, config_sink sink, void *arg)
{
    static const enum config_type first[] = { CFG_T_SYSTEM, CFG_T_NET };
    const struct config *run = &c->running, *cand = &c->candidate;
    struct cmp m = { sink, arg, 0 };
    for (unsigned i = 0; i < sizeof first / sizeof first[0]; i++) {
        section(c, &m, first[i], 0, 0);
    }
    table(c, &m, CFG_T_HOST, run->nhosts, cand->nhosts);
    section(c, &m, CFG_T_TUNNEL, 0, 0);
    table(c, &m, CFG_T_MAPPING, run->nmappings, cand->nmappings);
    section(c, &m, CFG_T_IMAP, 0, 0);
    section(c, &m, CFG_T_IMAP, 1, strcmp(run->imap.password, cand->imap.password) != 0);
    section(c, &m, CFG_T_CONSOLE, 0, strcmp(run->console_hash, cand->console_hash) != 0);
    blobs(c, &m);
    secure_wipe(c->render, sizeof c->render);
    return m.lines;
}
