#include "json_reader.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "opsync/protocol/limits.h"

namespace opsync::json_detail {
namespace {

// Thrown from the parser callback to abort parsing; never escapes parse_strict.
struct Rejection {
  Code code;
  std::string field;
  std::string message;
};

const char* type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

}  // namespace

Result<Json> parse_strict(std::string_view text) {
  // The parser reports containers and keys as events; this tracks each open container so that a
  // duplicate member can be named (ERR-002), and counts depth (TRN-020). Paths are built only for
  // an error: a valid 1,000-operation upload opens 2,000 containers and names none of them.
  struct Frame {
    bool is_object;
    std::string segment;        // how the parent names this container: a member name or an index
    std::string last_key;       // objects: the member being read
    size_t next_index = 0;      // arrays: the element being read
    std::vector<std::string> keys;  // objects: member names seen so far (few: searched linearly)
    std::set<std::string> many_keys;  // objects with more than kLinearKeysMax members
  };
  constexpr size_t kLinearKeysMax = 32;
  std::vector<Frame> open;
  auto path_of = [&](size_t depth, const std::string* last) {
    std::string path;
    auto append = [&](bool parent_is_object, const std::string& segment) {
      if (parent_is_object) {
        if (!path.empty()) path += '.';
        path += segment;
      } else {
        path += '[' + segment + ']';
      }
    };
    for (size_t i = 1; i < depth; ++i) append(open[i - 1].is_object, open[i].segment);
    if (last) append(true, *last);
    return path;
  };
  auto child_segment = [&]() -> std::string {
    if (open.empty()) return "";
    const Frame& parent = open.back();
    return parent.is_object ? parent.last_key : std::to_string(parent.next_index);
  };
  auto finish_child = [&]() {
    if (!open.empty() && !open.back().is_object) ++open.back().next_index;
  };
  auto seen_before = [&](Frame& object, const std::string& key) {
    if (!object.many_keys.empty()) return !object.many_keys.insert(key).second;
    if (std::find(object.keys.begin(), object.keys.end(), key) != object.keys.end()) return true;
    object.keys.push_back(key);
    if (object.keys.size() > kLinearKeysMax) {
      object.many_keys.insert(object.keys.begin(), object.keys.end());
      object.keys.clear();
    }
    return false;
  };
  std::optional<Rejection> duplicate;
  auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, Json& parsed) -> bool {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (open.size() >= kJsonDepthMax)
          throw Rejection{Code::kMalformedJson, "",
                          "nested deeper than " + std::to_string(kJsonDepthMax) + " levels"};
        open.push_back(Frame{event == Event::object_start, child_segment(), {}, 0, {}, {}});
        break;
      case Event::object_end:
      case Event::array_end:
        if (!open.empty()) open.pop_back();
        finish_child();
        break;
      case Event::key: {
        Frame& object = open.back();
        object.last_key = parsed.get_ref<const std::string&>();
        // Reported once the whole text has parsed: a fault of the text comes first (ERR-014),
        // and the first repetition in the text is the one named (TRN-027).
        if (seen_before(object, object.last_key) && !duplicate)
          duplicate = Rejection{Code::kDuplicateField, path_of(open.size(), &object.last_key),
                                "appears twice in its object"};
        break;
      }
      case Event::value:
        finish_child();
        break;
    }
    return true;
  };
  // nlohmann skips a leading byte order mark; the spec does not (TRN-028).
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    return Error(Code::kMalformedJson, "a byte order mark is not JSON text");
  try {
    Json value = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                             /*ignore_comments=*/false);
    if (duplicate) return Error(duplicate->code, duplicate->field, duplicate->message);
    return value;
  } catch (const Rejection& rejection) {
    return Error(rejection.code, rejection.field, rejection.message);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's messages name the byte offset and the problem (syntax or invalid UTF-8).
    return Error(Code::kMalformedJson, e.what());
  }
}

Reader::Reader(const Json& value, std::string path, bool strict, ErrorSink& sink)
    : value_(value), path_(std::move(path)), strict_(strict), sink_(sink) {
  if (!value_.is_object())
    sink_.fail(path_.empty() ? Code::kMalformedJson : Code::kInvalidField, path_,
               std::string("must be an object, not ") + type_name(value_));
}

std::string Reader::member_path(std::string_view name) const {
  if (path_.empty()) return std::string(name);
  return path_ + "." + std::string(name);
}

bool Reader::has(std::string_view name) const {
  return value_.is_object() && value_.contains(std::string(name));
}

void Reader::fail(std::string_view name, Code code, std::string message) {
  sink_.fail(code, member_path(name), std::move(message));
}

void Reader::fail_path(std::string path, Code code, std::string message) {
  sink_.fail(code, std::move(path), std::move(message));
}

const Json* Reader::find_required(std::string_view name) {
  if (failed() || !value_.is_object()) return nullptr;
  read_.emplace_back(name);
  auto it = value_.find(std::string(name));
  if (it == value_.end()) {
    fail(name, Code::kMissingField, "is required");
    return nullptr;
  }
  return &*it;
}

const Json* Reader::member(std::string_view name) { return find_required(name); }

