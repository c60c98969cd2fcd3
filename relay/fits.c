/* relay --check, and the relay at start: can this machine give what the configured limits
 * need? File descriptors against RLIMIT_NOFILE, memory against the machine's, address
 * space against RLIMIT_AS and RLIMIT_DATA (and the commit limit under strict overcommit),
 * mappings against vm.max_map_count. Each shortfall is one line naming what to change. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "relay.h"

/* A number from /proc (a sysctl, or a /proc/meminfo line in kB), or 0 when unknown. */
static uint64_t proc_number(const char *path, const char *key)
{
    char line[256];
    uint64_t v = 0;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        size_t k = key ? strlen(key) : 0;
        if (key == NULL || (strncmp(line, key, k) == 0 && line[k] == ':')) {
            v = strtoull(line + (key ? k + 1 : 0), NULL, 10) * (key ? 1024u : 1u);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return v;
}

static void report(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(char *err, size_t errlen, const char *fmt, ...)
{
    size_t len = strlen(err);
    va_list ap;
    if (len + 8 >= errlen) {
        return;
    }
    memcpy(err + len, "relay: ", 7);
    va_start(ap, fmt);
    vsnprintf(err + len + 7, errlen - len - 7, fmt, ap);
    va_end(ap);
}

#define MIB (1024.0 * 1024.0)

/* see relay.h */
int relay_config_fits(const struct relay_config *c, char *err, size_t errlen)
{
    const struct relay_limits *l = &c->lim;
    struct rlimit rl;
    size_t map = 0, idle = 0;
    err[0] = 0;
    (void)tunnel_sizes(l, &map, &idle);
    /* Descriptors: one per tunnel connection (admitted ones included), SOCKS5 client and
     * delivery file, eight scrapes, and a reserve for the listeners, epoll sets, eventfds,
     * the spare kept for EMFILE and the files opened now and then. */
    uint64_t fds = (uint64_t)l->tunnels + l->socks + l->deliveries + 8 + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
        && fds > rl.rlim_max) {
        report(err, errlen, "limits tunnels %u, socks %u and deliveries %u need %llu file "
             "descriptors, RLIMIT_NOFILE allows %llu: raise LimitNOFILE= (relay.service) or "
             "ulimit -n, or lower the limits\n", l->tunnels, l->socks, l->deliveries,
             (unsigned long long)fds, (unsigned long long)rl.rlim_max);
    }
    /* Memory when every limit is reached and idle: tunnels, handshakes in progress (their
     * checker, TLS buffers and socket buffers, 97 KiB each: counted whole, though a flight
     * touches a few pages of them), SOCKS5 clients, and the rest of the process (identity,
     * tables, buffers kept for reuse: 16 socket buffers, 1.5 MiB, per thread). A tunnel
     * moving data holds a socket buffer too, only while bytes wait in it: not counted. */
    long pages = sysconf(_SC_PHYS_PAGES), pgsz = sysconf(_SC_PAGESIZE);
    uint64_t hs = idle + sizeof(struct tls_peer_check) + 4 * (uint64_t)pgsz
                  + sizeof(struct tls_io_fd_buf);
    uint64_t mem = (uint64_t)l->tunnels * idle + (uint64_t)l->handshakes * hs
                   + (uint64_t)l->socks * 1024 + (16u << 20);
    uint64_t phys = pages > 0 && pgsz > 0 ? (uint64_t)pages * (uint64_t)pgsz : 0;
    if (phys && mem > phys) {
        report(err, errlen, "limits tunnels %u and handshakes %u need about %.0f MiB of memory "
             "(%.1f KiB per idle tunnel), this machine has %.0f MiB: lower the limits\n",
             l->tunnels, l->handshakes, mem / MIB, idle / 1024.0, phys / MIB);
    }
    /* Address space: each tunnel's mapping (its receive pool, committed only as used). */
    uint64_t va = (uint64_t)l->tunnels * map + (256u << 20);
    const struct {
        int res;
        const char *name;
    } lims[] = { { RLIMIT_AS, "RLIMIT_AS" }, { RLIMIT_DATA, "RLIMIT_DATA" } };
    for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
        if (getrlimit(lims[i].res, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
            && va > rl.rlim_max) {
            report(err, errlen, "limit tunnels %u needs %.0f MiB of address space (%.1f MiB a "
                 "tunnel, its receive pool committed only as used), %s allows %.0f MiB: "
                 "raise it, or lower limit tunnels or location-streams\n", l->tunnels,
                 va / MIB, map / MIB, lims[i].name, rl.rlim_max / MIB);
        }
    }
    /* Under vm.overcommit_memory 2 the kernel charges every writable mapping in full. */
    if (proc_number("/proc/sys/vm/overcommit_memory", NULL) == 2) {
        uint64_t commit = proc_number("/proc/meminfo", "CommitLimit");
        if (commit && va > commit) {
            report(err, errlen, "vm.overcommit_memory is 2: limit tunnels %u would commit %.0f "
                 "MiB of address space, CommitLimit is %.0f MiB: lower limit tunnels or "
                 "location-streams, or allow overcommit\n", l->tunnels, va / MIB, commit / MIB);
        }
    }
    uint64_t maps = proc_number("/proc/sys/vm/max_map_count", NULL);
    if (maps && (uint64_t)l->tunnels + 4096 > maps) {
        report(err, errlen, "limit tunnels %u needs %u memory mappings, vm.max_map_count is "
             "%llu: raise it (sysctl) or lower limit tunnels\n", l->tunnels, l->tunnels + 4096,
             (unsigned long long)maps);
    }
    return err[0] ? -1 : 0;
}
