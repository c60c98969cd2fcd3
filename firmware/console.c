/* see console.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "cmd_table.h"
#include "console.h"
#include "console_cmds.h"
#include "gateway.h"
#include "lineedit.h"
#include "log_ring.h"
#include "pwhash.h"
#include "secure_wipe.h"
#include "settings.h"

/* What the next line typed means. */
enum con_mode {
    CON_LOGIN,        /* the console password */
    CON_COMMAND,      /* a command (or, inside `trust import`, a line of PEM) */
    CON_SECRET,       /* a secret asked for by a command (set imap password) */
};

static struct {
    struct lineedit le;
    int interactive;
    int editing;       /* a prompt and the line typed so far are on the screen */
    enum con_mode mode;
    char prompt[96];
    /* plain (non-tty) line assembly */
    char line[LE_LINE_MAX];
    size_t len;
    int overflow;
    /* login */
    int secret_kind;   /* 1: no echo, 2: a visible answer (cmds_wants_secret) */
    unsigned failures;
    uint32_t locked_until;
    int locked;
    uint32_t last_input;   /* board_now_ms() of the last byte read: the idle logout */
    /* a network command (tls probe) runs: typed bytes wait here until it ends */
    int busy;
    char hold[256];
    size_t hold_len;
} con;

/* ---- output ----------------------------------------------------------------------------- */

static void le_out(void *arg, const char *s, size_t n)
{
    (void)arg;
    board_console_write(s, n);
}

static void show_prompt(void)
{
    if (!con.interactive) {
        return;
    }
    con.editing = 1;
    if (con.mode == CON_LOGIN || con.mode == CON_SECRET) {
        le_start(&con.le, con.prompt, con.mode == CON_LOGIN || con.secret_kind == 1);
        return;
    }
    if (cmds_pasting()) {
        snprintf(con.prompt, sizeof con.prompt, "pem> ");
    } else {
        snprintf(con.prompt, sizeof con.prompt, "%s%s> ", settings_hostname(),
                 config_changed(settings_ctx()) ? "*" : "");
    }
    le_start(&con.le, con.prompt, 0);
}

/* A log line while the operator types: clear the line, print, draw it again. */
static void console_log_sink(enum log_level level, const char *line, size_t len)
{
    (void)level;
    int redraw = con.interactive && con.editing;   /* not while a command prints */
    if (redraw) {
        le_hide(&con.le);
    }
    board_console_write(line, len);
    if (redraw && !con.locked) {
        le_show(&con.le);
    }
}

static size_t le_complete(void *arg, const char *line, size_t ws, size_t cur,
                          const char **cands, size_t max)
{
    (void)arg;
    if (con.mode != CON_COMMAND || cmds_pasting()) {
        return 0;
    }
    return cmd_complete(line, ws, cur, cands, max);
}

/* A command line that carries a secret (set imap password SECRET): the editor masks it. */
static size_t le_secret(void *arg, const char *line, size_t len)
{
    (void)arg;
    if (con.mode != CON_COMMAND || cmds_pasting()) {
        return LE_NO_SECRET;
    }
    size_t at = cmd_secret_at(line, len);
    return at == CMD_NO_SECRET ? LE_NO_SECRET : at;
}

/* ---- login -------------------------------------------------------------------------------- */

static int login_required(void)
{
    return settings_running()->console_hash[0] != '\0';
}

static void ask_password(void)
{
    con.mode = CON_LOGIN;
    snprintf(con.prompt, sizeof con.prompt, "Password: ");
    if (!con.interactive) {
        board_console_write(con.prompt, strlen(con.prompt));
    }
}

/* End the session (logout, exit, idle): back to the password prompt. What it left
 * behind goes: a half-typed line, a pending question or paste, the history. The candidate
 * stays, like at a reboot's prompt: the next login sees it (`*`). */
static void logout(void)
{
    if (con.interactive && con.editing) {
        le_hide(&con.le);
    }
    con.editing = 0;
    le_forget(&con.le);
    secure_wipe(con.line, sizeof con.line);
    con.len = 0;
    con.overflow = 0;
    char question[96];
    if (cmds_pasting() || cmds_wants_secret(question, sizeof question)) {
        cmds_cancel();
    }
    ask_password();
}

