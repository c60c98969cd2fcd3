# QEMU system tests (issue 8): the gateway image booted under QEMU (TCG) for x86_64 and
# aarch64, driven over its serial console, networked through passt in a test-made network
# namespace, with the relay (this tree's, the cloud side runs on the host) and Dovecot on the
# namespace's loopback. Label qemu (make test-qemu; make test runs it). Needs root. The
# aarch64 gateway comes from the aarch64 build tree beside this one (make aarch64; make
# test-qemu builds it). Each takes 1-2 minutes under TCG; the bound is generous.
set(GW_QEMU_AARCH64_GATEWAY "${CMAKE_SOURCE_DIR}/build/aarch64/gateway" CACHE FILEPATH
    "the aarch64 gateway binary for the QEMU system test")
foreach(arch x86_64 aarch64)
  if(arch STREQUAL "x86_64")
    set(gw $<TARGET_FILE:gateway>)
  else()
    set(gw ${GW_QEMU_AARCH64_GATEWAY})
  endif()
  add_test(NAME test_qemu_boot_${arch}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/qemu/test_qemu_boot.sh ${arch} ${gw}
            $<TARGET_FILE:relay> $<TARGET_FILE:flashtool>)
  set_tests_properties(test_qemu_boot_${arch} PROPERTIES LABELS qemu RUN_SERIAL ON TIMEOUT 600)
endforeach()

# The bare-metal board (issue 20): gateway.elf on QEMU's virt machine with no kernel and
# -m 16M, the same whole story (test_qemu_virt.sh; once more on the modern virtio-mmio
# transport), and the board's boot tests (test_virt_smoke.sh). The images come from the
# virt tree beside this one (make virt; make test-qemu builds it). Each takes seconds.
set(GW_QEMU_VIRT_DIR "${CMAKE_SOURCE_DIR}/build/aarch64-virt" CACHE PATH
    "the build tree of the bare-metal virt images")
add_test(NAME test_virt_smoke
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/qemu/test_virt_smoke.sh ${GW_QEMU_VIRT_DIR})
add_test(NAME test_qemu_virt
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/qemu/test_qemu_virt.sh ${GW_QEMU_VIRT_DIR}/gateway.elf
          $<TARGET_FILE:relay> $<TARGET_FILE:flashtool>)
add_test(NAME test_qemu_virt_modern
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/qemu/test_qemu_virt.sh ${GW_QEMU_VIRT_DIR}/gateway.elf
          $<TARGET_FILE:relay> $<TARGET_FILE:flashtool>)
set_tests_properties(test_virt_smoke test_qemu_virt test_qemu_virt_modern
  PROPERTIES LABELS qemu RUN_SERIAL ON TIMEOUT 600)
set_tests_properties(test_qemu_virt_modern PROPERTIES ENVIRONMENT "GW_QEMU_VIRTIO=modern")
