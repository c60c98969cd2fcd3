/* What the console's command files share: output to the console, errors, and the handlers
 * the command table (cmd_table.c) names, file by file. A handler returns 0, -1 after
 * printing "error: ...", or CMDS_IN_PROGRESS (console_cmds.h). */
#ifndef GW_CONSOLE_INT_H
#define GW_CONSOLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cmd_table.h"
#include "config.h"

/* Print to the console. */
void cons_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "error: ..." and return -1. */
int cons_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text as it is (the configuration's lines, the log ring's), for config_print and the log. */
void cons_write(void *arg, const char *p, size_t len);

/* console_cmds.c: the settings language, the candidate, the session, questions, pastes. */
int cmds_config(const struct cmd_args *a);           /* the line to config_exec (pastes) */
int cmds_console_timeout(const struct cmd_args *a);  /* ... with a note without a password */
int cmds_console_password(const struct cmd_args *a); /* asks, or hashes the one given */
int cmds_imap_password(const struct cmd_args *a);    /* asks, or the config line */
int cmds_compare(const struct cmd_args *a);
int cmds_help(const struct cmd_args *a);
int cmds_logout(const struct cmd_args *a);
int cmds_reboot(const struct cmd_args *a);
int cmds_factory_reset(const struct cmd_args *a);

/* console_show.c: show ..., trust list, mapping list. */
int show_config(const struct cmd_args *a);
int show_status(const struct cmd_args *a);
int show_log(const struct cmd_args *a);
int show_version(const struct cmd_args *a);
int show_mappings(const struct cmd_args *a);
int show_trust(const struct cmd_args *a);
int show_tunnel(const struct cmd_args *a);
int show_imap(const struct cmd_args *a);
int show_unknown(const struct cmd_args *a);          /* any other show line: what it takes */
/* One certificate: subject, issuer, validity, fingerprint, each line after indent. */
void show_cert(const char *indent, const uint8_t *der, size_t len);
/* At the end of a `trust import` paste: the anchors the candidate gained (it held before). */
void show_trust_added(unsigned before);

/* console_identity.c: the device key, its certificate request and its chain. */
int identity_key_generate(const struct cmd_args *a);
int identity_csr(const struct cmd_args *a);
/* At the end of a `tunnel cert import` paste: 0 when the chain's leaf carries the device
 * key; else the candidate's chain goes back to mark and -1 (printed). */
int identity_chain_check(const struct config_chain_mark *mark);
/* The chain the paste left in the candidate, certificate by certificate. */
void identity_chain_report(void);

/* console_probe.c: the commands that talk to the network, one at a time. */
int probe_tls(const struct cmd_args *a);
int probe_mapping(const struct cmd_args *a);
/* CMDS_IN_PROGRESS while the last one started runs; then its result, 0 or -1. */
int probe_poll(void);
/* Ctrl-C: abort a tls probe (a mapping check runs to its verdict). */
void probe_cancel(void);

#endif
