/* see virt_heap.h */
#include "virt_heap.h"

#define HEAP_ENOMEM 12
#define HEAP_EINVAL 22

static int page_used(const struct virt_heap *h, uint32_t i)
{
    return (h->used[i / 8] >> (i % 8)) & 1;
}

static void page_set(struct virt_heap *h, uint32_t i, int on)
{
    if (on) {
        h->used[i / 8] = (uint8_t)(h->used[i / 8] | (1u << (i % 8)));
    } else {
        h->used[i / 8] = (uint8_t)(h->used[i / 8] & ~(1u << (i % 8)));
    }
}

/* A plain loop on purpose (trap context: musl's memset would use SIMD registers). The
 * volatile store keeps the compiler from turning it into a memset call. */
static void zero(uintptr_t from, uintptr_t to)
{
    volatile uint64_t *p = (volatile uint64_t *)from;
    while ((uintptr_t)p < to) {
        *p++ = 0;
    }
}

static void note_use(struct virt_heap *h)
{
    size_t n = virt_heap_in_use(h);
    if (n > h->peak) {
        h->peak = n;
    }
}

/* see virt_heap.h */
size_t virt_heap_in_use(const struct virt_heap *h)
{
    return (size_t)(h->brk - h->start) + (size_t)h->mmap_pages * VIRT_HEAP_PAGE;
}

/* see virt_heap.h */
void virt_heap_init(struct virt_heap *h, uintptr_t start, uintptr_t end)
{
    start = (start + VIRT_HEAP_PAGE - 1) & ~(uintptr_t)(VIRT_HEAP_PAGE - 1);
    end &= ~(uintptr_t)(VIRT_HEAP_PAGE - 1);
    if (end < start) {
        end = start;
    }
    if ((end - start) / VIRT_HEAP_PAGE > VIRT_HEAP_MAX_PAGES) {
        end = start + (uintptr_t)VIRT_HEAP_MAX_PAGES * VIRT_HEAP_PAGE;
    }
    h->start = start;
    h->end = end;
    h->brk = start;
    h->npages = (uint32_t)((end - start) / VIRT_HEAP_PAGE);
    h->mmap_pages = 0;
    h->peak = 0;
    h->failures = 0;
    for (uint32_t i = 0; i < sizeof h->used; i++) {
        h->used[i] = 0;
    }
}

/* The first page the break may not enter: the lowest mapped page. */
static uintptr_t brk_limit(const struct virt_heap *h)
{
    for (uint32_t i = (uint32_t)((h->brk - h->start + VIRT_HEAP_PAGE - 1) / VIRT_HEAP_PAGE);
         i < h->npages; i++) {
        if (page_used(h, i)) {
            return h->start + (uintptr_t)i * VIRT_HEAP_PAGE;
        }
    }
    return h->end;
}

/* see virt_heap.h */
uintptr_t virt_heap_brk(struct virt_heap *h, uintptr_t want)
{
    if (want < h->start || want > h->end) {
        return h->brk;
    }
    if (want > h->brk) {
        if (want > brk_limit(h)) {
            h->failures++;
            return h->brk;
        }
        zero(h->brk, want);
    }
    h->brk = want;
    note_use(h);
    return h->brk;
}

/* see virt_heap.h */
long virt_heap_mmap(struct virt_heap *h, uintptr_t addr, size_t len, int fixed,
                    uintptr_t *out)
{
    if (len == 0) {
        return -HEAP_EINVAL;
    }
    if (len > (size_t)h->npages * VIRT_HEAP_PAGE) {
        h->failures++;
        return -HEAP_ENOMEM;
    }
    uint32_t n = (uint32_t)((len + VIRT_HEAP_PAGE - 1) / VIRT_HEAP_PAGE);
    if (fixed) {
        if (addr % VIRT_HEAP_PAGE != 0 || addr < h->start || addr > h->brk ||
            (uintptr_t)n * VIRT_HEAP_PAGE > h->brk - addr) {
            return -HEAP_ENOMEM;
        }
        zero(addr, addr + (uintptr_t)n * VIRT_HEAP_PAGE);
        *out = addr;
        return 0;
    }
    /* First fit from the top; the break's pages are off limits. */
    uint32_t floor = (uint32_t)((h->brk - h->start + VIRT_HEAP_PAGE - 1) / VIRT_HEAP_PAGE);
    uint32_t run = 0;
    for (uint32_t i = h->npages; i > floor; i--) {
        if (page_used(h, i - 1)) {
            run = 0;
            continue;
        }
        if (++run == n) {
            uint32_t first = i - 1;
            for (uint32_t j = first; j < first + n; j++) {
                page_set(h, j, 1);
            }
            h->mmap_pages += n;
            uintptr_t p = h->start + (uintptr_t)first * VIRT_HEAP_PAGE;
            zero(p, p + (uintptr_t)n * VIRT_HEAP_PAGE);
            note_use(h);
            *out = p;
            return 0;
        }
    }
    h->failures++;
    return -HEAP_ENOMEM;
}

/* see virt_heap.h */
long virt_heap_munmap(struct virt_heap *h, uintptr_t addr, size_t len)
{
    if (addr % VIRT_HEAP_PAGE != 0 || len == 0 || addr < h->start || addr >= h->end ||
        len > h->end - addr) {
        return -HEAP_EINVAL;
    }
    uint32_t first = (uint32_t)((addr - h->start) / VIRT_HEAP_PAGE);
    uint32_t n = (uint32_t)((len + VIRT_HEAP_PAGE - 1) / VIRT_HEAP_PAGE);
    for (uint32_t j = first; j < first + n && j < h->npages; j++) {
        if (page_used(h, j)) {
            page_set(h, j, 0);
            h->mmap_pages--;
        }
    }
    return 0;
}
