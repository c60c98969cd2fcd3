/* Virtual host mappings (`mapping add VHOST:VPORT IHOST:IPORT tcp|tls [sni NAME]`): the only
 * places a stream from the cloud, or the IMAP receiver, may reach. Lookup is an exact match
 * on the virtual host (case-insensitive) and port; anything else has no mapping.
 *
 * Counters live here, indexed like the running config's mappings; a commit that changes
 * the mapping list resets them (mappings_reset). RAM: CONFIG_MAPPINGS_MAX x ~0.2 KiB. */
#ifndef GW_MAPPINGS_H
#define GW_MAPPINGS_H

#include <stdint.h>

#include "config.h"
#include "tls_client.h"

struct mapping_stats {
    uint32_t connections;        /* streams that asked for this mapping */
    uint32_t active;             /* open now */
    uint32_t failures;           /* connections to the internal host that failed */
    uint64_t bytes_in;           /* from the cloud to the internal host */
    uint64_t bytes_out;          /* from the internal host to the cloud */
    char last_error[VERDICT_MAX];
};

/* Index of the running mapping for host:port, or -1: no mapping. */
int mappings_find(const char *host, uint16_t port);
/* The running mapping i (NULL when out of range). */
const struct config_mapping *mappings_get(int i);
struct mapping_stats *mappings_stats(int i);
/* The name a TLS mapping checks the internal host's certificate against: sni, else the
 * internal host. */
const char *mappings_tls_name(int i);
/* Forget all counters (the mapping list changed). Indexes change with it: a stream or
 * session that outlives the change finds its mapping again by name (mappings_find) and
 * goes on only if its fingerprint is unchanged. */
void mappings_reset(void);
uint32_t mappings_generation(void);
/* What running mapping i says (virtual and internal host:port, tls, sni) in 64 bits of
 * SHA-256: equal for an unchanged mapping whatever its index, different once the operator
 * changed any of it. 0 when i is out of range. */
uint64_t mappings_fingerprint(int i);

#endif
