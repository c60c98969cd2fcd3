# The relay's mail store (issue 19): `spool lmtp` to Dovecot (LMTP, IMAPS, the relay's Sieve
# duplicate test from tools/store), each scenario in a network namespace of its own.
# With the fake gateway (relay_env.sh): stored byte-exact behind the trace header, exactly
# once across restarts and deletions, 5xx rejected, store down, UNIX socket, a stalled
# gateway, misbehaving stores (lmtp_fake.py), store-timeout.
add_test(NAME test_relay_lmtp
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay_lmtp.sh $<TARGET_FILE:relay>
          $<TARGET_FILE:test_relay_gw> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_relay_lmtp PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 180)
# Three relays, two real gateways, one store: 300 mails, relays SIGKILLed at random and
# right after the store's 250 (lmtp_window.py), the store restarted; mbsync and curl as the
# cloud consumers; every mail exactly once; a 550 rejected and shown (test_relay_ha.sh,
# its store mode: the same lab as test_relay_ha).
add_test(NAME test_relay_ha_store
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay_ha.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh store)
set_tests_properties(test_relay_ha_store PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 420)
