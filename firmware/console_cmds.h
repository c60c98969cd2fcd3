/* The console's interpreter: each line runs the handler its row of the command table
 * (cmd_table.h) names; the settings language goes to the config text parser (config_exec)
 * on the candidate. Here too: the questions a command asks (passwords, factory-reset), PEM
 * pastes, the session. Shared by the interactive console, a console on a pipe and --batch
 * scripts. Output goes to the board console. */
#ifndef GW_CONSOLE_CMDS_H
#define GW_CONSOLE_CMDS_H

#include <stddef.h>

/* Run one line. Returns 0, or -1 after printing "error: ..." naming the wrong token, or
 * CMDS_IN_PROGRESS for a command that talks to the network (`tls probe`, `mapping check`):
 * it goes on from the event loop, and cmds_poll() gives its result. */
#define CMDS_IN_PROGRESS 1
int cmds_exec(const char *line, size_t len);
/* CMDS_IN_PROGRESS while a network command runs; then its result, 0 or -1. */
int cmds_poll(void);
/* 1 while a PEM paste (trust import, tunnel cert import) is being read. */
int cmds_pasting(void);
/* A command waits for a typed answer: fills prompt and returns 1 for a secret (no echo),
 * 2 for a visible answer (a confirmation); 0 when nothing is pending. */
int cmds_wants_secret(char *prompt, size_t cap);
/* The answer to the pending question. */
void cmds_secret(const char *s, size_t len);
/* Scripts (--batch) keep "line N:" in config errors; the console drops it. */
void cmds_set_batch(int on);
/* Ctrl-C: drop a paste in progress or a pending question. */
void cmds_cancel(void);
/* 1, once, after `logout` or `exit` asked the console to end the session (only with a
 * console password, and never in a script). */
int cmds_take_logout(void);

#endif
