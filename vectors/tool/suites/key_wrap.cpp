// key_wrap.json: data keys wrapped under a KEK and bound to their workspace and key id
// (spec 5.2, CRY-011).
#include "opsync/protocol/crypto.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "key_wrap";
constexpr std::string_view kAlgorithm = "KeyWrap";
constexpr uint64_t kSeed = 0x3a7;

// The associated data of spec 5.2, written out here so the vectors can show it.
Bytes wrap_ad(const WorkspaceId& workspace, uint32_t key_id) {
  Bytes ad = to_bytes("opsync/v1 key wrap");
  ad.push_back(0);
  append_bytes(ad, workspace.view());
  append_u32(ad, key_id);
  return ad;
}

struct Wrapping {
  SecretKey data_key;
  WorkspaceId workspace;
  uint32_t key_id;
  Bytes nonce;
};

void add_wrap(TestGroup& group, const SecretKey& kek, std::string id, std::string comment,
              std::vector<std::string> flags, const Wrapping& w) {
  FixedRandom nonce(w.nonce);
  const Bytes wrapped = wrap_data_key(kek, w.data_key, w.workspace, w.key_id, nonce);
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"dataKey", hex(bytes_of(w.data_key))},
                          {"workspaceId", hex(w.workspace)},
                          {"keyId", w.key_id},
                          {"nonce", hex(w.nonce)},
                          {"ad", hex(wrap_ad(w.workspace, w.key_id))},
                          {"wrappedKey", hex(wrapped)}}});
}

// `wrapped` presented for `workspace` and `key_id` must not unwrap under the group's KEK.
void add_rejected(TestGroup& group, const SecretKey& kek, std::string id, std::string comment,
                  std::vector<std::string> flags, const WorkspaceId& workspace, uint32_t key_id,
                  const Bytes& wrapped) {
  Result<SecretKey> unwrapped = unwrap_data_key(kek, wrapped, workspace, key_id);
  require(!unwrapped.ok(), id + ": unwrap_data_key accepted it");
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), false,
                     Json{{"workspaceId", hex(workspace)},
                          {"keyId", key_id},
                          {"wrappedKey", hex(wrapped)},
                          {"errorCode", code_name(unwrapped.error().code)}}});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Key records (spec 5.2, CRY-011): a 32-byte data key wrapped under the KEK with "
       "AES-256-GCM.",
       "ad = \"opsync/v1 key wrap\" || 0x00 || workspace_id (16) || u32(key_id), big-endian; "
       "wrapped_key = nonce (12) || ciphertext (32) || tag (16), 60 bytes.",
       "Each group shares a KEK. Binary values are lowercase hex; ad is given to help debugging "
       "and is not an input.",
       "Valid cases: wrapping dataKey with nonce gives wrappedKey, and unwrapping wrappedKey for "
       "workspaceId and keyId gives dataKey back.",
       "Invalid cases: unwrapping wrappedKey for workspaceId and keyId under the group's KEK "
       "must fail and yield no key: errorCode wrong_password when the tag does not verify "
       "(reported to the user as a wrong password or passphrase), invalid_field when the record "
       "is not 60 bytes."});
  file.note("Wrap", "BASIC", "A data key wrapped as spec 5.2 says.");
  file.note("KeyIdRange", "EDGE_CASE", "Key ids at the ends of 1..2^32 - 1.");
  file.note("TamperedTag", "MODIFIED_PARAMETER", "One bit of the tag flipped.");
  file.note("TamperedCiphertext", "MODIFIED_PARAMETER", "One bit of the ciphertext flipped.");
  file.note("TamperedNonce", "MODIFIED_PARAMETER", "One bit of the nonce flipped.");
  file.note("WrongKeyId", "MODIFIED_PARAMETER",
            "A record presented under another key id: the ad binds it to its own.");
  file.note("WrongWorkspace", "MODIFIED_PARAMETER",
            "A record moved to another workspace: the ad binds it to its own.");
  file.note("WrongKek", "MODIFIED_PARAMETER",
            "A record wrapped under another KEK (another password or passphrase).");
  file.note("WrongAd", "MISSING_STEP",
            "A record wrapped with associated data formed another way (no 0x00, little-endian "
            "key id, none at all).");
  file.note("WrongLength", "MODIFIED_PARAMETER", "A record that is not 60 bytes.");

  SeededRandom random(kSeed);
  const std::string passphrase = generate_passphrase(random);
  {
    const SecretKey kek = derive_kek("correct horse battery staple", passphrase, 1000);
    TestGroup& group = file.group(Json{{"type", "KeyWrapTest"}, {"kek", hex(bytes_of(kek))}});
    const Wrapping first{SecretKey::random(random), random.id(), 1, random.bytes(kNonceBytes)};
    add_wrap(group, kek, "key-wrap/first-key", "Key id 1 of a workspace.", {"Wrap"}, first);
    add_wrap(group, kek, "key-wrap/rotated-key", "Key id 2 of the same workspace.", {"Wrap"},
             {SecretKey::random(random), first.workspace, 2, random.bytes(kNonceBytes)});
    add_wrap(group, kek, "key-wrap/largest-key-id", "Key id 2^32 - 1.", {"Wrap", "KeyIdRange"},
             {SecretKey::random(random), first.workspace, 0xFFFFFFFFu, random.bytes(kNonceBytes)});
    add_wrap(group, kek, "key-wrap/zero-data-key-and-nonce",
             "An all-zero data key and nonce: nothing special about zeros.", {"Wrap"},
             {SecretKey(), random.id(), 1, Bytes(kNonceBytes, 0)});

    FixedRandom nonce(first.nonce);
    const Bytes wrapped = wrap_data_key(kek, first.data_key, first.workspace, 1, nonce);
    auto flipped = [&](size_t index) {
      Bytes out = wrapped;
      out[index] ^= 0x01;
      return out;
    };
    auto reject = [&](std::string id, std::string comment, std::string flag,
                      const WorkspaceId& workspace, uint32_t key_id, const Bytes& bytes) {
      add_rejected(group, kek, "key-wrap/" + id, std::move(comment), {std::move(flag)}, workspace,
                   key_id, bytes);
    };
    reject("tampered-tag", "key-wrap/first-key with the last bit of the tag flipped.",
           "TamperedTag", first.workspace, 1, flipped(wrapped.size() - 1));
    reject("tampered-ciphertext", "key-wrap/first-key with a ciphertext bit flipped.",
           "TamperedCiphertext", first.workspace, 1, flipped(kNonceBytes + 5));
    reject("tampered-nonce", "key-wrap/first-key with a nonce bit flipped.", "TamperedNonce",
           first.workspace, 1, flipped(0));
    reject("wrong-key-id", "key-wrap/first-key presented as key id 2.", "WrongKeyId",
           first.workspace, 2, wrapped);
    reject("wrong-workspace", "key-wrap/first-key presented for another workspace.",
           "WrongWorkspace", random.id(), 1, wrapped);
    {
      const SecretKey other_kek = derive_kek("correct horse battery stapler", passphrase, 1000);
      FixedRandom other_nonce(first.nonce);
      reject("wrong-kek",
             "key-wrap/first-key's data key wrapped under the KEK of another password.", "WrongKek",
             first.workspace, 1,
             wrap_data_key(other_kek, first.data_key, first.workspace, 1, other_nonce));
    }
    auto sealed_with_ad = [&](const Bytes& ad) {
      FixedRandom ad_nonce(first.nonce);
      return seal(kek, first.data_key.view(), ad, ad_nonce);
    };
    {
      Bytes ad = to_bytes("opsync/v1 key wrap");
      append_bytes(ad, first.workspace.view());
      append_u32(ad, 1);
      reject("ad-without-zero-byte", "Wrapped with the tag not followed by 0x00.", "WrongAd",
             first.workspace, 1, sealed_with_ad(ad));
    }
    {
      Bytes ad = wrap_ad(first.workspace, 0);
      ad.back() = 0;
      ad[ad.size() - 4] = 1;  // u32 1, little-endian
      reject("ad-key-id-little-endian", "Wrapped with the key id little-endian in the ad.",
             "WrongAd", first.workspace, 1, sealed_with_ad(ad));
    }
    reject("no-ad", "Wrapped without associated data.", "WrongAd", first.workspace, 1,
           sealed_with_ad({}));
    reject("59-bytes", "key-wrap/first-key without its last byte.", "WrongLength", first.workspace,
           1, Bytes(wrapped.begin(), wrapped.end() - 1));
    {
      Bytes longer = wrapped;
      longer.push_back(0);
      reject("61-bytes", "key-wrap/first-key with a zero byte appended.", "WrongLength",
             first.workspace, 1, longer);
    }
    reject("empty", "No bytes at all.", "WrongLength", first.workspace, 1, {});
  }
  {
    const SecretKey kek = SecretKey::random(random);
    TestGroup& group = file.group(Json{{"type", "KeyWrapTest"}, {"kek", hex(bytes_of(kek))}});
    add_wrap(group, kek, "key-wrap/random-kek", "A KEK of random bytes.", {"Wrap"},
             {SecretKey::random(random), random.id(), 7, random.bytes(kNonceBytes)});
  }
  return file.finish();
}

