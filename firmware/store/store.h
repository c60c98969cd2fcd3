/* The record store: a power-loss-safe, log-structured key/value store on NOR flash.
 *
 * Records are (key, value bytes); a key is 32 bits, by convention STORE_KEY(type, id).
 * Writes happen in transactions: store_begin(), any number of store_put()/store_del(),
 * store_commit(). After a power cut at any moment, the next mount sees exactly the state of
 * the last committed transaction or of the one that was being committed: never a mix.
 *
 * On flash (docs/flash-format.md) the blocks form a ring; the log runs through it, records
 * may cross block boundaries, each record carries its transaction number and CRC-32s, and a
 * commit record ends each transaction. Garbage collection copies the live records of the
 * oldest block to the head and then releases that block; it runs inside store_begin() when
 * the free space would drop under the spare (one block's payload twice, plus the largest
 * record, plus a commit per block), so every block is erased in turn: wear is even by
 * construction. Mount replays the log from the oldest live block, drops uncommitted records
 * (an interrupted transaction or garbage collection), and reports each damaged record or
 * block once with log_warnx, naming block and offset; it never loops: every step advances.
 *
 * RAM: sizeof(struct store) (664 bytes on x86_64: the two STORE_BUF staging buffers and
 * counters) plus the caller's index of 12 bytes per key (STORE_INDEX_ENTRY_SIZE), e.g.
 * 256 keys = 3 KiB. Nothing is allocated; no call uses more than about 512 bytes of stack
 * (a block header padded to the program unit is built on it). store_format() keeps its
 * scratch struct store in static memory. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "flash.h"

enum store_err {
    STORE_OK = 0,
    STORE_EIO = -1,       /* the flash failed (or power went): remount before going on */
    STORE_ECORRUPT = -2,  /* the record is damaged on flash */
    STORE_ENOENT = -3,    /* no such key */
    STORE_ENOSPC = -4,    /* not enough room for this transaction */
    STORE_ENOMEM = -5,    /* more keys than the caller's index holds */
    STORE_EINVAL = -6,    /* bad argument, or a call out of order */
    STORE_ENOFS = -7,     /* no store on this flash (or one of another geometry): format */
    STORE_ERANGE = -8,    /* the value is larger than the caller's buffer */
};

/* Limits. A value is at most STORE_VALUE_MAX bytes (a 4 KiB PEM chain and then some); it is
 * part of the format (longer lengths read as damage) and of the spare, which must hold the
 * largest record: raising it costs that much flash, not RAM. */
#define STORE_VALUE_MAX 8192
/* Staging for programs (a multiple of every supported program unit) and for reads: two
 * buffers of this size live in struct store. Program units up to this size are supported. */
#define STORE_BUF 256
#define STORE_INDEX_ENTRY_SIZE 12
/* A store needs at least this many blocks (a ring of two cannot collect garbage). */
#define STORE_MIN_BLOCKS 3

#define STORE_KEY(type, id) (((uint32_t)(type) << 16) | ((uint32_t)(id) & 0xffffu))
#define STORE_KEY_TYPE(key) ((uint16_t)((key) >> 16))
#define STORE_KEY_ID(key) ((uint16_t)(key))

/* One key of the index (caller-owned array; kept sorted by key). */
struct store_entry {
    uint32_t key;
    uint32_t addr;   /* flash address of the committed record, or a STORE_ADDR_ marker */
    uint32_t pend;   /* the version an open transaction (or the mount replay) holds */
};

