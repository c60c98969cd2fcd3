# The store mounting arbitrary images (issue 3); seeds in corpus/store/ are real images of
# the three geometries the target picks from (tests/fuzz/store_seeds.c wrote them).
gw_fuzz_target(store SOURCES fuzz_store.c LIBS gw_store gw_flash gw_firmware gw_board lwip)
