# IMAP response lexer (net/imap_parse): seeds in corpus/imap_parse/ are real Dovecot 2.3
# transcripts (greeting, CAPABILITY, STARTTLS, LOGIN, SELECT, UID SEARCH, UID FETCH with
# literals, STORE, EXPUNGE, MOVE, IDLE, LOGOUT) and hand-made hostile lines.
gw_fuzz_target(imap_parse SOURCES fuzz_imap_parse.c LIBS gw_imap)
