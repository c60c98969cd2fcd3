# The bare-metal virt board's device-tree reader (issue 20): seeds are QEMU's own trees.
gw_fuzz_target(fdt SOURCES fuzz_fdt.c LIBS gw_virt_portable)
