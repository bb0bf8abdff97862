#include <boost/test/unit_test.hpp>
#include <rapidcheck/boost_test.h>

#include "opsync/protocol/bytes.h"
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
  BOOST_TEST(!from_base64url("Zg=="));   // padding
  BOOST_TEST(!from_base64url("Zh"));     // unused bits set: "Zg" is the canonical form
  BOOST_TEST(!from_base64url("Zm9"));    // unused bits set: "Zm8" is canonical
  BOOST_TEST(!from_base64url("Z"));      // impossible length
  BOOST_TEST(!from_base64url("Zm9v+/")); // standard alphabet
  BOOST_TEST(!from_base64url("Zm 9v"));  // whitespace
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

BOOST_AUTO_TEST_SUITE_END()
