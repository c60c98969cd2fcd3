# IMAP response lexer (proto/imap_parse) and engine (proto/imap_client). Seeds in
# corpus/imap_parse/ and corpus/imap_client/ are real Dovecot 2.3 transcripts (greeting,
# CAPABILITY, STARTTLS, LOGIN, SELECT, UID SEARCH, UID FETCH with literals, STORE, EXPUNGE,
# MOVE, IDLE, LOGOUT) and hand-made hostile lines. The engine's seeds start with two bytes:
# packet size, then flags (after-action in bits 0-1, STARTTLS in bit 2, skip bodies bit 3).
gw_fuzz_target(imap_parse SOURCES fuzz_imap_parse.c LIBS gw_proto)
gw_fuzz_target(imap_client SOURCES fuzz_imap_client.c LIBS gw_proto)
