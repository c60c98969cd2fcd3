/* Per-source counts of connections not yet authenticated (relay.h): linear probing over a
 * power-of-two table of at least 2 x cap slots, so it is never more than half full (cap is
 * the global limit: no more sources than connections), deletion by backward shift (no
 * tombstones: the table never degrades under churn). O(1) per accept and per close. */
#include <stdlib.h>

#include "relay.h"

struct src_slot {
    uint32_t addr;
    uint32_t count;              /* 0: free */
};

static unsigned home(const struct srclimit *sl, uint32_t addr)
{
    /* Fibonacci hashing: sources that differ in the low bits spread over the table. */
    return (unsigned)((addr * 2654435761u) >> 7) & sl->mask;
}

/* see relay.h */
int srclimit_init(struct srclimit *sl, unsigned cap)
{
    unsigned n = 16;
    while (n < 2 * cap) {
        n *= 2;
    }
    sl->slots = calloc(n, sizeof *sl->slots);
    sl->cap = cap;
    sl->mask = n - 1;
    sl->used = 0;
    return sl->slots ? 0 : -1;
}

static struct src_slot *find(const struct srclimit *sl, uint32_t addr)
{
    for (unsigned i = home(sl, addr);; i = (i + 1) & sl->mask) {
        struct src_slot *s = &sl->slots[i];
        if (s->count == 0 || s->addr == addr) {
            return s;
        }
    }
}

/* see relay.h */
unsigned srclimit_count(const struct srclimit *sl, uint32_t addr)
{
    return find(sl, addr)->count;
}

/* see relay.h */
int srclimit_take(struct srclimit *sl, uint32_t addr, unsigned max)
{
    struct src_slot *s = find(sl, addr);
    if (s->count >= max || (s->count == 0 && sl->used >= sl->mask / 2)) {
        return -1;               /* the second: more sources than the table is for */
    }
    if (s->count == 0) {
        s->addr = addr;
        sl->used++;
    }
    s->count++;
    return 0;
}

/* see relay.h */
void srclimit_give(struct srclimit *sl, uint32_t addr)
{
    struct src_slot *s = find(sl, addr);
    if (s->count == 0 || --s->count > 0) {
        return;
    }
    sl->used--;
    /* Backward shift: pull later members of the run into the hole when the hole lies
     * between their home and where they sit. */
    unsigned hole = (unsigned)(s - sl->slots);
    for (unsigned i = (hole + 1) & sl->mask; sl->slots[i].count; i = (i + 1) & sl->mask) {
        unsigned h = home(sl, sl->slots[i].addr);
        if (((i - h) & sl->mask) >= ((i - hole) & sl->mask)) {
            sl->slots[hole] = sl->slots[i];
            sl->slots[i].count = 0;
            hole = i;
        }
    }
}
