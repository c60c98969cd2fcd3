/* see config.h: the device key and chain as bytes, for the commands that make or check
 * them (`tunnel key generate`, `tunnel csr`, `tunnel cert import`, mutual TLS). */
#include <string.h>

#include "config_int.h"
#include "secure_wipe.h"

/* see config.h */
int config_set_key(struct config_ctx *c, const uint8_t *p, size_t len)
{
    if (len == 0 || len > CONFIG_KEY_MAX) {
        return CONFIG_ESYNTAX;
    }
    if (c->input != CFG_IN_COMMAND || c->arena_cap - c->arena_used < len) {
        return CONFIG_EFULL;
    }
    memcpy(c->arena + c->arena_used, p, len);
    c->candidate.key_off = (uint32_t)c->arena_used;
    c->candidate.key_len = (uint32_t)len;
    c->candidate.key_new = c->candidate.has_key = 1;
    c->arena_used += len;
    return CONFIG_OK;
}

static int get_blob(struct config_ctx *c, int has, int is_new, uint32_t off, uint32_t blen,
                    uint32_t key, uint8_t *out, size_t cap, size_t *len)
{
    if (!has) {
        return CONFIG_ENOENT;
    }
    if (is_new) {
        if (blen > cap) {
            return CONFIG_EFULL;
        }
        memcpy(out, c->arena + off, blen);
        *len = blen;
        return CONFIG_OK;
    }
    if (c->store == NULL || store_get(c->store, key, out, cap, len) != STORE_OK) {
        return CONFIG_ESTORE;
    }
    return CONFIG_OK;
}

/* see config.h */
int config_get_key(struct config_ctx *c, const struct config *cf, uint8_t *out, size_t cap,
                   size_t *len)
{
    return get_blob(c, cf->has_key, cf->key_new, cf->key_off, cf->key_len,
                    STORE_KEY(CFG_T_DEVKEY, 0), out, cap, len);
}

/* see config.h */
int config_get_chain(struct config_ctx *c, const struct config *cf, uint8_t *out, size_t cap,
                     size_t *len)
{
    return get_blob(c, cf->has_chain, cf->chain_new, cf->chain_off, cf->chain_len,
                    STORE_KEY(CFG_T_CHAIN, 0), out, cap, len);
}

/* see config.h */
void config_chain_save(const struct config_ctx *c, struct config_chain_mark *m)
{
    m->has = c->candidate.has_chain;
    m->is_new = c->candidate.chain_new;
    m->off = c->candidate.chain_off;
    m->len = c->candidate.chain_len;
}

/* see config.h */
void config_chain_restore(struct config_ctx *c, const struct config_chain_mark *m)
{
    struct config *cf = &c->candidate;
    if (cf->chain_new && !(m->is_new && m->off == cf->chain_off) &&
        cf->chain_off + cf->chain_len == c->arena_used) {
        secure_wipe(c->arena + cf->chain_off, cf->chain_len);
        c->arena_used = cf->chain_off;   /* the refused paste was the arena's last blob */
    }
    cf->has_chain = m->has;
    cf->chain_new = m->is_new;
    cf->chain_off = m->off;
    cf->chain_len = m->len;
}
