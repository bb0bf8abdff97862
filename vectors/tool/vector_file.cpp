#include "vector_file.h"

#include <algorithm>
#include <set>

namespace opsync::vectors {

void require(bool condition, const std::string& message) {
  if (!condition) throw GenerationError(message);
}

// ---- writing ----------------------------------------------------------------------------------

VectorFileWriter::VectorFileWriter(std::string_view name, std::string_view algorithm,
                                   std::vector<std::string> header)
    : name_(name), algorithm_(algorithm), header_(std::move(header)) {}

void VectorFileWriter::note(std::string flag, std::string bug_type, std::string description) {
  require(!notes_.contains(flag), name_ + ": note " + flag + " written twice");
  notes_[flag] = Json{{"bugType", std::move(bug_type)}, {"description", std::move(description)}};
}

TestGroup& VectorFileWriter::group(Json shared) {
  require(shared.is_object() && shared.contains("type"), name_ + ": a group needs a type");
  return groups_.emplace_back(std::move(shared));
}

Json VectorFileWriter::finish() const {
  Json groups = Json::array();
  std::set<std::string> ids;
  std::set<std::string> flags_used;
  uint64_t tc_id = 0;
  bool has_valid = false;
  bool has_invalid = false;
  for (const TestGroup& group : groups_) {
    Json tests = Json::array();
    for (const TestCase& test : group.tests()) {
      require(ids.insert(test.id).second, name_ + ": id " + test.id + " appears twice");
      for (const std::string& flag : test.flags) {
        require(notes_.contains(flag), name_ + ": flag " + flag + " has no note");
        flags_used.insert(flag);
      }
      (test.valid ? has_valid : has_invalid) = true;
      Json out{{"tcId", ++tc_id},
               {"id", test.id},
               {"comment", test.comment},
               {"flags", test.flags},
               {"result", test.valid ? "valid" : "invalid"}};
      for (const auto& [key, value] : test.fields.items()) {
        require(!out.contains(key), name_ + ": " + test.id + " redefines " + key);
        out[key] = value;
      }
      tests.push_back(std::move(out));
    }
    Json out = group.shared();
    out["tests"] = std::move(tests);
    groups.push_back(std::move(out));
  }
  for (const auto& [flag, note] : notes_.items())
    require(flags_used.count(flag) != 0, name_ + ": note " + flag + " is used by no test");
  require(has_valid && has_invalid, name_ + ": needs both valid and invalid test cases");
  return Json{{"algorithm", algorithm_},
              {"schema", "schema/" + name_ + ".schema.json"},
              {"generatorVersion", kGeneratorVersion},
              {"numberOfTests", tc_id},
              {"header", header_},
              {"notes", notes_},
              {"testGroups", std::move(groups)}};
}

std::string render(const Json& file) { return file.dump(2) + "\n"; }

// ---- binary values and common shapes ----------------------------------------------------------

std::string hex(ByteView bytes) { return to_hex(bytes); }

Json hlc_json(const Hlc& hlc) { return Json{{"wall_ms", hlc.wall_ms}, {"counter", hlc.counter}}; }

Json op_header_json(const WireOp& op) {
  return Json{{"v", op.v},
              {"id", hex(op.id)},
              {"device_id", hex(op.device_id)},
              {"hlc", hlc_json(op.hlc)},
              {"key_id", op.key_id}};
}

Json op_json(const WireOp& op) {
  Json out = op_header_json(op);
  out["payload"] = hex(op.payload);
  return out;
}

// ---- reading ----------------------------------------------------------------------------------

namespace {

std::string quoted(std::string_view name) { return "member \"" + std::string(name) + "\""; }

bool is_lowercase_hex(std::string_view text) {
  return text.size() % 2 == 0 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

const Json& read_member(const Json& object, std::string_view name) {
  if (!object.is_object()) throw MalformedVector("expected an object holding " + quoted(name));
  auto it = object.find(std::string(name));
  if (it == object.end()) throw MalformedVector(quoted(name) + " is missing");
  return *it;
}

const Json& read_object(const Json& object, std::string_view name) {
  const Json& value = read_member(object, name);
  if (!value.is_object()) throw MalformedVector(quoted(name) + " must be an object");
  return value;
}

const Json& read_array(const Json& object, std::string_view name) {
  const Json& value = read_member(object, name);
  if (!value.is_array()) throw MalformedVector(quoted(name) + " must be an array");
  return value;
}

std::string read_string(const Json& object, std::string_view name) {
  const Json& value = read_member(object, name);
  if (!value.is_string()) throw MalformedVector(quoted(name) + " must be a string");
  return value.get<std::string>();
}

bool read_bool(const Json& object, std::string_view name) {
  const Json& value = read_member(object, name);
  if (!value.is_boolean()) throw MalformedVector(quoted(name) + " must be true or false");
  return value.get<bool>();
}

uint64_t read_uint(const Json& object, std::string_view name, uint64_t max) {
  const Json& value = read_member(object, name);
  if (!value.is_number_unsigned() || value.get<uint64_t>() > max)
    throw MalformedVector(quoted(name) + " must be an integer from 0 to " + std::to_string(max));
  return value.get<uint64_t>();
}

Bytes hex_element(const Json& value, std::string_view what) {
  if (!value.is_string() || !is_lowercase_hex(value.get_ref<const std::string&>()))
    throw MalformedVector(std::string(what) + " must be a string of lowercase hex");
  return *from_hex(value.get_ref<const std::string&>());
}

Bytes read_hex(const Json& object, std::string_view name) {
  return hex_element(read_member(object, name), quoted(name));
}

Bytes read_hex_sized(const Json& object, std::string_view name, size_t size) {
  Bytes bytes = read_hex(object, name);
  if (bytes.size() != size)
    throw MalformedVector(quoted(name) + " must be " + std::to_string(size) + " bytes of hex");
  return bytes;
}

bool read_expects_valid(const Json& test) {
  const std::string result = read_string(test, "result");
  if (result != "valid" && result != "invalid")
    throw MalformedVector("member \"result\" must be \"valid\" or \"invalid\"");
  return result == "valid";
}

Hlc read_hlc(const Json& object, std::string_view name, uint64_t wall_ms_limit) {
  const Json& hlc = read_object(object, name);
  return Hlc{read_uint(hlc, "wall_ms", wall_ms_limit - 1),
             static_cast<uint32_t>(read_uint(hlc, "counter", kHlcCounterMax))};
}

WireOp read_op_header(const Json& object, std::string_view name) {
  const Json& fields = read_object(object, name);
  WireOp op;
  op.v = static_cast<uint8_t>(read_uint(fields, "v", 255));
  op.id = read_fixed<16>(fields, "id");
  op.device_id = read_fixed<16>(fields, "device_id");
  op.hlc = read_hlc(fields, "hlc");
  op.key_id = static_cast<uint32_t>(read_uint(fields, "key_id", 0xFFFFFFFFu));
  return op;
}

WireOp read_op(const Json& object, std::string_view name) {
  WireOp op = read_op_header(object, name);
  op.payload = read_hex(read_object(object, name), "payload");
  return op;
}

// ---- nonces -----------------------------------------------------------------------------------

void FixedRandom::fill(std::span<uint8_t> out) {
  if (out.size() > bytes_.size() - next_)
    throw std::logic_error("FixedRandom: asked for more bytes than it was given");
  std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(next_), out.size(), out.begin());
  next_ += out.size();
}

}  // namespace opsync::vectors
