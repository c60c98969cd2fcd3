# The bench's own tools that a wrong result would mislead (issue 21): bench_delay, the
# user-space WAN of the mail bench (the kernel has no sch_netem).
add_test(NAME test_bench_delay
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_delay.sh $<TARGET_FILE:bench_delay>)
set_tests_properties(test_bench_delay PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 60)
