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
