// key_derivation.json: the key-encryption key of spec 5.1 (CRY-001).
#include <openssl/evp.h>

#include "opsync/protocol/crypto.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/sha256.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "key_derivation";
constexpr std::string_view kAlgorithm = "KeyDerivation";
constexpr uint64_t kSeed = 0x6b6466;

constexpr std::string_view kPassword = "correct horse battery staple";
// "pässwörd" with precomposed ä and ö (NFC), and with a and o followed by a combining diaeresis
// (NFD): the same to a reader, different bytes, so different keys.
constexpr std::string_view kPasswordNfc = "p\xc3\xa4ssw\xc3\xb6rd";
constexpr std::string_view kPasswordNfd = "pa\xcc\x88sswo\xcc\x88rd";

// PBKDF2 with any inputs, for the ways of deriving the KEK that the spec rules out.
Bytes pbkdf2(ByteView password, ByteView salt, uint32_t iterations, const EVP_MD* digest) {
  Bytes out(kKeyBytes);
  require(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()),
                            static_cast<int>(password.size()), salt.data(),
                            static_cast<int>(salt.size()), static_cast<int>(iterations), digest,
                            static_cast<int>(out.size()), out.data()) == 1,
          "PKCS5_PBKDF2_HMAC failed");
  return out;
}

Json inputs_json(std::string_view password, std::string_view passphrase, uint32_t iterations) {
  return Json{{"password", password},
              {"passwordHex", hex(view_of(password))},
              {"passphrase", passphrase},
              {"passphraseHex", hex(view_of(passphrase))},
              {"iterations", iterations}};
}

void add_kek(TestGroup& group, std::string id, std::string comment, std::vector<std::string> flags,
             std::string_view password, std::string_view passphrase, uint32_t iterations) {
  Json fields = inputs_json(password, passphrase, iterations);
  fields["kek"] = hex(bytes_of(derive_kek(password, passphrase, iterations)));
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true, std::move(fields)});
}

