#include "dcm/tls.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace cohort::dcm {
namespace {

using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

std::vector<CertPtr> ReadCerts(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  std::vector<CertPtr> out;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(c, X509_free);
  }
  return out;
}

// Whether `cert_pem` chains to one of the CAs in `ca_pem`, as a TLS peer would check it.
bool Verifies(const std::string& cert_pem, const std::string& ca_pem) {
  auto certs = ReadCerts(cert_pem);
  if (certs.size() != 1) return false;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (auto& ca : ReadCerts(ca_pem)) X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), certs[0].get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  return X509_verify_cert(ctx.get()) == 1;
}

wire::Keyring RingOf(std::initializer_list<wire::Key> keys) {
  wire::Keyring ring;
  for (const wire::Key& k : keys) ring.Install(k);
  return ring;
}

TEST(TlsTest, EveryNodeDerivesTheSameCaFromTheClusterKey) {
  const wire::Key key = wire::GenerateKey();
  auto a = RegistryCaPem(key);
  auto b = RegistryCaPem(key);
  ASSERT_TRUE(a && b);
  auto ca = ReadCerts(*a);
  auto cb = ReadCerts(*b);
  ASSERT_EQ(ca.size(), 1u);
  ASSERT_EQ(cb.size(), 1u);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(ca[0].get()), X509_get0_pubkey(cb[0].get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(ca[0].get()), X509_get_subject_name(cb[0].get())),
            0);
  auto other = ReadCerts(*RegistryCaPem(wire::GenerateKey()));
  EXPECT_NE(EVP_PKEY_eq(X509_get0_pubkey(ca[0].get()), X509_get0_pubkey(other[0].get())), 1);
}

TEST(TlsTest, ANodeCertificateChainsToAnotherNodesCopyOfTheCa) {
  const wire::Key key = wire::GenerateKey();
  auto one = IssueNodeCredentials(RingOf({key}), 1, {0x7f000001, 0x0a000001});
  auto two = IssueNodeCredentials(RingOf({key}), 2, {0x7f000001});
  ASSERT_TRUE(one && two) << (one ? two.error().message() : one.error().message());
  EXPECT_TRUE(Verifies(one->cert_pem, two->ca_pem));
  EXPECT_TRUE(Verifies(two->cert_pem, one->ca_pem));

  auto cert = ReadCerts(one->cert_pem);
  EXPECT_EQ(X509_check_ip_asc(cert[0].get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert[0].get(), "10.0.0.1", 0), 1);
  EXPECT_NE(X509_check_ip_asc(cert[0].get(), "10.0.0.2", 0), 1);
  EXPECT_NE(X509_get_extended_key_usage(cert[0].get()) & XKU_SSL_CLIENT, 0u);
  EXPECT_NE(X509_get_extended_key_usage(cert[0].get()) & XKU_SSL_SERVER, 0u);

  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(one->key_pem.data(), int(one->key_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  ASSERT_TRUE(pkey);
  EXPECT_EQ(X509_check_private_key(cert[0].get(), pkey.get()), 1);
}

TEST(TlsTest, ACertificateOfAnotherClusterKeyIsNotTrusted) {
  auto ours = IssueNodeCredentials(RingOf({wire::GenerateKey()}), 1, {0x7f000001});
  auto theirs = IssueNodeCredentials(RingOf({wire::GenerateKey()}), 1, {0x7f000001});
  ASSERT_TRUE(ours && theirs);
  EXPECT_FALSE(Verifies(theirs->cert_pem, ours->ca_pem));
}

// A key rotation: every step keeps each pair of nodes trusting each other.
TEST(TlsTest, EveryStepOfAKeyRotationKeepsNodesTrustingEachOther) {
  const wire::Key old_key = wire::GenerateKey();
  const wire::Key new_key = wire::GenerateKey();
  wire::Keyring before = RingOf({old_key});
  wire::Keyring both = RingOf({old_key, new_key});  // installed, old still in use
  wire::Keyring switched = RingOf({old_key, new_key});
  ASSERT_TRUE(switched.Use(wire::KeyIdOf(new_key)));
  wire::Keyring after = RingOf({new_key});

  auto b = IssueNodeCredentials(before, 1, {0x7f000001});
  auto i = IssueNodeCredentials(both, 2, {0x7f000001});
  auto s = IssueNodeCredentials(switched, 3, {0x7f000001});
  auto a = IssueNodeCredentials(after, 4, {0x7f000001});
  ASSERT_TRUE(b && i && s && a);
  // Installing: nodes not yet restarted (b) and restarted ones (i) trust each other.
  EXPECT_TRUE(Verifies(b->cert_pem, i->ca_pem));
  EXPECT_TRUE(Verifies(i->cert_pem, b->ca_pem));
  // Switching: i and s.
  EXPECT_TRUE(Verifies(i->cert_pem, s->ca_pem));
  EXPECT_TRUE(Verifies(s->cert_pem, i->ca_pem));
  // Removing the old key: s and a.
  EXPECT_TRUE(Verifies(s->cert_pem, a->ca_pem));
  EXPECT_TRUE(Verifies(a->cert_pem, s->ca_pem));
  // Skipping the switch step breaks trust, which is why the steps are ordered.
  EXPECT_FALSE(Verifies(b->cert_pem, a->ca_pem));
}

}  // namespace
}  // namespace cohort::dcm
