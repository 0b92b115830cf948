#include "dcm/tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <array>
#include <memory>

#include "base/endpoint.h"
#include "io/files.h"

namespace cohort::dcm {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

using BnPtr = Owned<BIGNUM, BN_free>;
using BioPtr = Owned<BIO, BIO_free_all>;
using GroupPtr = Owned<EC_GROUP, EC_GROUP_free>;
using PointPtr = Owned<EC_POINT, EC_POINT_free>;
using KeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;
using KeyCtxPtr = Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using KdfPtr = Owned<EVP_KDF, EVP_KDF_free>;
using KdfCtxPtr = Owned<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using ParamBldPtr = Owned<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamsPtr = Owned<OSSL_PARAM, OSSL_PARAM_free>;
using CertPtr = Owned<X509, X509_free>;
using ExtPtr = Owned<X509_EXTENSION, X509_EXTENSION_free>;

constexpr long kCaDays = 36500;   // the CA lives as long as its cluster key
constexpr long kNodeDays = 3650;  // re-issued at every start anyway

Error OpenSslError(const std::string& what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  std::string detail = "unknown error";
  if (code != 0) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    detail = text.data();
  }
  return Error(Errc::kInternal, "registry TLS: " + what + ": " + detail);
}

// 32 bytes of HKDF-SHA256(key, salt "cohort registry CA", info "p256 <attempt>").
Result<std::array<uint8_t, 32>> DeriveBytes(const wire::Key& key, int attempt) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return OpenSslError("HKDF unavailable");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  std::string salt = "cohort registry CA";
  std::string info = "p256 " + std::to_string(attempt);
  std::string digest = "SHA256";
  wire::Key secret = key;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret.data(), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::array<uint8_t, 32> out{};
  if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return OpenSslError("deriving the CA key");
  }
  return out;
}

// The P-256 key pair whose private scalar is `scalar`.
Result<KeyPtr> KeyFromScalar(const EC_GROUP* group, const BIGNUM* scalar) {
  PointPtr point(EC_POINT_new(group));
  std::array<uint8_t, 65> pub{};
  if (!point || EC_POINT_mul(group, point.get(), scalar, nullptr, nullptr, nullptr) != 1) {
    return OpenSslError("computing the CA public key");
  }
  const size_t pub_size = EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED,
                                             pub.data(), pub.size(), nullptr);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (pub_size == 0 || !bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub_size) !=
          1) {
    return OpenSslError("building the CA key");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  KeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return OpenSslError("building the CA key");
  }
  return KeyPtr(raw);
}

// The CA's key pair: the same on every node that holds `key`.
Result<KeyPtr> CaKey(const wire::Key& key) {
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  if (!group) return OpenSslError("P-256 unavailable");
  const BIGNUM* order = EC_GROUP_get0_order(group.get());
  // A derived value outside [1, order) is redrawn; the odds are below 2^-32 per draw.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto bytes = DeriveBytes(key, attempt);
    if (!bytes) return bytes.error();
    BnPtr scalar(BN_bin2bn(bytes->data(), static_cast<int>(bytes->size()), nullptr));
    if (!scalar) return OpenSslError("deriving the CA key");
    if (BN_is_zero(scalar.get()) || BN_cmp(scalar.get(), order) >= 0) continue;
    return KeyFromScalar(group.get(), scalar.get());
  }
  return Error(Errc::kInternal, "registry TLS: no CA key could be derived");
}

Result<KeyPtr> FreshKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("making a node key");
  return key;
}

std::string CaName(const wire::Key& key) {
  return "cohort registry CA " + wire::KeyIdToText(wire::KeyIdOf(key));
}

Status SetName(X509_NAME* name, const std::string& common_name) {
  const auto* o = reinterpret_cast<const unsigned char*>("cohort");
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, o, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1) {
    return OpenSslError("naming a certificate");
  }
  return OkStatus();
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(std::string("adding ") + OBJ_nid2sn(nid));
  }
  return OkStatus();
}

// A random positive 127-bit serial: unique enough that no two certificates collide.
Status SetSerial(X509* cert) {
  std::array<uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return OpenSslError("drawing a serial");
  }
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;  // never zero
  BnPtr serial(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("setting a serial");
  }
  return OkStatus();
}

struct CertRequest {
  EVP_PKEY* subject_key = nullptr;
  std::string subject;
  X509* issuer = nullptr;  // null: self-signed
  EVP_PKEY* issuer_key = nullptr;
  long days = 0;
  std::vector<std::pair<int, std::string>> extensions;  // in order: SKI before AKI
};

