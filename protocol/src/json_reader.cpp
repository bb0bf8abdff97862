#include "json_reader.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "opsync/protocol/limits.h"

namespace opsync::json_detail {
namespace {

const char* type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

// Builds the document from nlohmann's SAX events, in time linear in the text (TRN-050).
//
// nlohmann's own DOM builders are not linear: its callback parser scans a container's elements
// for discarded values each time a child object closes (quadratic in an array of objects), and
// inserting into an ordered_json object searches its members one by one (quadratic in an object
// with many members). This builder appends members directly, after its own duplicate check
// against an ordered set (n log n), and never rescans a container. It also rejects what
// nlohmann would accept silently: duplicate member names (TRN-021) and nesting deeper than
// kJsonDepthMax (TRN-020). A duplicate is reported only once the whole text has parsed: a fault
// of the text comes first (ERR-014), and the first repetition in the text is the one named
// (TRN-027).
//
// Invariant: open_ holds the open containers from the outermost in; each is the last value
// added to its parent, so a pointer to it stays valid until it closes (its parent grows only
// after that).
class DomBuilder {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool value) { return add(Json(value)); }
  bool number_integer(number_integer_t value) { return add(Json(value)); }
  bool number_unsigned(number_unsigned_t value) { return add(Json(value)); }
  bool number_float(number_float_t value, const string_t& /*text*/) { return add(Json(value)); }
  bool string(string_t& value) { return add(Json(std::move(value))); }
  bool binary(binary_t& /*value*/) { return add(Json(nullptr)); }  // JSON text has no binary values

  bool start_object(size_t /*elements*/) { return open(Json::object()); }
  bool start_array(size_t /*elements*/) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& name) {
    Frame& object = open_.back();
    // The path needs the enclosing members' names, so it is built only here, for the error.
    if (!object.keys.insert(name).second && !duplicate_)
      duplicate_ = Error(Code::kDuplicateField, path_to(name), "appears twice in its object");
    object.pending_key = std::move(name);
    return true;
  }

  bool parse_error(size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& e) {
    // nlohmann's messages name the byte offset and the problem (syntax or invalid UTF-8).
    if (!error_) error_ = Error(Code::kMalformedJson, e.what());
    return false;
  }

  Result<Json> finish(bool parsed) {
    if (error_) return *error_;
    OPSYNC_CHECK(parsed && open_.empty());  // nlohmann reports every failure through parse_error
    if (duplicate_) return *duplicate_;
    return std::move(root_);
  }

 private:
  struct Frame {
    Json* value;
    std::set<std::string> keys;  // objects: member names seen so far
    std::string pending_key;     // objects: the member whose value comes next
  };

  // Adds `value` where the parser is: the root, the next element of an array, or the value of
  // the pending member of an object. Returns where it now lives.
  Json* place(Json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Frame& parent = open_.back();
    if (parent.value->is_array()) {
      Json::array_t& array = parent.value->get_ref<Json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    // Appended without ordered_map's linear search for an existing member: key() has already
    // ruled that out.
    Json::object_t& object = parent.value->get_ref<Json::object_t&>();
    object.Container::emplace_back(std::move(parent.pending_key), std::move(value));
    return &object.back().second;
  }

  bool add(Json&& value) {
    place(std::move(value));
    return true;
  }

  bool open(Json&& container) {
    if (open_.size() >= kJsonDepthMax) {
      error_ = Error(Code::kMalformedJson,
                     "nested deeper than " + std::to_string(kJsonDepthMax) + " levels");
      return false;
    }
    Json* placed = place(std::move(container));
    open_.push_back(Frame{placed, {}, {}});
    return true;
  }

  bool close() {
    OPSYNC_CHECK(!open_.empty());
    open_.pop_back();
    return true;
  }

  // The path of member `name` of the innermost open object, e.g. "ops[3].hlc.wall_ms".
  std::string path_to(const std::string& name) const {
    std::string path;
    auto append_member = [&](const std::string& member) {
      if (!path.empty()) path += '.';
      path += member;
    };
    for (size_t i = 1; i < open_.size(); ++i) {
      const Json& parent = *open_[i - 1].value;
      if (parent.is_array()) {
        path += '[' + std::to_string(parent.size() - 1) +
                ']';  // an open container is its parent's last
      } else {
        append_member(parent.get_ref<const Json::object_t&>().back().first);
      }
    }
    append_member(name);
    return path;
  }

  Json root_;
  std::vector<Frame> open_;
  std::optional<Error> error_;      // a fault of the text: parsing stops
  std::optional<Error> duplicate_;  // the first repeated member: parsing goes on
};

}  // namespace

Result<Json> parse_strict(std::string_view text) {
  // nlohmann skips a leading byte order mark; the spec does not (TRN-028).
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    return Error(Code::kMalformedJson, "a byte order mark is not JSON text");
  DomBuilder builder;
  const bool parsed =
      Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                      /*strict=*/true, /*ignore_comments=*/false);
  return builder.finish(parsed);
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
