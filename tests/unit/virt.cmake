# The bare-metal virt board's drivers that a host can test (issue 20): the device-tree
# reader on trees QEMU dumped (tests/unit/virt/), the heap behind brk and mmap.
gw_unit_test(test_virt_fdt SOURCES test_virt_fdt.c LIBS gw_virt_portable)
target_compile_definitions(test_virt_fdt PRIVATE GW_VIRT_DATA="${CMAKE_CURRENT_SOURCE_DIR}/virt")
