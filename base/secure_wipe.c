/* see secure_wipe.h */
#define _GNU_SOURCE   /* explicit_bzero: glibc and musl declare it for GNU or BSD sources */
#include <string.h>

#include "secure_wipe.h"

/* see secure_wipe.h */
void secure_wipe(void *p, size_t n)
{
    if (n > 0) {
        explicit_bzero(p, n);
    }
}
