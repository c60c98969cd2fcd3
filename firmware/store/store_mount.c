/* The store's mount (see store.h): two passes over the log, from the oldest live block to
 * the head. The first reads record headers only, for the tail and the transaction
 * numbers; the second replays each committed transaction into the index, checks every
 * record's CRC, and reports damage once per region. A torn write at the very end (a power
 * cut during a commit) is discarded: nothing committed is lost. Nothing is written. */
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "store_int.h"

/* ---- mount: replaying the log --------------------------------------------------------- */

struct scan {
    uint32_t from, head;
    int quiet;                /* the first pass: only the tail and transaction numbers */
    uint64_t report_from;     /* damage before this position is in collected blocks */
    uint32_t cur_txn;         /* whose records are pending in the index (0: none) */
    uint32_t tail, max_txn, records;
    int bad;                  /* an unreported damaged region starts at bad_pos */
    uint64_t bad_pos;
    uint64_t checked;         /* the last block whose header was checked, plus one */
    uint64_t tail_first;      /* the first record position in or after block `tail` */
    int have_first;
};

/* Damage is counted in corrupt; a torn write at the very end of the log (what a power cut
 * during a commit leaves, discarded with nothing committed lost) in interrupted. */
static void report_as(struct store *s, struct scan *sc, uint64_t pos, const char *what,
                      uint32_t *counter)
{
    uint32_t b, off;
    if (sc->quiet || pos < sc->report_from) {
        return;
    }
    pos_where(s, pos, &b, &off);
    (*counter)++;
    log_warnx("store: flash 0x%x (block %u offset %u): %s", (unsigned)(b * s->bsize + off), b,
              off, what);
}

static void report(struct store *s, struct scan *sc, uint64_t pos, const char *what)
{
    report_as(s, sc, pos, what, &s->corrupt);
}

/* Read the header of log block seq; a bad one is reported (once per scan). */
static int check_block(struct store *s, struct scan *sc, uint64_t seq, struct bhdr *h)
{
    int v = store_bh_read_seq(s, (uint32_t)seq, h);
    if (v == 0 && seq + 1 > sc->checked) {
        report(s, sc, seq * s->payload, "bad block header");
    }
    if (seq + 1 > sc->checked) {
        sc->checked = seq + 1;
    }
    return v;
}

/* Position of the first record that starts in log block seq or a later one up to the head;
 * blocks with a bad header are reported and skipped. */
static int next_start(struct store *s, struct scan *sc, uint64_t seq, uint64_t *pos)
{
    for (; seq <= sc->head; seq++) {
        struct bhdr h;
        int v = check_block(s, sc, seq, &h);
        if (v < 0) {
            return v;
        }
        if (!v) {
            continue;
        }
        if (h.first < s->payload) {
            *pos = seq * s->payload + h.first;
            return STORE_OK;
        }
    }
    *pos = ((uint64_t)sc->head + 1) * s->payload;
    return STORE_OK;
}

/* A later block whose header says the log resumes there after ending at pos: its seq, or 0. */
static int find_resume(struct store *s, struct scan *sc, uint64_t pos, uint32_t *seq)
{
    *seq = 0;
    for (uint64_t q = pos_seq(s, pos) + 1; q <= sc->head; q++) {
        struct bhdr h;
        int v = store_bh_read_seq(s, (uint32_t)q, &h);
        if (v < 0) {
            return v;
        }
        if (v && (h.flags & BH_F_RESUME) && h.resume_seq == pos_seq(s, pos) &&
            h.resume_off == pos % s->payload) {
            *seq = (uint32_t)q;
            return STORE_OK;
        }
    }
    return STORE_OK;
}

/* Replay one record into the index. Records of a transaction stay pending until its commit
 * record; a record of another transaction, or the end of the log, drops them. */
