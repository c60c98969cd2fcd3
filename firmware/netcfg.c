/* see netcfg.h */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "lwip/dhcp.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "netcfg.h"

static void netcfg_status_cb(struct netif *netif)
{
    if (netif_is_up(netif) && !ip4_addr_isany_val(*netif_ip4_addr(netif))) {
        char a[16], m[16], g[16];
        ip4addr_ntoa_r(netif_ip4_addr(netif), a, sizeof a);
        ip4addr_ntoa_r(netif_ip4_netmask(netif), m, sizeof m);
        ip4addr_ntoa_r(netif_ip4_gw(netif), g, sizeof g);
        log_info("net: address %s netmask %s gateway %s%s", a, m, g,
                 netif_dhcp_data(netif) ? " (dhcp)" : "");
    }
}

/* see netcfg.h */
int netcfg_parse_cidr(const char *s, uint32_t *addr_be, unsigned *prefix)
{
    char buf[20];
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= sizeof buf) {
        return -1;
    }
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    ip4_addr_t a;
    if (!ip4addr_aton(buf, &a)) {
        return -1;
    }
    unsigned n = 0;
    const char *p = slash + 1;
    if (*p == '\0' || strlen(p) > 2) {
        return -1;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        n = n * 10 + (unsigned)(*p - '0');
    }
    if (n > 32) {
        return -1;
    }
    *addr_be = ip4_addr_get_u32(&a);
    *prefix = n;
    return 0;
}

/* see netcfg.h */
int netcfg_apply(struct netif *netif, const char *cidr, const char *gw, const char *hostname)
{
    static char host[64];
    snprintf(host, sizeof host, "%s", hostname ? hostname : "gateway");
    netif_set_hostname(netif, host);
    netif_set_status_callback(netif, netcfg_status_cb);
    if (cidr == NULL) {
        netif_set_up(netif);
        err_t err = dhcp_start(netif);
        if (err != ERR_OK) {
            log_err("net: DHCP cannot start: %s", lwip_strerr(err));
            return -1;
        }
        log_info("net: asking for an address by DHCP");
        return 0;
    }
    uint32_t addr;
    unsigned prefix;
    if (netcfg_parse_cidr(cidr, &addr, &prefix) != 0) {
        log_err("net: '%s' is not an address with prefix (A.B.C.D/NN)", cidr);
        return -1;
    }
    ip4_addr_t ip, mask, gwa;
    ip4_addr_set_u32(&ip, addr);
    ip4_addr_set_u32(&mask, prefix ? lwip_htonl(0xffffffffu << (32 - prefix)) : 0);
    ip4_addr_set_zero(&gwa);
    if (gw != NULL && !ip4addr_aton(gw, &gwa)) {
        log_err("net: '%s' is not an IPv4 address", gw);
        return -1;
    }
    netif_set_addr(netif, &ip, &mask, &gwa);
    netif_set_up(netif);
    return 0;
}
