# Tunnel integration tests (issue 6), each in a network namespace of its own (lib.sh):
# the relay with curl, a fake gateway made of our own TLS + yamux code, Python peers; and
# our yamux against an independent implementation (Node.js, @chainsafe/libp2p-yamux).

# The fake gateway: our TLS client, yamux client, hello and SOCKS5 codec on kernel sockets.
add_executable(test_relay_gw test_relay_gw.c)
target_compile_options(test_relay_gw PRIVATE ${GW_WARNINGS})
target_link_libraries(test_relay_gw PRIVATE gw_proto gw_tls_server gw_check)

add_test(NAME test_relay
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay.sh $<TARGET_FILE:relay>
          $<TARGET_FILE:test_relay_gw> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_relay PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)

# The relay's hardening (issue 16), one scenario per script (relay_env.sh sets them up):
#   test_relay_log_escape    network bytes in the log only as \xHH; no target for a request
#                            that did not parse
#   test_relay_spool_full    a full disk, failing fsyncs: "error", no leftovers, no leaked fd
#   test_relay_metrics_slow  scrapers that do not read: the relay serves on, closes them
#   test_relay_certs         extended key usage, revoked certificates, SIGHUP
#   test_relay_jwt           SOCKS5 method 0x80: JWTs checked, refused by cause; a reload
#                            closes the sessions whose credential it withdrew
foreach(t test_relay_log_escape test_relay_spool_full test_relay_metrics_slow
          test_relay_certs test_relay_jwt)
  add_test(NAME ${t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${t}.sh $<TARGET_FILE:relay>
            $<TARGET_FILE:test_relay_gw> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
  set_tests_properties(${t} PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 180)
endforeach()

# Our yamux against js-libp2p's: a C driver on a kernel socket, the Node peer from
# tests/interop (npm ci by make deps).
add_executable(test_yamux_interop test_yamux_interop.c)
target_compile_options(test_yamux_interop PRIVATE ${GW_WARNINGS})
target_link_libraries(test_yamux_interop PRIVATE gw_proto)
add_test(NAME test_yamux_interop
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_yamux_interop.sh
          $<TARGET_FILE:test_yamux_interop> ${CMAKE_SOURCE_DIR}/tests/interop)
set_tests_properties(test_yamux_interop PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)

# The SAP Cloud SDK's mail client (tests/sapmail, npm ci by make deps) through SOCKS5 method
# 0x80, the tunnel and the real gateway's tcp mapping to a private Postfix (issue 19).
add_test(NAME test_relay_sapmail
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_relay_sapmail.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh
          ${CMAKE_SOURCE_DIR}/tests/sapmail)
set_tests_properties(test_relay_sapmail PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
