/* The relay's TLS server (tls/tls_server) against the gateway's TLS client (tls/tls_client)
 * over a socketpair: the relay identity loads from PEM (EC and RSA, key matching the leaf),
 * a gateway with a certificate from the client CA is let in and its CN read, and a gateway
 * without a certificate, with one from another CA or with an expired one is refused with a
 * verdict; the leaf kept for the relay tells its extended key usage. Both ends are pumped
 * from this one thread, as the event loops would. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pem.h"
#include "test_tls_util.h"
#include "tls_client.h"
#include "tls_server.h"
#include "trust.h"
#include "x509_info.h"

static struct tls_server_identity id;
static struct tls_server srv;
/* The memory the relay gives each connection (tls_server_mem). */
static struct tls_peer_check srv_check;
static uint8_t srv_ibuf[TLS_SERVER_IBUF], srv_obuf[TLS_SERVER_OBUF];
static const struct tls_server_mem srv_mem = {
    &srv_check, srv_ibuf, srv_obuf, sizeof srv_ibuf, sizeof srv_obuf,
};
static struct tls_client cli;
static int sv[2];

static long io_send(void *arg, const uint8_t *p, size_t len)
{
    ssize_t n = send(*(int *)arg, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        return errno == EAGAIN ? 0 : TLS_IO_ERROR;
    }
    return n;
}

static long io_recv(void *arg, uint8_t *p, size_t len)
{
    ssize_t n = recv(*(int *)arg, p, len, MSG_DONTWAIT);
    if (n == 0) {
        return TLS_IO_EOF;
    }
    if (n < 0) {
        return errno == EAGAIN ? 0 : TLS_IO_ERROR;
    }
    return n;
}

static int load_identity(const char *chain, const char *key, const char *ca, char *err,
                         size_t errlen)
{
    static uint8_t c[16384], k[8192], a[16384];
    size_t cl = pki_load(chain, c, sizeof c), kl = pki_load(key, k, sizeof k);
    size_t al = pki_load(ca, a, sizeof a);
    return tls_server_identity_load(&id, c, cl, k, kl, a, al, err, errlen);
}

