/* A flattened device tree (DTB) reader: bounded, allocation-free, no libc beyond string
 * compares, so the bare-metal board can run it before the C library is initialised and the
 * host can test and fuzz it.
 *
 * Every read checks the blob's own bounds (header sizes, then the caller's max) and every
 * walk advances by at least one token, so a damaged or hostile blob can only make a call
 * fail (FDT_EBADF), never read outside the blob or loop. Nodes are named by their offset in
 * the structure block (>= 0); FDT_END (-1) ends an iteration. */
#ifndef GW_FDT_H
#define GW_FDT_H

#include <stddef.h>
#include <stdint.h>

enum fdt_err {
    FDT_END = -1,      /* no (more) such node or property */
    FDT_EBADF = -2,    /* not a device tree, or damaged where this call looked */
};

/* Deeper nesting is refused (QEMU's trees are 4 deep). */
#define FDT_DEPTH_MAX 16

struct fdt {
    const uint8_t *blob;
    uint32_t size;              /* totalsize, checked against the caller's max */
    uint32_t off_struct, size_struct;
    uint32_t off_strings, size_strings;
};

/* Check the header of the blob at p (at most max bytes readable). Returns 0 or FDT_EBADF. */
int fdt_open(struct fdt *f, const void *p, size_t max);

/* The node after `node` in document order (-1: the root), and its depth (root 0).
 * Returns its offset, FDT_END after the last, or FDT_EBADF. */
int fdt_next_node(const struct fdt *f, int node, int *depth);
/* The node's name ("" for the root, "memory@40000000" for others), NUL-terminated. */
const char *fdt_node_name(const struct fdt *f, int node);
/* A property of the node: its value and length, or NULL. */
const void *fdt_prop(const struct fdt *f, int node, const char *name, uint32_t *len);
/* 1 when the node's "compatible" list holds compat exactly. */
int fdt_compatible(const struct fdt *f, int node, const char *compat);
/* The first node after `after` (-1: from the start) compatible with compat; FDT_END. */
int fdt_find_compatible(const struct fdt *f, int after, const char *compat);
/* The child of the root whose name is `name`, or starts with `name@`; FDT_END. */
int fdt_find_root_child(const struct fdt *f, const char *name);
/* The index-th (address, size) pair of the node's "reg", decoded with its parent's
 * #address-cells and #size-cells (1 or 2 each). Returns 0, FDT_END past the last pair, or
 * FDT_EBADF. */
int fdt_reg(const struct fdt *f, int node, unsigned index, uint64_t *addr, uint64_t *size);
/* The index-th big-endian 32-bit cell of a property; 0 or FDT_END. */
int fdt_prop_u32(const struct fdt *f, int node, const char *name, unsigned index,
                 uint32_t *out);

#endif
