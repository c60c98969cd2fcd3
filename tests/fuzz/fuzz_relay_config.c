/* Fuzz the relay's configuration parser (relay/config.c) on arbitrary text: it must accept
 * or name a line and reason, never read past the text, and what it accepts must be
 * complete (every required directive, at least one location with a valid ID, the revoked
 * fingerprints ready for their binary search). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct relay_config c;
    char err[400];
    char *text = malloc(size ? size : 1);        /* exact size: ASan sees any overread */
    memcpy(text, data, size);
    err[0] = 0;
    int r = relay_config_parse(&c, text, size, "/etc/relay", "fuzz.conf", err, sizeof err);
    if (r == 0) {
        if (c.nlocs == 0 || c.cert[0] == 0 || c.key[0] == 0 || c.client_ca[0] == 0
            || c.spool[0] == 0 || c.listen.sin_port == 0 || c.socks.sin_port == 0) {
            abort();
        }
        for (unsigned i = 0; i < c.nlocs; i++) {
            if (!hello_location_valid(c.locs[i].id, strlen(c.locs[i].id))) {
                abort();
            }
        }
        /* Revoked fingerprints: sorted, each once, each found (relay_revoked's search). */
        for (unsigned i = 0; i < c.nrevoked; i++) {
            if ((i > 0 && memcmp(c.revoked[i - 1], c.revoked[i], 32) >= 0)
                || !relay_revoked(&c, c.revoked[i])) {
                abort();
            }
        }
    } else if (strncmp(err, "fuzz.conf", 9) != 0) {
        abort();                                 /* every refusal names the file */
    }
    relay_config_free(&c);
    free(text);
    return 0;
}
