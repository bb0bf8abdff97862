// The DOM-free decoders of pages and payloads (src/fast_json.h) against the generic codec: on
// canonical text they must take the shortcut and read the same message; on damaged text they
// must either decline or read exactly what the generic codec reads. Errors always come from the
// generic codec, so agreement on accepted text is the whole promise.
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include "fast_json.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;

namespace {

rc::Gen<OpsPageResponse> gen_page() {
  return rc::gen::exec([] {
    OpsPageResponse page;
    page.after_seq = *testing::gen_in_range_with_ends<uint64_t>(0, kJsonIntegerMax);
    page.after_hash = *rc::gen::arbitrary<Hash>();
    page.head_seq = *testing::gen_in_range_with_ends<uint64_t>(0, kJsonIntegerMax);
    const size_t count = *testing::gen_uniform<size_t>(0, 4);
    for (size_t i = 0; i < count; ++i) {
      SequencedOp op;
      op.seq = *testing::gen_in_range_with_ends<uint64_t>(1, kJsonIntegerMax);
      op.op.id = *rc::gen::arbitrary<OpId>();
      op.op.device_id = *rc::gen::arbitrary<DeviceId>();
      op.op.hlc.wall_ms = *testing::gen_in_range_with_ends<uint64_t>(0, kHlcWallMsLimit - 1);
      op.op.hlc.counter = *testing::gen_in_range_with_ends<uint32_t>(0, 0xFFFFFFFFu);
      op.op.key_id = *testing::gen_in_range_with_ends<uint32_t>(1, 0xFFFFFFFFu);
      op.op.payload = *rc::gen::container<Bytes>(
          *testing::gen_uniform<size_t>(kEnvelopeOverheadBytes, kEnvelopeOverheadBytes + 24),
          rc::gen::arbitrary<uint8_t>());
      page.ops.push_back(std::move(op));
    }
    if (*rc::gen::arbitrary<bool>())
      page.next_after_seq = *testing::gen_in_range_with_ends<uint64_t>(1, kJsonIntegerMax);
    return page;
  });
}

rc::Gen<ObjectPayload> gen_payload() {
  return rc::gen::exec([] {
    ObjectPayload payload;
    payload.type = *rc::gen::element(OpType::kPut, OpType::kDelete);
    // Keys with ASCII, a two-byte and a three-byte character, and characters JSON escapes.
    const size_t key_chars = *testing::gen_uniform<size_t>(1, 8);
    for (size_t i = 0; i < key_chars; ++i)
      payload.key += *rc::gen::element<std::string>("a", "Z", "/", " ", "\"", "\\", "\n", "é", "€");
    const size_t base_count = *testing::gen_uniform<size_t>(0, 4);
    for (size_t i = 0; i < base_count; ++i) {
      OpId base = *rc::gen::arbitrary<OpId>();
      base.bytes[0] = static_cast<uint8_t>(i);  // distinct, as bases must be
      payload.bases.push_back(base);
    }
    if (payload.type == OpType::kPut) {
      payload.value = *rc::gen::container<Bytes>(*testing::gen_uniform<size_t>(0, 24),
                                                 rc::gen::arbitrary<uint8_t>());
      // File references are rare in payloads and always take the generic codec.
      if (*testing::gen_uniform<int>(0, 4) == 0) {
        FileRef file;
        file.id = *rc::gen::arbitrary<FileId>();
        file.name = "photo.jpg";
        file.size_bytes = *testing::gen_uniform<uint64_t>(0, 1u << 22);
        file.chunk_bytes = kChunkBytesMin;
        file.chunk_count = chunk_count_for(file.size_bytes, file.chunk_bytes);
        file.sha256 = *rc::gen::arbitrary<Hash>();
        payload.files.push_back(file);
      }
    }
    return payload;
  });
}

// Damage aimed at what a decoder might get wrong, beside random byte edits: a member written
// twice, an unknown member, a wrong version, a member of the wrong object.
rc::Gen<std::string> gen_damaged(const std::string& text) {
  static const std::vector<std::string> kMembers = {R"("v":1,)",
                                                    R"("v":2,)",
                                                    R"("seq":7,)",
                                                    R"("id":"AAAAAAAAAAAAAAAAAAAAAA",)",
                                                    R"("wall_ms":5,)",
                                                    R"("counter":1,)",
                                                    R"("key":"k",)",
                                                    R"("bases":[],)",
                                                    R"("files":[],)",
                                                    R"("value":"",)",
                                                    R"("unknown":0,)",
                                                    R"("after_seq":0,)",
                                                    R"("type":"put",)",
                                                    R"("key_id":1,)",
                                                    R"("next_after_seq":null,)",
                                                    R"("ops":[],)"};
  const auto insert_member = rc::gen::exec([text] {
    std::string out = text;
    std::vector<size_t> objects;
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i] == '{') objects.push_back(i + 1);
    if (objects.empty()) return out;
    const size_t at = objects[*testing::gen_uniform<size_t>(0, objects.size())];
    out.insert(at, kMembers[*testing::gen_uniform<size_t>(0, kMembers.size())]);
    return out;
  });
  return rc::gen::weightedOneOf<std::string>(
      {{2, testing::gen_mutation_of(text)}, {1, insert_member}});
}

template <typename M>
using FastDecoder = std::optional<M> (*)(std::string_view);
template <typename M>
using GenericDecoder = Result<M> (*)(std::string_view);