Result<CertPtr> MakeCertificate(const CertRequest& r) {
  CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return OpenSslError("making a certificate");
  COHORT_TRY(SetSerial(cert.get()));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(r.days), 0, nullptr) ==
          nullptr ||
      X509_set_pubkey(cert.get(), r.subject_key) != 1) {
    return OpenSslError("making a certificate");
  }
  COHORT_TRY(SetName(X509_get_subject_name(cert.get()), r.subject));
  X509* issuer = r.issuer != nullptr ? r.issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    return OpenSslError("naming the issuer");
  }
  for (const auto& [nid, value] : r.extensions) {
    COHORT_TRY(AddExtension(cert.get(), issuer, nid, value));
  }
  if (X509_sign(cert.get(), r.issuer_key, EVP_sha256()) == 0) {
    return OpenSslError("signing a certificate");
  }
  return cert;
}

Result<CertPtr> CaCertificate(const wire::Key& key, EVP_PKEY* ca_key) {
  CertRequest r;
  r.subject_key = ca_key;
  r.subject = CaName(key);
  r.issuer_key = ca_key;
  r.days = kCaDays;
  r.extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                  {NID_subject_key_identifier, "hash"}};
  return MakeCertificate(r);
}

// The text `write` puts into a memory BIO (a PEM_write_bio_* call).
template <typename Write>
Result<std::string> PemText(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return OpenSslError("writing PEM");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

Result<std::string> ToPem(X509* cert) {
  return PemText([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  return PemText([key](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

std::string AltNames(const std::vector<uint32_t>& ips) {
  std::string names;
  for (uint32_t ip : ips) {
    names += (names.empty() ? "IP:" : ",IP:") + Ipv4ToString(ip);
  }
  return names;
}

}  // namespace

Result<std::string> RegistryCaPem(const wire::Key& key) {
  auto ca_key = CaKey(key);
  if (!ca_key) return ca_key.error();
  auto cert = CaCertificate(key, ca_key->get());
  if (!cert) return cert.error();
  return ToPem(cert->get());
}

Result<TlsCredentials> IssueNodeCredentials(const wire::Keyring& ring, NodeId node,
                                            const std::vector<uint32_t>& ips) {
  TlsCredentials out;
  for (wire::KeyId id : ring.Ids()) {
    auto pem = RegistryCaPem(*ring.Find(id));
    if (!pem) return pem.error();
    out.ca_pem += *pem;
  }
  const wire::Key& signing = *ring.Find(ring.in_use());
  auto ca_key = CaKey(signing);
  if (!ca_key) return ca_key.error();
  auto ca = CaCertificate(signing, ca_key->get());
  if (!ca) return ca.error();
  auto node_key = FreshKey();
  if (!node_key) return node_key.error();
  CertRequest r;
  r.subject_key = node_key->get();
  r.subject = "cohort node " + std::to_string(node);
  r.issuer = ca->get();
  r.issuer_key = ca_key->get();
  r.days = kNodeDays;
  r.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                  {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                  {NID_ext_key_usage, "serverAuth,clientAuth"},
                  {NID_subject_key_identifier, "hash"},
                  {NID_authority_key_identifier, "keyid:always"}};
  if (!ips.empty()) r.extensions.emplace_back(NID_subject_alt_name, AltNames(ips));
  auto cert = MakeCertificate(r);
  if (!cert) return cert.error();
  auto cert_pem = ToPem(cert->get());
  if (!cert_pem) return cert_pem.error();
  auto key_pem = KeyToPem(node_key->get());
  if (!key_pem) return key_pem.error();
  out.cert_pem = std::move(*cert_pem);
  out.key_pem = std::move(*key_pem);
  return out;
}

Status WriteCredentials(const std::string& dir, const TlsCredentials& c) {
  COHORT_TRY(io::MakeDirs(dir));
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Error(Errc::kIo, "cannot restrict " + dir + " to its owner");
  }
  COHORT_TRY(io::WriteFileAtomic(dir + "/node.key", c.key_pem, 0600));
  COHORT_TRY(io::WriteFileAtomic(dir + "/node.pem", c.cert_pem, 0644));
  return io::WriteFileAtomic(dir + "/ca.pem", c.ca_pem, 0644);
}

}  // namespace cohort::dcm