/* The gateway's side: trust the lab root, present CHAIN (PEM) with KEY (EC PEM), or none. */
static br_x509_trust_anchor ta[2];
static uint8_t arena[2 * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static br_x509_certificate gw_chain[3];
static br_skey_decoder_context gw_key;

static void skey_push(void *ctx, const void *p, size_t len)
{
    br_skey_decoder_push(ctx, p, len);
}

static int load_gateway(const char *chain, const char *key)
{
    static uint8_t root[4096], pem[16384], der[16384], kpem[4096];
    static struct pem_decoder d;
    static struct pem_cert certs[3];
    trust_init(&store, ta, 2, arena, sizeof arena);
    size_t n = pki_load("root.der", root, sizeof root);
    if (n == 0 || trust_add_der(&store, root, n) < 0) {
        return -1;
    }
    if (chain == NULL) {
        return 0;
    }
    n = pki_load(chain, pem, sizeof pem);
    int k = pem_decode_certs(&d, pem, n, der, sizeof der, certs, 3);
    if (k <= 0) {
        return -1;
    }
    for (int i = 0; i < k; i++) {
        gw_chain[i].data = (unsigned char *)(uintptr_t)certs[i].der;
        gw_chain[i].data_len = certs[i].len;
    }
    n = pki_load(key, kpem, sizeof kpem);
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    for (size_t off = 0; off < n;) {
        off += br_pem_decoder_push(&pc, kpem + off, n - off);
        if (br_pem_decoder_event(&pc) == BR_PEM_BEGIN_OBJ) {
            br_skey_decoder_init(&gw_key);
            br_pem_decoder_setdest(&pc, skey_push, &gw_key);
        }
    }
    return br_skey_decoder_key_type(&gw_key) == BR_KEYTYPE_EC ? k : -1;
}

/* The records the gateway asks for in the next handshake (0: full size, its default), and
 * its order of suites. */
static unsigned client_record_max;
static enum tls_prefer client_prefer;

/* Handshake both ends; returns the server's state afterwards. */
static enum tls_state handshake(const char *chain, const char *key, int64_t now)
{
    int n = load_gateway(chain, key);
    if (n < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        return TLS_ST_FAILED;
    }
    struct tls_client_config cfg = {
        .host = "mail.example.test", .anchors = store.ta, .anchors_num = store.count,
        .now = now, .client_chain = chain ? gw_chain : NULL, .client_chain_len = (size_t)n,
        .client_key = chain ? br_skey_decoder_get_ec(&gw_key) : NULL,
        .record_max = client_record_max, .prefer = client_prefer,
    };
    /* A pattern the engine never writes by chance, to see how far it writes. */
    memset(srv_ibuf, 0xa5, sizeof srv_ibuf);
    memset(srv_obuf, 0xa5, sizeof srv_obuf);
    if (tls_server_start(&srv, &id, now, &(struct tls_io){ io_send, io_recv, &sv[0] }, &srv_mem)
        != 0
        || tls_client_start(&cli, &cfg, &(struct tls_io){ io_send, io_recv, &sv[1] }) != 0) {
        return TLS_ST_FAILED;
    }
    for (int i = 0; i < 1000; i++) {
        enum tls_state s = tls_server_pump(&srv), c = tls_client_pump(&cli);
        if (s != TLS_ST_HANDSHAKE && c != TLS_ST_HANDSHAKE) {
            break;
        }
        if (s == TLS_ST_FAILED || c == TLS_ST_FAILED) {
            /* One side gave up: let the other see it. */
            tls_server_pump(&srv);
            tls_client_pump(&cli);
            close(sv[0]);
            close(sv[1]);
            tls_server_pump(&srv);
            tls_client_pump(&cli);
            return srv.engine.state;
        }
    }
    return srv.engine.state;
}

static void hang_up(void)
{
    close(sv[0]);
    close(sv[1]);
}

static void relay_identity_loads_ec_and_rsa_and_refuses_a_foreign_key(void)
{
    char err[200];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(id.key_type, BR_KEYTYPE_EC);
    CHECK_EQ(id.chain_len, 2);
    CHECK_EQ(id.cas.count, 1);
    CHECK_EQ(load_identity("chain-rsa.pem", "leaf-rsa.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(id.key_type, BR_KEYTYPE_RSA);
    CHECK(load_identity("chain-ec.pem", "leaf-rsa.key", "inter.pem", err, sizeof err) != 0);
    printf("wrong key: %s\n", err);
    CHECK(strstr(err, "the key does not belong to the first certificate") != NULL);
    CHECK(load_identity("chain-ec.pem", "chain-ec.pem", "inter.pem", err, sizeof err) != 0);
    printf("no key: %s\n", err);
    CHECK(strncmp(err, "key: no private key", 19) == 0);
    CHECK(load_identity("chain-ec.pem", "leaf-ec.key", "leaf-ec.key", err, sizeof err) != 0);
    printf("bad client CA: %s\n", err);
    CHECK(strncmp(err, "client-ca: ", 11) == 0);
}

/* A gateway whose certificate the client CA issued: in, with its CN; data both ways. */
static void gateway_with_a_certificate_from_the_client_ca_is_let_in(void)
{
    char err[200];
    uint8_t buf[64];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW), TLS_ST_OPEN);
    CHECK_EQ(cli.engine.state, TLS_ST_OPEN);
    CHECK(strcmp(tls_server_peer_cn(&srv), "mail.example.test") == 0);
    printf("server verdict: %s\n", tls_server_verdict(&srv));
    CHECK_EQ(tls_client_write(&cli, (const uint8_t *)"hello relay", 11), 11);
    long n = 0;
    for (int i = 0; i < 100 && n == 0; i++) {
        tls_server_pump(&srv);
        n = tls_server_read(&srv, buf, sizeof buf);
    }
    CHECK_EQ(n, 11);
    CHECK(memcmp(buf, "hello relay", 11) == 0);
    CHECK_EQ(tls_server_write(&srv, (const uint8_t *)"welcome", 7), 7);
    n = 0;
    for (int i = 0; i < 100 && n == 0; i++) {
        tls_client_pump(&cli);
        n = tls_client_read(&cli, buf, sizeof buf);
    }
    CHECK_EQ(n, 7);
    hang_up();
    /* The same with an RSA relay identity. */
    CHECK_EQ(load_identity("chain-rsa.pem", "leaf-rsa.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW), TLS_ST_OPEN);
    CHECK(strcmp(tls_server_peer_cn(&srv), "mail.example.test") == 0);
    hang_up();
}

/* How far each record buffer was written: the engine never writes the pattern by chance. */
static size_t touched(const uint8_t *b, size_t n)
{
    while (n > 0 && b[n - 1] == 0xa5) {
        n--;
    }
    return n;
}

/* size bytes each way through a tunnel just opened: the client writes, the relay reads in
 * place and echoes, the client reads back. 0 when every byte came back in order. */
static int echo_through(size_t size)
{
    static uint8_t big[65536], got[65536];
    const uint8_t *p;
    if (size > sizeof big) {
        return -1;
    }
    for (size_t i = 0; i < size; i++) {
        big[i] = (uint8_t)(i * 7 + 1);
    }
    size_t sent = 0, have = 0, back = 0;
    for (int i = 0; i < 4000 && (have < size || back < size); i++) {
        if (sent < size) {
            long w = tls_client_write(&cli, big + sent, size - sent);
            sent += w > 0 ? (size_t)w : 0;
        }
        tls_server_pump(&srv);
        size_t n = tls_server_peek(&srv, &p);
        if (n > 0) {
            if (memcmp(p, big + have, n) != 0) {
                return -1;
            }
            long w = tls_server_write(&srv, p, n);          /* echo: records the other way */
            n = w > 0 ? (size_t)w : 0;
            tls_server_consume(&srv, n);
            have += n;
        }
        tls_client_pump(&cli);
        long r = tls_client_read(&cli, got + back, size - back);
        back += r > 0 ? (size_t)r : 0;
    }
    tls_server_pump(&srv);
    return have == size && back == size && memcmp(got, big, size) == 0 ? 0 : -1;
}

/* A client that asks for 4 KiB records (max fragment length): of the relay's full-size
 * record buffers, it touches only the first 4 KiB and a little each way, through the
 * handshake and a record of each size; between records the buffers hold nothing the
 * connection needs (the relay gives their pages back then), and plaintext is read in
 * place. */
static void a_client_asking_for_4_kib_records_touches_4_kib_of_each_buffer(void)
{
    char err[200];
    static uint8_t big[100];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    client_record_max = 4096;
    enum tls_state st = handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW);
    client_record_max = 0;
    CHECK_EQ(st, TLS_ST_OPEN);
    CHECK_EQ(echo_through(16384), 0);
    CHECK_EQ(tls_server_quiescent(&srv), 1);
    size_t in = touched(srv_ibuf, sizeof srv_ibuf), out = touched(srv_obuf, sizeof srv_obuf);
    printf("record buffers touched after the handshake and 16 KiB each way: input %zu of %d "
           "bytes, output %zu of %d\n", in, TLS_SERVER_IBUF, out, TLS_SERVER_OBUF);
    CHECK(in <= 4096 + 64);
    CHECK(out <= 4096 + 64);
    /* A partial record held: not quiescent. The client's next record is taken off the
     * wire and only its first 10 bytes are put back for the relay. */
    CHECK_EQ(tls_client_write(&cli, big, 100), 100);
    uint8_t rec[256];
    CHECK(recv(sv[0], rec, sizeof rec, 0) > 10);
    CHECK_EQ(send(sv[1], rec, 10, 0), 10);
    tls_server_pump(&srv);
    CHECK_EQ(tls_server_quiescent(&srv), 0);
    hang_up();
}

/* The gateway's tunnel sends and gets full-size records: the relay's buffers are used whole
 * while data moves, and between records hold nothing the connection needs, so the relay's
 * trim gives their pages back once the tunnel is quiet (an idle tunnel stays at its few
 * pages). A tunnel that only said hello touched the first page of each. */
static void a_gateway_tunnel_with_full_records_leaves_the_buffers_quiescent(void)
{
    char err[200];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW), TLS_ST_OPEN);
    CHECK_EQ(echo_through(100), 0);
    size_t in = touched(srv_ibuf, sizeof srv_ibuf), out = touched(srv_obuf, sizeof srv_obuf);
    printf("record buffers touched after the handshake and 100 bytes each way: input %zu, "
           "output %zu\n", in, out);
    CHECK(in <= 4096 && out <= 4096);
    CHECK_EQ(echo_through(65536), 0);
    CHECK_EQ(tls_server_quiescent(&srv), 1);
    in = touched(srv_ibuf, sizeof srv_ibuf);
    out = touched(srv_obuf, sizeof srv_obuf);
    printf("... and after 64 KiB each way: input %zu of %d bytes, output %zu of %d\n", in,
           TLS_SERVER_IBUF, out, TLS_SERVER_OBUF);
    CHECK(in > 16384 && out > 16384);
    hang_up();
}

