/* see console.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "console.h"
#include "gateway.h"
#include "log.h"
#include "status.h"

static struct {
    char line[CONSOLE_LINE_MAX];
    size_t len;
    int overflow;          /* the current line grew past the limit: refuse it at Enter */
    int interactive;
    char prompt[80];
} con;

static void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void con_printf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) {
        board_console_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
}

static void show_prompt(void)
{
    if (con.interactive) {
        board_console_write(con.prompt, strlen(con.prompt));
        board_console_write(con.line, con.len);
    }
}

/* A log line arrives while the operator types: clear the line, print, redraw. */
static void console_log_sink(enum log_level level, const char *line, size_t len)
{
    (void)level;
    if (con.interactive) {
        board_console_write("\r\033[K", 4);
    }
    board_console_write(line, len);
    show_prompt();
}

static void print_log_line(void *arg, const char *line, size_t len)
{
    (void)arg;
    board_console_write(line, len);
}

static void run_line(char *line)
{
    char *argv[8];
    int argc = 0;
    for (char *tok = strtok(line, " \t"); tok && argc < 8; tok = strtok(NULL, " \t")) {
        argv[argc++] = tok;
    }
    if (argc == 0) {
        return;
    }
    if (strcmp(argv[0], "help") == 0) {
        con_printf("commands:\n"
                   "  show status    uptime, network, services, memory against limits\n"
                   "  show log       the last log lines kept in RAM\n"
                   "  show version   firmware version and board\n"
                   "  help           this list\n"
                   "  Ctrl-D         on an empty line: stop (a local console of the Linux board)\n");
    } else if (strcmp(argv[0], "show") == 0 && argc == 2 && strcmp(argv[1], "status") == 0) {
        status_print(con_printf);
    } else if (strcmp(argv[0], "show") == 0 && argc == 2 && strcmp(argv[1], "log") == 0) {
        log_ring_foreach(print_log_line, NULL);
    } else if (strcmp(argv[0], "show") == 0 && argc == 2 && strcmp(argv[1], "version") == 0) {
        con_printf("gateway %s on %s\n", gateway_version, board_name());
    } else if (strcmp(argv[0], "show") == 0) {
        con_printf("error: show %s: expected status, log or version\n",
                   argc > 1 ? argv[1] : "needs an argument:");
    } else {
        con_printf("error: unknown command '%s' (try help)\n", argv[0]);
    }
}

/* see console.h */
void console_init(const char *hostname)
{
    memset(&con, 0, sizeof con);
    con.interactive = board_console_interactive();
    snprintf(con.prompt, sizeof con.prompt, "%s> ", hostname ? hostname : "gateway");
    log_set_sink(console_log_sink);
    show_prompt();
}

static void console_byte(char c)
{
    if (c == '\r' || c == '\n') {
        if (con.interactive) {
            board_console_write("\n", 1);
        }
        if (con.overflow) {
            con_printf("error: line longer than %d characters, ignored\n", CONSOLE_LINE_MAX - 1);
        } else {
            con.line[con.len] = '\0';
            run_line(con.line);
        }
        con.len = 0;
        con.overflow = 0;
        show_prompt();
    } else if (c == 0x04 && con.len == 0 && con.interactive) {
        board_console_write("\n", 1);
        log_info("console: Ctrl-D, stopping");
        board_request_stop();
    } else if (c == 0x7f || c == 0x08) {
        if (con.len > 0) {
            con.len--;
            if (con.interactive) {
                board_console_write("\b \b", 3);
            }
        }
    } else if ((unsigned char)c >= 0x20) {
        if (con.len + 1 < CONSOLE_LINE_MAX) {
            con.line[con.len++] = c;
            if (con.interactive) {
                board_console_write(&c, 1);
            }
        } else {
            con.overflow = 1;
        }
    }
}

/* see console.h */
void console_poll(void)
{
    char buf[128];
    long n;
    while ((n = board_console_read(buf, sizeof buf)) > 0) {
        for (long i = 0; i < n; i++) {
            console_byte(buf[i]);
        }
    }
}
