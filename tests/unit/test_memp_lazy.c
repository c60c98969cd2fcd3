/* lwIP's pools as net/port/memp_lazy.c keeps them: an idle stack has touched no page of its
 * large pools, every pool still holds exactly its limit, and a pool that was quiet for a
 * second gives its pages back and works on. Residency is the kernel's word (mincore). */
#define _DEFAULT_SOURCE /* mincore */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/pbuf.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/stats.h"
#include "lwip_port.h"
#include "random.h"

static uint32_t clock_ms = 1000;

static uint32_t fake_now(void)
{
    return clock_ms;
}

static void discard(void *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + len) & ~(page - 1);
    if (b > a) {
        madvise((void *)a, b - a, MADV_DONTNEED);
    }
}

static void stack_up(void)
{
    static int done;
    if (!done) {
        done = 1;
        rng_init(check_entropy);
        lwip_port_init(fake_now, NULL);
        lwip_port_set_discard(discard);
        lwip_init();
    }
}

/* Pages of [p, p + len) the kernel holds for us, whole pages only. */
static size_t resident_pages(const void *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + len) & ~(page - 1);
    static unsigned char vec[4096];
    size_t n = (b - a) / page, count = 0;
    if (b <= a || n > sizeof vec || mincore((void *)a, b - a, vec) != 0) {
        return (size_t)-1;
    }
    for (size_t i = 0; i < n; i++) {
        count += vec[i] & 1;
    }
    return count;
}

static size_t pool_bytes(memp_t t)
{
    return (size_t)memp_pools[t]->num * memp_pools[t]->size;
}

static void test_idle_stack_touches_no_pool_page(void)
{
    stack_up();
    /* 512 receive pbufs (~800 KiB) and 1056 TCP connections (~260 KiB): lwIP's own memp.c
     * threads a free list through every element at start, touching every page. */
    CHECK_EQ(resident_pages(memp_pools[MEMP_PBUF_POOL]->base, pool_bytes(MEMP_PBUF_POOL)), 0);
    CHECK_EQ(resident_pages(memp_pools[MEMP_TCP_PCB]->base, pool_bytes(MEMP_TCP_PCB)), 0);
    CHECK_EQ(lwip_port_pool_committed(MEMP_PBUF_POOL), 0);
}

static void test_a_pool_holds_exactly_its_limit(void)
{
    stack_up();
    static void *seg[MEMP_NUM_TCP_SEG];
    const struct stats_mem *st = lwip_stats.memp[MEMP_TCP_SEG];
    unsigned err0 = st->err;
    CHECK_EQ(st->avail, MEMP_NUM_TCP_SEG);
    for (unsigned i = 0; i < MEMP_NUM_TCP_SEG; i++) {
        seg[i] = memp_malloc(MEMP_TCP_SEG);
        CHECK(seg[i] != NULL);
        CHECK(i == 0 || seg[i] != seg[i - 1]);
    }
    CHECK(memp_malloc(MEMP_TCP_SEG) == NULL);
    CHECK_EQ(st->err, err0 + 1);
    CHECK_EQ(st->used, MEMP_NUM_TCP_SEG);
    CHECK_EQ(lwip_port_pool_committed(MEMP_TCP_SEG), pool_bytes(MEMP_TCP_SEG));
    void *last = seg[MEMP_NUM_TCP_SEG - 1];
    for (unsigned i = 0; i < MEMP_NUM_TCP_SEG; i++) {
        memp_free(MEMP_TCP_SEG, seg[i]);
    }
    CHECK_EQ(st->used, 0);
    CHECK_EQ(st->max, MEMP_NUM_TCP_SEG);
    /* Given back elements come first (their pages are resident), the last one first. */
    void *again = memp_malloc(MEMP_TCP_SEG);
    CHECK(again == last);
    memp_free(MEMP_TCP_SEG, again);
}

static void test_a_quiet_pool_gives_its_pages_back(void)
{
    stack_up();
    static struct pbuf *p[200];
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (unsigned i = 0; i < 200; i++) {
        p[i] = pbuf_alloc(PBUF_RAW, 1500, PBUF_POOL);
        CHECK(p[i] != NULL);
        memset(p[i]->payload, 0xa5, 1500);
    }
    size_t held = lwip_port_pool_committed(MEMP_PBUF_POOL);
    CHECK(held >= 200 * 1500);
    CHECK(resident_pages(memp_pools[MEMP_PBUF_POOL]->base, held) >= held / page - 1);
    /* One pbuf still held: nothing is given back, however long it stays. */
    for (unsigned i = 1; i < 200; i++) {
        pbuf_free(p[i]);
    }
    clock_ms += 5000;
    CHECK_EQ(lwip_port_trim(), 0);
    pbuf_free(p[0]);
    /* Empty, but not yet for a second. */
    clock_ms += 500;
    CHECK_EQ(lwip_port_trim(), 0);
    clock_ms += 600;
    CHECK_EQ(lwip_port_trim(), held);
    CHECK_EQ(lwip_port_pool_committed(MEMP_PBUF_POOL), 0);
    CHECK_EQ(resident_pages(memp_pools[MEMP_PBUF_POOL]->base, pool_bytes(MEMP_PBUF_POOL)), 0);
    CHECK_EQ(lwip_port_trim(), 0);
    /* It works on, from its first element again, to its full limit. */
    static struct pbuf *all[PBUF_POOL_SIZE];
    for (unsigned i = 0; i < PBUF_POOL_SIZE; i++) {
        all[i] = pbuf_alloc(PBUF_RAW, 100, PBUF_POOL);
        CHECK(all[i] != NULL);
    }
    CHECK(pbuf_alloc(PBUF_RAW, 100, PBUF_POOL) == NULL);
    for (unsigned i = 0; i < PBUF_POOL_SIZE; i++) {
        pbuf_free(all[i]);
    }
    CHECK_EQ(lwip_stats.memp[MEMP_PBUF_POOL]->used, 0);
}

CHECK_MAIN({ "idle_stack_touches_no_pool_page", test_idle_stack_touches_no_pool_page },
           { "a_pool_holds_exactly_its_limit", test_a_pool_holds_exactly_its_limit },
           { "a_quiet_pool_gives_its_pages_back", test_a_quiet_pool_gives_its_pages_back })
