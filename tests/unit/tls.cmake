# tls/ unit tests. They need a test PKI, made by openssl at test time (make_pki.sh, a CTest
# fixture) in the build tree and passed to each test as `--pki DIR`; nothing of it is
# committed. Under qemu-aarch64 the same absolute path works, and openssl runs natively.
set(GW_TLS_PKI ${CMAKE_CURRENT_BINARY_DIR}/tls-pki)
add_test(NAME tls_make_pki COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/make_pki.sh ${GW_TLS_PKI})
set_tests_properties(tls_make_pki PROPERTIES LABELS unit FIXTURES_SETUP tls_pki TIMEOUT 120)

# gw_unit_test(), plus the PKI: the program gets `--pki DIR` and runs after the fixture.
# (gw_unit_test has no way to pass arguments, hence this twin.)
function(tls_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES} test_tls_util.c)
  target_compile_options(${name} PRIVATE ${GW_WARNINGS})
  target_link_libraries(${name} PRIVATE gw_check gw_includes
    "$<LINK_GROUP:RESCAN,${T_LIBS}>")
  add_test(NAME ${name} COMMAND ${name} --pki ${GW_TLS_PKI})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 600 FIXTURES_REQUIRED tls_pki)
endfunction()

set(TLS_TEST_LIBS gw_tls gw_board gw_firmware lwip bearssl)
tls_unit_test(test_tls_pem SOURCES test_tls_pem.c LIBS ${TLS_TEST_LIBS})
tls_unit_test(test_tls_x509 SOURCES test_tls_x509.c LIBS ${TLS_TEST_LIBS})
tls_unit_test(test_tls_verify SOURCES test_tls_verify.c LIBS ${TLS_TEST_LIBS})
tls_unit_test(test_tls_keys SOURCES test_tls_keys.c LIBS ${TLS_TEST_LIBS})
tls_unit_test(test_tls_stream SOURCES test_tls_stream.c LIBS ${TLS_TEST_LIBS})
