/* relay spool: a Maildir per location (SPOOL/ID/{tmp,new,cur}) and the set of SHA-256s
 * delivered there, for "already have it": the same key, location and SHA-256, as the
 * LMTP store's duplicate test uses (spool_lmtp.c). The set is kept in memory and in an
 * append-only file SPOOL/ID/.relay-index ("HEX UIDVALIDITY UID NAME" per line, NAME "-"
 * for a message settled later, see below; fsynced before a delivery is acknowledged); at
 * start it is rebuilt from that file and from the names in new/ and cur/
 * ("SECONDS.HEX.HOST,S=SIZE"), so a crash between rename and index append loses nothing.
 * Consumers may move or delete messages: the index still remembers them.
 *
 * A failed fsync of new/ after the rename: the message is in new/ (a consumer may take it
 * at once) but may not last a crash. It is not taken out again (a consumer may already
 * have it, and the gateway's retry would then make a second copy): it stays, answered
 * "error", and its hash is kept as unsettled. The gateway's retry finds it so and fsyncs
 * new/ again (spool_settle): once that succeeds it is answered "already have it". So a
 * message is never acknowledged before it lasts, and never stored twice; unsettled hashes
 * live in memory only (after a restart the names in new/ speak for what is there). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

struct spool_index {
    uint8_t (*keys)[32];
    uint8_t *used;
    size_t cap, n;
};

static char host[64];

static size_t slot_of(const struct spool_index *ix, const uint8_t sha[32])
{
    size_t h = (size_t)sha[0] | (size_t)sha[1] << 8 | (size_t)sha[2] << 16
               | (size_t)sha[3] << 24;
    return h & (ix->cap - 1);
}

enum { IX_FREE, IX_DURABLE, IX_UNSETTLED };     /* a slot's used[] */