/* With a console password and a timeout, an idle session ends by itself. */
static int idle_expired(void)
{
    uint32_t minutes = settings_running()->console_timeout;
    return con.mode != CON_LOGIN && !con.busy && minutes != 0 && login_required() &&
           board_now_ms() - con.last_input >= minutes * 60000u;
}

static void try_login(char *pw, size_t len)
{
    if (pwhash_check(settings_running()->console_hash, pw, len)) {
        con.failures = 0;
        con.mode = CON_COMMAND;
        con.last_input = board_now_ms();
        log_info("console: login");
        return;
    }
    con.failures++;
    uint32_t delay = CONSOLE_LOGIN_DELAY_MS << (con.failures > 5 ? 4 : con.failures - 1);
    con.locked = 1; /* first: the log line below must not redraw the prompt */
    con.locked_until = board_now_ms() + delay;
    log_warnx("console: wrong password (%u in a row); next try in %u s", con.failures,
              (unsigned)(delay / 1000));
}

/* ---- lines -------------------------------------------------------------------------------- */

/* A whole line: route it by mode. */
static void take_line(char *line, size_t len)
{
    switch (con.mode) {
    case CON_LOGIN:
        try_login(line, len);
        secure_wipe(line, len);
        break;
    case CON_SECRET:
        cmds_secret(line, len);
        secure_wipe(line, len);
        con.secret_kind = cmds_wants_secret(con.prompt, sizeof con.prompt);
        con.mode = con.secret_kind ? CON_SECRET : CON_COMMAND;
        break;
    case CON_COMMAND:
        if (cmds_exec(line, len) == CMDS_IN_PROGRESS) {
            con.busy = 1;
        }
        if (cmds_take_logout()) {
            log_info("console: logout");
            logout();
            break;
        }
        con.secret_kind = cmds_wants_secret(con.prompt, sizeof con.prompt);
        if (con.secret_kind) {
            con.mode = CON_SECRET;
            if (!con.interactive) {
                board_console_write(con.prompt, strlen(con.prompt));
            }
        }
        break;
    }
}

static void feed_interactive(char c)
{
    enum le_result r = le_feed(&con.le, c);
    if (r == LE_MORE) {
        return;
    }
    con.editing = 0;
    if (r == LE_LINE) {
        take_line(con.le.line, con.le.len);
        le_wipe(&con.le);
    } else if (r == LE_CANCEL) {
        cmds_cancel();
        con.mode = login_required() && con.mode == CON_LOGIN ? CON_LOGIN : CON_COMMAND;
    } else if (r == LE_EOF) {
        if (con.mode == CON_COMMAND && !cmds_pasting()) {
            board_console_write("\r\n", 2);
            log_info("console: Ctrl-D, stopping");
            board_request_stop();
            return;
        }
    }
    if (!con.locked && !con.busy && !gateway_restarting()) {
        show_prompt();
    }
}

static void feed_plain(char c)
{
    if (c == '\n') {
        size_t len = con.len;
        if (len > 0 && con.line[len - 1] == '\r') {
            len--;
        }
        con.line[len] = '\0';
        if (con.overflow) {
            board_console_write("error: line too long, ignored\n", 30);
        } else {
            take_line(con.line, len);
        }
        secure_wipe(con.line, sizeof con.line);
        con.len = 0;
        con.overflow = 0;
    } else if (con.len + 1 < sizeof con.line) {
        con.line[con.len++] = c;
    } else {
        con.overflow = 1;
    }
}

/* see console.h */
void console_init(void)
{
    memset(&con, 0, sizeof con);
    con.interactive = board_console_interactive();
    le_init(&con.le, le_out, le_complete, NULL);
    le_set_secret_fn(&con.le, le_secret);
    log_ring_set_console(console_log_sink);
    if (login_required()) {
        ask_password();
    } else {
        con.mode = CON_COMMAND;
    }
    show_prompt();
}

