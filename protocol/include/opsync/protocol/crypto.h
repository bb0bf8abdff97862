// Key derivation, key wrapping and the AEAD envelopes (spec section 5).
//
// All randomness (keys, nonces) comes from a RandomSource parameter. Keys are wiped from memory
// when they go out of scope.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/random.h"
#include "opsync/protocol/result.h"

namespace opsync {

// A 32-byte secret key. Copyable (keys move between layers), wiped on destruction.
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(const std::array<uint8_t, 32>& bytes) : bytes_(bytes) {}
  static SecretKey random(RandomSource& random);
  static std::optional<SecretKey> from_bytes(ByteView bytes);
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();

  const uint8_t* data() const { return bytes_.data(); }
  ByteView view() const { return ByteView(bytes_.data(), bytes_.size()); }
  bool operator==(const SecretKey&) const = default;

 private:
  std::array<uint8_t, 32> bytes_{};
};

// CRY-001: PBKDF2-HMAC-SHA256(SHA-256(password), SHA-256(passphrase), iterations, 32).
// REQUIRES: iterations in [kKdfIterationsMin, kKdfIterationsMax] (callers validate input first).
SecretKey derive_kek(std::string_view password, std::string_view passphrase, uint32_t iterations);

// CRY-011: nonce || AES-256-GCM(kek, data_key, ad) || tag, ad binding workspace and key id.
Bytes wrap_data_key(const SecretKey& kek, const SecretKey& data_key, const WorkspaceId& workspace,
                    uint32_t key_id, RandomSource& random);
// Fails with kWrongPassword when the tag does not verify (wrong password or passphrase, or a
// record moved to another workspace or key id), kInvalidField when the length is not 60.
Result<SecretKey> unwrap_data_key(const SecretKey& kek, ByteView wrapped,
                                  const WorkspaceId& workspace, uint32_t key_id);

// The per-purpose keys of spec 5.3, HKDF-SHA256 with empty salt.
struct Subkeys {
  SecretKey op_key;
  SecretKey chunk_key;
};
Subkeys derive_subkeys(const SecretKey& data_key);

// AES-256-GCM envelope: nonce (12) || ciphertext || tag (16).
Bytes seal(const SecretKey& key, ByteView plaintext, ByteView associated_data,
           RandomSource& random);
// Fails with kDecryptFailed on a short envelope or a tag that does not verify; never returns
// partial plaintext.
Result<Bytes> open(const SecretKey& key, ByteView envelope, ByteView associated_data);

// Associated data of CRY-020 and CRY-021.
Bytes op_payload_ad(const WireOp& op);
Bytes chunk_ad(const FileId& file, uint32_t chunk_index, uint32_t chunk_count);

// Seals `plaintext` into op.payload; every header field of `op` must be final (the ad binds them).
void seal_op_payload(const SecretKey& op_key, WireOp& op, ByteView plaintext, RandomSource& random);
Result<Bytes> open_op_payload(const SecretKey& op_key, const WireOp& op);
// An operation as the object store sees it: its payload opened (CRY-020) and parsed as the payload
// JSON of spec 10.1 (LWW-001). Fails with open_op_payload's error, or parse_payload's.
Result<ObjectOp> open_op(const SecretKey& op_key, const WireOp& op);

Bytes seal_chunk(const SecretKey& chunk_key, const FileId& file, uint32_t chunk_index,
                 uint32_t chunk_count, ByteView plaintext, RandomSource& random);
Result<Bytes> open_chunk(const SecretKey& chunk_key, const FileId& file, uint32_t chunk_index,
                         uint32_t chunk_count, ByteView envelope);

// CRY-003: a passphrase of 160 random bits, written as 8 groups of 4 Crockford base32 characters
// joined by '-', which a person can read aloud and type.
std::string generate_passphrase(RandomSource& random);

}  // namespace opsync
