/* A scripted configuration workload for the store suites: the keys a gateway keeps (system,
 * network, hosts, tunnel, device key and a 4 KiB+ PEM chain, mappings, IMAP with password,
 * 30 trust anchors of DER size, console password hash, last-known-good time), changed by
 * commits of varied size. A model of the expected state follows the commits; values are
 * regenerated from (key, version, length), so the model holds no value bytes. */
#ifndef GW_STORE_WORKLOAD_H
#define GW_STORE_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_emu.h"

enum { T_SYS = 1, T_NET, T_HOST, T_TUNNEL, T_DEVKEY, T_CHAIN, T_MAP, T_IMAP, T_TRUST,
       T_CONSOLE, T_TIME, T_SCHEMA };

#define WL_MODEL_MAX 256
#define WL_OPS_MAX 40
#define WL_TRUST 30

struct wl_val {
    uint32_t key, ver, len;
};

struct wl_model {
    unsigned n;
    struct wl_val v[WL_MODEL_MAX];
};

struct wl_op {
    int del;
    struct wl_val v;
};

struct wl_commit {
    unsigned n;
    struct wl_op op[WL_OPS_MAX];
};

static inline void wl_value(const struct wl_val *v, uint8_t *out)
{
    uint64_t r = ((uint64_t)v->key << 32 | v->ver) * 0x9e3779b97f4a7c15ull + v->len + 1;
    rng_fill(&r, out, v->len);
}

static inline struct wl_val *wl_find(struct wl_model *m, uint32_t key)
{
    for (unsigned i = 0; i < m->n; i++) {
        if (m->v[i].key == key) {
            return &m->v[i];
        }
    }
    return NULL;
}

static inline void wl_apply(struct wl_model *m, const struct wl_commit *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        struct wl_val *v = wl_find(m, c->op[i].v.key);
        if (c->op[i].del) {
            if (v != NULL) {
                *v = m->v[--m->n];
            }
        } else if (v != NULL) {
            *v = c->op[i].v;
        } else if (m->n < WL_MODEL_MAX) {
            m->v[m->n++] = c->op[i].v;
        }
    }
}

static inline void wl_put(struct wl_commit *c, uint32_t key, uint32_t len, uint32_t ver)
{
    if (c->n < WL_OPS_MAX) {
        c->op[c->n++] = (struct wl_op){ .del = 0, .v = { key, ver, len } };
    }
}

static inline void wl_del(struct wl_commit *c, const struct wl_model *m, uint32_t key)
{
    for (unsigned i = 0; i < m->n; i++) {
        if (m->v[i].key == key && c->n < WL_OPS_MAX) {
            c->op[c->n++] = (struct wl_op){ .del = 1, .v = { key, 0, 0 } };
            return;
        }
    }
}

