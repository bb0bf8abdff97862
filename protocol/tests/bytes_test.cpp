#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include "opsync/protocol/bytes.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;

BOOST_AUTO_TEST_SUITE(bytes)

BOOST_AUTO_TEST_CASE(base64url_known_answers) {
  // RFC 4648 section 10 test vectors, unpadded and in the url alphabet.
  BOOST_TEST(to_base64url(to_bytes("")) == "");
  BOOST_TEST(to_base64url(to_bytes("f")) == "Zg");
  BOOST_TEST(to_base64url(to_bytes("fo")) == "Zm8");
  BOOST_TEST(to_base64url(to_bytes("foo")) == "Zm9v");
  BOOST_TEST(to_base64url(to_bytes("foobar")) == "Zm9vYmFy");
  BOOST_TEST(to_base64url(Bytes{0xfb, 0xff}) == "-_8");
}

BOOST_AUTO_TEST_CASE(base64url_rejects_non_canonical_forms) {
  BOOST_TEST(!from_base64url("Zg=="));    // padding
  BOOST_TEST(!from_base64url("Zh"));      // unused bits set: "Zg" is the canonical form
  BOOST_TEST(!from_base64url("Zm9"));     // unused bits set: "Zm8" is canonical
  BOOST_TEST(!from_base64url("Z"));       // impossible length
  BOOST_TEST(!from_base64url("Zm9v+/"));  // standard alphabet
  BOOST_TEST(!from_base64url("Zm 9v"));   // whitespace
  BOOST_TEST(from_base64url("Zg").has_value());
}

BOOST_AUTO_TEST_CASE(fixed_ids_need_exact_length) {
  Id id;
  id.bytes[0] = 1;
  const std::string text = to_base64url(id);
  BOOST_TEST(text.size() == 22u);
  BOOST_TEST(fixed_from_base64url<16>(text).value() == id);
  BOOST_TEST(!fixed_from_base64url<16>(text.substr(0, 21)));
  BOOST_TEST(!fixed_from_base64url<32>(text));
}

RC_BOOST_PROP(base64url_round_trips, (const std::vector<uint8_t>& data)) {
  const std::string text = to_base64url(data);
  RC_ASSERT(from_base64url(text) == std::optional<Bytes>(data));
  RC_ASSERT(from_hex(to_hex(data)) == std::optional<Bytes>(data));
}

RC_BOOST_PROP(base64url_text_forms_are_unique, (const std::string& text)) {
  // Any text that decodes must be the one canonical encoding of what it decodes to.
  if (auto decoded = from_base64url(text)) RC_ASSERT(to_base64url(*decoded) == text);
}

namespace {

// Byte sequences around UTF-8's edge cases: valid encodings of any code point, plus overlong
// forms, encoded surrogates, code points past U+10FFFF, stray continuation bytes and cut-off
// sequences.
rc::Gen<std::string> utf8ish_strings() {
  auto piece = rc::gen::oneOf(
      rc::gen::map(
          rc::gen::inRange<uint32_t>(0, 0x110000),
          [](uint32_t cp) {
            std::string out;
            if (cp < 0x80)
              out += static_cast<char>(cp);
            else if (cp < 0x800)
              out += {static_cast<char>(0xC0 | cp >> 6), static_cast<char>(0x80 | (cp & 0x3F))};
            else if (cp < 0x10000)
              out +=
                  {static_cast<char>(0xE0 | cp >> 12), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                   static_cast<char>(0x80 | (cp & 0x3F))};
            else
              out += {static_cast<char>(0xF0 | cp >> 18),
                      static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                      static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                      static_cast<char>(0x80 | (cp & 0x3F))};
            return out;
          }),
      rc::gen::element<std::string>("\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                    "\x80", "\xE2\x82", "\xF8\x88\x80\x80\x80", "\xFF"));
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(piece),
                      [](const std::vector<std::string>& parts) {
                        std::string out;
                        for (const std::string& p : parts) out += p;
                        return out;
                      });
}

// An independent judge: nlohmann/json's own UTF-8 check on a JSON string holding the bytes.
bool json_accepts(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // control characters: not what we test
    escaped += c;
  }
  return nlohmann::json::accept("\"" + escaped + "\"");
}

// Checks only the shape of each sequence (lead byte and continuation bytes), as a hurried
// implementation might: accepts overlong forms and encoded surrogates.
bool shape_only_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const size_t length = lead < 0x80             ? 1
                          : (lead & 0xE0) == 0xC0 ? 2
                          : (lead & 0xF0) == 0xE0 ? 3
                          : (lead & 0xF8) == 0xF0 ? 4
                                                  : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<uint8_t>(text[i + k]) & 0xC0) != 0x80) return false;
    i += length;
  }
  return true;
}

void utf8_validation_matches_the_json_parser(bool (*valid)(std::string_view)) {
  std::string text = *utf8ish_strings();
  std::erase_if(
      text, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\'; });
  RC_ASSERT(valid(text) == json_accepts(text));
}

}  // namespace

BOOST_AUTO_TEST_CASE(utf8_known_answers) {
  BOOST_TEST(is_valid_utf8(""));
  BOOST_TEST(is_valid_utf8("notes/\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  BOOST_TEST(!is_valid_utf8("\xC0\xAF"));          // overlong '/'
  BOOST_TEST(!is_valid_utf8("\xED\xA0\x80"));      // an encoded surrogate
  BOOST_TEST(!is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  BOOST_TEST(!is_valid_utf8("\xE2\x82"));          // cut short
  BOOST_TEST(!is_valid_utf8("\x80"));              // a continuation byte alone
}

RC_BOOST_PROP(utf8_validation_agrees_with_the_json_parser, ()) {
  utf8_validation_matches_the_json_parser(&is_valid_utf8);
}

BOOST_AUTO_TEST_CASE(catches_a_shape_only_utf8_check) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "shape-only UTF-8 check agrees with the JSON parser",
      [] { utf8_validation_matches_the_json_parser(&shape_only_utf8); }));
}

BOOST_AUTO_TEST_SUITE_END()