void add_wrong_kek(TestGroup& group, std::string id, std::string comment,
                   std::vector<std::string> flags, std::string_view password,
                   std::string_view passphrase, uint32_t iterations, const Bytes& claimed_kek) {
  require(claimed_kek != bytes_of(derive_kek(password, passphrase, iterations)),
          id + ": the wrong way gives the right KEK");
  Json fields = inputs_json(password, passphrase, iterations);
  fields["kek"] = hex(claimed_kek);
  group.add(
      TestCase{std::move(id), std::move(comment), std::move(flags), false, std::move(fields)});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"The key-encryption key of spec 5.1 (CRY-001): kek = PBKDF2-HMAC-SHA256(P = "
       "SHA-256(password), S = SHA-256(passphrase), c = iterations, dkLen = 32), password and "
       "passphrase being their UTF-8 bytes exactly as entered (no normalization, no trimming).",
       "password and passphrase are given as JSON strings and, to leave no doubt about their "
       "bytes, as passwordHex and passphraseHex. Binary values are lowercase hex.",
       "The iteration counts are small (1, 2 and 1,000) on purpose, so that the vectors verify "
       "in milliseconds. Real key records use at least 600,000 (CRY-002); the formula does not "
       "change with the count.",
       "Valid cases: derive the KEK and compare it with kek.",
       "Invalid cases: kek was computed a wrong way from the same inputs; an implementation "
       "must derive a different key."});
  file.note("Prehashed", "BASIC", "The KEK as CRY-001 defines it.");
  file.note("IterationCount", "EDGE_CASE", "1 and 2 iterations, the smallest counts PBKDF2 has.");
  file.note("EmptyPassword", "EDGE_CASE", "The empty password: SHA-256 of no bytes.");
  file.note("NonAscii", "EDGE_CASE",
            "Non-ASCII text, hashed as its UTF-8 bytes exactly as entered: precomposed and "
            "decomposed forms of one text give different keys.");
  file.note("LongPassword", "EDGE_CASE",
            "A password longer than SHA-256's 64-byte block, which HMAC would otherwise hash "
            "itself.");
  file.note("MissingPrehash", "MISSING_STEP",
            "PBKDF2 over the raw password or passphrase, without the SHA-256 prehash of either.");
  file.note("SwappedInputs", "MODIFIED_PARAMETER",
            "Password and passphrase exchanged, or their hex text used instead of their hashes.");
  file.note("WrongPrimitive", "WRONG_PRIMITIVE", "HMAC-SHA1 instead of HMAC-SHA256.");
  file.note("WrongIterations", "MODIFIED_PARAMETER", "One iteration more than the record says.");
  file.note("Normalized", "MODIFIED_PARAMETER",
            "The password normalized to NFC before hashing although it was entered as NFD.");

  SeededRandom random(kSeed);
  const std::string passphrase = generate_passphrase(random);
  const std::string other_passphrase = generate_passphrase(random);
  TestGroup& group = file.group(Json{{"type", "KdfTest"}, {"algorithm", kKdfAlgorithm}});
  add_kek(group, "key-derivation/one-iteration", "An ASCII password, 1 iteration.",
          {"Prehashed", "IterationCount"}, kPassword, passphrase, 1);
  add_kek(group, "key-derivation/two-iterations", "The same inputs, 2 iterations.",
          {"Prehashed", "IterationCount"}, kPassword, passphrase, 2);
  add_kek(group, "key-derivation/1000-iterations", "The same inputs, 1,000 iterations.",
          {"Prehashed"}, kPassword, passphrase, 1000);
  add_kek(group, "key-derivation/other-passphrase",
          "The same password with another workspace's passphrase.", {"Prehashed"}, kPassword,
          other_passphrase, 1000);
  add_kek(group, "key-derivation/empty-password", "The empty password.", {"EmptyPassword"}, "",
          passphrase, 1000);
  add_kek(group, "key-derivation/password-with-trailing-newline",
          "\"secret\\n\": the newline is part of the password.", {"Prehashed"}, "secret\n",
          passphrase, 1000);
  add_kek(group, "key-derivation/non-ascii-nfc", "\"pässwörd\" with precomposed characters.",
          {"NonAscii"}, kPasswordNfc, passphrase, 1000);
  add_kek(group, "key-derivation/non-ascii-nfd",
          "\"pässwörd\" with combining diaereses: another key than the NFC form.", {"NonAscii"},
          kPasswordNfd, passphrase, 1000);
  add_kek(group, "key-derivation/japanese-password", "A password in Japanese.", {"NonAscii"},
          "日本語のパスワード", passphrase, 1000);
  add_kek(group, "key-derivation/emoji-password", "A password with a four-byte character.",
          {"NonAscii"}, "\xf0\x9f\x94\x91 unlock", passphrase, 1000);
  const std::string long_password(200, 'x');
  add_kek(group, "key-derivation/200-byte-password", "200 bytes of 'x'.", {"LongPassword"},
          long_password, passphrase, 1000);

  constexpr uint32_t kIterations = 1000;
  const Hash password_hash = sha256(kPassword);
  const Hash passphrase_hash = sha256(passphrase);
  auto wrong = [&](std::string id, std::string comment, std::string flag, const Bytes& kek) {
    add_wrong_kek(group, "key-derivation/" + id, std::move(comment), {std::move(flag)}, kPassword,
                  passphrase, kIterations, kek);
  };
  wrong("no-prehash", "PBKDF2(P = password, S = passphrase): neither input hashed first.",
        "MissingPrehash",
        pbkdf2(view_of(kPassword), view_of(passphrase), kIterations, EVP_sha256()));
  wrong("password-not-prehashed", "PBKDF2(P = password, S = SHA-256(passphrase)).",
        "MissingPrehash",
        pbkdf2(view_of(kPassword), passphrase_hash.view(), kIterations, EVP_sha256()));
  wrong("passphrase-not-prehashed", "PBKDF2(P = SHA-256(password), S = passphrase).",
        "MissingPrehash",
        pbkdf2(password_hash.view(), view_of(passphrase), kIterations, EVP_sha256()));
  wrong("password-and-passphrase-swapped",
        "PBKDF2(P = SHA-256(passphrase), S = SHA-256(password)).", "SwappedInputs",
        pbkdf2(passphrase_hash.view(), password_hash.view(), kIterations, EVP_sha256()));
  wrong("hex-text-of-prehash",
        "PBKDF2 over the 64-character hex texts of the two hashes instead of their bytes.",
        "SwappedInputs",
        pbkdf2(view_of(hex(password_hash)), view_of(hex(passphrase_hash)), kIterations,
               EVP_sha256()));
  wrong("hmac-sha1", "PBKDF2-HMAC-SHA1 over the prehashed inputs.", "WrongPrimitive",
        pbkdf2(password_hash.view(), passphrase_hash.view(), kIterations, EVP_sha1()));
  wrong("one-iteration-too-many", "1,001 iterations where the record says 1,000.",
        "WrongIterations",
        pbkdf2(password_hash.view(), passphrase_hash.view(), kIterations + 1, EVP_sha256()));
  add_wrong_kek(group, "key-derivation/nfd-password-normalized-to-nfc",
                "The password was entered in NFD; the KEK was derived from its NFC form.",
                {"Normalized"}, kPasswordNfd, passphrase, kIterations,
                bytes_of(derive_kek(kPasswordNfc, passphrase, kIterations)));
  return file.finish();
}

std::string read_text_with_hex(const Json& test, std::string_view name) {
  const std::string text = read_string(test, name);
  if (read_hex(test, std::string(name) + "Hex") != to_bytes(text))
    throw MalformedVector(std::string(name) + "Hex is not the UTF-8 form of " + std::string(name));
  return text;
}

void check_kek(const Json& group, const Json& test, Findings& findings) {
  if (read_string(group, "algorithm") != kKdfAlgorithm)
    throw MalformedVector(std::string("the group's algorithm must be ") + kKdfAlgorithm);
  const std::string password = read_text_with_hex(test, "password");
  const std::string passphrase = read_text_with_hex(test, "passphrase");
  const uint64_t iterations = read_uint(test, "iterations", kKdfIterationsMax);
  if (iterations < kKdfIterationsMin) throw MalformedVector("iterations must be at least 1");
  const Bytes claimed = read_hex_sized(test, "kek", kKeyBytes);
  const Bytes derived =
      bytes_of(derive_kek(password, passphrase, static_cast<uint32_t>(iterations)));
  if (read_expects_valid(test))
    findings.expect_equal("kek", claimed, derived);
  else if (claimed == derived)
    findings.add("the library derives the claimed (wrongly computed) kek");
}

}  // namespace

Suite key_derivation_suite() {
  return Suite{kName, kAlgorithm, &generate, {{"KdfTest", &check_kek}}};
}

}  // namespace opsync::vectors
