/* Linux board: small helpers about kernel network interfaces, shared by TAP and AF_PACKET. */
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "board_linux.h"
#include "ifutil.h"

int linux_ifname_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '/' || name[i] == ':' || name[i] <= ' ') {
            return 0;
        }
    }
    return 1;
}

int linux_if_flags(const char *name)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int ret = ioctl(s, SIOCGIFFLAGS, &ifr) == 0 ? (unsigned short)ifr.ifr_flags : -1;
    close(s);
    return ret;
}

/* From <linux/ethtool.h>, which musl's include path does not carry. */
#define GW_SIOCETHTOOL 0x8946
#define GW_ETHTOOL_SGRO 0x0000002c
struct gw_ethtool_value { uint32_t cmd, data; };

int linux_if_set_gro(const char *name, int on)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return -1;
    }
    struct gw_ethtool_value ev = { GW_ETHTOOL_SGRO, on ? 1u : 0u };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    ifr.ifr_data = (void *)&ev;
    int ret = ioctl(s, GW_SIOCETHTOOL, &ifr);
    close(s);
    return ret;
}
