// Protocol constants and limits (spec 2.4, 6, 10).
//
// Floors are what every conforming server offers; the reference defaults are what this project's
// server advertises. Keep the two sets together so their relations can be checked at compile time.
#pragma once

#include <cstdint>

namespace opsync {

// Sizes fixed by the protocol.
inline constexpr uint32_t kIdBytes = 16;
inline constexpr uint32_t kHashBytes = 32;
inline constexpr uint32_t kKeyBytes = 32;
inline constexpr uint32_t kNonceBytes = 12;
inline constexpr uint32_t kTagBytes = 16;
inline constexpr uint32_t kEnvelopeOverheadBytes = kNonceBytes + kTagBytes;       // 28
inline constexpr uint32_t kWrappedKeyBytes = kEnvelopeOverheadBytes + kKeyBytes;  // 60
inline constexpr uint32_t kOpHeaderBytes = 1 + 16 + 16 + 8 + 4 + 4;               // 49 (spec 6.2)
inline constexpr uint32_t kOpEncodingOverheadBytes = kOpHeaderBytes + 4;          // 53

inline constexpr uint8_t kOpFormatVersion = 1;
inline constexpr uint8_t kPayloadFormatVersion = 1;
inline constexpr uint64_t kHlcWallMsLimit = uint64_t{1} << 48;  // exclusive (HLC-003)
inline constexpr uint64_t kHlcCounterMax = 0xFFFFFFFFu;
inline constexpr uint64_t kJsonIntegerMax = (uint64_t{1} << 53) - 1;  // spec 1.3
inline constexpr uint32_t kJsonDepthMax = 16;                         // TRN-020

// Payload plaintext (LWW-001, LWW-002).
inline constexpr uint32_t kObjectKeyBytesMax = 1024;
inline constexpr uint32_t kBasesMax = 64;
inline constexpr uint32_t kFileRefsMax = 64;
inline constexpr uint32_t kFileNameBytesMax = 255;
inline constexpr uint32_t kChunkBytesMin = 65536;
inline constexpr uint32_t kChunkBytesMax = 16777216;

// Key records (CRY-002, KEY-004).
inline constexpr uint32_t kKdfIterationsMin = 1;
inline constexpr uint32_t kKdfIterationsMax = 10000000;
inline constexpr uint32_t kKdfIterationsForNewRecords = 600000;
inline constexpr const char* kKdfAlgorithm = "pbkdf2-hmac-sha256-prehashed";

// Tokens (AUTH-010, AUTH-013).
inline constexpr uint32_t kTokenCharsMax = 512;
inline constexpr uint64_t kTokenExpiresInMsMin = 1000;
inline constexpr uint64_t kTokenExpiresInMsMax = 315360000000;

// Clock skew and retention bounds (INF-003, INF-004).
inline constexpr uint64_t kMaxClockSkewMsMin = 1000;
inline constexpr uint64_t kMaxClockSkewMsMax = 3600000;
inline constexpr uint64_t kRetentionMsMin = 3600000;

// Block sizes a workspace may have. Not a wire limit; a sanity bound for implementations.
inline constexpr uint32_t kBlockSizeMin = 1;
inline constexpr uint32_t kBlockSizeMax = 65536;

// The advertised limits of spec 2.4.
struct Limits {
  uint64_t request_body_bytes_max;
  uint64_t batch_ops_max;
  uint64_t op_payload_bytes_max;
  uint64_t page_ops_max;
  uint64_t page_bytes_max;
  uint64_t page_blocks_max;
  uint64_t page_tokens_max;
  uint64_t page_keys_max;
  uint64_t key_records_max;
  uint64_t file_status_ids_max;
  uint64_t chunk_bytes;
  uint64_t file_chunks_max;

