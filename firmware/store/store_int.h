/* The flash record store's insides, shared by store.c (format, writing, garbage
 * collection, transactions, reading) and store_mount.c (the mount: replaying the log).
 * Private to the store; the on-flash layout is docs/flash-format.md. */
#ifndef GW_STORE_INT_H
#define GW_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- on-flash format ---- */

#define BH_MAGIC 0x42535747u   /* "GWSB" */
#define BH_VERSION 1
#define BH_SIZE 48             /* before padding to the program unit */
#define BH_F_RESUME 0x01       /* the log resumes here after an interrupted write */
#define NONE32 0xffffffffu

#define RH_SIZE 24
enum rec_kind { REC_DATA = 0x51, REC_DEL = 0x52, REC_COMMIT = 0x53 };
#define COMMIT_LEN 12
#define COMMIT_F_GC 0x01

/* Index markers in place of a flash address. */
#define ADDR_NONE 0xffffffffu
#define ADDR_DELETED 0xfffffffeu
#define ADDR_CORRUPT 0xfffffffdu

struct bhdr {
    uint8_t flags;
    uint32_t seq, erase_count, tail, first, resume_seq, resume_off;
    uint32_t block_size, block_count, prog_size;
};

struct rhdr {
    uint8_t kind;
    uint32_t key, txn, len, dcrc;
};

enum rec_state { REC_OK, REC_END, REC_BAD_HEADER, REC_BAD_DATA };

/* ---- geometry and addressing ---- */

static inline int all_ff(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0xff) {
            return 0;
        }
    }
    return 1;
}

static inline uint32_t align_up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) & ~(unit - 1);
}

static inline uint32_t rec_size(const struct store *s, uint32_t len)
{
    return align_up(RH_SIZE + len, s->unit);
}

static inline uint64_t pos_seq(const struct store *s, uint64_t pos)
{
    return pos / s->payload;
}

static inline uint32_t pos_addr(const struct store *s, uint64_t pos)
{
    uint32_t b = (uint32_t)(pos_seq(s, pos) % s->nblocks);
    return b * s->bsize + s->hsize + (uint32_t)(pos % s->payload);
}

static inline void pos_where(const struct store *s, uint64_t pos, uint32_t *block, uint32_t *off)
{
    uint32_t a = pos_addr(s, pos);
    *block = a / s->bsize;
    *off = a % s->bsize;
}

/* ---- store.c: flash access, the index, reading the log ---- */

/* Set up the geometry fields from f. STORE_EINVAL when the store cannot use it. */
int store_geometry_init(struct store *s, struct flash *f);
/* Read len log bytes starting at flash address addr, following the ring across blocks. */
int store_log_read(struct store *s, uint32_t addr, void *buf, size_t len);
/* The flash address n log bytes after addr. */
uint32_t store_addr_advance(const struct store *s, uint32_t addr, uint32_t n);
/* Header of physical block b: 1 valid (for this geometry), 0 not, or an error. */
int store_bh_read(struct store *s, uint32_t b, struct bhdr *h);
/* Header of the block holding log block seq: 1 when it is that block, 0 when not. */
int store_bh_read_seq(struct store *s, uint32_t seq, struct bhdr *h);
/* The entry of key, or NULL. */
struct store_entry *store_idx_get(const struct store *s, uint32_t key);
/* The entry of key, added (no value yet) when missing; NULL when the index is full. */
struct store_entry *store_idx_add(struct store *s, uint32_t key);
/* Bytes the record at addr takes on flash (0 when unreadable). */
uint32_t store_size_at(struct store *s, uint32_t addr);
/* End a transaction in the index: commit makes the pending versions current, abort drops
 * them; account counts live bytes. */
void store_idx_settle(struct store *s, int commit, int account);
/* Examine the record at pos, which must end by log_end (st says what is there). With
 * headers_only, the data of records other than commits is taken on trust. */
int store_rec_at(struct store *s, uint64_t pos, uint64_t log_end, struct rhdr *r,
                 enum rec_state *st, int headers_only);

#endif
