// op_envelope.json: the payload envelope of an operation (spec 5.3, CRY-020) and the hash of
// the sealed operation (6.3).
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/messages.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "op_envelope";
constexpr std::string_view kAlgorithm = "OpEnvelope";
constexpr uint64_t kSeed = 0xe7e1;

constexpr uint64_t kNowMs = 1764000000000;

std::string payload_text(OpType type, std::string key, std::string value, std::vector<OpId> bases,
                         std::vector<FileRef> files = {}) {
  ObjectPayload payload;
  payload.type = type;
  payload.key = std::move(key);
  if (type == OpType::kPut) payload.value = to_bytes(value);
  payload.bases = std::move(bases);
  payload.files = std::move(files);
  return to_string(serialize_payload(payload));
}

void add_sealed(TestGroup& group, const SecretKey& op_key, std::string id, std::string comment,
                std::vector<std::string> flags, WireOp op, const std::string& plaintext,
                const Bytes& nonce_bytes) {
  require(parse_payload(view_of(plaintext)).ok(), id + ": the plaintext is not a valid payload");
  FixedRandom nonce(nonce_bytes);
  seal_op_payload(op_key, op, view_of(plaintext), nonce);
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"op", op_header_json(op)},
                          {"plaintext", plaintext},
                          {"nonce", hex(nonce_bytes)},
                          {"ad", hex(op_payload_ad(op))},
                          {"payload", hex(op.payload)},
                          {"opHash", hex(op_hash(op))}}});
}