  bool operator==(const Limits&) const = default;
};

inline constexpr Limits kLimitFloors{
    .request_body_bytes_max = 1048576,
    .batch_ops_max = 100,
    .op_payload_bytes_max = 16384,
    .page_ops_max = 100,
    .page_bytes_max = 1048576,
    .page_blocks_max = 256,
    .page_tokens_max = 20,
    .page_keys_max = 16,
    .key_records_max = 16,
    .file_status_ids_max = 100,
    .chunk_bytes = 65536,
    .file_chunks_max = 1024,
};

inline constexpr Limits kReferenceLimits{
    .request_body_bytes_max = 8388608,
    .batch_ops_max = 1000,
    .op_payload_bytes_max = 65536,
    .page_ops_max = 1000,
    .page_bytes_max = 4194304,
    .page_blocks_max = 4096,
    .page_tokens_max = 100,
    .page_keys_max = 64,
    .key_records_max = 64,
    .file_status_ids_max = 1000,
    .chunk_bytes = 1048576,
    .file_chunks_max = 16384,
};

// True when every limit is at least its floor and chunk_bytes is within bounds (LIM-001).
constexpr bool limits_meet_floors(const Limits& l) {
  const Limits& f = kLimitFloors;
  return l.request_body_bytes_max >= f.request_body_bytes_max &&
         l.batch_ops_max >= f.batch_ops_max && l.op_payload_bytes_max >= f.op_payload_bytes_max &&
         l.page_ops_max >= f.page_ops_max && l.page_bytes_max >= f.page_bytes_max &&
         l.page_blocks_max >= f.page_blocks_max && l.page_tokens_max >= f.page_tokens_max &&
         l.page_keys_max >= f.page_keys_max && l.key_records_max >= f.key_records_max &&
         l.file_status_ids_max >= f.file_status_ids_max && l.chunk_bytes >= f.chunk_bytes &&
         l.chunk_bytes <= kChunkBytesMax && l.file_chunks_max >= f.file_chunks_max;
}

static_assert(limits_meet_floors(kLimitFloors));
static_assert(limits_meet_floors(kReferenceLimits));
// A full batch of the largest operations must be expressible in JSON within the body limit at the
// floors' ratio; clients split by bytes as well as by count (LIM-003).
static_assert(kReferenceLimits.op_payload_bytes_max * 4 / 3 + 256 <
              kReferenceLimits.request_body_bytes_max);

// The limits of the HTTP layer on a request's head (spec 2.4, TRN-053, TRN-054), advertised in
// /v1/info as `http_limits` (INF-010). A server that does not advertise them offers the floors.
struct HttpLimits {
  uint64_t request_target_bytes_max;  // the request target, as sent on the request line
  uint64_t header_fields_max;         // header fields (lines) in the header section
  uint64_t header_section_bytes_max;  // request line, header fields and the empty line after them

  bool operator==(const HttpLimits&) const = default;
};

inline constexpr HttpLimits kHttpLimitFloors{
    .request_target_bytes_max = 2048,
    .header_fields_max = 32,
    .header_section_bytes_max = 8192,
};

inline constexpr HttpLimits kReferenceHttpLimits{
    .request_target_bytes_max = 8192,
    .header_fields_max = 100,
    .header_section_bytes_max = 32768,
};

constexpr bool http_limits_meet_floors(const HttpLimits& l) {
  const HttpLimits& f = kHttpLimitFloors;
  return l.request_target_bytes_max >= f.request_target_bytes_max &&
         l.header_fields_max >= f.header_fields_max &&
         l.header_section_bytes_max >= f.header_section_bytes_max &&
         // The request line holds the target, so the section must have room for the longest one.
         l.header_section_bytes_max > l.request_target_bytes_max;
}

static_assert(http_limits_meet_floors(kHttpLimitFloors));
static_assert(http_limits_meet_floors(kReferenceHttpLimits));
// A bearer token of the longest kind fits the floors with room for every header a client sends.
static_assert(kTokenCharsMax + 64 < kHttpLimitFloors.header_section_bytes_max / 4);

inline constexpr uint32_t kReferenceBlockSize = 256;
inline constexpr uint64_t kReferenceMaxClockSkewMs = 60000;
inline constexpr uint64_t kReferenceUploadExpiryMs = 7ull * 24 * 3600 * 1000;
inline constexpr uint64_t kReferenceFileRetentionMs = 30ull * 24 * 3600 * 1000;

}  // namespace opsync
