# The certificate import path: PEM/DER -> x509_info -> trust anchors -> chain check.
gw_fuzz_target(tls SOURCES fuzz_tls.c LIBS gw_tls)