/* The slot holding sha, or -1. */
static long index_find(const struct spool_index *ix, const uint8_t sha[32])
{
    for (size_t i = slot_of(ix, sha), k = 0; k < ix->cap; k++, i = (i + 1) & (ix->cap - 1)) {
        if (ix->used[i] == IX_FREE) {
            return -1;
        }
        if (memcmp(ix->keys[i], sha, 32) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static int index_has(const struct spool_index *ix, const uint8_t sha[32])
{
    long i = ix->cap ? index_find(ix, sha) : -1;
    return i < 0 ? 0 : ix->used[i];
}

/* Enters sha as durable or unsettled (durable wins over unsettled, never the reverse). */
static int index_add(struct spool_index *ix, const uint8_t sha[32], int state)
{
    long at = ix->cap ? index_find(ix, sha) : -1;
    if (at >= 0) {
        if (state == IX_DURABLE) {
            ix->used[at] = IX_DURABLE;
        }
        return 0;
    }
    if (2 * (ix->n + 1) > ix->cap) {              /* grow at half full */
        struct spool_index bigger = { 0 };
        bigger.cap = ix->cap ? 2 * ix->cap : 1024;
        bigger.keys = calloc(bigger.cap, 32);
        bigger.used = calloc(bigger.cap, 1);
        if (bigger.keys == NULL || bigger.used == NULL) {
            free(bigger.keys);
            free(bigger.used);
            return -1;
        }
        for (size_t i = 0; i < ix->cap; i++) {
            if (ix->used[i] != IX_FREE) {
                index_add(&bigger, ix->keys[i], ix->used[i]);
            }
        }
        free(ix->keys);
        free(ix->used);
        *ix = bigger;
    }
    size_t i = slot_of(ix, sha);
    while (ix->used[i]) {
        i = (i + 1) & (ix->cap - 1);
    }
    memcpy(ix->keys[i], sha, 32);
    ix->used[i] = (uint8_t)state;
    ix->n++;
    return 0;
}

static int unhex32(const char *s, uint8_t out[32])
{
    for (int i = 0; i < 64; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) {
            return -1;
        }
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return 0;
}

/* The hashes in dir's names into ix (when not NULL), and its messages and bytes counted
 * (the size from ",S=SIZE" in the name, as Maildir writers put it, else from stat). */
static void scan_dir(struct spool_index *ix, const char *dir, unsigned *msgs, uint64_t *bytes)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    uint8_t sha[32];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        const char *dot = strchr(e->d_name, '.');
        if (ix && dot && strlen(dot + 1) > 64 && dot[65] == '.' && unhex32(dot + 1, sha) == 0) {
            index_add(ix, sha, IX_DURABLE);
        }
        const char *sz = strstr(e->d_name, ",S=");
        struct stat st;
        if (sz) {
            *bytes += strtoull(sz + 3, NULL, 10);
        } else if (fstatat(dirfd(d), e->d_name, &st, 0) == 0) {
            *bytes += (uint64_t)st.st_size;
        }
        (*msgs)++;
    }
    if (d) {
        closedir(d);
    }
}

static void loc_path(char *out, size_t cap, const struct location *loc, const char *sub)
{
    snprintf(out, cap, "%s/%s%s%s", relay_cfg.spool, loc->id, sub[0] ? "/" : "", sub);
}

/* What new/ and cur/ hold now (consumers take messages away behind our back). */
static void count_spool(struct location *loc, struct spool_index *ix)
{
    char path[RELAY_PATH_MAX + 128];
    unsigned msgs = 0;
    uint64_t bytes = 0;
    loc_path(path, sizeof path, loc, "new");
    scan_dir(ix, path, &msgs, &bytes);
    loc_path(path, sizeof path, loc, "cur");
    scan_dir(ix, path, &msgs, &bytes);
    relay_m.spool_bytes += bytes - loc->spool_bytes;
    loc->spool_bytes = bytes;
    loc->spool_msgs = msgs;
    loc->spool_counted_ms = relay_now_ms();
}

/* see relay.h */
int spool_quota(struct location *loc, uint64_t len, char *why, size_t cap)
{
    const struct relay_limits *l = &relay_cfg.lim;
    int fits = loc->spool_msgs < l->location_spool_messages
               && len <= l->location_spool_bytes - (loc->spool_bytes < l->location_spool_bytes
                                                    ? loc->spool_bytes : l->location_spool_bytes);
    if (!fits && relay_now_ms() - loc->spool_counted_ms >= 1000) {
        count_spool(loc, NULL);
    }
    if (loc->spool_msgs >= l->location_spool_messages) {
        snprintf(why, cap, "quota: the spool holds %u messages (limit location-spool-messages)",
                 loc->spool_msgs);
        return -1;
    }
    if (loc->spool_bytes + len > l->location_spool_bytes) {
        snprintf(why, cap, "quota: the spool holds %llu bytes, the message has %llu (limit "
                 "location-spool-bytes)", (unsigned long long)loc->spool_bytes,
                 (unsigned long long)len);
        return -1;
    }
    return 0;
}

/* see relay.h */
int spool_prepare(struct location *loc, char *err, size_t errlen)
{
    static const char *const subs[] = { "", "tmp", "new", "cur" };
    char path[RELAY_PATH_MAX + 128], line[256];
    uint8_t sha[32];
    if (relay_cfg.lmtp) {
        return 0;                        /* the store has the mailboxes; nothing on our disk */
    }
    if (host[0] == 0) {
        gethostname(host, sizeof host - 1);
        for (char *p = host; *p; p++) {          /* Maildir: no '/' or ':' in names */
            if (*p == '/' || *p == ':' || *p == '.') {
                *p = '_';
            }
        }
    }
    for (unsigned i = 0; i < 4; i++) {
        loc_path(path, sizeof path, loc, subs[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
            return -1;
        }
    }
    loc->index = calloc(1, sizeof *loc->index);
    if (loc->index == NULL) {
        snprintf(err, errlen, "spool: out of memory");
        return -1;
    }
    loc_path(path, sizeof path, loc, ".relay-index");
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strlen(line) > 64 && unhex32(line, sha) == 0) {
            index_add(loc->index, sha, IX_DURABLE);
        }
    }
    if (f) {
        fclose(f);
    }
    count_spool(loc, loc->index);
    /* Leftovers of deliveries that never finished. */
    loc_path(path, sizeof path, loc, "tmp");
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            char p2[RELAY_PATH_MAX + 400];
            snprintf(p2, sizeof p2, "%s/%s", path, e->d_name);
            unlink(p2);
        }
    }
    if (d) {
        closedir(d);
    }
    if (relay_cfg.nlocs <= 64) {         /* a line per location is noise for thousands */
        log_info("spool: location=%s messages known=%zu", loc->id, loc->index->n);
    }
    return 0;
}

/* see relay.h */
int spool_seen(const struct location *loc, const uint8_t sha[32])
{
    return loc->index ? index_has(loc->index, sha) : 0;
}

/* see relay.h */
int spool_tmp_open(struct location *loc, const struct delivery *d, char *path, size_t cap)
{
    static unsigned counter;
    char dir[RELAY_PATH_MAX + 128];
    (void)d;
    loc_path(dir, sizeof dir, loc, "tmp");
    snprintf(path, cap, "%s/%lld.P%dQ%u.%s", dir, (long long)time(NULL), (int)getpid(),
             ++counter, host);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("%s: %s: %s", __func__, path, strerror(errno));
    }
    return fd;
}

