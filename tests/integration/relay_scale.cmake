# The relay at scale (issue 18), each scenario in a network namespace of its own: floods of
# unauthenticated connections against the real gateway's tunnel and curl, per-location
# stream caps and idle streams, delivery concurrency, quota and stalls, and three relays as
# one service (SIGKILL one while mail and downloads flow).
add_test(NAME test_relay_flood
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay_flood.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_relay_flood PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
