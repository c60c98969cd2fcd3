#!/bin/sh
# make_pki.sh OUTDIR: the test PKI of the tls unit tests, made fresh by openssl at test time
# (nothing of it is committed). OpenSSL 3.0's `x509` and `req` cannot set a start date, so
# every certificate is issued by `openssl ca` with explicit -startdate/-enddate: the dates are
# fixed, and the tests validate at a fixed time (2026-03-01) so they never age.
#
#   root.pem        Lab Root CA, RSA-2048, self-signed, 2024-01-01..2060-01-01 (GeneralizedTime)
#   inter.pem       Lab Intermediate CA, P-256, issued by root, 2024-01-01..2040-01-01
#   leaf-ec.pem     mail.example.test (+ imap.example.test), P-256, by inter
#   leaf-rsa.pem    mail.example.test, RSA-2048, by inter
#   expired.pem     mail.example.test, 2020-01-01..2021-01-01
#   notyet.pem      mail.example.test, 2030-01-01..2031-01-01
#   wrongname.pem   other.example.test
#   wild.pem        *.example.test
#   ip.pem          SAN IP 127.0.0.1 and ::1 only
#   cnonly.pem      no SAN, CN=legacy.example.test
#   emailsan.pem    SAN e-mail address only, CN=legacy.example.test (the CN must not count)
#   clientonly.pem  mail.example.test, extended key usage clientAuth only (not a server's)
#   selfsigned.pem  mail.example.test, self-signed, not a CA
#   other-root.pem  Other Root CA, unrelated to everything else
#   chain-ec.pem, chain-rsa.pem   leaf + intermediate, as a server sends them
# Each NAME.pem has NAME.der and NAME.key beside it.
set -eu

out=$1
rm -rf "$out"
mkdir -p "$out/db"
cd "$out"
: > db/index.txt
echo 1000 > db/serial

cat > ca.cnf <<'EOF'
[ca]
default_ca = lab

[lab]
dir = .
database = db/index.txt
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes

[any]
commonName = optional
organizationName = optional

[req]
distinguished_name = dn

[dn]

[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[v3_inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN

[v3_leaf_nosan]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth

[v3_leaf_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SAN
EOF

genkey() { # NAME ec|rsa
    if [ "$2" = rsa ]; then
        openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key"
    else
        openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
    fi
}

# issue NAME ec|rsa SUBJECT SIGNER|self EXTENSIONS START END
issue() {
    name=$1 kind=$2 subj=$3 signer=$4 ext=$5 start=$6 end=$7
    genkey "$name" "$kind"
    openssl req -new -config ca.cnf -key "$name.key" -subj "$subj" -out "$name.csr"
    if [ "$signer" = self ]; then
        set -- -selfsign -keyfile "$name.key"
    else
        set -- -cert "$signer.pem" -keyfile "$signer.key"
    fi
    openssl ca -batch -config ca.cnf -notext -preserveDN "$@" -in "$name.csr" -out "$name.pem" \
        -extensions "$ext" -startdate "$start" -enddate "$end" 2>ca.log || { cat ca.log; exit 1; }
    openssl x509 -in "$name.pem" -outform DER -out "$name.der"
}

LAB="/O=Gateway Test Lab"
export SAN="DNS:unused"
issue root rsa "$LAB/CN=Lab Root CA" self v3_root 20240101000000Z 20600101000000Z
issue inter ec "$LAB/CN=Lab Intermediate CA" root v3_inter 20240101000000Z 20400101000000Z
issue other-root ec "/O=Elsewhere/CN=Other Root CA" self v3_root 20240101000000Z 20400101000000Z

SAN="DNS:mail.example.test,DNS:imap.example.test"
issue leaf-ec ec "$LAB/CN=mail.example.test" inter v3_leaf 20240101000000Z 20400101000000Z
SAN="DNS:mail.example.test"
issue leaf-rsa rsa "$LAB/CN=mail.example.test" inter v3_leaf 20240101000000Z 20400101000000Z
issue expired ec "$LAB/CN=mail.example.test" inter v3_leaf 20200101000000Z 20210101000000Z
issue notyet ec "$LAB/CN=mail.example.test" inter v3_leaf 20300101000000Z 20310101000000Z
issue selfsigned ec "$LAB/CN=mail.example.test" self v3_leaf 20240101000000Z 20400101000000Z
SAN="DNS:other.example.test"
issue wrongname ec "$LAB/CN=other.example.test" inter v3_leaf 20240101000000Z 20400101000000Z
SAN="DNS:*.example.test"
issue wild ec "$LAB/CN=*.example.test" inter v3_leaf 20240101000000Z 20400101000000Z
SAN="IP:127.0.0.1,IP:::1"
issue ip ec "$LAB/CN=Lab IP Server" inter v3_leaf 20240101000000Z 20400101000000Z
issue cnonly ec "$LAB/CN=legacy.example.test" inter v3_leaf_nosan 20240101000000Z 20400101000000Z
SAN="email:postmaster@example.test"
issue emailsan ec "$LAB/CN=legacy.example.test" inter v3_leaf 20240101000000Z 20400101000000Z
SAN="DNS:mail.example.test"
issue clientonly ec "$LAB/CN=mail.example.test" inter v3_leaf_client 20240101000000Z 20400101000000Z

cat leaf-ec.pem inter.pem > chain-ec.pem
cat leaf-rsa.pem inter.pem > chain-rsa.pem
echo "test PKI ready in $out"
