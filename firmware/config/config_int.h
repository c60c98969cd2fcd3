/* Internals shared by the files of firmware/config/ (config.h is the contract). */
#ifndef GW_CONFIG_INT_H
#define GW_CONFIG_INT_H

#include "config.h"

#define CONFIG_MASK "********"          /* a secret in `show config`; importing it keeps it */
#define CONFIG_IMAP_POLL_DEFAULT 60

/* Print the lines of one record's group (config_text.c). */
void cfg_print_section(const struct config *cf, enum config_type type, unsigned id,
                       unsigned flags, config_sink sink, void *arg);

/* PEM and blobs (config_pem.c). */
int cfg_pem_line(struct config_ctx *c, const char *p, size_t len);
int cfg_print_blobs(struct config_ctx *c, const struct config *cf, unsigned flags,
                    config_sink sink, void *arg);

void cfg_sha256(const void *p, size_t len, uint8_t out[32]);

#endif
