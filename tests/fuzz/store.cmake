# The store mounting arbitrary images (issue 3). Seeds in corpus/store/ are real images of the
# three geometries the target picks from, written by store_seeds.c. Declared like
# gw_fuzz_target(), except that the run writes the inputs it finds into the build tree (the
# first corpus directory) and only reads the committed seeds: `make test-fuzz` leaves the
# source tree alone.
set(store_corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/store)
set(store_found ${CMAKE_CURRENT_BINARY_DIR}/corpus-found/store)
file(MAKE_DIRECTORY ${store_found})
add_executable(fuzz_store fuzz_store.c)
target_compile_options(fuzz_store PRIVATE ${GW_WARNINGS})
target_link_options(fuzz_store PRIVATE -fsanitize=fuzzer)
target_link_libraries(fuzz_store PRIVATE gw_includes
  "$<LINK_GROUP:RESCAN,gw_store,gw_flash,gw_firmware,gw_board,lwip>")
add_test(NAME fuzz_store
  COMMAND fuzz_store -runs=200000 -max_total_time=60 -timeout=10 -rss_limit_mb=1024
          -max_len=70000 ${store_found} ${store_corpus})
set_tests_properties(fuzz_store PROPERTIES LABELS fuzz TIMEOUT 300)

# The config text parser (firmware/config): any text; what it prints must read back the same.
set(cfg_corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/config_text)
set(cfg_found ${CMAKE_CURRENT_BINARY_DIR}/corpus-found/config_text)
file(MAKE_DIRECTORY ${cfg_found})
add_executable(fuzz_config_text fuzz_config_text.c)
target_compile_options(fuzz_config_text PRIVATE ${GW_WARNINGS})
target_link_options(fuzz_config_text PRIVATE -fsanitize=fuzzer)
target_link_libraries(fuzz_config_text PRIVATE gw_includes
  "$<LINK_GROUP:RESCAN,gw_config,gw_store,gw_flash,gw_firmware,gw_board,gw_net,gw_tls,lwip,bearssl>")
add_test(NAME fuzz_config_text
  COMMAND fuzz_config_text -runs=200000 -max_total_time=60 -timeout=10 -rss_limit_mb=1024
          -max_len=70000 ${cfg_found} ${cfg_corpus})
set_tests_properties(fuzz_config_text PROPERTIES LABELS fuzz TIMEOUT 300)
