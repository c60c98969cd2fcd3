# tls/ unit tests. They need a test PKI, made by openssl at test time (make_pki.sh, a CTest
# fixture) in the build tree and passed to each test as `--pki DIR`; nothing of it is
# committed. Under qemu-aarch64 the same absolute path works, and openssl runs natively.
set(GW_TLS_PKI ${CMAKE_CURRENT_BINARY_DIR}/tls-pki)
add_test(NAME tls_make_pki COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/make_pki.sh ${GW_TLS_PKI})
set_tests_properties(tls_make_pki PROPERTIES LABELS unit FIXTURES_SETUP tls_pki TIMEOUT 120)

set(TLS_TEST_LIBS gw_tls)
gw_unit_test(test_tls_pem SOURCES test_tls_pem.c test_tls_util.c LIBS ${TLS_TEST_LIBS}
  ARGS --pki ${GW_TLS_PKI} FIXTURES tls_pki)
gw_unit_test(test_tls_x509 SOURCES test_tls_x509.c test_tls_util.c LIBS ${TLS_TEST_LIBS}
  ARGS --pki ${GW_TLS_PKI} FIXTURES tls_pki)
gw_unit_test(test_tls_verify SOURCES test_tls_verify.c test_tls_util.c LIBS ${TLS_TEST_LIBS}
  ARGS --pki ${GW_TLS_PKI} FIXTURES tls_pki)
gw_unit_test(test_tls_keys SOURCES test_tls_keys.c test_tls_util.c LIBS ${TLS_TEST_LIBS}
  ARGS --pki ${GW_TLS_PKI} FIXTURES tls_pki)
gw_unit_test(test_tls_client SOURCES test_tls_client.c test_tls_util.c
  LIBS gw_tls_server ${TLS_TEST_LIBS}
  ARGS --pki ${GW_TLS_PKI} FIXTURES tls_pki)
# JWS signatures for SOCKS5 method 0x80 (known answers: public keys and tokens as data).
gw_unit_test(test_jws SOURCES test_jws.c LIBS gw_tls gw_proto)
# SHA-256 of message bodies with the CPU's SHA instructions: the same as BearSSL's.
gw_unit_test(test_sha256_bulk SOURCES test_sha256_bulk.c LIBS gw_tls)
# AES-GCM on x86 vector instructions (GHASH, AES-CTR): known answers, and BearSSL's result.
gw_unit_test(test_gcm_x86 SOURCES test_gcm_x86.c LIBS gw_tls)
