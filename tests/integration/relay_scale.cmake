# The relay at scale (issue 18), each scenario in a network namespace of its own: floods of
# unauthenticated connections against the real gateway's tunnel and curl, per-location
# stream caps and idle streams, delivery concurrency, quota and stalls, and three relays as
# one service (SIGKILL one while mail and downloads flow).
add_test(NAME test_relay_flood
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay_flood.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_relay_flood PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
# With the fake gateway (relay_env.sh): one scenario each (group_commit: issue 21, the
# fsyncs of deliveries that end together shared, counted with strace).
foreach(t test_relay_streams test_relay_deliveries test_relay_delivery_v2 test_relay_group_commit)
  add_test(NAME ${t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${t}.sh $<TARGET_FILE:relay>
            $<TARGET_FILE:test_relay_gw> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
  set_tests_properties(${t} PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 120)
endforeach()
# Three relays, two real gateways, Dovecot and curl: one relay SIGKILLed mid-delivery.
add_test(NAME test_relay_ha
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay_ha.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_relay_ha PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
