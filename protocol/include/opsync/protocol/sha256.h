// SHA-256 through OpenSSL, with a reusable incremental hasher for hot paths.
#pragma once

#include <string_view>

#include "opsync/protocol/bytes.h"

namespace opsync {

// Incremental SHA-256. Reusing one object across many hashes avoids a context allocation per hash,
// which matters at a million operation hashes per second. Not thread-safe; one per thread.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(ByteView bytes);
  Sha256& update(std::string_view text);
  Sha256& update(const void* data, size_t size);
  // Returns the digest and resets the hasher for the next message.
  Hash finish();
  // The digest of what was fed so far, leaving the hasher as it was, so that a message can be
  // extended after its digest is taken (prefix hashes, one per appended operation).
  Hash digest() const;

 private:
  void* ctx_;  // EVP_MD_CTX, kept opaque so callers need no OpenSSL headers
};

Hash sha256(ByteView bytes);
Hash sha256(std::string_view text);

}  // namespace opsync
