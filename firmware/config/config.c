/* see config.h: the configuration on the record store — load with schema migration, and the
 * candidate committed as one store transaction. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bytes.h"
#include "config_int.h"
#include "log.h"
#include "secure_wipe.h"

/* ---- schema migration ----------------------------------------------------------------- */

/* Hook from schema version v to v+1, run on the loaded candidate before it becomes the
 * running config; the next commit writes the result and the new version. Version 0 is a
 * store without a schema record (the first builds): its records already read as version 1. */
typedef int (*config_migrate_fn)(struct config_ctx *c);

static int migrate_0_to_1(struct config_ctx *c)
{
    (void)c;
    return CONFIG_OK;
}

/* Schema 2 gives the tunnel anchors of its own. An older flash has one trust store for
 * relays and internal servers alike: it keeps working that way (`set tunnel trust shared`)
 * until the operator imports the relay's CA with `trust import relay` and separates them. */
static int migrate_1_to_2(struct config_ctx *c)
{
    if (c->candidate.ntrust > 0) {
        c->candidate.tunnel.trust_shared = 1;
        log_warnx("config: the trust store also vouches for relays (set tunnel trust shared, "
                  "kept from older firmware): see show trust");
    }
    return CONFIG_OK;
}

static const config_migrate_fn migrations[CONFIG_SCHEMA_VERSION] = { migrate_0_to_1,
                                                                      migrate_1_to_2 };

/* ---- set-up --------------------------------------------------------------------------- */

/* see config.h */
void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->net.dhcp = 1;
    cfg->imap.security = IMAP_SEC_STARTTLS;
    cfg->imap.after = IMAP_AFTER_SEEN;
    cfg->imap.poll = CONFIG_IMAP_POLL_DEFAULT;
    cfg->imap.batch = CONFIG_IMAP_BATCH_MAX;
    cfg->console_timeout = CONFIG_CONSOLE_TIMEOUT_DEFAULT;
}

/* see config.h */
void config_init(struct config_ctx *c, struct store *s, uint8_t *arena, size_t arena_cap)
{
    memset(c, 0, sizeof *c);
    c->store = s;
    c->arena = arena;
    c->arena_cap = arena_cap;
    config_defaults(&c->running);
    config_defaults(&c->candidate);
}

/* see config.h */
int config_changed(const struct config_ctx *c)
{
    return memcmp(&c->running, &c->candidate, sizeof c->running) != 0;
}

/* The candidate's new blobs are gone (committed to flash, or dropped): the arena may have
 * held a device key, and scratch and render records read back or written (passwords). */
static void wipe_buffers(struct config_ctx *c)
{
    secure_wipe(c->arena, c->arena_cap);
    secure_wipe(c->scratch, sizeof c->scratch);
    secure_wipe(c->render, sizeof c->render);
}

/* see config.h */
void config_discard(struct config_ctx *c)
{
    c->candidate = c->running;
    c->arena_used = 0;
    c->input = CFG_IN_COMMAND;
    wipe_buffers(c);
}

/* see config.h */
void config_discard_paste(struct config_ctx *c)
{
    if (c->input != CFG_IN_COMMAND) {
        secure_wipe(c->arena + c->pem_start, c->arena_used - c->pem_start);
        c->arena_used = c->pem_start;
        c->input = CFG_IN_COMMAND;
    }
}

/* ---- load ----------------------------------------------------------------------------- */

/* Run the stored lines of one text record into the candidate. */
static int load_text(struct config_ctx *c, uint32_t key, const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && p[e] != '\n') {
            e++;
        }
        int err = config_exec(c, (const char *)p + i, e - i);
        if (err != CONFIG_OK) {
            log_warnx("config: record %u.%u: %s: skipped", STORE_KEY_TYPE(key),
                      STORE_KEY_ID(key), c->error);
            c->input = CFG_IN_COMMAND;
            return err;
        }
        i = e + 1;
    }
    return CONFIG_OK;
}