// `op` (header and payload) must not open under the group's op key.
void add_rejected(TestGroup& group, const SecretKey& op_key, std::string id, std::string comment,
                  std::vector<std::string> flags, const WireOp& op) {
  Result<Bytes> opened = open_op_payload(op_key, op);
  require(!opened.ok(), id + ": open_op_payload accepted it");
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), false,
                     Json{{"op", op_header_json(op)},
                          {"payload", hex(op.payload)},
                          {"errorCode", code_name(opened.error().code)}}});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Operation payloads (spec 5.3, CRY-020): op_key = HKDF-SHA256(ikm = data_key, salt = "
       "empty, info = \"opsync/v1 op payload key\", L = 32); payload = nonce (12) || "
       "AES-256-GCM(op_key, nonce, plaintext, ad) || tag (16) with ad = \"opsync/v1 op "
       "payload\" || 0x00 || op_header(op) (spec 6.2).",
       "Each group shares a data key and gives the op key derived from it. op holds the "
       "operation's header fields (binary values lowercase hex); plaintext is the payload JSON "
       "text (spec 10.1), its bytes being its UTF-8 form.",
       "Valid cases: sealing plaintext for op with nonce gives payload; opening payload for op "
       "gives plaintext back; op_hash of op with that payload is opHash. ad is given to help "
       "debugging.",
       "Invalid cases: opening payload for op under the group's op key must fail and yield no "
       "plaintext (CRY-023, SEC-002); errorCode is the reference library's local code."});
  file.note("Seal", "BASIC", "A payload sealed as CRY-020 says.");
  file.note("TamperedTag", "MODIFIED_PARAMETER", "One bit of the tag flipped.");
  file.note("TamperedCiphertext", "MODIFIED_PARAMETER", "One bit of the ciphertext flipped.");
  file.note("TamperedNonce", "MODIFIED_PARAMETER", "One bit of the nonce flipped.");
  file.note("HeaderChanged", "MODIFIED_PARAMETER",
            "A header field changed after sealing: a server re-dating, re-attributing or "
            "renaming an operation is detected (SEC-002).");
  file.note("PayloadMoved", "MODIFIED_PARAMETER",
            "A valid payload of one operation attached to another operation's header.");
  file.note("Truncated", "MODIFIED_PARAMETER", "Fewer than the 28 bytes of nonce and tag.");
  file.note("WrongKey", "MODIFIED_PARAMETER",
            "Sealed under another data key, under the data key itself (no HKDF step), or under "
            "the chunk key.");
  file.note("WrongAd", "MISSING_STEP", "Sealed with the ad's 0x00 separator left out.");

  SeededRandom random(kSeed);
  const SecretKey data_key = SecretKey::random(random);
  const Subkeys subkeys = derive_subkeys(data_key);
  TestGroup& group = file.group(Json{{"type", "OpEnvelopeTest"},
                                     {"dataKey", hex(bytes_of(data_key))},
                                     {"opKey", hex(bytes_of(subkeys.op_key))}});
  WireOp base_op;
  base_op.id = random.id();
  base_op.device_id = random.id();
  base_op.hlc = Hlc{kNowMs, 0};
  base_op.key_id = 1;
  const std::string put = payload_text(OpType::kPut, "notes/42", "Buy milk", {});
  const Bytes put_nonce = random.bytes(kNonceBytes);
  add_sealed(group, subkeys.op_key, "op-envelope/put", "A put of a short note.", {"Seal"}, base_op,
             put, put_nonce);

  WireOp edit = base_op;
  edit.id = random.id();
  edit.hlc = Hlc{kNowMs + 1500, 3};
  // One draw per statement: argument evaluation order must not decide the bytes.
  const FileRef attachment{random.id(), "list.pdf", 70000, 65536, 2, random.fixed<32>()};
  const Bytes edit_nonce = random.bytes(kNonceBytes);
  add_sealed(
      group, subkeys.op_key, "op-envelope/put-with-base-and-file",
      "An edit naming the first put in bases, with an attached file.", {"Seal"}, edit,
      payload_text(OpType::kPut, "notes/42", "Buy milk and eggs", {base_op.id}, {attachment}),
      edit_nonce);
  WireOp removal = base_op;
  removal.id = random.id();
  removal.hlc = Hlc{kNowMs + 9000, 0};
  removal.key_id = 2;
  add_sealed(group, subkeys.op_key, "op-envelope/delete", "A delete under key id 2.", {"Seal"},
             removal, payload_text(OpType::kDelete, "notes/42", "", {edit.id}),
             random.bytes(kNonceBytes));
  WireOp japanese = base_op;
  japanese.id = random.id();
  japanese.hlc = Hlc{kNowMs + 20000, 0};
  add_sealed(group, subkeys.op_key, "op-envelope/non-ascii-key",
             "A key and value in Japanese: the plaintext is UTF-8.", {"Seal"}, japanese,
             payload_text(OpType::kPut, "メモ/1", "牛乳を買う", {}), random.bytes(kNonceBytes));

  WireOp sealed = base_op;
  {
    FixedRandom nonce(put_nonce);
    seal_op_payload(subkeys.op_key, sealed, view_of(put), nonce);
  }
  auto reject = [&](std::string id, std::string comment, std::string flag, const WireOp& op) {
    add_rejected(group, subkeys.op_key, "op-envelope/" + id, std::move(comment), {std::move(flag)},
                 op);
  };
  auto flipped = [&](size_t index) {
    WireOp out = sealed;
    out.payload[index] ^= 0x80;
    return out;
  };
  reject("tampered-tag", "op-envelope/put with a tag bit flipped.", "TamperedTag",
         flipped(sealed.payload.size() - 1));
  reject("tampered-ciphertext", "op-envelope/put with a ciphertext bit flipped.",
         "TamperedCiphertext", flipped(kNonceBytes));
  reject("tampered-nonce", "op-envelope/put with a nonce bit flipped.", "TamperedNonce",
         flipped(3));
  auto changed = [&](auto change) {
    WireOp out = sealed;
    change(out);
    return out;
  };
  reject("hlc-wall-ms-changed", "op-envelope/put re-dated by one millisecond.", "HeaderChanged",
         changed([](WireOp& op) { ++op.hlc.wall_ms; }));
  reject("hlc-counter-changed", "op-envelope/put with counter 1.", "HeaderChanged",
         changed([](WireOp& op) { op.hlc.counter = 1; }));
  reject("id-changed", "op-envelope/put under another operation id.", "HeaderChanged",
         changed([](WireOp& op) { op.id.bytes[15] ^= 1; }));
  reject("device-id-changed", "op-envelope/put attributed to another device.", "HeaderChanged",
         changed([](WireOp& op) { op.device_id.bytes[0] ^= 1; }));
  reject("key-id-changed", "op-envelope/put claiming key id 2.", "HeaderChanged",
         changed([](WireOp& op) { op.key_id = 2; }));
  {
    WireOp other = edit;
    FixedRandom nonce(random.bytes(kNonceBytes));
    seal_op_payload(subkeys.op_key, other, view_of(put), nonce);
    reject("payload-moved-from-another-op",
           "The payload of another operation (same plaintext) on op-envelope/put's header.",
           "PayloadMoved", changed([&](WireOp& op) { op.payload = other.payload; }));
  }
  reject("truncated-to-27-bytes", "The first 27 bytes of op-envelope/put's payload.", "Truncated",
         changed([](WireOp& op) { op.payload.resize(27); }));
  reject("empty-payload", "No payload bytes.", "Truncated",
         changed([](WireOp& op) { op.payload.clear(); }));
  auto sealed_under = [&](const SecretKey& key, const Bytes& ad) {
    FixedRandom nonce(put_nonce);
    return changed([&](WireOp& op) { op.payload = seal(key, view_of(put), ad, nonce); });
  };
  reject("wrong-data-key", "Sealed under the op key of another data key.", "WrongKey",
         sealed_under(derive_subkeys(SecretKey::random(random)).op_key, op_payload_ad(sealed)));
  reject("sealed-with-data-key", "Sealed under the data key itself, skipping HKDF.", "WrongKey",
         sealed_under(data_key, op_payload_ad(sealed)));
  reject("sealed-with-chunk-key", "Sealed under the chunk key of the same data key.", "WrongKey",
         sealed_under(subkeys.chunk_key, op_payload_ad(sealed)));
  {
    Bytes ad = to_bytes("opsync/v1 op payload");
    append_op_header(ad, sealed);
    reject("ad-without-zero-byte", "Sealed with the ad's tag not followed by 0x00.", "WrongAd",
           sealed_under(subkeys.op_key, ad));
  }
  return file.finish();
}

