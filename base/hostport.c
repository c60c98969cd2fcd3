/* see hostport.h */
#include <string.h>

#include "hostport.h"

/* see hostport.h */
int hostport_split(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t)(colon - s) >= cap) {
        return -1;
    }
    uint32_t v = 0;
    const char *d = colon + 1;
    if (*d == '\0') {
        return -1;
    }
    for (; *d != '\0'; d++) {
        if (*d < '0' || *d > '9' || (v = v * 10 + (uint32_t)(*d - '0')) > 65535) {
            return -1;
        }
    }
    if (v == 0) {
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (uint16_t)v;
    return 0;
}
