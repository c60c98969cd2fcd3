# The certificate import path: PEM/DER -> x509_info -> trust anchors -> chain check.
gw_fuzz_target(tls SOURCES fuzz_tls.c LIBS gw_tls)
# The jwt-issuer key loader (SOCKS5 method 0x80): PEM public keys and certificates.
gw_fuzz_target(jws_key SOURCES fuzz_jws_key.c LIBS gw_tls)
