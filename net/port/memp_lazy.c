/* lwIP's memory pools (lwip/memp.h, lwip/priv/memp_priv.h), built instead of lwIP's own
 * core/memp.c (cmake/thirdparty.cmake): the same pools from lwipopts.h, the same limits and
 * the same statistics for `show status`, but a pool's memory is first touched when it is
 * first used.
 *
 * lwIP's memp_init() threads every element of every pool onto its free list at start, which
 * writes to every page of every pool: on an idle gateway that was 1.1 MiB of its 1.7 MiB
 * resident (the receive pbufs 776 KiB, TCP connections 260 KiB, timers 32 KiB; measured
 * with bench/resident.py). Here each pool hands out its never-used elements in address
 * order (a count of them, `fresh`), and its free list holds only elements that were used
 * and given back, which it prefers (their pages are resident already). A pool thus costs
 * RAM for the most it ever held at once, not for its limit; the limit is the same.
 *
 * A large pool that has been empty for a second gives its pages back (lwip_port_trim, from
 * the loop: in practice the receive pbufs after a burst), through the function the board
 * handed in (lwip_port_set_discard; none on a board without virtual memory, where nothing
 * is given back).
 *
 * Options this file does not implement are refused at build time: MEMP_MEM_MALLOC (pools
 * on the heap), MEMP_OVERFLOW_CHECK and MEMP_SANITY_CHECK (lwIP's debug builds). */
#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h"

#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/sys.h"

/* What memp_std.h needs for the sizes of its elements (as lwIP's memp.c includes them). */
#include "lwip/altcp.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/igmp.h"
#include "lwip/ip4_frag.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/raw.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ppp/ppp_opts.h"

#include "lwip_port.h"

#if MEMP_MEM_MALLOC || MEMP_OVERFLOW_CHECK || MEMP_SANITY_CHECK || !MEMP_STATS || \
    !LWIP_STATS_DISPLAY
#error "net/port/memp_lazy.c: static pools with statistics, without lwIP's debug checks"
#endif

/* A pool that has held at least this much and then been empty for MEMP_TRIM_QUIET_MS gives
 * its pages back (smaller ones are not worth the page faults of their next use). */
#define MEMP_TRIM_MIN (64u * 1024u)
#define MEMP_TRIM_QUIET_MS 1000u

/* The pools: memory, statistics, free list and descriptor of each, as lwIP declares them. */
#define LWIP_MEMPOOL(name, num, size, desc) LWIP_MEMPOOL_DECLARE(name, num, size, desc)
#include "lwip/priv/memp_std.h"

const struct memp_desc *const memp_pools[MEMP_MAX] = {
#define LWIP_MEMPOOL(name, num, size, desc) &memp_##name,
#include "lwip/priv/memp_std.h"
};

/* Elements of each pool handed out at least once since start (or the last trim): those at
 * index fresh and above have never been touched. */
static u16_t fresh[MEMP_MAX];
/* Pools that became empty with at least MEMP_TRIM_MIN bytes committed, and when. */
static u8_t trim_pending[MEMP_MAX];
static u32_t empty_since[MEMP_MAX];
static void (*discard_fn)(void *p, size_t len);

static struct memp *element(const struct memp_desc *d, unsigned i)
{
    return (struct memp *)(void *)((u8_t *)LWIP_MEM_ALIGN(d->base) + (size_t)i * d->size);
}

/* The index of a standard pool, or MEMP_MAX for a pool declared elsewhere. */
static unsigned pool_index(const struct memp_desc *d)
{
    unsigned i = 0;
    while (i < MEMP_MAX && memp_pools[i] != d) {
        i++;
    }
    return i;
}

/* see memp_priv.h: a standard pool starts untouched; another one (LWIP_MEMPOOL_INIT) is
 * threaded whole, as lwIP does, since there is no count to keep for it. */