static int replay(struct store *s, struct scan *sc, const struct rhdr *r, uint64_t pos,
                  int damaged)
{
    if (r->txn > sc->max_txn) {
        sc->max_txn = r->txn;
    }
    if (r->kind == REC_COMMIT) {
        if (!sc->quiet) {
            store_idx_settle(s, sc->cur_txn == r->txn, 0);
        }
        sc->cur_txn = 0;
        return STORE_OK;
    }
    if (sc->quiet) {
        return STORE_OK;
    }
    if (sc->cur_txn != r->txn) {
        store_idx_settle(s, 0, 0);
        sc->cur_txn = r->txn;
    }
    if (r->kind == REC_DEL) {
        struct store_entry *e = store_idx_get(s, r->key);
        if (e != NULL) {
            e->pend = ADDR_DELETED;
        }
        return STORE_OK;
    }
    struct store_entry *e = store_idx_add(s, r->key);
    if (e == NULL) {
        log_err("store: more than %u keys on flash: the index is too small", s->index_cap);
        return STORE_ENOMEM;
    }
    e->pend = damaged ? ADDR_CORRUPT : pos_addr(s, pos);
    return STORE_OK;
}

/* The tail commit records name (pass 1 only): the value in a commit's payload. */
static int commit_tail(struct store *s, struct scan *sc, uint64_t pos, const struct rhdr *r)
{
    uint8_t v[COMMIT_LEN];
    int err = store_log_read(s, store_addr_advance(s, pos_addr(s, pos), RH_SIZE), v, sizeof v);
    if (err) {
        return err;
    }
    (void)r;
    uint32_t t = get_le32(v);
    if (t >= sc->from && t <= sc->head && t > sc->tail) {
        sc->tail = t;
    }
    return STORE_OK;
}

static int scan(struct store *s, struct scan *sc)
{
    uint64_t end = ((uint64_t)sc->head + 1) * s->payload;
    uint64_t pos;
    int err = next_start(s, sc, sc->from, &pos);
    if (err) {
        return err;
    }
    s->valid_end = pos;
    while (pos < end) {
        struct rhdr r;
        enum rec_state st;
        if (!sc->have_first && pos >= (uint64_t)sc->tail * s->payload) {
            sc->have_first = 1;
            sc->tail_first = pos;
        }
        if (pos_seq(s, pos) + 1 > sc->checked) {
            struct bhdr h;
            err = check_block(s, sc, pos_seq(s, pos), &h);
            if (err < 0) {
                return err;
            }
        }
        err = store_rec_at(s, pos, end, &r, &st, sc->quiet);
        if (err) {
            return err;
        }
        if (st == REC_OK) {
            if (sc->bad) {
                report(s, sc, sc->bad_pos, "damaged record(s): skipped");
                sc->bad = 0;
            }
            if (sc->quiet && r.kind == REC_COMMIT) {
                err = commit_tail(s, sc, pos, &r);
            }
            if (!err) {
                err = replay(s, sc, &r, pos, 0);
            }
            if (err) {
                return err;
            }
            sc->records++;
            pos += rec_size(s, r.len);
            s->valid_end = pos;
            continue;
        }
        if (st == REC_END && pos_seq(s, pos) == sc->head) {
            break;   /* the end of the log */
        }
        uint32_t q;
        err = find_resume(s, sc, pos, &q);
        if (err) {
            return err;
        }
        if (q != 0) {   /* an interrupted write, already dealt with */
            if (!sc->quiet) {
                store_idx_settle(s, 0, 0);
            }
            sc->cur_txn = 0;
            sc->bad = 0;
            pos = (uint64_t)q * s->payload;
            s->valid_end = pos;
            continue;
        }
        if (!sc->bad) {
            sc->bad = 1;
            sc->bad_pos = pos;
        }
        if (st == REC_BAD_DATA) {
            if (r.kind == REC_DATA) {
                err = replay(s, sc, &r, pos, 1);
                if (err) {
                    return err;
                }
            }
            pos += rec_size(s, r.len);
        } else {
            err = next_start(s, sc, pos_seq(s, pos) + 1, &pos);
            if (err) {
                return err;
            }
        }
    }
    if (!sc->quiet) {
        store_idx_settle(s, 0, 0);   /* an unfinished transaction */
    }
    if (!sc->have_first) {
        sc->tail_first = pos;
    }
    if (sc->bad) {
        report_as(s, sc, sc->bad_pos, "interrupted write at the end of the log: discarded "
                                      "(normal after a power cut)", &s->interrupted);
    }
    return STORE_OK;
}