void check_wrap(const Json& group, const Json& test, Findings& findings) {
  const std::optional<SecretKey> kek =
      SecretKey::from_bytes(read_hex_sized(group, "kek", kKeyBytes));
  const WorkspaceId workspace = read_fixed<16>(test, "workspaceId");
  const uint32_t key_id = static_cast<uint32_t>(read_uint(test, "keyId", 0xFFFFFFFFu));
  const Bytes wrapped = read_hex(test, "wrappedKey");
  Result<SecretKey> unwrapped = unwrap_data_key(*kek, wrapped, workspace, key_id);
  if (!read_expects_valid(test)) {
    findings.expect_error(test, unwrapped);
    return;
  }
  const SecretKey data_key = *SecretKey::from_bytes(read_hex_sized(test, "dataKey", kKeyBytes));
  const Bytes nonce_bytes = read_hex_sized(test, "nonce", kNonceBytes);
  findings.expect_equal("ad", read_hex(test, "ad"), wrap_ad(workspace, key_id));
  FixedRandom nonce(nonce_bytes);
  findings.expect_equal("wrappedKey", wrapped,
                        wrap_data_key(*kek, data_key, workspace, key_id, nonce));
  if (!unwrapped.ok())
    findings.add("unwrapping failed: " + unwrapped.error().to_string());
  else
    findings.expect_equal("unwrapped dataKey", bytes_of(data_key), bytes_of(*unwrapped));
}

}  // namespace

Suite key_wrap_suite() {
  return Suite{kName, kAlgorithm, &generate, {{"KeyWrapTest", &check_wrap}}};
}

}  // namespace opsync::vectors
