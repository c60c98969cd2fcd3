/* see fdt.h. The format: Devicetree Specification v0.4, chapter 5 (header, structure block
 * of 32-bit big-endian tokens, strings block). */
#include <string.h>

#include "fdt.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_HEADER_SIZE 40u

enum { TOK_BEGIN_NODE = 1, TOK_END_NODE = 2, TOK_PROP = 3, TOK_NOP = 4, TOK_END = 9 };

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* see fdt.h */
int fdt_open(struct fdt *f, const void *p, size_t max)
{
    const uint8_t *b = p;
    memset(f, 0, sizeof *f);
    if (max < FDT_HEADER_SIZE || be32(b) != FDT_MAGIC) {
        return FDT_EBADF;
    }
    uint32_t total = be32(b + 4), version = be32(b + 20), last_comp = be32(b + 24);
    /* size_dt_struct arrived with version 17; older trees are not worth a second path. */
    if (total < FDT_HEADER_SIZE || total > max || version < 17 || last_comp > 17) {
        return FDT_EBADF;
    }
    f->blob = b;
    f->size = total;
    f->off_struct = be32(b + 8);
    f->off_strings = be32(b + 12);
    f->size_strings = be32(b + 32);
    f->size_struct = be32(b + 36);
    if (f->off_struct > total || f->size_struct > total - f->off_struct ||
        f->off_strings > total || f->size_strings > total - f->off_strings ||
        f->off_struct % 4 != 0 || f->size_struct % 4 != 0) {
        f->blob = NULL;
        return FDT_EBADF;
    }
    return 0;
}

/* The token at structure offset off: its kind and the offset of the one after it, with
 * everything it carries checked to lie inside the block. */
static int token(const struct fdt *f, int off, uint32_t *tok, int *next)
{
    if (f->blob == NULL || off < 0 || (uint32_t)off % 4 != 0 || f->size_struct < 4 ||
        (uint32_t)off > f->size_struct - 4) {
        return FDT_EBADF;
    }
    const uint8_t *s = f->blob + f->off_struct;
    uint32_t pos = (uint32_t)off + 4, end = f->size_struct;
    *tok = be32(s + off);
    switch (*tok) {
    case TOK_BEGIN_NODE: {
        const uint8_t *nul = memchr(s + pos, 0, end - pos);
        if (nul == NULL) {
            return FDT_EBADF;
        }
        pos = (uint32_t)(nul - s) + 1;
        break;
    }
    case TOK_PROP: {
        if (end - pos < 8) {
            return FDT_EBADF;
        }
        uint32_t len = be32(s + pos), nameoff = be32(s + pos + 4);
        pos += 8;
        if (len > end - pos || nameoff >= f->size_strings ||
            memchr(f->blob + f->off_strings + nameoff, 0, f->size_strings - nameoff) == NULL) {
            return FDT_EBADF;
        }
        pos += len;
        break;
    }
    case TOK_END_NODE:
    case TOK_NOP:
    case TOK_END:
        break;
    default:
        return FDT_EBADF;
    }
    pos = (pos + 3) & ~3u;
    if (pos > end) {
        return FDT_EBADF;
    }
    *next = (int)pos;
    return 0;
}

/* see fdt.h */
int fdt_next_node(const struct fdt *f, int node, int *depth)
{
    uint32_t tok;
    int next, off = 0, d = -1;
    if (node >= 0) {
        int err = token(f, node, &tok, &next);
        if (err || tok != TOK_BEGIN_NODE) {
            return FDT_EBADF;
        }
        off = next;
        d = *depth;
    }
    for (;;) {
        int err = token(f, off, &tok, &next);
        if (err) {
            return err;
        }
        switch (tok) {
        case TOK_BEGIN_NODE:
            if (d + 1 >= FDT_DEPTH_MAX) {
                return FDT_EBADF;
            }
            *depth = d + 1;
            return off;
        case TOK_END_NODE:
            if (--d < 0) {
                return FDT_END;
            }
            break;
        case TOK_END:
            return FDT_END;
        default:
            if (d < 0) {
                return FDT_EBADF;   /* a property before the root node */
            }
            break;
        }
        off = next;
    }
}

/* see fdt.h */
const char *fdt_node_name(const struct fdt *f, int node)
{
    uint32_t tok;
    int next;
    if (token(f, node, &tok, &next) || tok != TOK_BEGIN_NODE) {
        return "";
    }
    return (const char *)f->blob + f->off_struct + node + 4;
}

