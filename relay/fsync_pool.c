/* Parallel fsync for the spool's group commit (delivery.c). A filesystem's journal serves
 * the fsyncs that wait at the same moment with one commit (ext4's jbd2, XFS's log force),
 * so the files of a group fsynced from several threads at once cost about one commit; one
 * after the other they cost a commit each (0.3-0.5 ms on the bench's disk: issue 21, the
 * small mails of `make bench` were bound by it). The loop waits for the whole group, as it
 * waited for the serial fsyncs: nothing else is shared with the threads but the job.
 *
 * FSYNC_THREADS threads plus the caller, started at the first group of more than one file
 * (a relay that stores nothing, or one message at a time, has none: about 5 KiB resident
 * each); each thread's stack is FSYNC_STACK (untouched pages cost nothing). Without
 * threads (none could start) the caller does them all. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

#define FSYNC_THREADS 15
#define FSYNC_STACK (64u * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static const int *job_fds;
static int *job_errs;
static size_t job_n, job_next, job_left;   /* under mu */
static unsigned threads;
static int started;

/* Takes the job's next file while there is one; called and returns with mu held. */
static void take_files(void)
{
    while (job_next < job_n) {
        size_t i = job_next++;
        pthread_mutex_unlock(&mu);
        int err = fsync(job_fds[i]) != 0 ? errno : 0;
        pthread_mutex_lock(&mu);
        job_errs[i] = err;
        if (--job_left == 0) {
            pthread_cond_signal(&done);
        }
    }
}

static void *thread_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (job_next >= job_n) {
            pthread_cond_wait(&work, &mu);
        }
        take_files();
    }
    return NULL;
}

static void pool_start(void)
{
    for (; threads < FSYNC_THREADS; threads++) {
        pthread_t th;
        if (relay_thread_start(&th, thread_main, NULL, FSYNC_STACK) != 0) {
            log_warnx("spool: %u fsync threads of %u started: the group commit's files are "
                      "fsynced by fewer at once", threads, FSYNC_THREADS);
            break;
        }
        pthread_detach(th);
    }
}

/* see relay.h */
void fsync_many(const int *fds, int *errs, size_t n)
{
    if (n > 1 && !started) {
        started = 1;
        pool_start();
    }
    pthread_mutex_lock(&mu);
    job_fds = fds;
    job_errs = errs;
    job_n = n;
    job_next = 0;
    job_left = n;
    if (threads > 0 && n > 1) {
        pthread_cond_broadcast(&work);
    }
    take_files();                            /* the caller works too */
    while (job_left > 0) {
        pthread_cond_wait(&done, &mu);
    }
    job_n = job_next = 0;
    pthread_mutex_unlock(&mu);
}
