/* see resolve.h */
#include <string.h>
#include <strings.h>

#include "lwip/dns.h"
#include "resolve.h"
#include "settings.h"

/* DNS queries out at once (lwIP keeps at most DNS_TABLE_SIZE names in flight too). */
#define RESOLVE_PENDING_MAX 16

static struct pending {
    resolve_cb cb;
    void *arg;
    char name[CONFIG_NAME_MAX];
} pending[RESOLVE_PENDING_MAX];

/* see resolve.h */
int resolve_now(const char *name, ip_addr_t *addr)
{
    const struct config *cf = settings_running();
    if (ipaddr_aton(name, addr) && IP_IS_V4(addr)) {
        return 0;
    }
    for (unsigned i = 0; i < cf->nhosts; i++) {
        if (strcasecmp(cf->hosts[i].name, name) == 0) {
            const uint8_t *b = cf->hosts[i].addr;
            IP_ADDR4(addr, b[0], b[1], b[2], b[3]);
            return 0;
        }
    }
    return -1;
}

/* lwIP answers every query for a name through one callback: hand it to each asker. */
static void on_dns(const char *name, const ip_addr_t *addr, void *unused)
{
    (void)unused;
    for (unsigned i = 0; i < RESOLVE_PENDING_MAX; i++) {
        struct pending *p = &pending[i];
        if (p->cb != NULL && strcasecmp(p->name, name) == 0) {
            resolve_cb cb = p->cb;
            p->cb = NULL;
            cb(name, addr, p->arg);
        }
    }
}

/* see resolve.h */
enum resolve_result resolve_name(const char *name, ip_addr_t *addr, resolve_cb cb, void *arg)
{
    if (resolve_now(name, addr) == 0) {
        return RESOLVE_DONE;
    }
    if (!settings_running()->net.has_dns || strlen(name) >= CONFIG_NAME_MAX) {
        return RESOLVE_UNKNOWN;
    }
    struct pending *slot = NULL;
    for (unsigned i = 0; i < RESOLVE_PENDING_MAX && slot == NULL; i++) {
        if (pending[i].cb == NULL) {
            slot = &pending[i];
        }
    }
    if (slot == NULL) {
        return RESOLVE_UNKNOWN;
    }
    err_t err = dns_gethostbyname_addrtype(name, addr, on_dns, NULL, LWIP_DNS_ADDRTYPE_IPV4);
    if (err == ERR_OK) {
        return RESOLVE_DONE;
    }
    if (err != ERR_INPROGRESS) {
        return RESOLVE_UNKNOWN;
    }
    slot->cb = cb;
    slot->arg = arg;
    memcpy(slot->name, name, strlen(name) + 1);
    return RESOLVE_PENDING;
}

/* see resolve.h */
void resolve_cancel(resolve_cb cb, void *arg)
{
    for (unsigned i = 0; i < RESOLVE_PENDING_MAX; i++) {
        if (pending[i].cb == cb && pending[i].arg == arg) {
            pending[i].cb = NULL;
        }
    }
}