static void load_record(struct config_ctx *c, uint32_t key, const uint8_t *v, size_t len)
{
    struct config *cf = &c->candidate;
    unsigned id = STORE_KEY_ID(key);
    switch ((enum config_type)STORE_KEY_TYPE(key)) {
    case CFG_T_SYSTEM:
    case CFG_T_NET:
    case CFG_T_HOST:
    case CFG_T_TUNNEL:
    case CFG_T_MAPPING:
        (void)load_text(c, key, v, len);
        break;
    case CFG_T_IMAP:
        if (id == 0) {
            (void)load_text(c, key, v, len);
        } else if (len < CONFIG_SECRET_MAX) {
            memset(cf->imap.password, 0, sizeof cf->imap.password);
            memcpy(cf->imap.password, v, len);
        }
        break;
    case CFG_T_CONSOLE:
        if (len < CONFIG_SECRET_MAX) {
            memset(cf->console_hash, 0, sizeof cf->console_hash);
            memcpy(cf->console_hash, v, len);
        }
        break;
    case CFG_T_TRUST:
    case CFG_T_RELAY_TRUST:
        if (cf->ntrust < CONFIG_TRUST_MAX) {
            struct config_trust *t = &cf->trust[cf->ntrust++];
            memset(t, 0, sizeof *t);
            t->id = (uint16_t)id;
            t->relay = STORE_KEY_TYPE(key) == CFG_T_RELAY_TRUST;
            cfg_sha256(v, len, t->sha256);
        }
        break;
    case CFG_T_DEVKEY:
        cf->has_key = 1;
        break;
    case CFG_T_CHAIN:
        cf->has_chain = 1;
        break;
    case CFG_T_TIME:
        if (len == 8) {
            c->lkg_time = (int64_t)((uint64_t)get_le32(v) | (uint64_t)get_le32(v + 4) << 32);
        }
        break;
    case CFG_T_SCHEMA:
        if (len == 4) {
            c->schema_loaded = get_le32(v);
        }
        break;
    default:
        log_warnx("config: record %u.%u: unknown type: kept, not used", STORE_KEY_TYPE(key),
                  id);
        break;
    }
}

/* see config.h */
int config_load(struct config_ctx *c)
{
    unsigned records = 0;
    config_defaults(&c->candidate);
    c->arena_used = 0;
    c->input = CFG_IN_COMMAND;
    c->schema_loaded = 0;
    for (uint32_t k = 0; store_seek(c->store, k, &k) == STORE_OK; k++) {
        size_t len;
        int err = store_get(c->store, k, c->scratch, sizeof c->scratch, &len);
        if (err == STORE_OK) {
            c->line = 0;
            load_record(c, k, c->scratch, len);
            records++;
        } else {
            log_warnx("config: record %u.%u: %s: skipped", STORE_KEY_TYPE(k), STORE_KEY_ID(k),
                      store_strerror(err));
        }
        if (k == UINT32_MAX) {
            break;
        }
    }
    uint32_t v = records == 0 ? CONFIG_SCHEMA_VERSION : c->schema_loaded;
    if (v > CONFIG_SCHEMA_VERSION) {
        snprintf(c->error, sizeof c->error, "config: schema %u is newer than this firmware's "
                 "%d", v, CONFIG_SCHEMA_VERSION);
        return CONFIG_ESTORE;
    }
    for (; v < CONFIG_SCHEMA_VERSION; v++) {
        int err = migrations[v](c);
        if (err) {
            snprintf(c->error, sizeof c->error, "config: migration from schema %u failed", v);
            return err;
        }
        log_info("config: schema %u migrated to %u (written at the next commit)", v, v + 1);
    }
    if (records == 0) {
        c->schema_loaded = 0;   /* an empty store: the first commit writes the version */
    }
    c->running = c->candidate;
    c->line = 0;
    secure_wipe(c->scratch, sizeof c->scratch);   /* the last record read: maybe a password */
    return CONFIG_OK;
}

/* ---- commit --------------------------------------------------------------------------- */

struct render {
    char *buf;
    size_t len, cap;
    int overflow;
};

static void render_sink(void *arg, const char *p, size_t len)
{
    struct render *r = arg;
    if (r->cap - r->len < len) {
        r->overflow = 1;
        return;
    }
    memcpy(r->buf + r->len, p, len);
    r->len += len;
}

/* One pass over the records a commit may touch: with write 0 count the changes, with 1
 * make them in the open store transaction. */
struct walk {
    int write;
    uint32_t nrec;
    size_t bytes;
};

/* Put key := v unless flash already holds exactly that; v NULL (or len 0) deletes. */
static int sync_record(struct config_ctx *c, struct walk *w, uint32_t key, const void *v,
                       size_t len)
{
    size_t have;
    int err = store_get(c->store, key, c->scratch, sizeof c->scratch, &have);
    if (err != STORE_OK && err != STORE_ENOENT && err != STORE_ECORRUPT &&
        err != STORE_ERANGE) {
        return err;
    }
    int exists = err != STORE_ENOENT;
    if (len == 0) {
        if (!exists) {
            return STORE_OK;
        }
        w->nrec++;
        return w->write ? store_del(c->store, key) : STORE_OK;
    }
    if (err == STORE_OK && have == len && memcmp(c->scratch, v, len) == 0) {
        return STORE_OK;
    }
    w->nrec++;
    w->bytes += len;
    return w->write ? store_put(c->store, key, v, len) : STORE_OK;
}

