#include "virt.h"
int virt_rng_present(void) { return 0; }
int virt_rng_read(void *buf, size_t len) { (void)buf; (void)len; return -1; }
