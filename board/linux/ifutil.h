/* Linux board: kernel interface helpers. */
#ifndef GW_IFUTIL_H
#define GW_IFUTIL_H

int linux_ifname_valid(const char *name);
/* The interface's IFF_* flags, or -1 when it does not exist. */
int linux_if_flags(const char *name);
/* Generic receive offload on or off. Off where merged super-frames would reach a packet
 * socket that takes no virtio-net header (larger than any MTU); on where it does (one frame
 * per burst of a flow; on a veth it also turns on NAPI, which keeps each flow in order).
 * Returns 0, or -1 when the driver refuses (then the caller says so). */
int linux_if_set_gro(const char *name, int on);

#endif
