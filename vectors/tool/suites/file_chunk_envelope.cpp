// file_chunk_envelope.json: file chunks sealed and bound to their file, place and count
// (spec 5.3, CRY-021).
#include "opsync/protocol/crypto.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "file_chunk_envelope";
constexpr std::string_view kAlgorithm = "FileChunkEnvelope";
constexpr uint64_t kSeed = 0xc4c4;

struct Chunk {
  FileId file;
  uint32_t index;
  uint32_t count;
  Bytes plaintext;
  Bytes nonce;
};

Bytes sealed(const SecretKey& chunk_key, const Chunk& chunk) {
  FixedRandom nonce(chunk.nonce);
  return seal_chunk(chunk_key, chunk.file, chunk.index, chunk.count, chunk.plaintext, nonce);
}

Json place_json(const FileId& file, uint32_t index, uint32_t count) {
  return Json{{"fileId", hex(file)}, {"chunkIndex", index}, {"chunkCount", count}};
}

void add_sealed(TestGroup& group, const SecretKey& chunk_key, std::string id, std::string comment,
                std::vector<std::string> flags, const Chunk& chunk) {
  Json fields = place_json(chunk.file, chunk.index, chunk.count);
  fields["nonce"] = hex(chunk.nonce);
  fields["plaintext"] = hex(chunk.plaintext);
  fields["ad"] = hex(chunk_ad(chunk.file, chunk.index, chunk.count));
  fields["envelope"] = hex(sealed(chunk_key, chunk));
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true, std::move(fields)});
}

// `envelope` read as chunk `index` of `count` of `file` must not open under the group's key.
void add_rejected(TestGroup& group, const SecretKey& chunk_key, std::string id, std::string comment,
                  std::vector<std::string> flags, const FileId& file, uint32_t index,
                  uint32_t count, const Bytes& envelope) {
  Result<Bytes> opened = open_chunk(chunk_key, file, index, count, envelope);
  require(!opened.ok(), id + ": open_chunk accepted it");
  Json fields = place_json(file, index, count);
  fields["envelope"] = hex(envelope);
  fields["errorCode"] = code_name(opened.error().code);
  group.add(
      TestCase{std::move(id), std::move(comment), std::move(flags), false, std::move(fields)});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"File chunks (spec 5.3, CRY-021): chunk_key = HKDF-SHA256(ikm = data_key, salt = "
       "empty, info = \"opsync/v1 file chunk key\", L = 32); envelope = nonce (12) || "
       "AES-256-GCM(chunk_key, nonce, plaintext, ad) || tag (16) with ad = \"opsync/v1 file "
       "chunk\" || 0x00 || file_id (16) || u32(chunk_index) || u32(chunk_count), big-endian.",
       "Each group shares a data key and gives the chunk key derived from it. Binary values "
       "are lowercase hex. Plaintexts are a few bytes long to keep this file small: real chunks "
       "hold chunk_bytes (65,536 or more) except the last, and the envelope does not depend on "
       "chunk_bytes.",
       "Valid cases: sealing plaintext as chunk chunkIndex of chunkCount of file fileId with "
       "nonce gives envelope, and opening it gives plaintext back. ad is given to help "
       "debugging.",
       "Invalid cases: opening envelope as chunk chunkIndex of chunkCount of fileId must fail "
       "and yield no plaintext (CRY-023); errorCode is the reference library's local code."});
  file.note("Seal", "BASIC", "A chunk sealed as CRY-021 says.");
  file.note("EmptyFile", "EDGE_CASE", "An empty file is one chunk with an empty plaintext.");
  file.note("IndexChanged", "MODIFIED_PARAMETER",
            "A chunk read at another index, or two chunks swapped: a server cannot reorder "
            "chunks.");
  file.note("CountChanged", "MODIFIED_PARAMETER",
            "A chunk read with another chunk count: a server that drops the last chunks and "
            "claims a shorter file is detected (the truncation attack).");
  file.note("FileIdChanged", "MODIFIED_PARAMETER", "A chunk of one file served for another.");
  file.note("Tampered", "MODIFIED_PARAMETER", "One bit of the nonce, ciphertext or tag flipped.");
  file.note("Truncated", "MODIFIED_PARAMETER", "Fewer than the 28 bytes of nonce and tag.");
  file.note("WrongKey", "MODIFIED_PARAMETER",
            "Sealed under another data key's chunk key, or under the op key.");

  SeededRandom random(kSeed);
  const SecretKey data_key = SecretKey::random(random);
  const Subkeys subkeys = derive_subkeys(data_key);
  TestGroup& group = file.group(Json{{"type", "ChunkEnvelopeTest"},
                                     {"dataKey", hex(bytes_of(data_key))},
                                     {"chunkKey", hex(bytes_of(subkeys.chunk_key))}});
  const SecretKey& key = subkeys.chunk_key;
  // Statements, not one expression, so that the order of draws is fixed.
  const FileId photo = random.id();
  std::vector<Chunk> photo_chunks;
  for (uint32_t index = 0; index < 3; ++index) {
    Bytes plaintext = to_bytes("photo chunk " + std::to_string(index) + (index < 2 ? " full" : ""));
    Bytes nonce = random.bytes(kNonceBytes);
    photo_chunks.push_back(Chunk{photo, index, 3, std::move(plaintext), std::move(nonce)});
  }
  for (const Chunk& chunk : photo_chunks)
    add_sealed(group, key, "file-chunk-envelope/chunk-" + std::to_string(chunk.index) + "-of-3",
               "Chunk " + std::to_string(chunk.index) + " of a three-chunk file.", {"Seal"}, chunk);
  const FileId empty_file = random.id();
  add_sealed(group, key, "file-chunk-envelope/empty-file",
             "The only chunk of an empty file: 28 bytes of nonce and tag.", {"EmptyFile"},
             Chunk{empty_file, 0, 1, {}, random.bytes(kNonceBytes)});
  const FileId big_file = random.id();
  add_sealed(
      group, key, "file-chunk-envelope/largest-index",
      "Chunk 2^32 - 2 of 2^32 - 1: both counters use all four bytes.", {"Seal"},
      Chunk{big_file, 0xFFFFFFFEu, 0xFFFFFFFFu, to_bytes("last"), random.bytes(kNonceBytes)});

  const Chunk& middle = photo_chunks[1];
  const Bytes envelope = sealed(key, middle);
  auto reject = [&](std::string id, std::string comment, std::string flag, const FileId& file_id,
                    uint32_t index, uint32_t count, const Bytes& bytes) {
    add_rejected(group, key, "file-chunk-envelope/" + id, std::move(comment), {std::move(flag)},
                 file_id, index, count, bytes);
  };
  reject("index-changed", "Chunk 1 of 3 read as chunk 0.", "IndexChanged", photo, 0, 3, envelope);
  reject("chunks-swapped", "Chunk 0's envelope served as chunk 1.", "IndexChanged", photo, 1, 3,
         sealed(key, photo_chunks[0]));
  reject("count-changed-truncation",
         "The server dropped chunk 2 and claims 2 chunks: chunk 1 of 3 read as the last "
         "chunk of 2.",
         "CountChanged", photo, 1, 2, envelope);
  reject("count-changed-longer", "Chunk 1 of 3 read as chunk 1 of 4.", "CountChanged", photo, 1, 4,
         envelope);
  reject("file-id-changed", "Chunk 1 of 3 of the photo served for another file.", "FileIdChanged",
         empty_file, 1, 3, envelope);
  auto flipped = [&](size_t index) {
    Bytes out = envelope;
    out[index] ^= 0x01;
    return out;
  };
  reject("tampered-tag", "A tag bit flipped.", "Tampered", photo, 1, 3,
         flipped(envelope.size() - 1));
  reject("tampered-ciphertext", "A ciphertext bit flipped.", "Tampered", photo, 1, 3,
         flipped(kNonceBytes + 1));
  reject("tampered-nonce", "A nonce bit flipped.", "Tampered", photo, 1, 3, flipped(11));
  reject("truncated-to-27-bytes", "The first 27 bytes of the envelope.", "Truncated", photo, 1, 3,
         Bytes(envelope.begin(), envelope.begin() + 27));
  reject("empty", "No bytes at all.", "Truncated", photo, 1, 3, {});
  reject("wrong-data-key", "Sealed under the chunk key of another data key.", "WrongKey", photo, 1,
         3, sealed(derive_subkeys(SecretKey::random(random)).chunk_key, middle));
  reject("sealed-with-op-key", "Sealed under the op key of the same data key.", "WrongKey", photo,
         1, 3, sealed(subkeys.op_key, middle));
  return file.finish();
}

