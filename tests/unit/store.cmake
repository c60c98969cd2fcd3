# Flash HAL and record store suites (issue 3). The store libraries link the firmware log.
set(GW_STORE_LIBS gw_store gw_flash gw_firmware gw_board lwip)

gw_unit_test(test_flash SOURCES test_flash.c LIBS ${GW_STORE_LIBS})
gw_unit_test(test_store SOURCES test_store.c LIBS ${GW_STORE_LIBS})
