# The bare-metal virt board's drivers that a host can test (issue 20): the device-tree
# reader on trees QEMU dumped (tests/unit/virt/), the heap behind brk and mmap.
gw_unit_test(test_virt_fdt SOURCES test_virt_fdt.c LIBS gw_virt_portable)
target_compile_definitions(test_virt_fdt PRIVATE GW_VIRT_DATA="${CMAKE_CURRENT_SOURCE_DIR}/virt")

# The CFI flash driver against a model of QEMU's bank (two x16 Intel chips).
gw_unit_test(test_virt_cfi SOURCES test_virt_cfi.c cfi_model.c LIBS gw_virt_portable gw_flash)
# The store's power-cut workload over the CFI driver and the model (cuts between words).
gw_unit_test(test_virt_cfi_powercut SOURCES test_virt_cfi_powercut.c cfi_model.c
  LIBS gw_virt_portable ${GW_STORE_LIBS})
if(CMAKE_CROSSCOMPILING_EMULATOR)
  set_tests_properties(test_virt_cfi_powercut PROPERTIES ENVIRONMENT "GW_TEST_STRIDE=2")
endif()

# Virtqueue bookkeeping against a device model; the heap behind brk and mmap.
gw_unit_test(test_virtq SOURCES test_virtq.c LIBS gw_virt_portable)
gw_unit_test(test_virt_heap SOURCES test_virt_heap.c LIBS gw_virt_portable)
# The receive reserve both boards' netifs share (board/eth_rx.c).
gw_unit_test(test_eth_rx SOURCES test_eth_rx.c LIBS gw_board)
