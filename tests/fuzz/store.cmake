# The store mounting arbitrary images (issue 3). Seeds in corpus/store/ are real images of the
# three geometries the target picks from, written by store_seeds.c.
gw_fuzz_target(store SOURCES fuzz_store.c LIBS gw_store)

# The config text parser (firmware/config): any text; what it prints must read back the same.
gw_fuzz_target(config_text SOURCES fuzz_config_text.c LIBS gw_config)
