/* What the console's command files share: output to the console, errors, and the
 * commands that live in files of their own. */
#ifndef GW_CONSOLE_INT_H
#define GW_CONSOLE_INT_H

#include "config.h"

/* Print to the console. */
void cons_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "error: ..." and return -1. */
int cons_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* console_tunnel.c: the tunnel and mappings at the console. */
void show_tunnel(const struct config *cf);
void show_mappings(const struct config *cf);
/* mapping check VHOST:VPORT: CMDS_IN_PROGRESS while it connects, else 0 or -1. */
int cmd_mapping_check(int argc, char **argv);
int mapping_check_poll(void);
/* After a commit: restart what the change touches (tunnels, mapping counters). */
void services_after_commit(const struct config *before);

#endif