/* Commit number cn of the workload, given the state before it. */
static inline void wl_make(unsigned cn, const struct wl_model *m, struct wl_commit *c)
{
    uint64_t r = cn * 7919ull + 17;
    uint32_t ver = cn + 1;
    c->n = 0;
    rng_next(&r);
    if (cn == 0) {
        wl_put(c, STORE_KEY(T_SCHEMA, 0), 4, ver);
        wl_put(c, STORE_KEY(T_SYS, 0), 12, ver);                   /* hostname */
        wl_put(c, STORE_KEY(T_NET, 0), 40, ver);                   /* address, gw, dns, ntp */
        wl_put(c, STORE_KEY(T_TUNNEL, 0), 90, ver);                /* relays */
        wl_put(c, STORE_KEY(T_TUNNEL, 1), 24, ver);                /* location */
        wl_put(c, STORE_KEY(T_IMAP, 0), 120, ver);                 /* server, user, folder */
        wl_put(c, STORE_KEY(T_IMAP, 1), 32, ver);                  /* password */
        wl_put(c, STORE_KEY(T_CONSOLE, 0), 64, ver);               /* password hash */
        return;
    }
    if (cn == 1) {
        wl_put(c, STORE_KEY(T_DEVKEY, 0), 121, ver);               /* P-256 key, DER */
        wl_put(c, STORE_KEY(T_CHAIN, 0), 4200, ver);               /* PEM chain */
        return;
    }
    if (cn == 2 || cn % 97 == 50) {                                /* the whole trust store */
        for (uint32_t i = 0; i < WL_TRUST; i++) {
            wl_put(c, STORE_KEY(T_TRUST, i), 900 + (uint32_t)(rng_next(&r) % 1100), ver);
        }
        return;
    }
    if (cn % 23 == 11) {                                           /* a renewed chain */
        wl_put(c, STORE_KEY(T_CHAIN, 0), 3900 + (uint32_t)(rng_next(&r) % 700), ver);
        wl_put(c, STORE_KEY(T_TIME, 0), 8, ver);
        return;
    }
    unsigned nops = 1 + (unsigned)(rng_next(&r) % 5);
    for (unsigned i = 0; i < nops; i++) {
        uint32_t id = (uint32_t)(rng_next(&r) % 16);
        switch (rng_next(&r) % 8) {
        case 0: wl_put(c, STORE_KEY(T_SYS, 0), 4 + (uint32_t)(rng_next(&r) % 60), ver); break;
        case 1: wl_put(c, STORE_KEY(T_HOST, id), 20 + (uint32_t)(rng_next(&r) % 40), ver); break;
        case 2: wl_del(c, m, STORE_KEY(T_HOST, id)); break;
        case 3: wl_put(c, STORE_KEY(T_MAP, id), 30 + (uint32_t)(rng_next(&r) % 90), ver); break;
        case 4: wl_del(c, m, STORE_KEY(T_MAP, id)); break;
        case 5: wl_put(c, STORE_KEY(T_TIME, 0), 8, ver); break;
        case 6: wl_put(c, STORE_KEY(T_TRUST, id % WL_TRUST),
                       800 + (uint32_t)(rng_next(&r) % 1300), ver); break;
        default: wl_put(c, STORE_KEY(T_IMAP, 1), 8 + (uint32_t)(rng_next(&r) % 56), ver); break;
        }
    }
}

/* Run one commit; deletes of keys already gone (a commit replayed after recovery) skip. */
static inline int wl_run(struct store *s, const struct wl_commit *c)
{
    static uint8_t val[STORE_VALUE_MAX];
    size_t bytes = 0;
    for (unsigned i = 0; i < c->n; i++) {
        bytes += c->op[i].v.len;
    }
    int err = store_begin(s, c->n, bytes);
    for (unsigned i = 0; !err && i < c->n; i++) {
        if (c->op[i].del) {
            err = store_del(s, c->op[i].v.key);
            if (err == STORE_ENOENT) {
                err = STORE_OK;
            }
        } else {
            wl_value(&c->op[i].v, val);
            err = store_put(s, c->op[i].v.key, val, c->op[i].v.len);
        }
    }
    return err ? err : store_commit(s);
}

/* 1 when the store holds exactly the model: the same keys, each with its value. */
static inline int wl_equal(struct store *s, const struct wl_model *m)
{
    static uint8_t got[STORE_VALUE_MAX], want[STORE_VALUE_MAX];
    unsigned keys = 0;
    for (uint32_t k = 0; store_seek(s, k, &k) == STORE_OK; k++) {
        keys++;
        if (k == UINT32_MAX) {
            break;
        }
    }
    int verbose = getenv("GW_TEST_VERBOSE") != NULL;
    if (keys != m->n) {
        if (verbose) {
            fprintf(stderr, "wl_equal: %u keys, model %u\n", keys, m->n);
        }
        return 0;
    }
    for (unsigned i = 0; i < m->n; i++) {
        size_t len;
        int err = store_get(s, m->v[i].key, got, sizeof got, &len);
        if (err != STORE_OK || len != m->v[i].len) {
            if (verbose) {
                fprintf(stderr, "wl_equal: key %08x: err %d len %zu model %u\n",
                        m->v[i].key, err, len, m->v[i].len);
            }
            return 0;
        }
        wl_value(&m->v[i], want);
        if (memcmp(got, want, len) != 0) {
            return 0;
        }
    }
    return 1;
}

#endif
