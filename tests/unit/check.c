/* see check.h */
#include <time.h>
#include <unistd.h>

#include "check.h"

int check_failed;

/* see check.h */
int check_entropy(void *buf, size_t len)
{
    return getentropy(buf, len) == 0 ? 0 : -1;
}

/* see check.h */
unsigned check_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int check_main(const struct check_case *cases, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (const struct check_case *c = cases; c->name; c++) {
        int wanted = argc < 2;
        for (int i = 1; i < argc; i++) {
            wanted |= strcmp(argv[i], c->name) == 0;
        }
        if (!wanted) {
            continue;
        }
        check_failed = 0;
        c->fn();
        printf("%s %s\n", check_failed ? "FAIL" : "ok  ", c->name);
        if (check_failed) {
            failed++;
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