/* Is everything from valid_end to the end of the head block erased? */
static int head_clean(struct store *s, int *clean)
{
    uint64_t block_end = ((uint64_t)s->head_seq + 1) * s->payload;
    *clean = 0;
    if (s->valid_end < (uint64_t)s->head_seq * s->payload) {
        return STORE_OK;
    }
    for (uint64_t p = s->valid_end; p < block_end;) {
        uint32_t k = block_end - p < STORE_BUF ? (uint32_t)(block_end - p) : STORE_BUF;
        int err = store_log_read(s, pos_addr(s, p), s->rbuf, k);
        if (err) {
            return err;
        }
        if (!all_ff(s->rbuf, k)) {
            return STORE_OK;
        }
        p += k;
    }
    *clean = 1;
    return STORE_OK;
}

/* Find the head: the valid header with the highest sequence number. */
static int find_head(struct store *s, int *found, uint32_t *head, uint32_t *tail)
{
    *found = 0;
    for (uint32_t b = 0; b < s->nblocks; b++) {
        struct bhdr h;
        int v = store_bh_read(s, b, &h);
        if (v < 0) {
            return v;
        }
        if (!v) {
            continue;
        }
        if (h.erase_count > s->max_erase) {
            s->max_erase = h.erase_count;
        }
        if (!*found || h.seq > *head) {
            *found = 1;
            *head = h.seq;
            *tail = h.tail;
        }
    }
    return STORE_OK;
}

/* see store.h */
int store_mount(struct store *s, struct flash *f, struct store_entry *index,
                uint32_t index_cap)
{
    memset(s, 0, sizeof *s);
    if (store_geometry_init(s, f)) {
        log_err("store: flash geometry %u/%u/%u is not usable", f->geo.size,
                f->geo.block_size, f->geo.prog_size);
        return STORE_ENOFS;
    }
    s->index = index;
    s->index_cap = index_cap;
    int found;
    uint32_t head = 0, t0 = 0;
    int err = find_head(s, &found, &head, &t0);
    if (err) {
        return err;
    }
    if (!found) {
        return STORE_ENOFS;
    }
    if (t0 > head || head - t0 >= s->nblocks) {
        log_warnx("store: head block %u names tail %u: ignored", head, t0);
        t0 = head;
    }
    /* Pass 1 finds the oldest live block: blocks collected after the head was opened still
     * hold their old records until reused, and replaying them would only raise false
     * alarms. Pass 2 replays the live blocks into the index. */
    struct scan sc = { .from = t0, .head = head, .quiet = 1, .tail = t0 };
    err = scan(s, &sc);
    if (err) {
        return err;
    }
    uint32_t max_txn = sc.max_txn, tail = sc.tail, from = sc.tail;
    /* Without a valid header the tail block cannot say where its first record starts:
     * replay from an earlier one (collected blocks replay harmlessly, and quietly). */
    for (struct bhdr h; from > t0;) {
        int v = store_bh_read_seq(s, from, &h);
        if (v < 0) {
            return v;
        }
        if (v) {
            break;
        }
        from--;
    }
    sc = (struct scan){ .from = from, .head = head, .tail = tail,
                        .report_from = (uint64_t)tail * s->payload };
    err = scan(s, &sc);
    if (err) {
        return err;
    }
    s->tail_seq = tail;
    s->tail_first = sc.tail_first;
    s->head_seq = head;
    s->next_txn = (max_txn > sc.max_txn ? max_txn : sc.max_txn) + 1;
    if (s->next_txn == 0) {   /* only a crafted image gets here: 0 means "none" */
        s->next_txn = 1;
    }
    s->log_records = sc.records;
    int clean;
    err = head_clean(s, &clean);
    if (err) {
        return err;
    }
    s->dirty = !clean;
    s->head_pos = clean ? s->valid_end : ((uint64_t)head + 1) * s->payload;
    for (uint32_t i = 0; i < s->nkeys; i++) {
        s->live_bytes += store_size_at(s, s->index[i].addr);
    }
    return s->broken;
}