struct store {
    struct flash *flash;
    struct store_entry *index;
    uint32_t index_cap, nkeys;
    /* geometry */
    uint32_t nblocks, bsize, unit, hsize, payload;
    /* the log: blocks tail_seq..head_seq are live; head_pos is where the next byte goes, in
     * log positions (seq * payload + offset) */
    uint32_t tail_seq, head_seq;
    uint64_t head_pos;
    uint64_t tail_first;    /* where the first record starting in the tail block is */
    int dirty;              /* an interrupted write follows valid_end: resume in a new block */
    uint64_t valid_end;
    uint32_t next_txn;
    uint32_t max_erase;     /* highest erase count seen in a block header */
    /* the open transaction */
    int in_txn;
    uint32_t txn, txn_nrec;
    uint64_t txn_limit;     /* head_pos may not pass this before the commit record */
    int broken;             /* sticky flash error: every call returns it until remount */
    /* counters for store_stat() */
    uint32_t live_bytes;    /* bytes of flash the live records occupy */
    uint32_t log_records;   /* records (all kinds) in the live blocks */
    uint32_t corrupt;       /* damaged records or blocks found since mount */
    uint32_t interrupted;   /* torn writes at the end of the log, discarded at mount (what a
                               power cut during a commit leaves: nothing committed is lost) */
    uint32_t gc_runs;
    /* staging */
    uint32_t pfill;
    uint8_t pbuf[STORE_BUF];
    uint8_t rbuf[STORE_BUF];
};

/* Erase f and write an empty store on it. Block erase counts found in old headers carry on.
 * Returns STORE_OK, STORE_EINVAL for a geometry the store cannot use, or STORE_EIO. */
int store_format(struct flash *f);

/* Mount the store on f with a caller-owned index of index_cap entries. Reads the whole log;
 * writes nothing. Returns STORE_OK, STORE_ENOFS (nothing mountable: format it), STORE_ENOMEM
 * (more keys than index_cap), STORE_EIO. Damage is logged and skipped, not an error. */
int store_mount(struct store *s, struct flash *f, struct store_entry *index,
                uint32_t index_cap);

/* Read the value of key into buf (cap bytes); *len gets its length (also with STORE_ERANGE,
 * so the caller can size a buffer). Returns STORE_OK, STORE_ENOENT, STORE_ERANGE,
 * STORE_ECORRUPT (reported once), STORE_EIO. */
int store_get(struct store *s, uint32_t key, void *buf, size_t cap, size_t *len);
/* The smallest key >= from that holds a value: STORE_OK with *key, or STORE_ENOENT. */
int store_seek(const struct store *s, uint32_t from, uint32_t *key);

/* Flash bytes a record with a value of len bytes takes (header, value, padding). */
size_t store_record_size(const struct store *s, size_t len);

/* Open a transaction of at most nrec puts and deletes whose values total value_bytes.
 * Makes the room first (garbage collection). STORE_ENOSPC when even a full collection would
 * not make it: the store is unchanged. */
int store_begin(struct store *s, uint32_t nrec, size_t value_bytes);
int store_put(struct store *s, uint32_t key, const void *val, size_t len);
/* STORE_ENOENT (and nothing written) when the key has no value. */
int store_del(struct store *s, uint32_t key);
/* Make the transaction durable: when it returns STORE_OK a power cut can no longer undo it. */
int store_commit(struct store *s);
/* Drop the open transaction (what it wrote stays on flash as garbage, never replayed). */
void store_abort(struct store *s);

struct store_stat {
    struct flash_geometry geo;
    uint32_t blocks, payload;      /* block count and the log bytes each holds */
    uint32_t head_seq, tail_seq;   /* live blocks: tail_seq .. head_seq */
    uint32_t live_records, live_bytes;
    uint32_t dead_records;         /* superseded, deleted, uncommitted, commit markers */
    uint32_t free_bytes, spare_bytes;
    uint32_t corrupt, gc_runs;
    uint32_t interrupted;          /* torn tail discarded at mount: not damage */
    uint32_t next_txn;
};
void store_stat(const struct store *s, struct store_stat *st);

/* Erase count and sequence of physical block b from its header; STORE_ENOENT when the
 * header is not valid (erased, or being reused). */
int store_block_info(struct store *s, uint32_t b, uint32_t *erase_count, uint32_t *seq);

/* Look for a store header in the first len bytes of an image (p may be the first block or
 * more): on success fills geo with the geometry the store was formatted for. Parser:
 * reads nothing past len. Returns STORE_OK or STORE_ENOFS. */
int store_probe(const uint8_t *p, size_t len, struct flash_geometry *geo);

const char *store_strerror(int err);

#endif
