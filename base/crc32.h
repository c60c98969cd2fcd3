/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): crc32_update(0, p, len) of "123456789"
 * is 0xcbf43926. Chains: crc32_update(crc32_update(0, a, n), b, m) is the CRC of a then b. */
#ifndef GW_CRC32_H
#define GW_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_update(uint32_t crc, const void *p, size_t len);

#endif
