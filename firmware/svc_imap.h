/* The IMAP receiver (issue 7): logs into the on-premise mailbox through the gateway's own
 * mappings (`set imap server VHOST:VPORT` must be a mapping), and delivers each new message
 * to the relay's spool through a tunnel stream (proto/hello_delivery.h delivery), then applies the
 * after-action to the delivered batch as one UID set. A message the relay's mail store
 * rejects for good (answer "rejected") stays on the server, counted in `show imap`, and is
 * not fetched again. Nothing is lost: the after-action
 * waits for the relay's answer (stored, or already have it); nothing is kept twice: the
 * relay deduplicates by SHA-256, so a message delivered again after a crash, a lost
 * connection or a UIDVALIDITY change is answered "already have it".
 *
 * Security (`set imap security`): starttls over a tcp mapping (STARTTLS by us, the chain
 * checked against the trust store and the *virtual* host name, since TLS runs end to end);
 * tls over a tcp mapping (implicit TLS, same check); off only over a tls mapping (the
 * mapping's TLS to the internal host is the protection). Other pairings are refused with
 * a verdict.
 *
 * With delivery version 2 (relays with a Maildir spool) each message is read once: a
 * batch's messages are asked in one UID FETCH, each streamed into its delivery as the server
 * sends it, hashed on the way (the SHA-256 follows the body), up to 16 in flight
 * (imap_inflight.h). With version 1 each is read twice: once for its SHA-256 and length
 * (the header carries them), once to stream it. RAM stays bounded whatever the message
 * size: ~12 KiB static (a 4 KiB receive buffer, the IMAP engine 5.4 KiB, the delivery
 * header and answer 2 KiB) and the waiting slots (21 KiB, touched only when used), plus
 * the TLS endpoint's pool slot (~52 KiB) for starttls, tls and tls mappings.
 *
 * While no tunnel is up nothing is fetched: the mailbox stays the queue. The session is
 * kept (NOOP every poll interval) and fetching starts when a tunnel comes up. */
#ifndef GW_SVC_IMAP_H
#define GW_SVC_IMAP_H

#define IMAP_RX_MAX 4096             /* bytes read from the server at once */
#define IMAP_SKIP_MAX 32             /* oversized UIDs, and those the relay's store rejected,
                                        remembered so they are not read again (until a
                                        restart of the receiver, or more than this many) */
#define IMAP_RETRY_MIN_MS 2000       /* reconnect backoff after a failure, and the search
                                        after a batch that left mail for a passing cause
                                        (no stream free, an error answer), doubling ... */
#define IMAP_RETRY_MAX_MS 60000      /* ... up to this */
#define IMAP_ANSWER_MS 120000        /* the relay's answer after our FIN (fsync of a big file) */
#define IMAP_IO_MS 60000             /* the server answers a command within this, IDLE aside */
#define IMAP_POLL_DEFAULT_S 60       /* NOOP polling when the server has no IDLE */

/* (Re)start from the running config (at boot, after a commit): an open session ends. */
void imap_svc_start(void);
/* Every loop turn. Returns 1 when work is left that should not wait for the next sleep. */
int imap_svc_poll(void);
/* `show imap`: state, server capabilities, last poll, messages and bytes delivered, last
 * verdict, current message. */
void imap_show(void (*out)(const char *fmt, ...));

#endif
