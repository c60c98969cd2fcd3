/* Fuzz the console interpreter: arbitrary bytes go through the line editor and, line by
 * line, through the command interpreter (settings, show, help, PEM pastes, secrets) on a RAM
 * flash. No crash, no hang, and nothing reaches flash unless the input said `commit`.
 * A script cannot `reboot` or `factory-reset` (it stops at its end): those lines run too. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "board_linux.h"
#include "cmd_table.h"
#include "console.h"
#include "lineedit.h"
#include "random.h"
#include "settings.h"
#include "store.h"

static void sink(void *arg, const char *s, size_t n)
{
    (void)arg;
    (void)s;
    (void)n;
}

/* The console's rule for lines that carry a secret: their echo is masked. */
static size_t secret_at(void *arg, const char *line, size_t len)
{
    (void)arg;
    size_t at = cmd_secret_at(line, len);
    return at == CMD_NO_SECRET ? LE_NO_SECRET : at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static struct lineedit le;
    if (!ready) {
        if (rng_init(board_entropy) != 0 || linux_flash_open(NULL) != 0) {
            abort();
        }
        log_set_level(LOG_ERR);
        ready = 1;
    }
    if (settings_factory_reset() != 0 || settings_mount() != 0) {
        abort();
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct store_stat before, after;
    store_stat(settings_store(), &before);

    le_init(&le, sink, NULL, NULL);
    le_set_secret_fn(&le, secret_at);
    le_start(&le, "> ", 0);
    for (size_t i = 0; i < size; i++) {
        le_feed(&le, text[i]);
    }
    console_run_script(text, size);
    config_discard(settings_ctx());

    store_stat(settings_store(), &after);
    if (memmem(text, size, "commit", 6) == NULL && after.next_txn != before.next_txn) {
        abort(); /* something reached flash that the input never committed */
    }
    free(text);
    return 0;
}