/* The suite both ends agreed on (the relay's view; the gateway's must be the same). */
static unsigned agreed_suite(void)
{
    unsigned s = srv.sc.eng.session.cipher_suite;
    return s == cli.cc.eng.session.cipher_suite ? s : 0;
}

/* A gateway that asks for ChaCha20-Poly1305 first gets it, one that asks for AES-GCM first
 * gets that: the relay, which prefers AES-GCM on this CPU or not, follows the gateway. */
static void the_relay_takes_the_gateways_order_of_suites(void)
{
    char err[200], what[120];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    client_prefer = TLS_PREFER_CHACHA20;
    enum tls_state st = handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW);
    client_prefer = TLS_PREFER_AUTO;
    CHECK_EQ(st, TLS_ST_OPEN);
    CHECK_EQ(agreed_suite(), BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
    CHECK_EQ(echo_through(20000), 0);
    tls_engine_describe(&srv.engine, what, sizeof what);
    printf("gateway asking for ChaCha20 first: %s\n", what);
    CHECK(strncmp(what, "ECDHE-ECDSA-CHACHA20-POLY1305 (chacha20_", 40) == 0);
    hang_up();
    client_prefer = TLS_PREFER_AES_GCM;
    st = handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW);
    client_prefer = TLS_PREFER_AUTO;
    CHECK_EQ(st, TLS_ST_OPEN);
    CHECK_EQ(agreed_suite(), BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    CHECK_EQ(echo_through(20000), 0);
    tls_engine_describe(&cli.engine, what, sizeof what);
    printf("gateway asking for AES-GCM first: %s\n", what);
    CHECK(strncmp(what, "ECDHE-ECDSA-AES128-GCM-SHA256 (aes_", 35) == 0);
    hang_up();
}

