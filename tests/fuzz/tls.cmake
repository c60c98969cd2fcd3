# The certificate import path: PEM/DER -> x509_info -> trust anchors -> chain check.
# Declared like gw_fuzz_target(), except that the test run writes the inputs it finds into
# the build tree (first corpus directory) and only reads the committed seeds: `make
# test-fuzz` must not leave files in the source tree.
set(tls_corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/tls)
set(tls_found ${CMAKE_CURRENT_BINARY_DIR}/corpus-found/tls)
file(MAKE_DIRECTORY ${tls_found})
add_executable(fuzz_tls fuzz_tls.c)
target_compile_options(fuzz_tls PRIVATE ${GW_WARNINGS})
target_link_options(fuzz_tls PRIVATE -fsanitize=fuzzer)
target_link_libraries(fuzz_tls PRIVATE gw_includes
  "$<LINK_GROUP:RESCAN,gw_tls,gw_board,gw_firmware,lwip,bearssl>")
add_test(NAME fuzz_tls
  COMMAND fuzz_tls -runs=200000 -max_total_time=60 -timeout=10 -rss_limit_mb=1024
          -max_len=70000 ${tls_found} ${tls_corpus})
set_tests_properties(fuzz_tls PROPERTIES LABELS fuzz TIMEOUT 300)
