/* see store.h; the on-flash layout is docs/flash-format.md. The mount (replaying the log)
 * is store_mount.c.
 *
 * Positions in the log are 64-bit "log positions": block sequence number * payload + offset
 * in that block's payload. Block seq lives in physical block seq % nblocks (a strict ring),
 * so a position maps to a flash address without a table, and the byte after the last one of
 * a block's payload is the first of the next block's. */
#include <string.h>

#include "bytes.h"
#include "crc32.h"
#include "log.h"
#include "store_int.h"

static void bh_encode(uint8_t *p, const struct bhdr *h)
{
    put_le32(p, BH_MAGIC);
    p[4] = BH_VERSION;
    p[5] = h->flags;
    p[6] = p[7] = 0xff;
    put_le32(p + 8, h->seq);
    put_le32(p + 12, h->erase_count);
    put_le32(p + 16, h->tail);
    put_le32(p + 20, h->first);
    put_le32(p + 24, h->resume_seq);
    put_le32(p + 28, h->resume_off);
    put_le32(p + 32, h->block_size);
    put_le32(p + 36, h->block_count);
    put_le32(p + 40, h->prog_size);
    put_le32(p + 44, crc32_update(0, p, 44));
}

/* Parser: p holds BH_SIZE bytes. 1 when they are a header of this format. */
static int bh_decode(const uint8_t *p, struct bhdr *h)
{
    if (get_le32(p) != BH_MAGIC || p[4] != BH_VERSION || get_le32(p + 44) != crc32_update(0, p, 44)) {
        return 0;
    }
    h->flags = p[5];
    h->seq = get_le32(p + 8);
    h->erase_count = get_le32(p + 12);
    h->tail = get_le32(p + 16);
    h->first = get_le32(p + 20);
    h->resume_seq = get_le32(p + 24);
    h->resume_off = get_le32(p + 28);
    h->block_size = get_le32(p + 32);
    h->block_count = get_le32(p + 36);
    h->prog_size = get_le32(p + 40);
    return 1;
}

static void rh_encode(uint8_t *p, const struct rhdr *r)
{
    p[0] = r->kind;
    p[1] = p[2] = p[3] = 0xff;
    put_le32(p + 4, r->key);
    put_le32(p + 8, r->txn);
    put_le32(p + 12, r->len);
    put_le32(p + 16, r->dcrc);
    put_le32(p + 20, crc32_update(0, p, 20));
}

/* Parser: p holds RH_SIZE bytes. 1 for a well-formed record header. */
static int rh_decode(const uint8_t *p, struct rhdr *r)
{
    if (get_le32(p + 20) != crc32_update(0, p, 20)) {
        return 0;
    }
    r->kind = p[0];
    r->key = get_le32(p + 4);
    r->txn = get_le32(p + 8);
    r->len = get_le32(p + 12);
    r->dcrc = get_le32(p + 16);
    if (r->kind != REC_DATA && r->kind != REC_DEL && r->kind != REC_COMMIT) {
        return 0;
    }
    if (r->len > STORE_VALUE_MAX || (r->kind == REC_DEL && r->len != 0) ||
        (r->kind == REC_COMMIT && r->len != COMMIT_LEN)) {
        return 0;
    }
    return 1;
}


/* ---- geometry and addressing --------------------------------------------------------- */



static uint32_t commit_size(const struct store *s)
{
    return rec_size(s, COMMIT_LEN);
}

/* The spare kept free for garbage collection: one block's payload for the worst copy, one
 * for the block an interrupted write abandons, the largest record, a commit per block. */
static uint64_t spare_bytes(const struct store *s)
{
    return 2ull * s->payload + rec_size(s, STORE_VALUE_MAX) +
           (uint64_t)(s->nblocks + 2) * commit_size(s);
}




/* Free log bytes between the next write and the tail block. */
static uint64_t free_bytes(const struct store *s)
{
    uint64_t limit = ((uint64_t)s->tail_seq + s->nblocks) * s->payload;
    uint64_t next = s->dirty ? ((uint64_t)s->head_seq + 1) * s->payload : s->head_pos;
    return next < limit ? limit - next : 0;
}

