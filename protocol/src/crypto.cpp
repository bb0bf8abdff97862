#include "opsync/protocol/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <climits>
#include <memory>

#include "opsync/protocol/check.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/sha256.h"

namespace opsync {
namespace {

// Domain tags of spec 5; each is followed by one zero byte in the associated data.
constexpr std::string_view kKeyWrapTag = "opsync/v1 key wrap";
constexpr std::string_view kOpPayloadTag = "opsync/v1 op payload";
constexpr std::string_view kFileChunkTag = "opsync/v1 file chunk";
constexpr std::string_view kOpKeyInfo = "opsync/v1 op payload key";
constexpr std::string_view kChunkKeyInfo = "opsync/v1 file chunk key";

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  OPSYNC_CHECK_MSG(cipher != nullptr, "OpenSSL has no AES-256-GCM");
  return cipher;
}

int to_int(size_t size) {
  OPSYNC_CHECK(size <= INT_MAX);
  return static_cast<int>(size);
}

Bytes tagged(std::string_view tag) {
  Bytes out(tag.begin(), tag.end());
  out.push_back(0);
  return out;
}

SecretKey hkdf_sha256(const SecretKey& ikm, std::string_view info) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  OPSYNC_CHECK_MSG(kdf != nullptr, "OpenSSL has no HKDF");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  OPSYNC_CHECK(ctx != nullptr);
  // An absent salt is RFC 5869's default: HashLen zero bytes, the same HMAC key as an empty salt.
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), 32),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::array<uint8_t, 32> out{};
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  OPSYNC_CHECK(ok == 1);
  SecretKey key(out);
  OPENSSL_cleanse(out.data(), out.size());
  return key;
}

}  // namespace

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

SecretKey SecretKey::random(RandomSource& random) {
  std::array<uint8_t, 32> bytes{};
  random.fill(bytes);
  SecretKey key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

std::optional<SecretKey> SecretKey::from_bytes(ByteView bytes) {
  if (bytes.size() != 32) return std::nullopt;
  std::array<uint8_t, 32> raw{};
  std::copy(bytes.begin(), bytes.end(), raw.begin());
  SecretKey key(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

SecretKey derive_kek(std::string_view password, std::string_view passphrase, uint32_t iterations) {
  OPSYNC_CHECK(iterations >= kKdfIterationsMin && iterations <= kKdfIterationsMax);
  Hash password_hash = sha256(password);
  Hash salt = sha256(passphrase);
  std::array<uint8_t, 32> out{};
  const int ok =
      PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password_hash.data()), 32, salt.data(), 32,
                        static_cast<int>(iterations), EVP_sha256(), 32, out.data());
  OPENSSL_cleanse(password_hash.data(), 32);
  OPSYNC_CHECK(ok == 1);
  SecretKey key(out);
  OPENSSL_cleanse(out.data(), out.size());
  return key;
}

Bytes seal(const SecretKey& key, ByteView plaintext, ByteView associated_data,
           RandomSource& random) {
  Bytes out(kNonceBytes + plaintext.size() + kTagBytes);
  random.fill(std::span<uint8_t>(out.data(), kNonceBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  OPSYNC_CHECK(ctx != nullptr);
  OPSYNC_CHECK(EVP_EncryptInit_ex2(ctx.get(), aes_256_gcm(), key.data(), out.data(), nullptr) == 1);
  int length = 0;
  if (!associated_data.empty())
    OPSYNC_CHECK(EVP_EncryptUpdate(ctx.get(), nullptr, &length, associated_data.data(),
                                   to_int(associated_data.size())) == 1);
  uint8_t* ciphertext = out.data() + kNonceBytes;
  if (!plaintext.empty()) {
    OPSYNC_CHECK(EVP_EncryptUpdate(ctx.get(), ciphertext, &length, plaintext.data(),
                                   to_int(plaintext.size())) == 1);
    OPSYNC_CHECK(static_cast<size_t>(length) == plaintext.size());
  }
  OPSYNC_CHECK(EVP_EncryptFinal_ex(ctx.get(), ciphertext + plaintext.size(), &length) == 1);
  OPSYNC_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                   ciphertext + plaintext.size()) == 1);
  return out;
}

Result<Bytes> open(const SecretKey& key, ByteView envelope, ByteView associated_data) {
  if (envelope.size() < kEnvelopeOverheadBytes)
    return Error(Code::kDecryptFailed, "envelope shorter than 28 bytes");
  const size_t ciphertext_bytes = envelope.size() - kEnvelopeOverheadBytes;
  const uint8_t* nonce = envelope.data();
  const uint8_t* ciphertext = envelope.data() + kNonceBytes;
  const uint8_t* tag = ciphertext + ciphertext_bytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  OPSYNC_CHECK(ctx != nullptr);
  OPSYNC_CHECK(EVP_DecryptInit_ex2(ctx.get(), aes_256_gcm(), key.data(), nonce, nullptr) == 1);
  int length = 0;
  if (!associated_data.empty())
    OPSYNC_CHECK(EVP_DecryptUpdate(ctx.get(), nullptr, &length, associated_data.data(),
                                   to_int(associated_data.size())) == 1);
  Bytes plaintext(ciphertext_bytes);
  if (ciphertext_bytes > 0) {
    OPSYNC_CHECK(EVP_DecryptUpdate(ctx.get(), plaintext.data(), &length, ciphertext,
                                   to_int(ciphertext_bytes)) == 1);
  }
  OPSYNC_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                                   const_cast<uint8_t*>(tag)) == 1);
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + ciphertext_bytes, &length) != 1) {
    // Never hand out unauthenticated plaintext (CRY-023).
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Error(Code::kDecryptFailed, "authentication tag does not verify");
  }
  return plaintext;
}

