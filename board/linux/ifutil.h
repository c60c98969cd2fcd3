/* Linux board: kernel interface helpers. */
#ifndef GW_IFUTIL_H
#define GW_IFUTIL_H

int linux_ifname_valid(const char *name);
/* The interface's IFF_* flags, or -1 when it does not exist. */
int linux_if_flags(const char *name);
/* Turn off generic receive offload: merged super-frames would reach a packet socket larger
 * than any MTU. Returns 0, or -1 when the driver refuses (then the caller warns). */
int linux_if_disable_gro(const char *name);

#endif
