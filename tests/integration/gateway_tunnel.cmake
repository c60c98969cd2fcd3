# The real gateway's tunnel (issue 6): relay, gateway on TAP, Dovecot and curl in one
# network namespace the test creates.
add_test(NAME test_gateway_tunnel
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_gateway_tunnel.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_gateway_tunnel PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)
# Hardening (issue 16): commits that change the mapping list while streams and the IMAP
# receiver are connecting (a DNS server that answers late, canaries on unmapped ports).
add_test(NAME test_mapping_commit
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_mapping_commit.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_mapping_commit PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
# One cloud client pushing into consumers that never read cannot stop the tunnel (issue 16).
add_test(NAME test_tunnel_stall
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_tunnel_stall.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_tunnel_stall PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
# The tunnel over 50 ms of round trip (issue 21, bench_delay between gateway and relay):
# downloads beat what a 64 KiB send buffer carries per round trip.
add_test(NAME test_tunnel_wan
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_tunnel_wan.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh
          $<TARGET_FILE:bench_delay>)
set_tests_properties(test_tunnel_wan PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 120)
