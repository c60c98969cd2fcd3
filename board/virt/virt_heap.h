/* The memory behind brk() and anonymous mmap() on the virt board: the RAM between the end
 * of the image's stacks and the end of RAM, in 4 KiB pages. brk grows up from the bottom;
 * mmap takes page runs from the top down, first fit, so the two meet only when RAM is
 * full. New memory reads as zero, as on Linux (RAM is not cleared by a reset).
 *
 * Portable and free of MMIO (the host unit test drives it over a static buffer); trap
 * context safe: no C library calls, zeroing by a plain loop. */
#ifndef GW_VIRT_HEAP_H
#define GW_VIRT_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define VIRT_HEAP_PAGE 4096u
/* Pages tracked: 64 MiB of heap at most (a 2 KiB bitmap); more RAM is left unused. */
#define VIRT_HEAP_MAX_PAGES 16384u

struct virt_heap {
    uintptr_t start, end;    /* page-aligned [start, end) */
    uintptr_t brk;           /* the current break, start <= brk <= end */
    uint32_t npages;
    uint32_t mmap_pages;     /* pages mapped now */
    size_t peak;             /* most bytes ever in use (brk span + mapped pages) */
    uint32_t failures;       /* requests refused for lack of memory */
    uint8_t used[VIRT_HEAP_MAX_PAGES / 8];
};

void virt_heap_init(struct virt_heap *h, uintptr_t start, uintptr_t end);
/* brk(2): want 0 (or anything out of range) asks for the break; returns the new break, or
 * the old one when the memory is not there (Linux's semantics, which musl relies on). */
uintptr_t virt_heap_brk(struct virt_heap *h, uintptr_t want);
/* Anonymous mmap of len bytes (rounded up to pages): 0 and *out, or -ENOMEM. With
 * fixed, only a range inside the break is accepted (musl's malloc maps a guard page
 * there); it is zeroed and returned as is. */
long virt_heap_mmap(struct virt_heap *h, uintptr_t addr, size_t len, int fixed,
                    uintptr_t *out);
/* munmap(2): pages of an mmap go back; a range inside the break is ignored; anything else
 * is -EINVAL. */
long virt_heap_munmap(struct virt_heap *h, uintptr_t addr, size_t len);
/* Bytes in use now (brk span + mapped pages). */
size_t virt_heap_in_use(const struct virt_heap *h);

#endif