void check_envelope(const Json& group, const Json& test, Findings& findings) {
  const SecretKey data_key = *SecretKey::from_bytes(read_hex_sized(group, "dataKey", kKeyBytes));
  const Subkeys subkeys = derive_subkeys(data_key);
  findings.expect_equal("opKey", read_hex_sized(group, "opKey", kKeyBytes),
                        bytes_of(subkeys.op_key));
  WireOp op = read_op_header(test, "op");
  const Bytes payload = read_hex(test, "payload");
  if (!read_expects_valid(test)) {
    op.payload = payload;
    findings.expect_error(test, open_op_payload(subkeys.op_key, op));
    return;
  }
  const std::string plaintext = read_string(test, "plaintext");
  findings.expect_success("parse_payload(plaintext)", [&]() -> Status {
    Result<ObjectPayload> parsed = parse_payload(view_of(plaintext));
    return parsed.ok() ? Status() : Status(parsed.error());
  }());
  findings.expect_equal("ad", read_hex(test, "ad"), op_payload_ad(op));
  FixedRandom nonce(read_hex_sized(test, "nonce", kNonceBytes));
  WireOp sealed = op;
  seal_op_payload(subkeys.op_key, sealed, view_of(plaintext), nonce);
  findings.expect_equal("payload", payload, sealed.payload);
  op.payload = payload;
  findings.expect_equal("opHash", read_fixed<32>(test, "opHash"), op_hash(op));
  Result<Bytes> opened = open_op_payload(subkeys.op_key, op);
  if (!opened.ok())
    findings.add("opening payload failed: " + opened.error().to_string());
  else
    findings.expect_equal("opened plaintext", to_bytes(plaintext), *opened);
}

}  // namespace

Suite op_envelope_suite() {
  return Suite{kName, kAlgorithm, &generate, {{"OpEnvelopeTest", &check_envelope}}};
}

}  // namespace opsync::vectors
