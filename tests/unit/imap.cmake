# IMAP client (proto/imap_parse, proto/imap_client): sans-IO, no sockets, so they run natively,
# under ASan/UBSan and under qemu-aarch64 alike. The engine logs through log.h (firmware).
gw_unit_test(test_imap_parse SOURCES test_imap_parse.c LIBS gw_proto)
gw_unit_test(test_imap_client SOURCES test_imap_client.c LIBS gw_proto)
