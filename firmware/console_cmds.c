/* see console_cmds.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "cmd_table.h"
#include "console_cmds.h"
#include "console_int.h"
#include "conftok.h"
#include "gateway.h"
#include "log.h"
#include "pwhash.h"
#include "secure_wipe.h"
#include "settings.h"
#include "text_escape.h"

/* A question a command asked, answered by the next line. */
enum pending {
    PEND_NONE,
    PEND_IMAP_PASSWORD,
    PEND_CONSOLE_PASSWORD,
    PEND_CONSOLE_PASSWORD_AGAIN,
    PEND_FACTORY_RESET,
};

static struct {
    enum pending pending;
    char first[CONFIG_SECRET_MAX];   /* the console password typed once, until confirmed */
    int batch;                       /* running a script: errors name its lines */
    unsigned trust_before;           /* anchors in the candidate before the paste */
    struct config_chain_mark chain_before;   /* the candidate's chain before the paste */
    int logout;                      /* `logout` or `exit`: console.c ends the session */
} cm;

/* see console_int.h */
void cons_out(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        return;
    }
    /* What `show` prints may hold text from the network (a server's capabilities or alert, a
     * relay's refusal): only printable ASCII and the newline reach the terminal as they are. */
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, run = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)buf[i];
        if ((c >= 0x20 && c <= 0x7e) || c == '\n') {
            continue;
        }
        char esc[5];
        board_console_write(buf + run, i - run);
        run = i + 1;
        board_console_write(esc, text_escape(esc, sizeof esc, &c, 1, NULL));
    }
    board_console_write(buf + run, len - run);
}

/* see console_int.h */
int cons_fail(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cons_out("error: %s\n", buf);
    return -1;
}

/* The config parser's error; at the console the script line number means nothing. */
static int config_fail(const struct config_ctx *c)
{
    const char *e = c->error;
    if (!cm.batch && strncmp(e, "line ", 5) == 0 && strstr(e, ": ") != NULL) {
        e = strstr(e, ": ") + 2;
    }
    return cons_fail("%s", e);
}

/* Said once the commit is on flash, before the services it touches restart. */
static void say_committed(void)
{
    cons_out("committed\n");
}

/* Run a line through the config parser, reporting its error. */
static int config_line(const char *line, size_t len)
{
    struct config_ctx *c = settings_ctx();
    int err = config_exec(c, line, len);
    if (err < 0) {
        return config_fail(c);
    }
    if (err == CONFIG_DO_COMMIT && !config_changed(c)) {
        cons_out("nothing to commit\n");   /* and nothing is written to flash */
    } else if (err == CONFIG_DO_COMMIT && settings_commit(say_committed) < 0) {
        return config_fail(c);
    } else if (err == CONFIG_DO_DISCARD) {
        config_discard(c);
        cons_out("discarded\n");
    }
    return 0;
}

/* Run a config line built here (secrets): wiped afterwards whatever happens. */
static int config_line_secret(const char *fmt, const char *secret, size_t len)
{
    char line[CONFIG_LINE_MAX], quoted[2 * CONFIG_SECRET_MAX + 3];
    size_t q = 0;
    if (len >= CONFIG_SECRET_MAX) {
        return cons_fail("secret longer than %d characters", CONFIG_SECRET_MAX - 1);
    }
    quoted[q++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (secret[i] == '"' || secret[i] == '\\') {
            quoted[q++] = '\\';
        }
        quoted[q++] = secret[i];
    }
    quoted[q++] = '"';
    quoted[q] = '\0';
    snprintf(line, sizeof line, fmt, quoted);
    int err = config_line(line, strlen(line));
    secure_wipe(line, sizeof line);
    secure_wipe(quoted, sizeof quoted);
    return err;
}

/* see console_int.h */
void cons_write(void *arg, const char *p, size_t len)
{
    (void)arg;
    board_console_write(p, len);
}

/* ---- the settings language ------------------------------------------------------------ */

/* see console_int.h */
int cmds_config(const struct cmd_args *a)
{
    struct config_ctx *c = settings_ctx();
    unsigned trust_before = c->candidate.ntrust;
    config_chain_save(c, &cm.chain_before);   /* a refused `tunnel cert import` goes back */
    int ret = config_line(a->text, a->len);
    if (ret == 0 && cmds_pasting()) {
        cm.trust_before = trust_before;
        if (board_console_interactive()) {
            cons_out("paste PEM; a blank line or 'quit' ends it\n");
        }
    }
    return ret;
}