static int sync_section(struct config_ctx *c, struct walk *w, enum config_type type,
                        unsigned id)
{
    struct render r = { c->render, 0, sizeof c->render, 0 };
    cfg_print_section(&c->candidate, type, id, CONFIG_PRINT_SECRETS, render_sink, &r);
    if (r.overflow) {
        return STORE_EINVAL;
    }
    return sync_record(c, w, STORE_KEY(type, id), r.buf, r.len);
}

static int trust_id_used(const struct config_ctx *c, uint16_t id)
{
    for (unsigned i = 0; i < c->candidate.ntrust; i++) {
        if (c->candidate.trust[i].id == id) {
            return 1;
        }
    }
    for (unsigned i = 0; i < c->running.ntrust; i++) {
        if (c->running.trust[i].id == id) {
            return 1;
        }
    }
    return 0;
}

static int sync_trust(struct config_ctx *c, struct walk *w)
{
    struct config *cf = &c->candidate;
    for (unsigned i = 0; i < c->running.ntrust; i++) {   /* removed anchors */
        uint32_t key = config_trust_key(&c->running.trust[i]);
        unsigned j = 0;
        while (j < cf->ntrust && config_trust_key(&cf->trust[j]) != key) {
            j++;
        }
        if (j == cf->ntrust) {
            int err = sync_record(c, w, key, NULL, 0);
            if (err) {
                return err;
            }
        }
    }
    uint16_t next = 0;
    for (unsigned i = 0; i < cf->ntrust; i++) {          /* new anchors */
        struct config_trust *t = &cf->trust[i];
        if (t->len == 0) {
            continue;
        }
        if (t->id == 0xffff) {
            while (trust_id_used(c, next)) {
                next++;
            }
            t->id = next;
        }
        w->nrec++;
        w->bytes += t->len;
        if (w->write) {
            int err = store_put(c->store, config_trust_key(t), c->arena + t->arena_off, t->len);
            if (err) {
                return err;
            }
        }
    }
    return STORE_OK;
}

static int sync_blob(struct config_ctx *c, struct walk *w, uint32_t key, int has, int is_new,
                     uint32_t off, uint32_t len, int had)
{
    if (is_new) {
        w->nrec++;
        w->bytes += len;
        return w->write ? store_put(c->store, key, c->arena + off, len) : STORE_OK;
    }
    if (!has && had) {
        return sync_record(c, w, key, NULL, 0);
    }
    return STORE_OK;
}

static int commit_walk(struct config_ctx *c, struct walk *w)
{
    static const enum config_type singles[] = { CFG_T_SYSTEM, CFG_T_NET, CFG_T_TUNNEL };
    struct config *cf = &c->candidate;
    int err = STORE_OK;
    for (unsigned i = 0; !err && i < sizeof singles / sizeof singles[0]; i++) {
        err = sync_section(c, w, singles[i], 0);
    }
    for (unsigned i = 0; !err && i < CONFIG_HOSTS_MAX; i++) {
        err = i < cf->nhosts ? sync_section(c, w, CFG_T_HOST, i)
                             : sync_record(c, w, STORE_KEY(CFG_T_HOST, i), NULL, 0);
    }
    for (unsigned i = 0; !err && i < CONFIG_MAPPINGS_MAX; i++) {
        err = i < cf->nmappings ? sync_section(c, w, CFG_T_MAPPING, i)
                                : sync_record(c, w, STORE_KEY(CFG_T_MAPPING, i), NULL, 0);
    }
    if (!err) {
        err = sync_section(c, w, CFG_T_IMAP, 0);
    }
    if (!err) {
        err = sync_record(c, w, STORE_KEY(CFG_T_IMAP, 1), cf->imap.password,
                          strlen(cf->imap.password));
    }
    if (!err) {
        err = sync_record(c, w, STORE_KEY(CFG_T_CONSOLE, 0), cf->console_hash,
                          strlen(cf->console_hash));
    }
    if (!err) {
        err = sync_trust(c, w);
    }
    if (!err) {
        err = sync_blob(c, w, STORE_KEY(CFG_T_DEVKEY, 0), cf->has_key, cf->key_new,
                        cf->key_off, cf->key_len, c->running.has_key);
    }
    if (!err) {
        err = sync_blob(c, w, STORE_KEY(CFG_T_CHAIN, 0), cf->has_chain, cf->chain_new,
                        cf->chain_off, cf->chain_len, c->running.has_chain);
    }
    if (!err && c->schema_loaded != CONFIG_SCHEMA_VERSION) {
        uint8_t v[4] = { CONFIG_SCHEMA_VERSION, 0, 0, 0 };
        w->nrec++;
        w->bytes += 4;
        err = w->write ? store_put(c->store, STORE_KEY(CFG_T_SCHEMA, 0), v, 4) : STORE_OK;
    }
    return err;
}

