/* The memory behind the virt board's brk and mmap (board/virt/virt_heap.c) over a buffer:
 * Linux's answers that musl relies on (brk(0) and a refused brk return the old break), new
 * memory reads zero even when it held data before (RAM is not cleared by a reset), mmap and
 * brk never hand out the same page, munmap gives pages back, and the peak is counted. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "virt_heap.h"

#define PAGES 64
static uint8_t ram[(PAGES + 1) * VIRT_HEAP_PAGE] __attribute__((aligned(VIRT_HEAP_PAGE)));
static struct virt_heap h;

static void fresh(void)
{
    memset(ram, 0xa5, sizeof ram);   /* what a previous boot left */
    virt_heap_init(&h, (uintptr_t)ram + 100, (uintptr_t)ram + sizeof ram);
}

static int all_zero(uintptr_t p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (((uint8_t *)p)[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void brk_answers_as_linux_does(void)
{
    fresh();
    CHECK_EQ(h.start, (uintptr_t)ram + VIRT_HEAP_PAGE);   /* rounded up to a page */
    CHECK_EQ(h.npages, PAGES);
    uintptr_t b0 = virt_heap_brk(&h, 0);
    CHECK_EQ(b0, h.start);
    CHECK_EQ(virt_heap_brk(&h, b0 + 5000), b0 + 5000);
    CHECK(all_zero(b0, 5000));
    /* past the end: refused, the old break comes back */
    CHECK_EQ(virt_heap_brk(&h, h.end + VIRT_HEAP_PAGE), b0 + 5000);
    CHECK_EQ(virt_heap_brk(&h, 0), b0 + 5000);
    CHECK_EQ(h.peak, 5000);
}

static void mmap_takes_pages_from_the_top_and_reads_zero(void)
{
    fresh();
    uintptr_t a, b;
    CHECK_EQ(virt_heap_mmap(&h, 0, 3 * VIRT_HEAP_PAGE, 0, &a), 0);
    CHECK_EQ(a, h.end - 3 * VIRT_HEAP_PAGE);
    CHECK(all_zero(a, 3 * VIRT_HEAP_PAGE));
    memset((void *)a, 0xee, 3 * VIRT_HEAP_PAGE);
    CHECK_EQ(virt_heap_mmap(&h, 0, 1, 0, &b), 0);
    CHECK_EQ(b, a - VIRT_HEAP_PAGE);
    CHECK_EQ(virt_heap_munmap(&h, a, 3 * VIRT_HEAP_PAGE), 0);
    CHECK_EQ(h.mmap_pages, 1);
    /* the pages come back zeroed, though they held 0xee */
    uintptr_t c;
    CHECK_EQ(virt_heap_mmap(&h, 0, 2 * VIRT_HEAP_PAGE, 0, &c), 0);
    CHECK(all_zero(c, 2 * VIRT_HEAP_PAGE));
    CHECK_EQ(h.peak, 4 * VIRT_HEAP_PAGE);
}

static void brk_and_mmap_never_share_a_page(void)
{
    fresh();
    uintptr_t top;
    CHECK_EQ(virt_heap_mmap(&h, 0, 10 * VIRT_HEAP_PAGE, 0, &top), 0);
    /* the break may grow up to the mapped pages and no further */
    uintptr_t limit = top;
    CHECK_EQ(virt_heap_brk(&h, limit), limit);
    CHECK_EQ(virt_heap_brk(&h, limit + 1), limit);
    CHECK(h.failures >= 1);
    /* and mmap finds nothing below the break */
    uintptr_t x;
    CHECK_EQ(virt_heap_mmap(&h, 0, VIRT_HEAP_PAGE, 0, &x), -12);
    /* a hole in the mapped pages is found again, first fit from the top */
    CHECK_EQ(virt_heap_munmap(&h, top + 4 * VIRT_HEAP_PAGE, 2 * VIRT_HEAP_PAGE), 0);
    CHECK_EQ(virt_heap_mmap(&h, 0, 2 * VIRT_HEAP_PAGE, 0, &x), 0);
    CHECK_EQ(x, top + 4 * VIRT_HEAP_PAGE);
    CHECK_EQ(virt_heap_mmap(&h, 0, 3 * VIRT_HEAP_PAGE, 0, &x), -12);
}

/* musl's malloc maps a PROT_NONE guard page with MAP_FIXED inside the break it just got. */
static void fixed_mappings_only_inside_the_break(void)
{
    fresh();
    uintptr_t b0 = virt_heap_brk(&h, 0), x;
    CHECK_EQ(virt_heap_brk(&h, b0 + 2 * VIRT_HEAP_PAGE), b0 + 2 * VIRT_HEAP_PAGE);
    memset((void *)b0, 0x77, VIRT_HEAP_PAGE);
    CHECK_EQ(virt_heap_mmap(&h, b0, VIRT_HEAP_PAGE, 1, &x), 0);
    CHECK_EQ(x, b0);
    CHECK(all_zero(b0, VIRT_HEAP_PAGE));
    CHECK_EQ(virt_heap_mmap(&h, b0 + 2 * VIRT_HEAP_PAGE, VIRT_HEAP_PAGE, 1, &x), -12);
    CHECK_EQ(virt_heap_mmap(&h, b0 + 1, VIRT_HEAP_PAGE, 1, &x), -12);
    /* munmap inside the break is ignored; outside the heap it is refused */
    CHECK_EQ(virt_heap_munmap(&h, b0, VIRT_HEAP_PAGE), 0);
    CHECK_EQ(virt_heap_munmap(&h, (uintptr_t)ram, VIRT_HEAP_PAGE), -22);
    CHECK_EQ(virt_heap_mmap(&h, 0, 0, 0, &x), -22);
    CHECK_EQ(virt_heap_mmap(&h, 0, (size_t)PAGES * VIRT_HEAP_PAGE * 2, 0, &x), -12);
}

CHECK_MAIN(
    { "brk_answers_as_linux_does", brk_answers_as_linux_does },
    { "mmap_takes_pages_from_the_top_and_reads_zero",
      mmap_takes_pages_from_the_top_and_reads_zero },
    { "brk_and_mmap_never_share_a_page", brk_and_mmap_never_share_a_page },
    { "fixed_mappings_only_inside_the_break", fixed_mappings_only_inside_the_break })
