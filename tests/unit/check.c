/* see check.h */
#include "check.h"

int check_failed;

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