/* see fdt.h */
const void *fdt_prop(const struct fdt *f, int node, const char *name, uint32_t *len)
{
    uint32_t tok;
    int off;
    if (token(f, node, &tok, &off) || tok != TOK_BEGIN_NODE) {
        return NULL;
    }
    /* A node's properties come before its children. */
    for (;;) {
        int next;
        if (token(f, off, &tok, &next)) {
            return NULL;
        }
        if (tok == TOK_PROP) {
            const uint8_t *p = f->blob + f->off_struct + off + 4;
            const char *pname = (const char *)f->blob + f->off_strings + be32(p + 4);
            if (strcmp(pname, name) == 0) {
                if (len != NULL) {
                    *len = be32(p);
                }
                return p + 8;
            }
        } else if (tok != TOK_NOP) {
            return NULL;
        }
        off = next;
    }
}

/* see fdt.h */
int fdt_compatible(const struct fdt *f, int node, const char *compat)
{
    uint32_t len;
    const char *p = fdt_prop(f, node, "compatible", &len);
    size_t want = strlen(compat) + 1;
    while (p != NULL && len >= want) {
        const char *nul = memchr(p, 0, len);
        if (nul == NULL) {
            return 0;
        }
        size_t n = (size_t)(nul - p) + 1;
        if (n == want && memcmp(p, compat, n) == 0) {
            return 1;
        }
        p += n;
        len -= (uint32_t)n;
    }
    return 0;
}

/* see fdt.h */
int fdt_find_compatible(const struct fdt *f, int after, const char *compat)
{
    /* Offsets grow in document order: walk from the root, past `after`. */
    int depth = 0;
    int node = fdt_next_node(f, -1, &depth);
    while (node >= 0) {
        if (node > after && fdt_compatible(f, node, compat)) {
            return node;
        }
        node = fdt_next_node(f, node, &depth);
    }
    return node;
}

/* see fdt.h */
int fdt_find_root_child(const struct fdt *f, const char *name)
{
    int depth = 0;
    size_t n = strlen(name);
    int node = fdt_next_node(f, -1, &depth);
    while (node >= 0) {
        if (depth == 1) {
            const char *nn = fdt_node_name(f, node);
            if (strncmp(nn, name, n) == 0 && (nn[n] == '\0' || nn[n] == '@')) {
                return node;
            }
        }
        node = fdt_next_node(f, node, &depth);
    }
    return node;
}

/* see fdt.h */
int fdt_prop_u32(const struct fdt *f, int node, const char *name, unsigned index,
                 uint32_t *out)
{
    uint32_t len;
    const uint8_t *p = fdt_prop(f, node, name, &len);
    if (p == NULL || index >= len / 4) {
        return FDT_END;
    }
    *out = be32(p + 4 * index);
    return 0;
}

/* The parent of node, found by walking from the root (the format has no back links). */
static int parent_of(const struct fdt *f, int node)
{
    int stack[FDT_DEPTH_MAX];
    int depth = 0;
    int n = fdt_next_node(f, -1, &depth);
    while (n >= 0) {
        stack[depth] = n;
        if (n == node) {
            return depth > 0 ? stack[depth - 1] : FDT_END;
        }
        n = fdt_next_node(f, n, &depth);
    }
    return n == FDT_END ? FDT_EBADF : n;
}

/* see fdt.h */
int fdt_reg(const struct fdt *f, int node, unsigned index, uint64_t *addr, uint64_t *size)
{
    int parent = parent_of(f, node);
    if (parent < 0) {
        return FDT_EBADF;
    }
    uint32_t ac = 2, sc = 1;   /* the specification's defaults */
    (void)fdt_prop_u32(f, parent, "#address-cells", 0, &ac);
    (void)fdt_prop_u32(f, parent, "#size-cells", 0, &sc);
    if (ac < 1 || ac > 2 || sc > 2) {
        return FDT_EBADF;
    }
    uint32_t len;
    const uint8_t *p = fdt_prop(f, node, "reg", &len);
    uint32_t cells = ac + sc;
    if (p == NULL || index >= len / (4 * cells)) {
        return FDT_END;
    }
    p += (size_t)index * cells * 4;
    uint64_t a = 0, s = 0;
    for (uint32_t i = 0; i < ac; i++) {
        a = a << 32 | be32(p + 4 * i);
    }
    for (uint32_t i = 0; i < sc; i++) {
        s = s << 32 | be32(p + 4 * (ac + i));
    }
    *addr = a;
    *size = s;
    return 0;
}
