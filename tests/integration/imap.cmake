# IMAP receiver (issue 7): a real Dovecot (dovecot.sh) in the test's network namespace.
# The helper itself: curl lists and fetches generated market mails over STARTTLS and IMAPS.
gw_integration_test(test_imap_dovecot)

# The IMAP engine on kernel sockets with our BearSSL TLS: against Dovecot (STARTTLS on 143,
# implicit TLS on 993, plain; each after-action; IDLE) and against hostile scripted servers
# (imap_hostile.py).
add_executable(test_imap_session test_imap_session.c)
target_compile_options(test_imap_session PRIVATE ${GW_WARNINGS})
target_link_libraries(test_imap_session PRIVATE gw_proto gw_tls_server gw_check)
add_test(NAME test_imap_session
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_imap_session.sh
          $<TARGET_FILE:test_imap_session> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_imap_session PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)

# The receiver end to end: Dovecot -> gateway (TAP, mappings) -> tunnel -> relay spool; 50
# mails exactly once, IDLE, a duplicate, each security mode and after-action.
add_test(NAME test_imap_receiver
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_imap_receiver.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_imap_receiver PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)

# Crash safety: 300 mails, the gateway SIGKILLed 25 times at random moments, the relay 6
# times; each mail in the spool exactly once, byte-exact, and deleted on the server.
add_test(NAME test_imap_crash
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_imap_crash.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_imap_crash PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 900)

# The real receiver against hostile STARTTLS servers (imap_hostile.py) through a tcp mapping.
add_test(NAME test_imap_hostile
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_imap_hostile.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_imap_hostile PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)

# The receiver beside the relay's streams at the most the gateway takes (1008 of its 1024
# slots: the mail goes at once), and a relay stopped in a delivery's body (SIGTERM: that
# delivery answered, the next mail left for the next relay, found again on its own).
add_test(NAME test_imap_streams_full
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_imap_streams_full.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_imap_streams_full PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
