# Tunnel parsers: the yamux frame decoder and session, the SOCKS5 messages, hello and the
# mail delivery header. Seed corpora in corpus/{yamux,socks5,hello}/ (small hand-made
# frames and messages, one story each).
set(TUNNEL_FUZZ_LIBS gw_proto)
gw_fuzz_target(yamux SOURCES fuzz_yamux.c LIBS ${TUNNEL_FUZZ_LIBS})
gw_fuzz_target(socks5 SOURCES fuzz_socks5.c LIBS ${TUNNEL_FUZZ_LIBS})
gw_fuzz_target(hello SOURCES fuzz_hello.c LIBS ${TUNNEL_FUZZ_LIBS})
# The relay's configuration text (relay/config.c, compiled in; the relay is a Linux tool).
gw_fuzz_target(relay_config SOURCES fuzz_relay_config.c ${CMAKE_SOURCE_DIR}/relay/config.c
  LIBS gw_proto gw_tls_server)
target_include_directories(fuzz_relay_config PRIVATE ${CMAKE_SOURCE_DIR}/relay)
# SOCKS5 method 0x80: the request, the JWT's compact form, base64, the JSON reader. Seeds in
# corpus/jwt/ (tokens as SAP's clients send them, a 0x80 request, JSON odds and ends).
gw_fuzz_target(jwt SOURCES fuzz_jwt.c LIBS gw_proto)
# The relay's LMTP client engine (proto/lmtp): what a store says, the message it is handed.
# Seeds in corpus/lmtp/: Dovecot 2.3's LMTP transcripts (stored, 5xx to RCPT, 4xx at the
# end of data) and hand-made hostile ones; the first byte is the packet size.
gw_fuzz_target(lmtp SOURCES fuzz_lmtp.c LIBS ${TUNNEL_FUZZ_LIBS})