static void feed(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (gateway_restarting()) {
            return;   /* what came after `reboot` is not run by the firmware that stops */
        }
        if (con.locked) {
            /* A wrong password: the rest of this read goes with it, unread. A pasted burst
             * of guesses buys one attempt per delay, like guesses typed one by one. */
            return;
        }
        if (con.busy) {
            /* the rest waits for the command's end (typed ahead, or a pipe's next lines) */
            size_t keep = n - i < sizeof con.hold - con.hold_len ? n - i
                                                                 : sizeof con.hold - con.hold_len;
            memcpy(con.hold + con.hold_len, buf + i, keep);
            con.hold_len += keep;
            return;
        }
        if (con.interactive) {
            feed_interactive(buf[i]);
        } else {
            feed_plain(buf[i]);
        }
    }
}

/* While a network command runs: Ctrl-C cancels it; anything else is kept for later. */
static void poll_busy(void)
{
    char buf[64];
    while (con.hold_len < sizeof con.hold) {
        size_t room = sizeof con.hold - con.hold_len;
        long n = board_console_read(buf, room < sizeof buf ? room : sizeof buf);
        if (n <= 0) {
            break;
        }
        for (long i = 0; i < n; i++) {
            if (con.interactive && buf[i] == 0x03) {
                cmds_cancel();
            } else {
                con.hold[con.hold_len++] = buf[i];
            }
        }
    }
    secure_wipe(buf, sizeof buf);
}

/* see console.h */
void console_tick(void)
{
    if (con.busy && cmds_poll() != CMDS_IN_PROGRESS) {
        char held[sizeof con.hold];
        size_t n = con.hold_len;
        con.busy = 0;
        memcpy(held, con.hold, n);
        secure_wipe(con.hold, sizeof con.hold);
        con.hold_len = 0;
        show_prompt();
        feed(held, n);
        secure_wipe(held, sizeof held);
    }
    if (con.locked && (int32_t)(board_now_ms() - con.locked_until) >= 0) {
        con.locked = 0;
        ask_password();
        show_prompt();
    }
    if (idle_expired()) {
        if (con.interactive && con.editing) {
            le_hide(&con.le);   /* the half-typed line goes with the session */
            con.editing = 0;
        }
        log_info("console: idle for %u min: logged out",
                 (unsigned)settings_running()->console_timeout);
        logout();
        show_prompt();
    }
}

/* see console.h */
void console_poll(void)
{
    char buf[256];
    long n;
    if (con.busy) {
        poll_busy();
        return;
    }
    while (!con.busy && !gateway_restarting() && (n = board_console_read(buf, sizeof buf)) > 0) {
        con.last_input = board_now_ms();   /* first: typing never lands on the next prompt */
        console_tick();
        if (con.locked) {
            continue; /* typed during the delay: dropped, like any login */
        }
        feed(buf, (size_t)n);
    }
    secure_wipe(buf, sizeof buf);
}

/* see console.h */
unsigned console_run_script(const char *text, size_t len)
{
    return console_run_script_loop(text, len, NULL);
}

/* see console.h */
unsigned console_run_script_loop(const char *text, size_t len, void (*step)(void))
{
    unsigned lineno = 0;
    size_t pos = 0;
    cmds_set_batch(1);
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - pos;
        char line[LE_LINE_MAX];
        lineno++;
        if (n > 0 && text[pos + n - 1] == '\r') {
            n--;
        }
        if (n >= sizeof line) {
            log_err("batch: line %u: longer than %d characters", lineno, LE_LINE_MAX - 1);
            cmds_set_batch(0);
            return lineno;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        char question[96];
        int err = 0;
        settings_ctx()->line = lineno - 1; /* config errors name the script's line */
        if (cmds_wants_secret(question, sizeof question)) {
            cmds_secret(line, n);   /* a script answers a command's question on the next line */
        } else {
            err = cmds_exec(line, n);
            while (err == CMDS_IN_PROGRESS) {   /* a network command: run the loop */
                if (step == NULL) {
                    cmds_cancel();                /* no loop to run it: it cannot end */
                }
                if (step != NULL) {
                    step();
                }
                err = cmds_poll();
            }
        }
        secure_wipe(line, sizeof line);
        if (err) {
            cmds_set_batch(0);
            return lineno;
        }
        pos = end + 1;
    }
    if (cmds_pasting()) {
        cmds_exec("", 0); /* a paste that ran to the end of the file ends there */
    }
    if (config_changed(settings_ctx())) {
        log_warnx("batch: the script left uncommitted changes (they are dropped)");
    }
    cmds_set_batch(0);
    return 0;
}
