# The real gateway's tunnel (issue 6): relay, gateway on TAP, Dovecot and curl in one
# network namespace the test creates.
add_test(NAME test_gateway_tunnel
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_gateway_tunnel.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_gateway_tunnel PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)