/* see console_int.h */
int cmds_console_timeout(const struct cmd_args *a)
{
    int ret = cmds_config(a);
    if (ret == 0 && a->argc == 4 && settings_ctx()->candidate.console_hash[0] == '\0') {
        cons_out("note: no console password is set: the console logs out only once one is\n");
    }
    return ret;
}

/* see console_int.h */
int cmds_imap_password(const struct cmd_args *a)
{
    if (a->argc > 3) {
        return cmds_config(a);        /* given on the line: the config parser takes it */
    }
    cm.pending = PEND_IMAP_PASSWORD;
    return 0;
}

/* The console password into the candidate as its hash: 0, -1 (printed), or -2 when there
 * are no random numbers for the salt (nothing changed). */
static int set_console_hash(const char *pw, size_t len)
{
    char hash[PWHASH_TEXT_MAX];
    int ret = pwhash_make(pw, len, hash, sizeof hash) != 0
                  ? -2 : config_line_secret("set console password-hash %s", hash, strlen(hash));
    secure_wipe(hash, sizeof hash);
    return ret;
}

/* set system console-password SECRET: the console language's words, so a quoted password
 * is its words without the quotes, as typed at the password prompt and at the login. */
static int cmd_console_password_line(const char *text, size_t len)
{
    static struct conftok tk;          /* static: 1 KiB; wiped after use */
    int ret;
    if (conftok_split(&tk, text, len, CONFTOK_WORDS_MAX) != 0 || tk.n != 4) {
        ret = cons_fail("set system console-password: expected one password (in quotes if it "
                        "has blanks), or none to be asked");
    } else if (strlen(tk.t[3]) == 0 || strlen(tk.t[3]) >= CONFIG_SECRET_MAX) {
        ret = cons_fail("console password: 1 to %d characters", CONFIG_SECRET_MAX - 1);
    } else if ((ret = set_console_hash(tk.t[3], strlen(tk.t[3]))) == -2) {
        ret = cons_fail("set system console-password: no random numbers for the salt");
    }
    secure_wipe(&tk, sizeof tk);
    return ret;
}

/* see console_int.h */
int cmds_console_password(const struct cmd_args *a)
{
    if (a->argc > 3) {
        /* given on the line (scripts): hash it at once; the line itself is wiped */
        return cmd_console_password_line(a->text, a->len);
    }
    cm.pending = PEND_CONSOLE_PASSWORD;
    return 0;
}

/* see console_int.h */
int cmds_compare(const struct cmd_args *a)
{
    (void)a;
    if (config_compare(settings_ctx(), cons_write, NULL) == 0) {
        cons_out("no changes: the candidate is the running configuration\n");
    }
    return 0;
}

/* ---- the session ------------------------------------------------------------------------ */

static void help_out(void *arg, const char *line)
{
    (void)arg;
    cons_out("%s", line);
}

/* see console_int.h */
int cmds_help(const struct cmd_args *a)
{
    char words[CONFIG_LINE_MAX] = "";
    int ret = 0;
    for (int i = 1; i < a->argc; i++) {
        strncat(words, a->argv[i], sizeof words - strlen(words) - 2);
        strcat(words, " ");
    }
    if (!cmd_help(words, help_out, NULL)) {
        size_t at = cmd_secret_at(words, strlen(words));
        if (at != CMD_NO_SECRET) {
            /* a secret typed after help is not repeated */
            snprintf(words + at, sizeof words - at, "...");
        }
        ret = cons_fail("help %s: no such command", words);
    }
    secure_wipe(words, sizeof words);
    return ret;
}

/* see console_int.h */
int cmds_reboot(const struct cmd_args *a)
{
    (void)a;
    if (cm.batch) {
        return cons_fail("reboot: not in a script (the gateway stops at its end)");
    }
    if (config_changed(settings_ctx())) {
        log_warnx("console: rebooting drops the uncommitted changes");
    }
    log_info("console: reboot");
    gateway_restart(GATEWAY_REBOOT);
    return 0;
}

/* see console_int.h */
int cmds_factory_reset(const struct cmd_args *a)
{
    (void)a;
    if (cm.batch) {   /* a script restarting itself would run again, and again */
        return cons_fail("factory-reset: at the console only, not in a script");
    }
    cm.pending = PEND_FACTORY_RESET;
    return 0;
}

/* see console_int.h */
int cmds_logout(const struct cmd_args *a)
{
    (void)a;
    if (settings_running()->console_hash[0] == '\0') {
        cons_out("no console password is set: there is no session to end "
                 "(set system console-password, commit)\n");
    } else if (!cm.batch) {
        cm.logout = 1;   /* a script has no session: nothing to do */
    }
    return 0;
}

