# Tunnel protocols (proto/yamux, proto/socks5, proto/hello_delivery): pure state machines and codecs, no
# sockets, so they run natively, under ASan/UBSan and under qemu-aarch64 alike.
set(TUNNEL_TEST_LIBS gw_proto)
gw_unit_test(test_yamux SOURCES test_yamux.c LIBS ${TUNNEL_TEST_LIBS})
gw_unit_test(test_socks5 SOURCES test_socks5.c LIBS ${TUNNEL_TEST_LIBS})
gw_unit_test(test_hello SOURCES test_hello.c LIBS ${TUNNEL_TEST_LIBS})
gw_unit_test(test_text_escape SOURCES test_text_escape.c LIBS gw_base)
# The relay's TLS server against the gateway's TLS client over a socketpair (test PKI).
gw_unit_test(test_relay_tls SOURCES test_relay_tls.c test_tls_util.c
  LIBS gw_tls_server
  ARGS --pki ${GW_TLS_PKI} FIXTURES tls_pki)
# The dial (firmware/dial.c) over lwIP's loopback, its name lookup answered by the test.
gw_unit_test(test_dial SOURCES test_dial.c ${CMAKE_SOURCE_DIR}/firmware/dial.c LIBS gw_net)
target_include_directories(test_dial PRIVATE ${CMAKE_SOURCE_DIR}/firmware)
# SOCKS5 method 0x80's parsers: base64, the JSON reader, the JWT, the 0x80 request.
gw_unit_test(test_jwt SOURCES test_jwt.c LIBS gw_proto)
# The relay's judgement of a 0x80 token (relay/jwtauth.c, compiled in): each cause.
gw_unit_test(test_jwtauth SOURCES test_jwtauth.c ${CMAKE_SOURCE_DIR}/relay/jwtauth.c
  LIBS gw_proto gw_tls_server)
target_include_directories(test_jwtauth PRIVATE ${CMAKE_SOURCE_DIR}/relay)
# The LMTP client engine of the relay's `spool lmtp` (proto/lmtp).
gw_unit_test(test_lmtp SOURCES test_lmtp.c LIBS ${TUNNEL_TEST_LIBS})