Bytes wrap_data_key(const SecretKey& kek, const SecretKey& data_key, const WorkspaceId& workspace,
                    uint32_t key_id, RandomSource& random) {
  Bytes ad = tagged(kKeyWrapTag);
  append_bytes(ad, workspace.view());
  append_u32(ad, key_id);
  Bytes wrapped = seal(kek, data_key.view(), ad, random);
  OPSYNC_CHECK(wrapped.size() == kWrappedKeyBytes);
  return wrapped;
}

Result<SecretKey> unwrap_data_key(const SecretKey& kek, ByteView wrapped,
                                  const WorkspaceId& workspace, uint32_t key_id) {
  if (wrapped.size() != kWrappedKeyBytes)
    return Error(Code::kInvalidField, "wrapped_key", "must be exactly 60 bytes");
  Bytes ad = tagged(kKeyWrapTag);
  append_bytes(ad, workspace.view());
  append_u32(ad, key_id);
  Result<Bytes> opened = open(kek, wrapped, ad);
  if (!opened.ok())
    return Error(Code::kWrongPassword,
                 "the key record does not unwrap: wrong password or passphrase");
  std::optional<SecretKey> key = SecretKey::from_bytes(*opened);
  OPENSSL_cleanse(opened->data(), opened->size());
  OPSYNC_CHECK(key.has_value());
  return *key;
}

Subkeys derive_subkeys(const SecretKey& data_key) {
  return Subkeys{hkdf_sha256(data_key, kOpKeyInfo), hkdf_sha256(data_key, kChunkKeyInfo)};
}

Bytes op_payload_ad(const WireOp& op) {
  Bytes ad = tagged(kOpPayloadTag);
  append_op_header(ad, op);
  return ad;
}

Bytes chunk_ad(const FileId& file, uint32_t chunk_index, uint32_t chunk_count) {
  Bytes ad = tagged(kFileChunkTag);
  append_bytes(ad, file.view());
  append_u32(ad, chunk_index);
  append_u32(ad, chunk_count);
  return ad;
}

void seal_op_payload(const SecretKey& op_key, WireOp& op, ByteView plaintext,
                     RandomSource& random) {
  op.payload = seal(op_key, plaintext, op_payload_ad(op), random);
}

Result<Bytes> open_op_payload(const SecretKey& op_key, const WireOp& op) {
  return open(op_key, op.payload, op_payload_ad(op));
}

Result<ObjectOp> open_op(const SecretKey& op_key, const WireOp& op) {
  Result<Bytes> plaintext = open_op_payload(op_key, op);
  if (!plaintext.ok()) return plaintext.error();
  Result<ObjectPayload> payload = parse_payload(*plaintext);
  if (!payload.ok()) return payload.error();
  return ObjectOp{op.id, op.hlc, std::move(payload).value()};
}

Bytes seal_chunk(const SecretKey& chunk_key, const FileId& file, uint32_t chunk_index,
                 uint32_t chunk_count, ByteView plaintext, RandomSource& random) {
  OPSYNC_CHECK(chunk_index < chunk_count);
  return seal(chunk_key, plaintext, chunk_ad(file, chunk_index, chunk_count), random);
}

Result<Bytes> open_chunk(const SecretKey& chunk_key, const FileId& file, uint32_t chunk_index,
                         uint32_t chunk_count, ByteView envelope) {
  return open(chunk_key, envelope, chunk_ad(file, chunk_index, chunk_count));
}

std::string generate_passphrase(RandomSource& random) {
  // Crockford's base32 alphabet leaves out I, L, O and U, which people misread.
  constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::array<uint8_t, 20> bits{};
  random.fill(bits);
  std::string out;
  for (size_t group = 0; group < 8; ++group) {
    if (group > 0) out.push_back('-');
    for (size_t i = 0; i < 4; ++i) {
      const size_t bit = (group * 4 + i) * 5;  // 5 bits per character, 160 bits in all
      const uint32_t two =
          uint32_t{bits[bit / 8]} << 8 | (bit / 8 + 1 < bits.size() ? bits[bit / 8 + 1] : 0);
      out.push_back(kAlphabet[(two >> (11 - bit % 8)) & 31]);
    }
  }
  OPENSSL_cleanse(bits.data(), bits.size());
  return out;
}

}  // namespace opsync
