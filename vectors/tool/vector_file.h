// The Wycheproof-style layout shared by every vector file, and the helpers that write and read it.
//
// A file is {"algorithm", "schema", "generatorVersion", "numberOfTests", "header", "notes",
// "testGroups": [{"type", ...shared parameters..., "tests": [{"tcId", "id", "comment", "flags",
// "result", ...inputs and expected outputs...}]}]}. Binary values are lowercase hex.
//
// Writing is done with VectorFileWriter, which numbers the tests and refuses to produce a file
// that breaks the format's own rules. Reading is done with the read_* functions, which throw
// MalformedVector instead of crashing on a file someone edited by hand.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/random.h"

namespace opsync::vectors {

// Keeps members in the order they were written, so that output is stable and reads naturally.
using Json = nlohmann::ordered_json;

inline constexpr std::string_view kGeneratorVersion = "1";

// A generator that cannot keep a promise of the format (a wrong-way hash that happens to equal
// the right one, a flag without a note) stops with this instead of writing a misleading file.
class GenerationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws GenerationError with `message` unless `condition` holds.
void require(bool condition, const std::string& message);

// ---- writing ----------------------------------------------------------------------------------

struct TestCase {
  std::string id;  // stable forever once published, e.g. "op-encoding/minimal-payload"
  std::string comment;
  std::vector<std::string> flags;
  bool valid = true;
  Json fields = Json::object();  // inputs and expected outputs, in the order they are written
};

class TestGroup {
 public:
  explicit TestGroup(Json shared) : shared_(std::move(shared)) {}
  void add(TestCase test) { tests_.push_back(std::move(test)); }

  const Json& shared() const { return shared_; }
  const std::vector<TestCase>& tests() const { return tests_; }

 private:
  Json shared_;
  std::vector<TestCase> tests_;
};

class VectorFileWriter {
 public:
  // `name` is the file's stem ("op_encoding"): the file is <name>.json, its schema
  // schema/<name>.schema.json.
  VectorFileWriter(std::string_view name, std::string_view algorithm,
                   std::vector<std::string> header);

  void note(std::string flag, std::string bug_type, std::string description);
  // A new group whose tests share `shared` (which holds at least "type"). The reference stays
  // valid for the writer's lifetime.
  TestGroup& group(Json shared);

  // The whole file, tests numbered 1..N in order. Throws GenerationError when an id repeats, a
  // flag has no note (or a note no test uses), or the file lacks valid or invalid cases.
  Json finish() const;

 private:
  std::string name_;
  std::string algorithm_;
  std::vector<std::string> header_;
  Json notes_ = Json::object();
  std::deque<TestGroup> groups_;  // a deque so that group() references stay valid
};

// The bytes a vector file is written as: 2-space indent and a trailing newline.
std::string render(const Json& file);

// ---- binary values and common shapes ----------------------------------------------------------

std::string hex(ByteView bytes);
template <size_t N>
std::string hex(const FixedBytes<N>& value) {
  return hex(value.view());
}
inline Bytes bytes_of(const SecretKey& key) { return Bytes(key.view().begin(), key.view().end()); }
inline ByteView view_of(std::string_view text) {
  return ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

Json hlc_json(const Hlc& hlc);
// An operation's header fields and payload, binary as hex, shaped like the wire JSON of spec 6.1.
Json op_json(const WireOp& op);
// The header fields only (v, id, device_id, hlc, key_id), for tests whose payload is an output.
Json op_header_json(const WireOp& op);

// ---- reading ----------------------------------------------------------------------------------

// A vector file or test case that does not have the shape this program expects.
class MalformedVector : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const Json& read_member(const Json& object, std::string_view name);
const Json& read_object(const Json& object, std::string_view name);
const Json& read_array(const Json& object, std::string_view name);
std::string read_string(const Json& object, std::string_view name);
bool read_bool(const Json& object, std::string_view name);
// A non-negative integer no larger than `max`.
uint64_t read_uint(const Json& object, std::string_view name, uint64_t max = kJsonIntegerMax);
// Lowercase hex of any length.
Bytes read_hex(const Json& object, std::string_view name);
// Lowercase hex of exactly `size` bytes.
Bytes read_hex_sized(const Json& object, std::string_view name, size_t size);
template <size_t N>
FixedBytes<N> read_fixed(const Json& object, std::string_view name) {
  const Bytes bytes = read_hex_sized(object, name, N);
  FixedBytes<N> out;
  std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  return out;
}
// The same checks for an array element rather than a member.
Bytes hex_element(const Json& value, std::string_view what);
template <size_t N>
FixedBytes<N> fixed_element(const Json& value, std::string_view what) {
  const Bytes bytes = hex_element(value, what);
  if (bytes.size() != N)
    throw MalformedVector(std::string(what) + " must be " + std::to_string(N) + " bytes of hex");
  FixedBytes<N> out;
  std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  return out;
}

// "valid" -> true, "invalid" -> false.
bool read_expects_valid(const Json& test);
// A timestamp {"wall_ms", "counter"} with wall_ms below `wall_ms_limit` (exclusive).
Hlc read_hlc(const Json& object, std::string_view name, uint64_t wall_ms_limit = kHlcWallMsLimit);
// The inverse of op_header_json / op_json.
WireOp read_op_header(const Json& object, std::string_view name);
WireOp read_op(const Json& object, std::string_view name);

// ---- nonces -----------------------------------------------------------------------------------

// A RandomSource that hands out exactly the bytes it was given, so that a nonce written in a
// vector file reproduces the same envelope. Asking for more than it holds is a bug in the caller.
class FixedRandom final : public RandomSource {
 public:
  explicit FixedRandom(Bytes bytes) : bytes_(std::move(bytes)) {}
  void fill(std::span<uint8_t> out) override;

 private:
  Bytes bytes_;
  size_t next_ = 0;
};

}  // namespace opsync::vectors
