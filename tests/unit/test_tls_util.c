/* see test_tls_util.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "random.h"
#include "test_tls_util.h"

const char *pki_dir = "pki";

/* see test_tls_util.h */
int tls_test_main(const struct check_case *cases, int argc, char **argv)
{
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pki") == 0 && i + 1 < argc) {
            pki_dir = argv[++i];
        } else {
            argv[n++] = argv[i];
        }
    }
    argv[n] = NULL;
    if (rng_init(check_entropy) != 0) {
        fprintf(stderr, "no entropy\n");
        return 1;
    }
    return check_main(cases, n, argv);
}

/* see test_tls_util.h */
const char *pki_path(const char *name)
{
    static char path[4][512];
    static unsigned next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", pki_dir, name);
    return p;
}

/* see test_tls_util.h */
size_t pki_load(const char *name, uint8_t *buf, size_t cap)
{
    const char *path = pki_path(name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (run make_pki.sh, pass --pki DIR)\n", path);
        return 0;
    }
    size_t n = fread(buf, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        fprintf(stderr, "%s is larger than %zu bytes\n", path, cap);
        return 0;
    }
    return n;
}

/* see test_tls_util.h */
int run_shell(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(NULL);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) {
        return -1;
    }
    return WEXITSTATUS(st);
}

/* see test_tls_util.h */
int write_file(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    size_t n = fwrite(p, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}
