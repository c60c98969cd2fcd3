/* Wiping secrets from RAM: passwords, keys, and the buffers that held them, once they are
 * no longer needed. One helper for firmware/, net/ and tls/ (and the relay), free of any
 * other module, so the compiler's dead-store elimination is defeated in one place only. */
#ifndef GW_SECURE_WIPE_H
#define GW_SECURE_WIPE_H

#include <stddef.h>

/* Zero p[0..n) in a way the compiler may not drop, even when p is never read again.
 * p may be NULL when n is 0. */
void secure_wipe(void *p, size_t n);

#endif