/* Set up the geometry fields from f. STORE_EINVAL when the store cannot use it. */
int store_geometry_init(struct store *s, struct flash *f)
{
    const struct flash_geometry *g = &f->geo;
    if (!flash_geometry_valid(g) || g->prog_size > STORE_BUF) {
        return STORE_EINVAL;
    }
    s->flash = f;
    s->nblocks = g->size / g->block_size;
    s->bsize = g->block_size;
    s->unit = g->prog_size;
    s->hsize = align_up(BH_SIZE, s->unit);
    if (s->nblocks < STORE_MIN_BLOCKS || s->hsize + RH_SIZE + s->unit > s->bsize) {
        return STORE_EINVAL;
    }
    s->payload = s->bsize - s->hsize;
    return STORE_OK;
}

/* ---- flash access --------------------------------------------------------------------- */

/* A flash error breaks the store until remount (the power may be going): said once, with
 * which of the two it was, since an access the flash refused means a bug, not wear. */
static int fail(struct store *s, int ferr)
{
    if (!s->broken) {
        log_err("store: %s: no more writes until the next mount",
                ferr == FLASH_EINVAL ? "the flash refused an access (out of range, misaligned "
                                       "or against NOR rules)"
                                     : "the flash failed (or lost power)");
    }
    s->broken = STORE_EIO;
    return STORE_EIO;
}

/* Read len log bytes starting at flash address addr, following the ring across blocks. */
int store_log_read(struct store *s, uint32_t addr, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint32_t b = addr / s->bsize, off = addr % s->bsize;
        size_t k = s->bsize - off < len ? s->bsize - off : len;
        int err = flash_read(s->flash, addr, p, k);
        if (err) {
            return fail(s, err);
        }
        p += k;
        len -= k;
        addr = ((b + 1) % s->nblocks) * s->bsize + s->hsize;
    }
    return STORE_OK;
}

/* see store_int.h */
uint32_t store_addr_advance(const struct store *s, uint32_t addr, uint32_t n)
{
    uint32_t b = addr / s->bsize;
    uint64_t off = (uint64_t)(addr % s->bsize - s->hsize) + n;
    b = (uint32_t)((b + off / s->payload) % s->nblocks);
    return b * s->bsize + s->hsize + (uint32_t)(off % s->payload);
}

/* CRC-32 of len log bytes at addr, through rbuf. */
static int log_crc(struct store *s, uint32_t addr, uint32_t len, uint32_t *crc)
{
    uint32_t c = 0;
    while (len > 0) {
        uint32_t k = len < STORE_BUF ? len : STORE_BUF;
        int err = store_log_read(s, addr, s->rbuf, k);
        if (err) {
            return err;
        }
        c = crc32_update(c, s->rbuf, k);
        addr = store_addr_advance(s, addr, k);
        len -= k;
    }
    *crc = c;
    return STORE_OK;
}

/* Header of physical block b: 1 valid (for this geometry), 0 not, or an error. */
int store_bh_read(struct store *s, uint32_t b, struct bhdr *h)
{
    uint8_t raw[BH_SIZE];
    int err = flash_read(s->flash, b * s->bsize, raw, sizeof raw);
    if (err) {
        return fail(s, err);
    }
    return bh_decode(raw, h) && h->block_size == s->bsize && h->block_count == s->nblocks &&
           h->prog_size == s->unit && h->seq % s->nblocks == b;
}

/* Header of the block holding log block seq: 1 when it is that block, 0 when not. */
int store_bh_read_seq(struct store *s, uint32_t seq, struct bhdr *h)
{
    int v = store_bh_read(s, seq % s->nblocks, h);
    return v < 0 ? v : v && h->seq == seq;
}

/* ---- the index ------------------------------------------------------------------------ */