void memp_init_pool(const struct memp_desc *d)
{
    unsigned i = pool_index(d);
    *d->tab = NULL;
    if (i < MEMP_MAX) {
        fresh[i] = 0;
        trim_pending[i] = 0;
    } else {
        for (unsigned k = d->num; k-- > 0;) {
            struct memp *m = element(d, k);
            m->next = *d->tab;
            *d->tab = m;
        }
    }
    d->stats->avail = d->num;
    d->stats->name = d->desc;
}

/* see memp.h */
void memp_init(void)
{
    for (unsigned i = 0; i < MEMP_MAX; i++) {
        memp_init_pool(memp_pools[i]);
        lwip_stats.memp[i] = memp_pools[i]->stats;
    }
}

static void *take(const struct memp_desc *d, unsigned i)
{
    struct memp *m = *d->tab;
    if (m != NULL) {
        *d->tab = m->next;
    } else if (i < MEMP_MAX && fresh[i] < d->num) {
        m = element(d, fresh[i]++);
    } else {
        d->stats->err++;
        return NULL;
    }
    LWIP_ASSERT("memp_malloc: memp properly aligned", ((mem_ptr_t)m % MEM_ALIGNMENT) == 0);
    if (++d->stats->used > d->stats->max) {
        d->stats->max = d->stats->used;
    }
    return m;
}

static void give(const struct memp_desc *d, unsigned i, void *mem)
{
    struct memp *m = mem;
    LWIP_ASSERT("memp_free: mem properly aligned", ((mem_ptr_t)mem % MEM_ALIGNMENT) == 0);
    d->stats->used--;
    m->next = *d->tab;
    *d->tab = m;
    if (i < MEMP_MAX && d->stats->used == 0 && (size_t)fresh[i] * d->size >= MEMP_TRIM_MIN) {
        trim_pending[i] = 1;
        empty_since[i] = sys_now();
    }
}

/* see memp_priv.h */
void *memp_malloc_pool(const struct memp_desc *d)
{
    LWIP_ERROR("memp_malloc_pool: desc != NULL", d != NULL, return NULL;);
    return take(d, pool_index(d));
}

/* see memp.h */
void *memp_malloc(memp_t type)
{
    LWIP_ERROR("memp_malloc: type < MEMP_MAX", type < MEMP_MAX, return NULL;);
    return take(memp_pools[type], type);
}

/* see memp_priv.h */
void memp_free_pool(const struct memp_desc *d, void *mem)
{
    LWIP_ERROR("memp_free_pool: desc != NULL", d != NULL, return;);
    if (mem != NULL) {
        give(d, pool_index(d), mem);
    }
}

/* see memp.h */
void memp_free(memp_t type, void *mem)
{
    LWIP_ERROR("memp_free: type < MEMP_MAX", type < MEMP_MAX, return;);
    if (mem != NULL) {
        give(memp_pools[type], type, mem);
    }
}

/* ---- what the port adds: committed bytes, giving pages back ---- */

/* see lwip_port.h */
void lwip_port_set_discard(void (*discard)(void *p, size_t len))
{
    discard_fn = discard;
}

/* see lwip_port.h */
size_t lwip_port_pool_committed(unsigned type)
{
    return type < MEMP_MAX ? (size_t)fresh[type] * memp_pools[type]->size : 0;
}

/* see lwip_port.h */
size_t lwip_port_trim(void)
{
    size_t given = 0;
    u32_t now = sys_now();
    for (unsigned i = 0; i < MEMP_MAX; i++) {
        const struct memp_desc *d = memp_pools[i];
        if (!trim_pending[i] || now - empty_since[i] < MEMP_TRIM_QUIET_MS) {
            continue;
        }
        trim_pending[i] = 0;
        if (d->stats->used != 0 || discard_fn == NULL) {
            continue;                /* used again since: it says so when next empty */
        }
        /* Nothing is in use: the free list and the untouched count start over, so no link
         * lives on a page given back. */
        given += (size_t)fresh[i] * d->size;
        *d->tab = NULL;
        fresh[i] = 0;
        /* The whole array: the page the last element ends in holds only untouched ones. */
        discard_fn(element(d, 0), (size_t)d->num * d->size);
    }
    return given;
}