/* Left to itself the gateway asks for AES-GCM first only where BearSSL runs AES and GHASH
 * on the CPU's instructions (x86_64 with AES-NI and PCLMULQDQ), else for ChaCha20-Poly1305
 * (aarch64: BearSSL 0.6 has only constant-time software AES there; this case runs both
 * ways, natively and under qemu-aarch64). */
static void the_gateway_asks_for_aes_gcm_only_where_the_cpu_runs_it(void)
{
    char err[200], impls[160];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW), TLS_ST_OPEN);
    tls_describe_impls(impls, sizeof impls);
    printf("this CPU: %s\n", impls);
    if (tls_aes_gcm_in_hardware()) {
        CHECK_EQ(agreed_suite(), BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
        CHECK(strstr(impls, "AES-GCM preferred") != NULL);
    } else {
        CHECK_EQ(agreed_suite(), BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
        CHECK(strstr(impls, "ChaCha20-Poly1305 preferred") != NULL);
    }
    hang_up();
}

static void gateway_without_a_certificate_is_refused(void)
{
    char err[200];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake(NULL, NULL, TEST_NOW), TLS_ST_FAILED);
    printf("no client certificate: %s\n", tls_server_verdict(&srv));
    CHECK(strcmp(tls_server_verdict(&srv), "client certificate refused: the client sent none")
          == 0);
    CHECK(strcmp(tls_server_peer_cn(&srv), "") == 0);
    hang_up();
}

