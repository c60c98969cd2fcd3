/* see mappings.h */
#include <string.h>
#include <strings.h>

#include "bearssl.h"
#include "mappings.h"
#include "settings.h"

static struct mapping_stats stats[CONFIG_MAPPINGS_MAX];
static uint32_t generation;

/* see mappings.h */
int mappings_find(const char *host, uint16_t port)
{
    const struct config *cf = settings_running();
    for (unsigned i = 0; i < cf->nmappings; i++) {
        if (cf->mappings[i].virt.port == port && strcasecmp(cf->mappings[i].virt.host, host) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* see mappings.h */
const struct config_mapping *mappings_get(int i)
{
    const struct config *cf = settings_running();
    return i >= 0 && (unsigned)i < cf->nmappings ? &cf->mappings[i] : NULL;
}

/* see mappings.h */
struct mapping_stats *mappings_stats(int i)
{
    return i >= 0 && i < CONFIG_MAPPINGS_MAX ? &stats[i] : NULL;
}

/* see mappings.h */
const char *mappings_tls_name(int i)
{
    const struct config_mapping *m = mappings_get(i);
    if (m == NULL) {
        return NULL;
    }
    return m->sni[0] ? m->sni : m->internal.host;
}

/* see mappings.h */
void mappings_reset(void)
{
    memset(stats, 0, sizeof stats);
    generation++;
}

/* see mappings.h */
uint32_t mappings_generation(void)
{
    return generation;
}

static void hash_hostport(br_sha256_context *h, const struct config_hostport *hp)
{
    uint8_t port[2] = { (uint8_t)(hp->port >> 8), (uint8_t)hp->port };
    br_sha256_update(h, hp->host, strlen(hp->host) + 1);
    br_sha256_update(h, port, sizeof port);
}

/* see mappings.h */
uint64_t mappings_fingerprint(int i)
{
    const struct config_mapping *m = mappings_get(i);
    br_sha256_context h;
    uint8_t out[32], tls;
    uint64_t fp = 0;
    if (m == NULL) {
        return 0;
    }
    br_sha256_init(&h);
    hash_hostport(&h, &m->virt);
    hash_hostport(&h, &m->internal);
    tls = (uint8_t)(m->tls != 0);
    br_sha256_update(&h, &tls, 1);
    br_sha256_update(&h, m->sni, strlen(m->sni) + 1);
    br_sha256_out(&h, out);
    for (unsigned k = 0; k < 8; k++) {
        fp = fp << 8 | out[k];
    }
    return fp;
}