uint64_t integer_at(const Json& value, const std::string& path, uint64_t min, uint64_t max,
                    ErrorSink& sink) {
  if (sink.error) return 0;
  // nlohmann stores a number written without '-' and without fraction or exponent as unsigned;
  // "-0", "1.0" and "1e3" all land elsewhere and are rejected here (TRN-024).
  if (!value.is_number_unsigned()) {
    sink.fail(Code::kInvalidField, path,
              std::string("must be a non-negative integer, not ") + type_name(value));
    return 0;
  }
  const uint64_t v = value.get<uint64_t>();
  const uint64_t upper = std::min<uint64_t>(max, kJsonIntegerMax);
  if (v < min || v > upper) {
    sink.fail(Code::kInvalidField, path,
              "must be from " + std::to_string(min) + " to " + std::to_string(upper));
    return 0;
  }
  return v;
}

std::string string_at(const Json& value, const std::string& path, size_t min_bytes,
                      size_t max_bytes, ErrorSink& sink) {
  if (sink.error) return {};
  if (!value.is_string()) {
    sink.fail(Code::kInvalidField, path, std::string("must be a string, not ") + type_name(value));
    return {};
  }
  const std::string& s = value.get_ref<const std::string&>();
  if (s.size() < min_bytes || s.size() > max_bytes) {
    sink.fail(Code::kInvalidField, path,
              "must be " + std::to_string(min_bytes) + " to " + std::to_string(max_bytes) +
                  " bytes long");
    return {};
  }
  return s;
}

uint64_t Reader::integer(std::string_view name, uint64_t min, uint64_t max) {
  const Json* v = find_required(name);
  if (!v) return 0;
  return integer_at(*v, member_path(name), min, max, sink_);
}

std::optional<uint64_t> Reader::optional_integer(std::string_view name, uint64_t min,
                                                 uint64_t max) {
  if (failed()) return std::nullopt;
  if (!has(name)) {
    read_.emplace_back(name);
    return std::nullopt;
  }
  return integer(name, min, max);
}

std::optional<uint64_t> Reader::nullable_integer(std::string_view name, uint64_t min,
                                                 uint64_t max) {
  const Json* v = find_required(name);
  if (!v || v->is_null()) return std::nullopt;
  return integer_at(*v, member_path(name), min, max, sink_);
}

std::string Reader::string(std::string_view name, size_t min_bytes, size_t max_bytes) {
  const Json* v = find_required(name);
  if (!v) return {};
  return string_at(*v, member_path(name), min_bytes, max_bytes, sink_);
}

std::optional<std::string> Reader::optional_string(std::string_view name, size_t max_bytes) {
  if (failed()) return std::nullopt;
  if (!has(name)) {
    read_.emplace_back(name);
    return std::nullopt;
  }
  return string(name, 0, max_bytes);
}

Bytes Reader::bytes(std::string_view name, size_t min_bytes, size_t max_bytes) {
  const Json* v = find_required(name);
  if (!v) return {};
  if (!v->is_string()) {
    fail(name, Code::kInvalidField,
         std::string("must be a base64url string, not ") + type_name(*v));
    return {};
  }
  auto decoded = from_base64url(v->get_ref<const std::string&>());
  if (!decoded) {
    fail(name, Code::kInvalidField, "must be canonical unpadded base64url");
    return {};
  }
  if (decoded->size() < min_bytes || decoded->size() > max_bytes) {
    fail(name, Code::kInvalidField,
         "must decode to " + std::to_string(min_bytes) + " to " + std::to_string(max_bytes) +
             " bytes, not " + std::to_string(decoded->size()));
    return {};
  }
  return std::move(*decoded);
}

Bytes Reader::bytes_exact(std::string_view name, size_t size) {
  const Json* v = find_required(name);
  if (!v) return {};
  if (!v->is_string()) {
    fail(name, Code::kInvalidField,
         std::string("must be a base64url string, not ") + type_name(*v));
    return {};
  }
  auto decoded = from_base64url(v->get_ref<const std::string&>());
  if (!decoded || decoded->size() != size) {
    fail(name, Code::kInvalidField,
         "must be canonical unpadded base64url of " + std::to_string(size) + " bytes");
    return {};
  }
  return std::move(*decoded);
}

const Json* Reader::array(std::string_view name, size_t min_items, size_t max_items) {
  const Json* v = find_required(name);
  if (!v) return nullptr;
  if (!v->is_array()) {
    fail(name, Code::kInvalidField, std::string("must be an array, not ") + type_name(*v));
    return nullptr;
  }
  if (v->size() < min_items || v->size() > max_items) {
    fail(name, Code::kInvalidField,
         "must hold " + std::to_string(min_items) + " to " + std::to_string(max_items) +
             " elements, not " + std::to_string(v->size()));
    return nullptr;
  }
  return v;
}

Reader Reader::object(std::string_view name) {
  static const Json kEmptyObject = Json::object();
  const Json* v = find_required(name);
  if (!v) return Reader(kEmptyObject, member_path(name), strict_, sink_);
  return Reader(*v, member_path(name), strict_, sink_);
}

void Reader::finish() {
  if (failed() || !strict_ || !value_.is_object()) return;
  for (auto it = value_.begin(); it != value_.end(); ++it) {
    if (std::find(read_.begin(), read_.end(), it.key()) == read_.end()) {
      fail(it.key(), Code::kUnknownField, "is not a member of this message");
      return;
    }
  }
}

std::string element_path(const std::string& array_path, size_t index) {
  return array_path + "[" + std::to_string(index) + "]";
}

}  // namespace opsync::json_detail
