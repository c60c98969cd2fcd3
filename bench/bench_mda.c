/* bench_mda MAILDIR: the delivery agent fetchmail runs once per message (bench/run.sh).
 * Reads the message from stdin into MAILDIR/tmp, fsyncs it, renames it into MAILDIR/new and
 * fsyncs that directory: the same durability mbsync gives with FSync on, and the relay's
 * spool gives before its ack. Exit status 0 only when the message is durable. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static char buf[65536];
    char tmp[4096], dst[4096], dir[4096];
    struct timespec t;
    if (argc != 2) {
        fprintf(stderr, "usage: bench_mda MAILDIR < message\n");
        return 2;
    }
    clock_gettime(CLOCK_REALTIME, &t);
    char name[128];
    snprintf(name, sizeof name, "%lld.M%ldP%d.bench", (long long)t.tv_sec, t.tv_nsec / 1000,
             (int)getpid());
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", argv[1], name);
    snprintf(dst, sizeof dst, "%s/new/%s", argv[1], name);
    snprintf(dir, sizeof dir, "%s/new", argv[1]);
    int ret = 1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("bench_mda: tmp");
        return 1;
    }
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0) {
                goto done;
            }
            off += w;
        }
    }
    if (n < 0 || fsync(fd) != 0 || rename(tmp, dst) != 0) {
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0 && fsync(dfd) == 0) {
        ret = 0;
    }
    if (dfd >= 0) {
        close(dfd);
    }
done:
    close(fd);
    if (ret != 0) {
        perror("bench_mda");
        unlink(tmp);
    }
    return ret;
}
