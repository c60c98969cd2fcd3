/* A minimal test harness: each test file is one program of named cases; a failed CHECK
 * prints file, line and the expression, marks the case failed and returns from it. */
#ifndef GW_CHECK_H
#define GW_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_failed;

#define CHECK(expr) do { \
        if (!(expr)) { \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
            check_failed = 1; \
            return; \
        } \
    } while (0)

#define CHECK_EQ(a, b) do { \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
        if (check_a_ != check_b_) { \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
            check_failed = 1; \
            return; \
        } \
    } while (0)

struct check_case { const char *name; void (*fn)(void); };

/* What the board would hand the lower layers, for tests that link no board: the kernel's
 * entropy (rng_init) and monotonic milliseconds (lwip_port_init). */
int check_entropy(void *buf, size_t len);
unsigned check_now_ms(void);

/* Runs every case (or those named on the command line); exit status 0 only if all pass. */
int check_main(const struct check_case *cases, int argc, char **argv);

#define CHECK_MAIN(...) \
    int main(int argc, char **argv) { \
        static const struct check_case cases_[] = { __VA_ARGS__, { NULL, NULL } }; \
        return check_main(cases_, argc, argv); \
    }

#endif
