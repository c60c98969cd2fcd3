/* The device's identity at the console: `tunnel key generate` (a P-256 key into the
 * candidate), `tunnel csr` (its certificate request for the Location ID), and the end of a
 * `tunnel cert import` paste: the leaf must carry the device key, then the chain is shown.
 * The device key is in RAM only while one of these runs, and wiped after. */
#include "board.h"
#include "console_int.h"
#include "csr.h"
#include "keys.h"
#include "pem.h"
#include "secure_wipe.h"
#include "settings.h"
#include "tls_err.h"

static struct device_key dev_key;   /* loaded only while a command needs it, then wiped */

/* The candidate's new chain, decoded (the check and the report run one after the other:
 * one buffer, 8 KiB, serves both). Returns the number of certificates, or <= 0. */
static int candidate_chain(struct pem_cert *certs, int max)
{
    static struct pem_decoder d;
    static uint8_t der[CONFIG_CHAIN_MAX];
    struct config_ctx *c = settings_ctx();
    return pem_decode_certs(&d, c->arena + c->candidate.chain_off, c->candidate.chain_len,
                            der, sizeof der, certs, max);
}

/* see console_int.h */
int identity_key_generate(const struct cmd_args *a)
{
    uint8_t stored[KEY_STORED_LEN];
    int had_chain = settings_ctx()->candidate.has_chain;
    int ret = -1;
    (void)a;
    if (key_generate(&dev_key) != 0) {
        ret = cons_fail("tunnel key generate: the board gives no entropy: no key made");
        goto done;
    }
    if (key_store(&dev_key, stored, sizeof stored) != KEY_STORED_LEN ||
        config_set_key(settings_ctx(), stored, sizeof stored) != CONFIG_OK) {
        ret = cons_fail("tunnel key generate: no room in the candidate (commit or discard first)");
        goto done;
    }
    cons_out("new P-256 device key in the candidate (commit to keep); 'tunnel csr' prints its "
        "certificate request\n");
    if (had_chain) {
        cons_out("note: the device certificate chain was made for the old key: import a new one\n");
    }
    ret = 0;
done:
    secure_wipe(stored, sizeof stored);
    key_wipe(&dev_key);
    return ret;
}

/* see console_int.h */
int identity_csr(const struct cmd_args *a)
{
    static char pem[CSR_PEM_MAX];
    const struct config *cf = &settings_ctx()->candidate;
    int ret = -1;
    (void)a;
    if (!cf->has_key) {
        return cons_fail("tunnel csr: no device key (tunnel key generate first)");
    }
    if (cf->tunnel.location[0] == '\0') {
        return cons_fail("tunnel csr: no Location ID for the CN (set tunnel location ID first)");
    }
    if (settings_device_key(cf, &dev_key) != 0) {
        return cons_fail("tunnel csr: the device key cannot be read (generate a new one)");
    }
    int n = csr_build_pem(&dev_key, cf->tunnel.location, pem, sizeof pem);
    if (n < 0) {
        ret = cons_fail("tunnel csr: Location ID '%s' cannot be a certificate name (at most %d "
                   "printable ASCII characters)", cf->tunnel.location, CSR_CN_MAX);
    } else {
        board_console_write(pem, (size_t)n);
        ret = 0;
    }
    key_wipe(&dev_key);
    return ret;
}

/* see console_int.h */
int identity_chain_check(const struct config_chain_mark *mark)
{
    struct pem_cert certs[8];
    struct config_ctx *c = settings_ctx();
    const char *why = NULL;
    if (!c->candidate.chain_new) {
        return 0;
    }
    int n = candidate_chain(certs, 8);
    if (n <= 0) {
        why = "no certificate in the paste";
    } else if (!c->candidate.has_key) {
        why = "no device key to match (tunnel key generate first)";
    } else if (settings_device_key(&c->candidate, &dev_key) != 0) {
        why = "the device key cannot be read";
    } else {
        int err = key_matches_cert(&dev_key, certs[0].der, certs[0].len);
        key_wipe(&dev_key);
        why = err == 0 ? NULL : err == TLS_EKEY_MISMATCH
                  ? "the certificate is for another key, not this device's (request it with "
                    "'tunnel csr')"
                  : "the first certificate cannot be decoded";
    }
    if (why == NULL) {
        return 0;
    }
    config_chain_restore(c, mark);
    return cons_fail("tunnel cert import: refused: %s", why);
}

/* see console_int.h */
void identity_chain_report(void)
{
    struct pem_cert certs[8];
    if (!settings_ctx()->candidate.chain_new) {
        cons_out("the same chain as stored: nothing changed\n");
        return;
    }
    int n = candidate_chain(certs, 8);
    for (int i = 0; i < n; i++) {
        cons_out("certificate %d:\n", i + 1);
        show_cert("  ", certs[i].der, certs[i].len);
    }
    cons_out("device certificate chain of %d certificate%s in the candidate (commit to keep)\n", n,
        n == 1 ? "" : "s");
}
