/* Fuzz the config text parser: any text, line by line, into a candidate (no store). What the
 * printer then writes (secrets and blobs included) must parse back, and print the same:
 * print(parse(print(x))) == print(x). No crash, no hang, no read past the input; `compare`
 * of the edits against the defaults runs on the same candidate. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

static struct config_ctx a, b;
static uint8_t arena_a[64 * 1024], arena_b[64 * 1024];

struct text {
    char buf[256 * 1024];
    size_t len;
};
static struct text t1, t2;

static void to_text(void *arg, const char *p, size_t len)
{
    struct text *t = arg;
    if (len > sizeof t->buf - t->len) {
        abort();   /* the printer wrote more than any config can hold */
    }
    memcpy(t->buf + t->len, p, len);
    t->len += len;
}

static void quiet(enum log_level level, const char *line, size_t len)
{
    (void)level;
    (void)line;
    (void)len;
}

/* Feed p line by line; commit/discard lines only end or drop the edits (no store here). */
static void feed(struct config_ctx *c, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && p[e] != '\n') {
            e++;
        }
        int r = config_exec(c, p + i, e - i);
        if (r == CONFIG_DO_DISCARD) {
            config_discard(c);
        }
        i = e + 1;
    }
    if (c->input != CFG_IN_COMMAND) {
        config_exec(c, "", 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_sink(quiet);
    config_init(&a, NULL, arena_a, sizeof arena_a);
    feed(&a, (const char *)data, size);
    t1.len = 0;
    config_print(&a, &a.candidate, CONFIG_PRINT_SECRETS, to_text, &t1);
    t2.len = 0;
    config_compare(&a, to_text, &t2);   /* the edits against the defaults: no crash */

    config_init(&b, NULL, arena_b, sizeof arena_b);
    feed(&b, t1.buf, t1.len);
    t2.len = 0;
    config_print(&b, &b.candidate, CONFIG_PRINT_SECRETS, to_text, &t2);
    if (t1.len != t2.len || memcmp(t1.buf, t2.buf, t1.len) != 0) {
        abort();
    }
    return 0;
}