template <typename M>
void fast_decoder_agrees_with_the_codec(const std::string& canonical, bool shortcut_expected,
                                        FastDecoder<M> fast, GenericDecoder<M> generic) {
  const std::optional<M> quick = fast(canonical);
  RC_ASSERT(quick.has_value() == shortcut_expected);
  if (quick) RC_ASSERT(*quick == generic(canonical).value());

  const std::string damaged = *gen_damaged(canonical);
  const std::optional<M> quick_damaged = fast(damaged);
  RC_CLASSIFY(quick_damaged.has_value(), "damaged text taken by the shortcut");
  if (!quick_damaged) return;  // declined: the generic codec decides
  const Result<M> reference = generic(damaged);
  RC_ASSERT(reference.ok());
  RC_ASSERT(*quick_damaged == *reference);
}

void page_property(FastDecoder<OpsPageResponse> fast) {
  const OpsPageResponse page = *gen_page();
  fast_decoder_agrees_with_the_codec<OpsPageResponse>(serialize_message(page), true, fast,
                                                      &opsync::fast_json::ops_page_generic);
}

void payload_property(FastDecoder<ObjectPayload> fast) {
  const ObjectPayload payload = *gen_payload();
  const Bytes text = serialize_payload(payload);
  fast_decoder_agrees_with_the_codec<ObjectPayload>(std::string(text.begin(), text.end()),
                                                    payload.files.empty(), fast,
                                                    &opsync::fast_json::payload_generic);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fast_json)

RC_BOOST_PROP(page_decoder_reads_what_the_codec_reads, ()) {
  page_property(&opsync::fast_json::ops_page);
}

RC_BOOST_PROP(payload_decoder_reads_what_the_codec_reads, ()) {
  payload_property(&opsync::fast_json::payload);
}

BOOST_AUTO_TEST_CASE(a_decoder_that_accepts_what_the_codec_rejects_is_caught) {
  // Falls back to an empty message instead of declining: damaged text the codec refuses would
  // come through as a valid page.
  BOOST_TEST(testing::finds_counterexample("page decoder that never declines", [] {
    page_property([](std::string_view text) -> std::optional<OpsPageResponse> {
      if (std::optional<OpsPageResponse> page = opsync::fast_json::ops_page(text)) return page;
      return OpsPageResponse{};
    });
  }));
}

BOOST_AUTO_TEST_CASE(a_decoder_that_misreads_a_member_is_caught) {
  // Reads every key id as 1.
  BOOST_TEST(testing::finds_counterexample("page decoder that misreads key_id", [] {
    page_property([](std::string_view text) {
      std::optional<OpsPageResponse> page = opsync::fast_json::ops_page(text);
      if (page)
        for (SequencedOp& op : page->ops) op.op.key_id = 1;
      return page;
    });
  }));
  // Forgets the bases.
  BOOST_TEST(testing::finds_counterexample("payload decoder that drops bases", [] {
    payload_property([](std::string_view text) {
      std::optional<ObjectPayload> payload = opsync::fast_json::payload(text);
      if (payload) payload->bases.clear();
      return payload;
    });
  }));
}

BOOST_AUTO_TEST_CASE(duplicates_unknown_members_and_bad_text_are_left_to_the_codec) {
  const std::string page =
      R"({"after_seq":0,"after_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","head_seq":0,)"
      R"("ops":[],"next_after_seq":null})";
  BOOST_TEST(opsync::fast_json::ops_page(page).has_value());
  // A member twice: the codec answers duplicate_field; the shortcut must not pick one.
  BOOST_TEST(!opsync::fast_json::ops_page(R"({"head_seq":1,)" + page.substr(1)).has_value());
  BOOST_TEST(parse_message<OpsPageResponse>(R"({"head_seq":1,)" + page.substr(1)).error().code ==
             Code::kDuplicateField);
  // An unknown member in a response is ignored by the codec (forward compatibility).
  const std::string extended = R"({"server_note":"hi",)" + page.substr(1);
  BOOST_TEST(!opsync::fast_json::ops_page(extended).has_value());
  BOOST_TEST(parse_message<OpsPageResponse>(extended).ok());
  // An escaped member name is the same member to both.
  std::string escaped = page;
  escaped.replace(escaped.find("head_seq"), 8, R"(head\u005fseq)");
  const std::optional<OpsPageResponse> quick = opsync::fast_json::ops_page(escaped);
  BOOST_TEST((quick.has_value() && *quick == opsync::fast_json::ops_page_generic(escaped).value()));
  // Invalid UTF-8 inside a payload's key.
  const std::string bad_utf8 = "{\"v\":1,\"type\":\"delete\",\"key\":\"a\xff\",\"bases\":[]}";
  BOOST_TEST(!opsync::fast_json::payload(bad_utf8).has_value());
  BOOST_TEST(!opsync::fast_json::payload_generic(bad_utf8).ok());
  // Escaped surrogates: a lone half is malformed to both; a pair is one character to both.
  for (const std::string key : {R"(\udc00)", R"(\ud800)", R"(\ud800\u0041)"}) {
    const std::string text = R"({"v":1,"type":"delete","key":")" + key + R"(","bases":[]})";
    BOOST_TEST(!opsync::fast_json::payload(text).has_value(), key);
    BOOST_TEST(opsync::fast_json::payload_generic(text).error().code == Code::kMalformedJson, key);
  }
  const std::string pair = R"({"v":1,"type":"delete","key":"\ud83d\ude00","bases":[]})";
  const std::optional<ObjectPayload> quick_pair = opsync::fast_json::payload(pair);
  BOOST_TEST((quick_pair.has_value() && quick_pair->key == "\xF0\x9F\x98\x80" &&
              *quick_pair == opsync::fast_json::payload_generic(pair).value()));
}

BOOST_AUTO_TEST_SUITE_END()
