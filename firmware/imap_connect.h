/* The IMAP receiver's way to its server (svc_imap.c): always through the server's mapping,
 * whose kind must fit the security mode (security off only over a tls mapping, where the
 * gateway does the TLS; starttls and tls only over a tcp mapping, where TLS runs end to
 * end), then dial.c: the internal host's name, the connect, implicit TLS. A commit that
 * moves, changes or deletes the mapping while its name resolves starts the connection
 * over. Each failure comes back as the verdict the receiver shows. */
#ifndef GW_IMAP_CONNECT_H
#define GW_IMAP_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "dial.h"

struct imap_connect {
    uint64_t map_fp;                 /* the server's mapping when its name was resolved */
    struct dial dial;                /* to the server; dial.ep once open */
};

enum imap_connect_step {
    IMAP_CONNECT_WAIT,               /* nothing new */
    IMAP_CONNECT_CONNECTING,         /* the name resolved: the connect is out now */
    IMAP_CONNECT_OPEN,               /* bytes flow through dial.ep */
    IMAP_CONNECT_FAILED,             /* why says why */
};

/* Finds the server's mapping, checks its pairing, and starts resolving its internal host.
 * 0, or -1 with why. */
int imap_connect_start(struct imap_connect *c, char *why, size_t cap);

/* The dial, one step; on IMAP_CONNECT_FAILED why says why. */
enum imap_connect_step imap_connect_step(struct imap_connect *c, char *why, size_t cap);

/* STARTTLS after the server's OK: the TLS check is for the server's own name. 0, or -1
 * with why (a pointer to static or dial text). */
int imap_connect_starttls(struct imap_connect *c, const char **why);

#endif