/* see config.h */
/* Settings that are each fine but wrong together: the IMAP receiver reaches its server
 * only through a mapping, and sends its password in clear only where that mapping does
 * the TLS. CONFIG_OK, or CONFIG_ESYNTAX with c->error saying why. */
static int check_together(struct config_ctx *c)
{
    static const char *const sec[] = { "starttls", "tls", "off" };
    const struct config *cf = &c->candidate;
    const struct config_hostport *srv = &cf->imap.server;
    const struct config_mapping *m = NULL;
    if (!cf->imap.enabled || !srv->host[0]) {
        return CONFIG_OK;
    }
    for (unsigned i = 0; i < cf->nmappings && m == NULL; i++) {
        if (cf->mappings[i].virt.port == srv->port &&
            strcasecmp(cf->mappings[i].virt.host, srv->host) == 0) {
            m = &cf->mappings[i];
        }
    }
    if (m == NULL) {
        snprintf(c->error, sizeof c->error, "commit: imap server %.60s:%u is no mapping "
                 "(mapping add it first): nothing changed", srv->host, srv->port);
        return CONFIG_ESYNTAX;
    }
    if (cf->imap.security == IMAP_SEC_OFF && !m->tls) {
        snprintf(c->error, sizeof c->error, "commit: imap security off needs a tls mapping, "
                 "%.60s:%u is tcp (password in clear): nothing changed", srv->host, srv->port);
        return CONFIG_ESYNTAX;
    }
    if (cf->imap.security != IMAP_SEC_OFF && m->tls) {
        snprintf(c->error, sizeof c->error, "commit: imap security %s needs a tcp mapping, "
                 "%.60s:%u is tls (TLS twice: use off): nothing changed",
                 sec[cf->imap.security], srv->host, srv->port);
        return CONFIG_ESYNTAX;
    }
    return CONFIG_OK;
}

static int commit(struct config_ctx *c)
{
    struct walk w = { 0 };
    if (c->input != CFG_IN_COMMAND) {
        snprintf(c->error, sizeof c->error, "commit: pasted text not finished (blank line)");
        return CONFIG_ESYNTAX;
    }
    int bad = check_together(c);
    if (bad) {
        return bad;
    }
    int err = commit_walk(c, &w);
    if (!err && w.nrec == 0) {
        c->running = c->candidate;
        return CONFIG_OK;
    }
    if (!err) {
        err = store_begin(c->store, w.nrec, w.bytes);
    }
    if (!err) {
        w = (struct walk){ .write = 1 };
        err = commit_walk(c, &w);
        if (!err) {
            err = store_commit(c->store);
        } else {
            store_abort(c->store);
        }
    }
    if (err) {
        snprintf(c->error, sizeof c->error, "commit: %s: nothing changed",
                 store_strerror(err));
        return CONFIG_ESTORE;
    }
    /* The new blobs are on flash now: the running config refers to them there. */
    for (unsigned i = 0; i < c->candidate.ntrust; i++) {
        c->candidate.trust[i].len = 0;
        c->candidate.trust[i].arena_off = 0;
    }
    c->candidate.key_new = c->candidate.chain_new = 0;
    c->candidate.key_off = c->candidate.key_len = 0;
    c->candidate.chain_off = c->candidate.chain_len = 0;
    c->arena_used = 0;
    c->schema_loaded = CONFIG_SCHEMA_VERSION;
    c->running = c->candidate;
    return CONFIG_OK;
}

/* see config.h */
int config_commit(struct config_ctx *c)
{
    int err = commit(c);
    if (err == CONFIG_OK) {
        c->arena_used = 0;
        wipe_buffers(c);   /* the new blobs are on flash */
    } else {
        /* the candidate keeps its blobs for another try; records read back go */
        secure_wipe(c->scratch, sizeof c->scratch);
        secure_wipe(c->render, sizeof c->render);
    }
    return err;
}

/* see config.h */
int config_exec_text(struct config_ctx *c, const char *p, size_t len)
{
    size_t i = 0;
    while (i <= len) {
        size_t e = i;
        while (e < len && p[e] != '\n') {
            e++;
        }
        if (e == len && i == len) {
            break;
        }
        int err = config_exec(c, p + i, e - i);
        if (err == CONFIG_DO_COMMIT) {
            err = config_commit(c);
        } else if (err == CONFIG_DO_DISCARD) {
            config_discard(c);
            err = CONFIG_OK;
        }
        if (err) {
            return err;
        }
        i = e + 1;
    }
    if (c->input != CFG_IN_COMMAND) {   /* the text ended inside pasted PEM */
        return config_exec(c, "", 0);
    }
    return CONFIG_OK;
}
