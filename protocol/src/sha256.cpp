#include "opsync/protocol/sha256.h"

#include <openssl/evp.h>

#include "opsync/protocol/check.h"

namespace opsync {
namespace {

// Fetching the algorithm once avoids OpenSSL 3's per-call implicit fetch, which costs more than
// hashing a small operation.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  OPSYNC_CHECK_MSG(md != nullptr, "OpenSSL has no SHA256");
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  OPSYNC_CHECK(ctx_ != nullptr);
  OPSYNC_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Sha256& Sha256::update(const void* data, size_t size) {
  if (size > 0) OPSYNC_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size) == 1);
  return *this;
}

Sha256& Sha256::update(ByteView bytes) { return update(bytes.data(), bytes.size()); }

Sha256& Sha256::update(std::string_view text) { return update(text.data(), text.size()); }

Hash Sha256::finish() {
  Hash out;
  unsigned int length = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  OPSYNC_CHECK(EVP_DigestFinal_ex(ctx, out.data(), &length) == 1);
  OPSYNC_CHECK(length == Hash::kSize);
  OPSYNC_CHECK(EVP_DigestInit_ex(ctx, sha256_md(), nullptr) == 1);
  return out;
}

Hash Sha256::digest() const {
  // Finishing consumes a context, so finish a copy. One scratch context per thread, reused.
  thread_local Sha256 scratch;
  auto* copy = static_cast<EVP_MD_CTX*>(scratch.ctx_);
  OPSYNC_CHECK(EVP_MD_CTX_copy_ex(copy, static_cast<const EVP_MD_CTX*>(ctx_)) == 1);
  return scratch.finish();
}

Hash sha256(ByteView bytes) {
  Sha256 hasher;
  return hasher.update(bytes).finish();
}

Hash sha256(std::string_view text) {
  Sha256 hasher;
  return hasher.update(text).finish();
}

}  // namespace opsync
