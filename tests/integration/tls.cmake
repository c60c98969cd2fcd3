# TLS integration tests (issue 5) beside the matrix in CMakeLists.txt: time before TLS (a
# board clock that is unset or behind, SNTP from chronyd), and both it and the verdict
# matrix again with the aarch64 image under qemu-aarch64-static (run_emulated.sh). This
# directory is configured only for x86_64; `make test` builds build/aarch64 first, and the
# aarch64 runs are skipped only when that binary is absent.
gw_integration_test(test_tls_time)

set(GW_AARCH64_GATEWAY ${CMAKE_SOURCE_DIR}/build/aarch64/gateway)
add_test(NAME test_tls_matrix_aarch64
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_emulated.sh qemu-aarch64-static
          ${GW_AARCH64_GATEWAY} ${CMAKE_CURRENT_SOURCE_DIR}/test_tls_matrix.sh)
set_tests_properties(test_tls_matrix_aarch64 PROPERTIES LABELS integration RUN_SERIAL ON
  TIMEOUT 900 SKIP_RETURN_CODE 77)
add_test(NAME test_tls_time_aarch64
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_emulated.sh qemu-aarch64-static
          ${GW_AARCH64_GATEWAY} ${CMAKE_CURRENT_SOURCE_DIR}/test_tls_time.sh)
set_tests_properties(test_tls_time_aarch64 PROPERTIES LABELS integration RUN_SERIAL ON
  TIMEOUT 600 SKIP_RETURN_CODE 77)

# Bulk data through one TLS connection of the gateway's stack (tls_conn on lwIP on TAP):
# 64 MiB echoed byte-exact through socat's OpenSSL, and a 64 MiB download from s_server
# -WWW. tls_bulk is also bench/bench_tls.sh's throughput probe.
add_executable(tls_bulk tls_bulk.c)
target_compile_options(tls_bulk PRIVATE ${GW_WARNINGS})
target_link_libraries(tls_bulk PRIVATE gw_net gw_board)
add_test(NAME test_tls_bulk
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_tls_bulk.sh $<TARGET_FILE:tls_bulk>)
set_tests_properties(test_tls_bulk PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)
