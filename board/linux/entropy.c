/* Linux board: entropy from the kernel's CSPRNG. getrandom() blocks only until the kernel
 * pool is initialised once at boot; after that it never blocks and never fails short. */
#include <errno.h>
#include <sys/random.h>

#include "board.h"

/* see board.h */
int board_entropy(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return BOARD_ENOENTROPY;
        }
        p += n;
        len -= (size_t)n;
    }
    return BOARD_OK;
}
