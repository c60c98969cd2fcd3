/* relay --check, and the relay at start: can this machine give what the configured limits
 * need? File descriptors against RLIMIT_NOFILE, memory against the machine's (or its
 * cgroup's memory limit, when lower: a container, systemd's MemoryMax=), address
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

/* The directory of this process's cgroup in the hierarchy mounted at a mount point whose
 * filesystem is fstype (and, for "cgroup", whose options name want): from
 * /proc/self/mountinfo (mount point, and the mount's root within the hierarchy: a container
 * sees its own cgroup as "/") and /proc/self/cgroup. Returns 0, or -1 when there is none. */
static int cgroup_dir(const char *fstype, const char *want, char *dir, size_t cap,
                      size_t *mount_len)
{
    char line[1024], root[512] = "", mnt[512] = "", path[512] = "";
    FILE *f = fopen("/proc/self/mountinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char r[512], m[512], type[64], opts[512];
        const char *dash = strstr(line, " - ");
        if (dash == NULL || sscanf(line, "%*s %*s %*s %511s %511s", r, m) != 2
            || sscanf(dash + 3, "%63s %*s %511s", type, opts) != 2) {
            continue;
        }
        if (strcmp(type, fstype) == 0 && (want == NULL || strstr(opts, want) != NULL)) {
            snprintf(root, sizeof root, "%s", r);
            snprintf(mnt, sizeof mnt, "%s", m);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    f = mnt[0] ? fopen("/proc/self/cgroup", "r") : NULL;
    while (f && fgets(line, sizeof line, f)) {
        char *ctl = strchr(line, ':'), *p = ctl ? strchr(ctl + 1, ':') : NULL;
        if (p == NULL) {
            continue;
        }
        *p++ = 0;
        p[strcspn(p, "\n")] = 0;
        int v2 = strcmp(ctl + 1, "") == 0;
        if (want == NULL ? v2 : strstr(ctl + 1, want) != NULL) {
            snprintf(path, sizeof path, "%s", p);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (!path[0] || strncmp(path, root, rl) != 0) {
        return -1;
    }
    int n = snprintf(dir, cap, "%s%s", mnt, path + rl);
    *mount_len = strlen(mnt);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The least of a limit file's values from dir up to the mount point (a parent's limit
 * binds its children); 0 when none is set. */
static uint64_t cgroup_limit(char *dir, size_t mount_len, const char *file)
{
    uint64_t least = 0;
    for (;;) {
        char path[1100], v[32] = "";
        snprintf(path, sizeof path, "%s/%s", dir, file);
        FILE *f = fopen(path, "r");
        if (f && fgets(v, sizeof v, f) && v[0] >= '0' && v[0] <= '9') {
            uint64_t n = strtoull(v, NULL, 10);
            if (n < ((uint64_t)1 << 60) && (least == 0 || n < least)) {
                least = n;               /* v1 says "no limit" with a huge number */
            }
        }
        if (f) {
            fclose(f);
        }
        char *slash = strrchr(dir, '/');
        if (slash == NULL || (size_t)(slash - dir) < mount_len) {
            return least;
        }
        *slash = 0;
    }
}

/* The memory the relay may use: the machine's, or less under a cgroup memory limit (a
 * container, systemd's MemoryMax=), version 2 or 1. *what says which. 0: unknown. */
static uint64_t memory_bound(const char **what)
{
    long pages = sysconf(_SC_PHYS_PAGES), pgsz = sysconf(_SC_PAGESIZE);
    uint64_t phys = pages > 0 && pgsz > 0 ? (uint64_t)pages * (uint64_t)pgsz : 0;
    char dir[1024];
    size_t ml;
    uint64_t cg = 0;
    if (cgroup_dir("cgroup2", NULL, dir, sizeof dir, &ml) == 0) {
        cg = cgroup_limit(dir, ml, "memory.max");
    }
    if (cg == 0 && cgroup_dir("cgroup", "memory", dir, sizeof dir, &ml) == 0) {
        cg = cgroup_limit(dir, ml, "memory.limit_in_bytes");
    }
    *what = "this machine has";
    if (cg && (phys == 0 || cg < phys)) {
        *what = "its cgroup's memory limit allows";
        return cg;
    }
    return phys;
}

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
    long pgsz = sysconf(_SC_PAGESIZE);
    uint64_t hs = idle + sizeof(struct tls_peer_check) + 4 * (uint64_t)pgsz
                  + sizeof(struct tls_io_fd_buf);
    uint64_t mem = (uint64_t)l->tunnels * idle + (uint64_t)l->handshakes * hs
                   + (uint64_t)l->socks * 1024 + (16u << 20);
    const char *what;
    uint64_t phys = memory_bound(&what);
    if (phys && mem > phys) {
        report(err, errlen, "limits tunnels %u and handshakes %u need about %.0f MiB of memory "
             "(%.1f KiB per idle tunnel), %s %.0f MiB: lower the limits\n",
             l->tunnels, l->handshakes, mem / MIB, idle / 1024.0, what, phys / MIB);
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
