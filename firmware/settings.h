/* The running configuration of the box: the record store on the board's flash, the config
 * (candidate and running) on top, and applying it to the live system at boot and at each
 * commit. One instance; everything that reads settings asks here. */
#ifndef GW_SETTINGS_H
#define GW_SETTINGS_H

#include "bearssl.h"
#include "config.h"

struct netif;
struct device_key;
struct tls_client_config;

/* Index entries for the store: distinct keys it can hold (12 B each: 3 KiB). */
#define SETTINGS_KEYS_MAX 256
/* Room for pasted PEM in the candidate: a whole trust store of 30+ certificates. */
#define SETTINGS_ARENA_BYTES (64 * 1024)

/* Mount the store (formatting a blank flash) and load the configuration. 0, or -1 when the
 * flash cannot hold a store at all (logged). A damaged record is logged and skipped. */
int settings_mount(void);
struct config_ctx *settings_ctx(void);
struct store *settings_store(void);
const struct config *settings_running(void);

/* Apply the running network settings to netif (at boot, and after a commit that changed
 * them). NULL netif: nothing to apply. */
void settings_apply_net(struct netif *netif);
/* The box's name as running (the prompt shows it). */
const char *settings_hostname(void);
/* Commit the candidate to flash and apply everything it changed to the live system: the
 * network (address, DNS, host name; the NTP server when the host table changed), the trust
 * anchors, the mapping counters, the tunnels and the IMAP receiver (each restarted only if
 * its settings changed). written, when not NULL, is called once the commit is on flash and
 * the network applied, before the services restart: what the console says there comes
 * before what the restarts log. 0, or the config error (ctx->error). */
int settings_commit(void (*written)(void));
/* Erase the configuration (factory-reset): the store is formatted. */
int settings_factory_reset(void);

/* The device key of cf (the running config, or the candidate) into k, in place: its stored
 * form (tls/keys.h) or an imported P-256 key's DER (SEC1 or PKCS#8). 0; -1 when there is no
 * key; -2 when it cannot be read or is not a P-256 key. Wipe k with key_wipe(). */
int settings_device_key(const struct config *cf, struct device_key *k);

/* The device chain of cf, decoded: its certificates' DER into der (cap bytes, CONFIG_CHAIN_MAX
 * holds any chain that can be imported) and certs[] pointing into it. The number of
 * certificates (> 0), or -1 with why ("the device chain cannot be read from flash", "... be
 * decoded"). The PEM text is read into one scratch buffer of settings (8 KiB, static) that
 * every reader of the chain shares (the tunnel, `tls probe ... client`). */
int settings_device_chain(const struct config *cf, uint8_t *der, size_t cap,
                          br_x509_certificate *certs, size_t max, const char **why);
/* The SHA-256 of cf's chain as stored (zeros when there is none). */
void settings_chain_fingerprint(const struct config *cf, uint8_t fp[32]);

/* The running trust anchors as BearSSL wants them, rebuilt from the DER records after boot
 * and after each commit (RAM: CONFIG_TRUST_MAX anchors and their names and keys, about
 * 32 KiB, static, shared by both views). Certificates BearSSL cannot use are logged and
 * left out. Two views, so that a CA imported for an internal server never vouches for a
 * relay: settings_trust_anchors() gives the server anchors (tls mappings, the receiver's
 * TLS, tls probe); settings_relay_anchors() the tunnel's own (`trust import relay`), plus
 * the server anchors only while `set tunnel trust shared` (an older flash) says so. */
void settings_trust_anchors(const br_x509_trust_anchor **ta, size_t *n);
void settings_relay_anchors(const br_x509_trust_anchor **ta, size_t *n);
/* Whose certificates a TLS client checks: an internal server's (tls mappings, the IMAP
 * receiver, tls probe) or a relay's (the tunnel, `tls probe ... relay`). */
enum settings_peer { SETTINGS_PEER_SERVER, SETTINGS_PEER_RELAY };
/* The TLS client configuration every client starts from: *cfg zeroed, then host, the trust
 * anchors for peer and the validated time. NULL when it can be used; else why not: "no
 * relay trust anchors: ..." (a relay, and its trust store empty) or "time not valid yet
 * (WHY)". *cfg is filled all the same (its time 0 when not valid), so that `tls probe` and
 * `mapping check` can let the handshake say it. The caller adds a client identity, SNI or
 * a capture. */
const char *settings_tls_client(struct tls_client_config *cfg, const char *host,
                                enum settings_peer peer);
/* Time for certificate checks: 1 and *now (Unix seconds) when the clock is valid; 0 when
 * not (TLS must wait or fail, never skip the check). Valid: the board believes its clock,
 * and it is not behind the last-known-good time kept on flash (a floor). */
int settings_time(int64_t *now);
/* Whether t (Unix seconds) may be believed as the wall time: NULL, or why not ("before
 * 2025", "behind the last known good time"). SNTP answers pass here before they set the
 * board's clock. */
const char *settings_time_check(int64_t t);
/* Keep now on flash as the last-known-good time, unless one was written (or tried) within
 * the last day. SNTP calls it on its first answer; settings_time_tick() for a board clock. */
void settings_time_keep(int64_t now);
/* Why the time is not valid ("board clock not set", ...), or NULL when it is. */
const char *settings_time_why(void);
/* The last-known-good time when it was last written (0: never). */
#define settings_time_lkg() (settings_ctx()->lkg_time)
/* From the event loop: keep the last-known-good time on flash (first after ten minutes of
 * uptime with a valid clock, then at most once a day). */
void settings_time_tick(void);

#endif
