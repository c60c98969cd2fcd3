/* Shared by the tls unit tests: where the test PKI is (make_pki.sh output, passed as
 * `--pki DIR`), loading its files, running openssl, and the fixed validation time. */
#ifndef GW_TEST_TLS_UTIL_H
#define GW_TEST_TLS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"

/* The tests validate at 2026-03-01 12:00:00 UTC, whatever the machine's clock says: the
 * PKI's dates are fixed, so the verdicts never age. */
#define TEST_NOW ((int64_t)1772366400)

extern const char *pki_dir;

/* Takes "--pki DIR" out of argv, then runs the cases like check_main(). */
int tls_test_main(const struct check_case *cases, int argc, char **argv);

/* Reads PKI_DIR/name into buf; returns its length, or 0 (and says why) when it cannot. */
size_t pki_load(const char *name, uint8_t *buf, size_t cap);
/* PKI_DIR/name, in one of four static buffers used in turn. */
const char *pki_path(const char *name);
/* Runs a shell command line (formatted); returns its exit status, -1 if it did not run. */
int run_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes len bytes to path; returns 0 or -1. */
int write_file(const char *path, const void *p, size_t len);

#define TLS_TEST_MAIN(...) \
    int main(int argc, char **argv) { \
        static const struct check_case cases_[] = { __VA_ARGS__, { NULL, NULL } }; \
        return tls_test_main(cases_, argc, argv); \
    }

#endif