/* 0, or the errno of what failed: open or fsync (returned, not left in errno, which the
 * close after a failed fsync could overwrite). */
static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    int err = fsync(fd) != 0 ? errno : 0;
    close(fd);
    return err;
}

/* One "HEX UIDVALIDITY UID NAME" line per message appended to the location's index file,
 * then one fsync for them all. A failure is logged only: the names in new/ carry the
 * hashes, so a restart still knows them. */
static void index_append(struct location *loc, const struct delivery *const *d,
                         const char *const *name, size_t n)
{
    char hex[65], path[RELAY_PATH_MAX + 128], buf[4096];
    loc_path(path, sizeof path, loc, ".relay-index");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int err = fd < 0 ? errno : 0;
    size_t used = 0;
    for (size_t i = 0; i <= n && err == 0; i++) {
        char line[700];
        int k = 0;
        if (i < n) {
            relay_hex(d[i]->sha256, 32, hex);
            k = snprintf(line, sizeof line, "%s %lu %lu %.*s\n", hex,
                         (unsigned long)d[i]->uidvalidity, (unsigned long)d[i]->uid,
                         RELAY_PATH_MAX, name[i]);
        }
        if (i == n || used + (size_t)k > sizeof buf) {       /* full, or the last: out */
            ssize_t w = write(fd, buf, used);
            err = w != (ssize_t)used ? (w < 0 ? errno : EIO) : 0;
            used = 0;
        }
        memcpy(buf + used, line, (size_t)k);
        used += (size_t)k;
    }
    if (err == 0 && fsync(fd) != 0) {
        err = errno;
    }
    if (err) {
        log_warnx("%s: %s: %s", __func__, path, strerror(err));
    }
    if (fd >= 0) {
        close(fd);
    }
}

/* see relay.h */
int spool_publish(struct location *loc, const char *tmp_path, const struct delivery *d,
                  char *final_name, size_t cap)
{
    char hex[65], dir[RELAY_PATH_MAX + 128], path[RELAY_PATH_MAX + 400];
    relay_hex(d->sha256, 32, hex);
    snprintf(final_name, cap, "%lld.%s.%s,S=%llu", (long long)time(NULL), hex, host,
             (unsigned long long)d->length);
    loc_path(dir, sizeof dir, loc, "new");
    snprintf(path, sizeof path, "%s/%s", dir, final_name);
    if (rename(tmp_path, path) != 0) {
        log_err("%s: %s: %s", __func__, path, strerror(errno));
        return -1;
    }
    loc->spool_msgs++;
    loc->spool_bytes += d->length;
    relay_m.spool_bytes += d->length;
    return 0;
}

/* see relay.h */
int spool_commit_group(struct location *loc, const struct delivery *const *d,
                       const char *const *name, size_t n)
{
    char dir[RELAY_PATH_MAX + 128];
    loc_path(dir, sizeof dir, loc, "new");
    int err = fsync_path(dir, O_RDONLY | O_DIRECTORY);
    if (err) {
        /* The renames may not last a crash, yet a consumer may have the files already:
         * they stay, unsettled, and the gateway's retries settle them (see the top). */
        for (size_t i = 0; i < n; i++) {
            log_err("%s: %s: fsync: %s: %s stays in new/, answered \"error\" until an fsync "
                    "succeeds", __func__, dir, strerror(err), name[i]);
            index_add(loc->index, d[i]->sha256, IX_UNSETTLED);
        }
        return -1;
    }
    index_append(loc, d, name, n);
    for (size_t i = 0; i < n; i++) {
        index_add(loc->index, d[i]->sha256, IX_DURABLE);
    }
    relay_m.commit_groups++;
    relay_m.commit_grouped += n;
    return 0;
}

/* see relay.h */
int spool_settle(struct location *loc, const struct delivery *d)
{
    char dir[RELAY_PATH_MAX + 128];
    loc_path(dir, sizeof dir, loc, "new");
    int err = fsync_path(dir, O_RDONLY | O_DIRECTORY);
    if (err) {
        log_err("%s: %s: fsync: %s: the message delivered earlier stays unsettled", __func__,
                dir, strerror(err));
        return -1;
    }
    const char *dash = "-";
    index_append(loc, &d, &dash, 1);
    index_add(loc->index, d->sha256, IX_DURABLE);
    return 0;
}