static uint32_t idx_lower(const struct store *s, uint32_t key)
{
    uint32_t lo = 0, hi = s->nkeys;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->index[mid].key < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* see store_int.h */
struct store_entry *store_idx_get(const struct store *s, uint32_t key)
{
    uint32_t i = idx_lower(s, key);
    return i < s->nkeys && s->index[i].key == key ? &s->index[i] : NULL;
}

/* The entry of key, added (no value yet) when missing; NULL when the index is full. */
struct store_entry *store_idx_add(struct store *s, uint32_t key)
{
    uint32_t i = idx_lower(s, key);
    if (i < s->nkeys && s->index[i].key == key) {
        return &s->index[i];
    }
    if (s->nkeys == s->index_cap) {
        return NULL;
    }
    memmove(&s->index[i + 1], &s->index[i], (s->nkeys - i) * sizeof s->index[0]);
    s->nkeys++;
    s->index[i] = (struct store_entry){ .key = key, .addr = ADDR_NONE, .pend = ADDR_NONE };
    return &s->index[i];
}

static int addr_is_record(uint32_t addr)
{
    return addr != ADDR_NONE && addr != ADDR_DELETED && addr != ADDR_CORRUPT;
}

/* Bytes the record at addr takes on flash (0 when unreadable). */
uint32_t store_size_at(struct store *s, uint32_t addr)
{
    uint8_t raw[RH_SIZE];
    struct rhdr r;
    if (!addr_is_record(addr) || store_log_read(s, addr, raw, sizeof raw) || !rh_decode(raw, &r)) {
        return 0;
    }
    return rec_size(s, r.len);
}

/* End a transaction in the index: commit makes the pending versions current, abort drops
 * them. With account, live_bytes follows (reads the headers involved). */
void store_idx_settle(struct store *s, int commit, int account)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->nkeys; i++) {
        struct store_entry e = s->index[i];
        if (e.pend != ADDR_NONE) {
            if (commit) {
                if (account) {
                    s->live_bytes += store_size_at(s, e.pend);
                    s->live_bytes -= store_size_at(s, e.addr);
                }
                e.addr = e.pend == ADDR_DELETED ? ADDR_NONE : e.pend;
            }
            e.pend = ADDR_NONE;
        }
        if (e.addr != ADDR_NONE) {
            s->index[w++] = e;
        }
    }
    s->nkeys = w;
}

/* ---- writing -------------------------------------------------------------------------- */

static uint32_t cur_rec_first(uint64_t block_start, uint64_t rec_start, uint64_t rec_end,
                              uint32_t payload)
{
    if (rec_start >= block_start) {
        return (uint32_t)(rec_start - block_start);
    }
    return rec_end - block_start < payload ? (uint32_t)(rec_end - block_start) : NONE32;
}

/* Erase the block for log block seq and write its header. */
static int open_block(struct store *s, uint32_t seq, uint32_t first, uint8_t flags,
                      uint64_t resume)
{
    uint32_t b = seq % s->nblocks;
    struct bhdr h;
    int v = store_bh_read(s, b, &h);
    if (v < 0) {
        return v;
    }
    uint32_t ec = v ? h.erase_count + 1 : s->max_erase + 1;
    int err = flash_erase(s->flash, b);
    if (err) {
        return fail(s, err);
    }
    h = (struct bhdr){
        .flags = flags, .seq = seq, .erase_count = ec, .tail = s->tail_seq, .first = first,
        .resume_seq = flags & BH_F_RESUME ? (uint32_t)pos_seq(s, resume) : NONE32,
        .resume_off = flags & BH_F_RESUME ? (uint32_t)(resume % s->payload) : NONE32,
        .block_size = s->bsize, .block_count = s->nblocks, .prog_size = s->unit,
    };
    uint8_t raw[STORE_BUF > BH_SIZE ? STORE_BUF : BH_SIZE];
    memset(raw, 0xff, sizeof raw);
    bh_encode(raw, &h);
    err = flash_program(s->flash, b * s->bsize, raw, s->hsize);
    if (err) {
        return fail(s, err);
    }
    s->head_seq = seq;
    if (ec > s->max_erase) {
        s->max_erase = ec;
    }
    return STORE_OK;
}