static void gateway_certificates_from_elsewhere_or_expired_are_refused(void)
{
    char err[200];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "other-root.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW), TLS_ST_FAILED);
    printf("other CA: %s\n", tls_server_verdict(&srv));
    CHECK(strstr(tls_server_verdict(&srv), "client certificate refused") != NULL);
    hang_up();
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("expired.pem", "expired.key", TEST_NOW), TLS_ST_FAILED);
    printf("expired: %s\n", tls_server_verdict(&srv));
    CHECK(strstr(tls_server_verdict(&srv), "BR_ERR_X509_EXPIRED") != NULL);
    hang_up();
    CHECK_EQ(handshake("selfsigned.pem", "selfsigned.key", TEST_NOW), TLS_ST_FAILED);
    printf("self-signed: %s\n", tls_server_verdict(&srv));
    hang_up();
    printf("RAM per relay connection: struct tls_server %zu bytes, record buffers %d bytes, "
           "checker (handshake only) %zu bytes; identity %zu bytes\n",
           sizeof(struct tls_server), TLS_SERVER_IBUF + TLS_SERVER_OBUF,
           sizeof(struct tls_peer_check), sizeof(struct tls_server_identity));
}

/* The relay refuses gateway certificates meant for other purposes (relay/tunnel.c): the
 * leaf it keeps after the handshake says which purposes its extended key usage lists. */
static void the_kept_leaf_tells_its_extended_key_usage(void)
{
    char err[200];
    struct x509_parts x;
    unsigned bits = 99;
    static uint8_t der[4096];
    CHECK_EQ(load_identity("chain-ec.pem", "leaf-ec.key", "inter.pem", err, sizeof err), 0);
    CHECK_EQ(handshake("chain-ec.pem", "leaf-ec.key", TEST_NOW), TLS_ST_OPEN);
    size_t leaf_len;
    const uint8_t *leaf = tls_server_peer_leaf(&srv, &leaf_len);
    CHECK(leaf != NULL);
    CHECK_EQ(x509_split(leaf, leaf_len, &x), 0);
    CHECK_EQ(x509_eku(&x, &bits), 1);
    CHECK_EQ(bits, X509_EKU_SERVER_AUTH | X509_EKU_CLIENT_AUTH);
    hang_up();
    size_t n = pki_load("cnonly.der", der, sizeof der);        /* serverAuth only */
    CHECK_EQ(x509_split(der, n, &x), 0);
    CHECK_EQ(x509_eku(&x, &bits), 1);
    CHECK_EQ(bits, X509_EKU_SERVER_AUTH);
    n = pki_load("root.der", der, sizeof der);                 /* none: no restriction */
    CHECK_EQ(x509_split(der, n, &x), 0);
    CHECK_EQ(x509_eku(&x, &bits), 0);
    CHECK_EQ(bits, 0);
}

TLS_TEST_MAIN(
    { "relay_identity_loads_ec_and_rsa_and_refuses_a_foreign_key",
      relay_identity_loads_ec_and_rsa_and_refuses_a_foreign_key },
    { "gateway_with_a_certificate_from_the_client_ca_is_let_in",
      gateway_with_a_certificate_from_the_client_ca_is_let_in },
    { "a_client_asking_for_4_kib_records_touches_4_kib_of_each_buffer",
      a_client_asking_for_4_kib_records_touches_4_kib_of_each_buffer },
    { "a_gateway_tunnel_with_full_records_leaves_the_buffers_quiescent",
      a_gateway_tunnel_with_full_records_leaves_the_buffers_quiescent },
    { "the_relay_takes_the_gateways_order_of_suites",
      the_relay_takes_the_gateways_order_of_suites },
    { "the_gateway_asks_for_aes_gcm_only_where_the_cpu_runs_it",
      the_gateway_asks_for_aes_gcm_only_where_the_cpu_runs_it },
    { "gateway_without_a_certificate_is_refused", gateway_without_a_certificate_is_refused },
    { "gateway_certificates_from_elsewhere_or_expired_are_refused",
      gateway_certificates_from_elsewhere_or_expired_are_refused },
    { "the_kept_leaf_tells_its_extended_key_usage", the_kept_leaf_tells_its_extended_key_usage })