/* see console_cmds.h */
int cmds_take_logout(void)
{
    int l = cm.logout;
    cm.logout = 0;
    return l;
}

/* see console_cmds.h */
void cmds_set_batch(int on)
{
    cm.batch = on;
}

/* ---- lines ------------------------------------------------------------------------------- */

/* see console_cmds.h */
int cmds_pasting(void)
{
    return settings_ctx()->input != CFG_IN_COMMAND;
}

static int paste_line(const char *line, size_t len)
{
    if (len == 4 && memcmp(line, "quit", 4) == 0) {
        len = 0; /* `quit` ends a paste like a blank line */
    }
    enum config_input kind = settings_ctx()->input;   /* the paste's own: trust, chain ... */
    int err = config_line(line, len);
    if (!cmds_pasting()) {
        if (err == 0 && (kind == CFG_IN_TRUST_PEM || kind == CFG_IN_RELAY_TRUST_PEM)) {
            show_trust_added(cm.trust_before);
        } else if (err == 0 && kind == CFG_IN_CHAIN_PEM) {
            err = identity_chain_check(&cm.chain_before);
            if (err == 0) {
                identity_chain_report();
            }
        }
    }
    return err;
}

/* see console_cmds.h */
int cmds_exec(const char *text, size_t len)
{
    if (cmds_pasting()) {
        return paste_line(text, len);
    }
    char copy[CONFIG_LINE_MAX], *argv[CMD_ARGS_MAX];
    if (len >= sizeof copy) {
        return cons_fail("line longer than %d characters", CONFIG_LINE_MAX - 1);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    struct cmd_args a = { .argc = cmd_split(copy, argv), .argv = argv, .text = text, .len = len };
    const struct cmd_form *f = a.argc > 0 ? cmd_find(a.argc, argv) : NULL;
    int ret;
    if (a.argc == 0 || argv[0][0] == '#') {
        ret = 0;
    } else if (f != NULL) {
        ret = f->run(&a);
    } else if (cmd_known(argv[0])) {
        ret = cmds_config(&a);    /* words no form takes: the config parser says what it expected */
    } else {
        ret = cons_fail("'%s': unknown command (help lists them)", argv[0]);
    }
    secure_wipe(copy, sizeof copy);
    return ret;
}

/* see console_cmds.h */
int cmds_poll(void)
{
    return probe_poll();
}

/* see console_cmds.h */
int cmds_wants_secret(char *prompt, size_t cap)
{
    switch (cm.pending) {
    case PEND_NONE: return 0;
    case PEND_IMAP_PASSWORD: snprintf(prompt, cap, "IMAP password: "); return 1;
    case PEND_CONSOLE_PASSWORD: snprintf(prompt, cap, "New console password: "); return 1;
    case PEND_CONSOLE_PASSWORD_AGAIN: snprintf(prompt, cap, "Again: "); return 1;
    case PEND_FACTORY_RESET:
        snprintf(prompt, cap, "Erase the whole configuration? Type 'yes': ");
        return 2;
    }
    return 0;
}

/* see console_cmds.h */
void cmds_secret(const char *s, size_t len)
{
    enum pending p = cm.pending;
    cm.pending = PEND_NONE;
    switch (p) {
    case PEND_NONE:
        break;
    case PEND_IMAP_PASSWORD:
        config_line_secret("set imap password %s", s, len);
        break;
    case PEND_CONSOLE_PASSWORD:
        if (len == 0 || len >= sizeof cm.first) {
            cons_fail("console password: 1 to %zu characters", sizeof cm.first - 1);
            break;
        }
        memcpy(cm.first, s, len);
        cm.first[len] = '\0';
        cm.pending = PEND_CONSOLE_PASSWORD_AGAIN;
        break;
    case PEND_CONSOLE_PASSWORD_AGAIN:
        if (len != strlen(cm.first) || memcmp(cm.first, s, len) != 0) {
            cons_fail("the passwords differ: nothing changed");
        } else {
            set_console_hash(s, len);
        }
        secure_wipe(cm.first, sizeof cm.first);
        break;
    case PEND_FACTORY_RESET:
        if (len == 3 && memcmp(s, "yes", 3) == 0) {
            log_info("console: factory-reset");
            gateway_restart(GATEWAY_FACTORY_RESET);
        } else {
            cons_out("factory-reset cancelled\n");
        }
        break;
    }
}

/* see console_cmds.h */
void cmds_cancel(void)
{
    probe_cancel();
    if (cmds_pasting()) {
        config_discard_paste(settings_ctx());
        cons_out("paste cancelled\n");
    }
    cm.pending = PEND_NONE;
    secure_wipe(cm.first, sizeof cm.first);
}
