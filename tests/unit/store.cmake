# Flash HAL and record store suites (issue 3). The store libraries link the firmware log.
set(GW_STORE_LIBS gw_store)

gw_unit_test(test_flash SOURCES test_flash.c LIBS ${GW_STORE_LIBS} gw_board)
gw_unit_test(test_store SOURCES test_store.c LIBS ${GW_STORE_LIBS})
gw_unit_test(test_store_powercut SOURCES test_store_powercut.c LIBS ${GW_STORE_LIBS})
gw_unit_test(test_store_endurance SOURCES test_store_endurance.c LIBS ${GW_STORE_LIBS})

# Under qemu-aarch64 the exhaustive power-cut run is several times slower: there it cuts at
# every 2nd operation, alternating which (the native and ASan suites cut at every one).
if(CMAKE_CROSSCOMPILING_EMULATOR)
  set_tests_properties(test_store_powercut PROPERTIES ENVIRONMENT "GW_TEST_STRIDE=2")
endif()

if(GW_ARCH STREQUAL "x86_64")
  add_test(NAME test_flashtool
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_flashtool.sh $<TARGET_FILE:flashtool>)
  set_tests_properties(test_flashtool PROPERTIES LABELS unit TIMEOUT 120)
endif()

# The configuration on the store (config.h): schema, candidate/commit, config text.
gw_unit_test(test_config SOURCES test_config.c LIBS gw_config)