static int flush(struct store *s)
{
    if (s->pfill == 0) {
        return STORE_OK;
    }
    int err = flash_program(s->flash, pos_addr(s, s->head_pos), s->pbuf, s->pfill);
    if (err) {
        return fail(s, err);
    }
    s->head_pos += s->pfill;
    s->pfill = 0;
    return STORE_OK;
}

/* The record being written spans [rec_start, rec_end) of the log. */
struct wrec {
    uint64_t start, end;
};

/* Append n bytes of record w, opening blocks as the log reaches them. */
static int emit(struct store *s, const struct wrec *w, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        uint64_t pos = s->head_pos + s->pfill;
        if (pos_seq(s, pos) > s->head_seq) {
            uint64_t bstart = pos_seq(s, pos) * s->payload;
            int err = open_block(s, (uint32_t)pos_seq(s, pos),
                                 cur_rec_first(bstart, w->start, w->end, s->payload), 0, 0);
            if (err) {
                return err;
            }
        }
        uint32_t off = (uint32_t)(pos % s->payload);
        size_t room = STORE_BUF - s->pfill;
        if (room > s->payload - off) {
            room = s->payload - off;
        }
        size_t k = n < room ? n : room;
        memcpy(s->pbuf + s->pfill, p, k);
        s->pfill += (uint32_t)k;
        p += k;
        n -= k;
        if (s->pfill == STORE_BUF || off + k == s->payload) {
            int err = flush(s);
            if (err) {
                return err;
            }
        }
    }
    return STORE_OK;
}

static int rec_begin(struct store *s, struct wrec *w, const struct rhdr *r, uint32_t *addr)
{
    uint8_t raw[RH_SIZE];
    w->start = s->head_pos;
    w->end = w->start + rec_size(s, r->len);
    *addr = pos_addr(s, w->start);
    rh_encode(raw, r);
    return emit(s, w, raw, sizeof raw);
}