void check_envelope(const Json& group, const Json& test, Findings& findings) {
  const SecretKey data_key = *SecretKey::from_bytes(read_hex_sized(group, "dataKey", kKeyBytes));
  const Subkeys subkeys = derive_subkeys(data_key);
  findings.expect_equal("chunkKey", read_hex_sized(group, "chunkKey", kKeyBytes),
                        bytes_of(subkeys.chunk_key));
  const FileId file = read_fixed<16>(test, "fileId");
  const uint32_t index = static_cast<uint32_t>(read_uint(test, "chunkIndex", 0xFFFFFFFFu));
  const uint32_t count = static_cast<uint32_t>(read_uint(test, "chunkCount", 0xFFFFFFFFu));
  const Bytes envelope = read_hex(test, "envelope");
  Result<Bytes> opened = open_chunk(subkeys.chunk_key, file, index, count, envelope);
  if (!read_expects_valid(test)) {
    findings.expect_error(test, opened);
    return;
  }
  if (index >= count) throw MalformedVector("chunkIndex must be below chunkCount");
  const Chunk chunk{file, index, count, read_hex(test, "plaintext"),
                    read_hex_sized(test, "nonce", kNonceBytes)};
  findings.expect_equal("ad", read_hex(test, "ad"), chunk_ad(file, index, count));
  findings.expect_equal("envelope", envelope, sealed(subkeys.chunk_key, chunk));
  if (!opened.ok())
    findings.add("opening the envelope failed: " + opened.error().to_string());
  else
    findings.expect_equal("opened plaintext", chunk.plaintext, *opened);
}

}  // namespace

Suite file_chunk_envelope_suite() {
  return Suite{kName, kAlgorithm, &generate, {{"ChunkEnvelopeTest", &check_envelope}}};
}

}  // namespace opsync::vectors