static int rec_end(struct store *s, const struct wrec *w)
{
    static const uint8_t pad[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    while (s->head_pos + s->pfill < w->end) {
        uint64_t left = w->end - (s->head_pos + s->pfill);
        int err = emit(s, w, pad, left < sizeof pad ? (size_t)left : sizeof pad);
        if (err) {
            return err;
        }
    }
    return flush(s);
}

/* Write one whole record from memory; *addr gets where it starts. */
static int write_record(struct store *s, const struct rhdr *r, const void *val, uint32_t *addr)
{
    struct wrec w;
    int err = rec_begin(s, &w, r, addr);
    if (!err && r->len > 0) {
        err = emit(s, &w, val, r->len);
    }
    if (!err) {
        err = rec_end(s, &w);
    }
    return err;
}

/* The commit record of txn; tail is the oldest live block once it is on flash. Blocks opened
 * while writing it still name the old tail: until the commit is durable, that one holds. */
static int write_commit(struct store *s, uint32_t txn, uint32_t nrec, uint32_t flags,
                        uint32_t tail)
{
    uint8_t v[COMMIT_LEN];
    uint32_t addr;
    put_le32(v, tail);
    put_le32(v + 4, nrec);
    put_le32(v + 8, flags);
    struct rhdr r = { .kind = REC_COMMIT, .key = 0, .txn = txn, .len = COMMIT_LEN,
                      .dcrc = crc32_update(0, v, sizeof v) };
    return write_record(s, &r, v, &addr);
}

/* After an interrupted write the bytes after valid_end are neither records nor erased:
 * the log goes on in a fresh block whose header says where the valid part ended, so later
 * mounts skip the leftovers silently. */
static int head_ready(struct store *s)
{
    if (!s->dirty) {
        return STORE_OK;
    }
    uint32_t seq = s->head_seq + 1;
    if (seq - s->tail_seq >= s->nblocks) {
        return STORE_ENOSPC;
    }
    int err = open_block(s, seq, 0, BH_F_RESUME, s->valid_end);
    if (err) {
        return err;
    }
    s->head_pos = (uint64_t)seq * s->payload;
    s->valid_end = s->head_pos;
    s->dirty = 0;
    return STORE_OK;
}

/* ---- reading the log ------------------------------------------------------------------ */

/* Examine the record at pos, which must end by log_end. With headers_only, the data of
 * records other than commits is taken on trust (mount's first pass). */
int store_rec_at(struct store *s, uint64_t pos, uint64_t log_end, struct rhdr *r,
                  enum rec_state *st, int headers_only)
{
    uint8_t raw[RH_SIZE];
    if (log_end - pos < RH_SIZE) {
        size_t n = (size_t)(log_end - pos);
        int err = store_log_read(s, pos_addr(s, pos), raw, n);
        if (err) {
            return err;
        }
        *st = all_ff(raw, n) ? REC_END : REC_BAD_HEADER;
        return STORE_OK;
    }
    int err = store_log_read(s, pos_addr(s, pos), raw, sizeof raw);
    if (err) {
        return err;
    }
    if (all_ff(raw, sizeof raw)) {
        *st = REC_END;
    } else if (!rh_decode(raw, r) || rec_size(s, r->len) > log_end - pos) {
        *st = REC_BAD_HEADER;
    } else if (headers_only && r->kind != REC_COMMIT) {
        *st = REC_OK;
    } else {
        uint32_t crc;
        err = log_crc(s, store_addr_advance(s, pos_addr(s, pos), RH_SIZE), r->len, &crc);
        if (err) {
            return err;
        }
        *st = crc == r->dcrc ? REC_OK : REC_BAD_DATA;
    }
    return STORE_OK;
}

/* ---- garbage collection --------------------------------------------------------------- */

/* Walk the records that start in the tail block. With copy 0, count the bytes the live
 * ones take (checking their data); with copy 1, append them to the head under txn. */
static int gc_walk(struct store *s, int copy, uint32_t txn, uint32_t *bytes, uint32_t *live,
                   uint32_t *seen, uint64_t *next_first)
{
    uint32_t t = s->tail_seq;
    uint64_t block_end = ((uint64_t)t + 1) * s->payload;
    uint64_t pos = s->tail_first;
    *bytes = *live = *seen = 0;
    *next_first = 0;
    while (pos < block_end) {
        uint8_t raw[RH_SIZE];
        struct rhdr r;
        uint32_t addr = pos_addr(s, pos);
        int err = store_log_read(s, addr, raw, sizeof raw);
        if (err) {
            return err;
        }
        if (!rh_decode(raw, &r) || pos + rec_size(s, r.len) > s->head_pos) {
            return STORE_OK;   /* damaged or abandoned: nothing more starts in this block */
        }
        (*seen)++;
        struct store_entry *e = r.kind == REC_DATA ? store_idx_get(s, r.key) : NULL;
        if (e != NULL && e->addr == addr) {
            uint32_t vaddr = store_addr_advance(s, addr, RH_SIZE);
            if (!copy) {
                uint32_t crc;
                err = log_crc(s, vaddr, r.len, &crc);
                if (err) {
                    return err;
                }
                if (crc != r.dcrc) {
                    log_warnx("store: flash 0x%x: key 0x%08x damaged: not collected", addr,
                              r.key);
                    e->addr = ADDR_CORRUPT;
                    s->corrupt++;
                } else {
                    *bytes += rec_size(s, r.len);
                    (*live)++;
                }
            } else {
                struct wrec w;
                uint32_t naddr;
                r.txn = txn;
                err = rec_begin(s, &w, &r, &naddr);
                for (uint32_t done = 0; !err && done < r.len;) {
                    uint32_t k = r.len - done < STORE_BUF ? r.len - done : STORE_BUF;
                    err = store_log_read(s, store_addr_advance(s, vaddr, done), s->rbuf, k);
                    if (!err) {
                        err = emit(s, &w, s->rbuf, k);
                    }
                    done += k;
                }
                if (!err) {
                    err = rec_end(s, &w);
                }
                if (err) {
                    return err;
                }
                e->pend = naddr;
                (*live)++;
            }
        }
        pos += rec_size(s, r.len);
    }
    *next_first = pos;
    return STORE_OK;
}

/* Where the first record after the tail block starts, from the headers that follow. */
static int first_after_tail(struct store *s, uint64_t *pos)
{
    for (uint64_t q = (uint64_t)s->tail_seq + 1; q <= s->head_seq; q++) {
        struct bhdr h;
        int v = store_bh_read_seq(s, (uint32_t)q, &h);
        if (v < 0) {
            return v;
        }
        if (v && h.first < s->payload) {
            *pos = q * s->payload + h.first;
            return STORE_OK;
        }
    }
    *pos = s->head_pos;
    return STORE_OK;
}

/* Collect the tail block: copy its live records to the head, then one commit record moves
 * the tail on. Until that commit is on flash the old block is the valid copy. */
static int gc_step(struct store *s)
{
    uint32_t bytes, live, seen;
    uint64_t next_first;
    if (s->tail_seq == s->head_seq) {
        return STORE_ENOSPC;
    }
    int err = gc_walk(s, 0, 0, &bytes, &live, &seen, &next_first);
    if (err) {
        return err;
    }
    if (free_bytes(s) < (uint64_t)bytes + commit_size(s)) {
        return STORE_ENOSPC;
    }
    uint32_t txn = s->next_txn++;
    err = gc_walk(s, 1, txn, &bytes, &live, &seen, &next_first);
    if (!err && next_first == 0) {
        err = first_after_tail(s, &next_first);
    }
    if (!err) {
        err = write_commit(s, txn, live, COMMIT_F_GC, s->tail_seq + 1);
    }
    if (!err) {
        s->tail_seq++;
    }
    store_idx_settle(s, err == STORE_OK, 0);
    if (err) {
        return err;
    }
    s->log_records = s->log_records - seen + live + 1;
    s->tail_first = next_first;
    s->gc_runs++;
    return STORE_OK;
}

/* ---- transactions --------------------------------------------------------------------- */

#define STORE_CHECK(cond) do { \
        if (!(cond)) { \
            log_err("%s: %s", __func__, #cond); \
            return STORE_EINVAL; \
        } \
    } while (0)

/* see store.h */
size_t store_record_size(const struct store *s, size_t len)
{
    return rec_size(s, (uint32_t)len);
}

/* see store.h */
int store_begin(struct store *s, uint32_t nrec, size_t value_bytes)
{
    if (s->broken) {
        return s->broken;
    }
    STORE_CHECK(!s->in_txn);
    STORE_CHECK(value_bytes <= (size_t)nrec * STORE_VALUE_MAX);
    uint64_t total = (uint64_t)s->nblocks * s->payload;
    uint64_t need = (uint64_t)nrec * (RH_SIZE + s->unit - 1) + value_bytes + commit_size(s);
    uint64_t spare = spare_bytes(s);
    /* Old and new versions coexist until the commit; after a full round of collection the
     * log holds the live data, a commit per block and at most one partial block. */
    if ((uint64_t)s->live_bytes + need + spare + (uint64_t)s->nblocks * commit_size(s) +
            s->payload > total) {
        return STORE_ENOSPC;
    }
    int err = head_ready(s);
    for (uint32_t i = 0; !err && free_bytes(s) < need + spare; i++) {
        err = i > 2 * s->nblocks ? STORE_ENOSPC : gc_step(s);
    }
    if (err) {
        return err;
    }
    s->in_txn = 1;
    s->txn = s->next_txn++;
    s->txn_nrec = 0;
    s->txn_limit = s->head_pos + need;
    return STORE_OK;
}

static int txn_write(struct store *s, const struct rhdr *r, const void *val, uint32_t *addr)
{
    if (s->head_pos + rec_size(s, r->len) + commit_size(s) > s->txn_limit) {
        log_err("store: transaction larger than store_begin() said");
        return STORE_EINVAL;
    }
    int err = write_record(s, r, val, addr);
    if (err) {
        return err;
    }
    s->txn_nrec++;
    s->log_records++;
    return STORE_OK;
}

/* see store.h */
int store_put(struct store *s, uint32_t key, const void *val, size_t len)
{
    if (s->broken) {
        return s->broken;
    }
    STORE_CHECK(s->in_txn);
    STORE_CHECK(len <= STORE_VALUE_MAX);
    struct store_entry *e = store_idx_add(s, key);
    if (e == NULL) {
        store_abort(s);
        return STORE_ENOMEM;
    }
    struct rhdr r = { .kind = REC_DATA, .key = key, .txn = s->txn, .len = (uint32_t)len,
                      .dcrc = crc32_update(0, val, len) };
    uint32_t addr;
    int err = txn_write(s, &r, val, &addr);
    if (err) {
        store_abort(s);
        return err;
    }
    e->pend = addr;
    return STORE_OK;
}

/* see store.h */
int store_del(struct store *s, uint32_t key)
{
    if (s->broken) {
        return s->broken;
    }
    STORE_CHECK(s->in_txn);
    struct store_entry *e = store_idx_get(s, key);
    uint32_t cur = e == NULL ? ADDR_NONE : e->pend != ADDR_NONE ? e->pend : e->addr;
    if (cur == ADDR_NONE || cur == ADDR_DELETED) {
        return STORE_ENOENT;
    }
    struct rhdr r = { .kind = REC_DEL, .key = key, .txn = s->txn, .len = 0, .dcrc = 0 };
    uint32_t addr;
    int err = txn_write(s, &r, NULL, &addr);
    if (err) {
        store_abort(s);
        return err;
    }
    e->pend = ADDR_DELETED;
    return STORE_OK;
}

/* see store.h */
int store_commit(struct store *s)
{
    if (s->broken) {
        return s->broken;
    }
    STORE_CHECK(s->in_txn);
    int err = write_commit(s, s->txn, s->txn_nrec, 0, s->tail_seq);
    s->in_txn = 0;
    if (err) {
        store_idx_settle(s, 0, 0);
        return err;
    }
    s->log_records++;
    store_idx_settle(s, 1, 1);
    return STORE_OK;
}

/* see store.h */
void store_abort(struct store *s)
{
    if (s->in_txn) {
        store_idx_settle(s, 0, 0);
        s->in_txn = 0;
    }
}

/* ---- reading -------------------------------------------------------------------------- */

/* see store.h */
int store_get(struct store *s, uint32_t key, void *buf, size_t cap, size_t *len)
{
    struct store_entry *e = store_idx_get(s, key);
    uint8_t raw[RH_SIZE];
    struct rhdr r;
    *len = 0;
    if (e == NULL || e->addr == ADDR_NONE) {
        return STORE_ENOENT;
    }
    if (e->addr == ADDR_CORRUPT) {
        return STORE_ECORRUPT;
    }
    if (store_log_read(s, e->addr, raw, sizeof raw)) {
        return STORE_EIO;
    }
    if (!rh_decode(raw, &r) || r.kind != REC_DATA || r.key != key) {
        goto corrupt;
    }
    *len = r.len;
    if (r.len > cap) {
        return STORE_ERANGE;
    }
    if (store_log_read(s, store_addr_advance(s, e->addr, RH_SIZE), buf, r.len)) {
        return STORE_EIO;
    }
    if (crc32_update(0, buf, r.len) != r.dcrc) {
        goto corrupt;
    }
    return STORE_OK;
corrupt:
    log_warnx("store: flash 0x%x: key 0x%08x damaged since mount", e->addr, key);
    s->corrupt++;
    e->addr = ADDR_CORRUPT;
    *len = 0;
    return STORE_ECORRUPT;
}

/* see store.h */
int store_seek(const struct store *s, uint32_t from, uint32_t *key)
{
    for (uint32_t i = idx_lower(s, from); i < s->nkeys; i++) {
        if (s->index[i].addr != ADDR_NONE) {
            *key = s->index[i].key;
            return STORE_OK;
        }
    }
    return STORE_ENOENT;
}

/* see store.h */
void store_stat(const struct store *s, struct store_stat *st)
{
    memset(st, 0, sizeof *st);
    st->geo = s->flash->geo;
    st->blocks = s->nblocks;
    st->payload = s->payload;
    st->head_seq = s->head_seq;
    st->tail_seq = s->tail_seq;
    for (uint32_t i = 0; i < s->nkeys; i++) {
        st->live_records += s->index[i].addr != ADDR_NONE;
    }
    st->live_bytes = s->live_bytes;
    st->dead_records = s->log_records > st->live_records ? s->log_records - st->live_records
                                                         : 0;
    st->free_bytes = (uint32_t)free_bytes(s);
    st->spare_bytes = (uint32_t)spare_bytes(s);
    st->corrupt = s->corrupt;
    st->interrupted = s->interrupted;
    st->gc_runs = s->gc_runs;
    st->next_txn = s->next_txn;
}

/* see store.h */
int store_block_info(struct store *s, uint32_t b, uint32_t *erase_count, uint32_t *seq)
{
    struct bhdr h;
    if (b >= s->nblocks) {
        return STORE_EINVAL;
    }
    int v = store_bh_read(s, b, &h);
    if (v <= 0) {
        return v < 0 ? v : STORE_ENOENT;
    }
    *erase_count = h.erase_count;
    *seq = h.seq;
    return STORE_OK;
}

/* ---- format and probe ----------------------------------------------------------------- */

/* see store.h */
int store_format(struct flash *f)
{
    static struct store s;   /* the buffers are too big for a small stack */
    memset(&s, 0, sizeof s);
    if (store_geometry_init(&s, f)) {
        return STORE_EINVAL;
    }
    if ((uint64_t)s.nblocks * s.payload < spare_bytes(&s) + 2ull * s.payload) {
        log_err("store: %u blocks of %u bytes leave no room beside the spare", s.nblocks,
                s.bsize);
        return STORE_EINVAL;
    }
    /* A new log starts in block 0 with a sequence above every old header, so the old ones
     * read as collected blocks; their erase counts carry on when the blocks are reused. */
    uint32_t seq = 0;
    for (uint32_t b = 0; b < s.nblocks; b++) {
        struct bhdr h;
        int v = store_bh_read(&s, b, &h);
        if (v < 0) {
            return v;
        }
        if (v && h.erase_count > s.max_erase) {
            s.max_erase = h.erase_count;
        }
        if (v && h.seq >= seq) {
            seq = (h.seq / s.nblocks + 1) * s.nblocks;
        }
    }
    s.tail_seq = seq;
    return open_block(&s, seq, 0, 0, 0);
}

static int probe_at(const uint8_t *p, size_t len, size_t off, struct flash_geometry *geo)
{
    struct bhdr h;
    if (off > len || len - off < BH_SIZE || !bh_decode(p + off, &h)) {
        return 0;
    }
    geo->block_size = h.block_size;
    geo->prog_size = h.prog_size;
    geo->size = h.block_size * h.block_count;
    return (off == 0 || off == h.block_size) && flash_geometry_valid(geo) &&
           geo->size / geo->block_size == h.block_count;
}

/* see store.h */
int store_probe(const uint8_t *p, size_t len, struct flash_geometry *geo)
{
    if (probe_at(p, len, 0, geo)) {
        return STORE_OK;
    }
    for (size_t bs = 512; bs < len; bs *= 2) {
        if (probe_at(p, len, bs, geo)) {
            return STORE_OK;
        }
    }
    return STORE_ENOFS;
}

/* see store.h */
const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_EIO: return "flash I/O error";
    case STORE_ECORRUPT: return "record damaged on flash";
    case STORE_ENOENT: return "no such record";
    case STORE_ENOSPC: return "store full";
    case STORE_ENOMEM: return "too many keys for the index";
    case STORE_EINVAL: return "invalid argument";
    case STORE_ENOFS: return "no store on this flash";
    case STORE_ERANGE: return "value larger than the buffer";
    default: return "unknown error";
    }
}
