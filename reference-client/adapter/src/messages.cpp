#include "opsync/adapter/messages.h"

#include <nlohmann/json.hpp>

namespace opsync::adapter {
namespace {

using json = nlohmann::json;

// Thrown inside the readers below, turned into an Error naming the member.
struct Bad {
  std::string what;
};

json b64(ByteView bytes) { return to_base64url(bytes); }
json b64(const std::string& text) { return to_base64url(to_bytes(text)); }
json hlc_json(const Hlc& hlc) { return json::array({hlc.wall_ms, hlc.counter}); }
json clocks_json(client::DeviceTime now) {
  return {{"wall_ms", now.wall_ms}, {"monotonic_ms", now.monotonic_ms}};
}

const json& member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) throw Bad{"lacks the member \"" + std::string(name) + "\""};
  return *it;
}
std::string text(const json& j, const char* name) {
  const json& m = member(j, name);
  if (!m.is_string()) throw Bad{"member \"" + std::string(name) + "\" is not a string"};
  return m.get<std::string>();
}
std::string text_or(const json& j, const char* name, std::string fallback = "") {
  return j.contains(name) ? text(j, name) : fallback;
}
uint64_t number(const json& j, const char* name) {
  const json& m = member(j, name);
  if (!m.is_number_unsigned() && !(m.is_number_integer() && m.get<int64_t>() >= 0))
    throw Bad{"member \"" + std::string(name) + "\" is not a non-negative integer"};
  return m.get<uint64_t>();
}
bool flag(const json& j, const char* name, bool fallback) {
  if (!j.contains(name)) return fallback;
  const json& m = j.at(name);
  if (!m.is_boolean()) throw Bad{"member \"" + std::string(name) + "\" is not true or false"};
  return m.get<bool>();
}
Bytes bytes(const json& j, const char* name) {
  std::optional<Bytes> decoded = from_base64url(text(j, name));
  if (!decoded) throw Bad{"member \"" + std::string(name) + "\" is not canonical base64url"};
  return *decoded;
}
Id id_of(const json& value, const std::string& what) {
  if (!value.is_string()) throw Bad{what + " is not a string"};
  std::optional<Id> decoded = fixed_from_base64url<16>(value.get<std::string>());
  if (!decoded) throw Bad{what + " is not an id (22 characters of base64url)"};
  return *decoded;
}
Id id(const json& j, const char* name) {
  return id_of(member(j, name), "member \"" + std::string(name) + "\"");
}
std::vector<Id> ids(const json& j, const char* name) {
  const json& m = member(j, name);
  if (!m.is_array()) throw Bad{"member \"" + std::string(name) + "\" is not a list"};
  std::vector<Id> out;
  for (const json& v : m) out.push_back(id_of(v, "an entry of \"" + std::string(name) + "\""));
  return out;
}
Hlc hlc(const json& j, const char* name) {
  const json& m = member(j, name);
  if (!m.is_array() || m.size() != 2 || !m[0].is_number_unsigned() || !m[1].is_number_unsigned())
    throw Bad{"member \"" + std::string(name) + "\" is not [wall_ms, counter]"};
  return Hlc{m[0].get<uint64_t>(), static_cast<uint32_t>(m[1].get<uint64_t>())};
}
Hash hash(const json& j, const char* name) {
  const Bytes b = bytes(j, name);
  if (b.size() != 32) throw Bad{"member \"" + std::string(name) + "\" is not 32 bytes"};
  Hash h;
  std::copy(b.begin(), b.end(), h.bytes.begin());
  return h;
}
json headers_json(const std::map<std::string, std::string>& headers) {
  json out = json::array();
  for (const auto& [name, value] : headers) out.push_back(json::array({name, value}));
  return out;
}
std::map<std::string, std::string> headers_of(const json& j) {
  std::map<std::string, std::string> out;
  const json& m = member(j, "headers");
  if (!m.is_array()) throw Bad{"member \"headers\" is not a list of [name, value]"};
  for (const json& h : m) {
    if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string())
      throw Bad{"an entry of \"headers\" is not [name, value]"};
    std::string name = h[0].get<std::string>();
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[name] = h[1].get<std::string>();
  }
  return out;
}
json mirror_json(const Mirror& m) {
  return {{"length", m.length}, {"prefix_hash_b64", b64(m.prefix_hash.view())}};
}
Mirror mirror_of(const json& j) { return Mirror{number(j, "length"), hash(j, "prefix_hash_b64")}; }
json ops_json(const std::vector<OpState>& ops) {
  json out = json::array();
  for (const OpState& op : ops)
    out.push_back({{"op_id", to_base64url(op.op_id)}, {"hlc", hlc_json(op.hlc)}});
  return out;
}
std::vector<OpState> ops_of(const json& j, const char* name) {
  std::vector<OpState> out;
  if (!j.contains(name)) return out;
  for (const json& op : j.at(name)) out.push_back(OpState{id(op, "op_id"), hlc(op, "hlc")});
  return out;
}

json command_json(const Command& c) {
  json out = {{"command", c.name}};
  auto maybe = [&](const char* name, const std::string& value) {
    if (!value.empty()) out[name] = value;
  };
  maybe("server_url", c.server_url);
  maybe("password", c.password);
  maybe("passphrase", c.passphrase);
  maybe("token", c.token);
  maybe("key", c.key);
  maybe("name", c.file_name);
  if (c.workspace_id) out["workspace_id"] = to_base64url(*c.workspace_id);
  if (c.token_id) out["token_id"] = to_base64url(*c.token_id);
  if (c.file_id) out["file_id"] = to_base64url(*c.file_id);
  if (c.name == "put") out["value_b64"] = b64(c.value);
  if (c.name == "attach") out["content_b64"] = b64(c.value);
  if (c.name == "invite") out["scope"] = scope_name(c.scope);
  if (c.pick) out["pick"] = *c.pick;
  return out;
}

Command command_of(const json& j) {
  Command c;
  c.name = text(j, "command");
  c.server_url = text_or(j, "server_url");
  c.password = text_or(j, "password");
  c.passphrase = text_or(j, "passphrase");
  c.token = text_or(j, "token");
  c.key = text_or(j, "key");
  c.file_name = text_or(j, "name");
  if (j.contains("workspace_id")) c.workspace_id = id(j, "workspace_id");
  if (j.contains("token_id")) c.token_id = id(j, "token_id");
  if (j.contains("file_id")) c.file_id = id(j, "file_id");
  if (j.contains("value_b64")) c.value = bytes(j, "value_b64");
  if (j.contains("content_b64")) c.value = bytes(j, "content_b64");
  if (j.contains("pick")) c.pick = number(j, "pick");
  if (j.contains("scope")) {
    std::optional<Scope> scope = scope_from_name(text(j, "scope"));
    if (!scope) throw Bad{"member \"scope\" is not read, read_write or owner"};
    c.scope = *scope;
  }
  return c;
}

json state_json(const DeviceState& s) {
  json objects = json::object();
  for (const auto& [key, heads] : s.objects) {
    json list = json::array();
    for (const HeadState& h : heads) {
      json files = json::array();
      for (const FileId& f : h.files) files.push_back(to_base64url(f));
      list.push_back({{"op_id", to_base64url(h.op_id)},
                      {"hlc", hlc_json(h.hlc)},
                      {"deleted", h.deleted},
                      {"value_b64", b64(h.value)},
                      {"files", files}});
    }
    objects[key] = list;
  }
  json files = json::object();
  for (const auto& [file, state] : s.files) {
    json f = {{"held", state.held}, {"kept_after_delete", state.kept_after_delete}};
    if (state.held) f["content_b64"] = b64(state.content);
    files[to_base64url(file)] = f;
  }
  json out = {{"type", "state"},
              {"objects", objects},
              {"files", files},
              {"pending", ops_json(s.pending)},
              {"rejected", ops_json(s.rejected)}};
  if (s.mirror) out["mirror"] = mirror_json(*s.mirror);
  return out;
}

DeviceState state_of(const json& j) {
  DeviceState s;
  const json& objects = member(j, "objects");
  if (!objects.is_object()) throw Bad{"member \"objects\" is not an object"};
  for (const auto& [key, heads] : objects.items()) {
    if (!heads.is_array()) throw Bad{"the heads of key " + key + " are not a list"};
    std::vector<HeadState>& out = s.objects[key];
    for (const json& h : heads)
      out.push_back(HeadState{id(h, "op_id"), hlc(h, "hlc"), flag(h, "deleted", false),
                              bytes(h, "value_b64"), ids(h, "files")});
  }
  const json& files = member(j, "files");
  if (!files.is_object()) throw Bad{"member \"files\" is not an object"};
  for (const auto& [file, state] : files.items()) {
    FileState f;
    f.held = flag(state, "held", false);
    f.kept_after_delete = flag(state, "kept_after_delete", false);
    if (f.held) f.content = bytes(state, "content_b64");
    s.files[id_of(json(file), "a key of \"files\"")] = std::move(f);
  }
  s.pending = ops_of(j, "pending");
  s.rejected = ops_of(j, "rejected");
  if (j.contains("mirror")) s.mirror = mirror_of(j.at("mirror"));
  return s;
}

json result_json(const CommandResult& r) {
  json out = {{"type", "result"}, {"ok", r.ok}};
  if (r.error) out["error"] = {{"code", code_name(r.error->code)}, {"message", r.error->message}};
  if (r.workspace_id) out["workspace_id"] = to_base64url(*r.workspace_id);
  if (!r.passphrase.empty()) out["passphrase"] = r.passphrase;
  if (!r.token.empty()) out["token"] = r.token;
  if (r.token_id) out["token_id"] = to_base64url(*r.token_id);
  if (r.file_id) out["file_id"] = to_base64url(*r.file_id);
  if (!r.committed) out["committed"] = false;
  if (r.mirror) out["mirror"] = mirror_json(*r.mirror);
  return out;
}

CommandResult result_of(const json& j) {
  CommandResult r;
  r.ok = flag(j, "ok", false);
  if (!j.contains("ok")) throw Bad{"lacks the member \"ok\""};
  if (!r.ok) {
    const json& e = member(j, "error");
    const std::string code = text(e, "code");
    r.error =
        Error(code_from_name(code).value_or(Code::kInternalError), text_or(e, "message", code));
    if (!code_from_name(code)) r.error->message = code + ": " + r.error->message;
  }
  if (j.contains("workspace_id")) r.workspace_id = id(j, "workspace_id");
  r.passphrase = text_or(j, "passphrase");
  r.token = text_or(j, "token");
  if (j.contains("token_id")) r.token_id = id(j, "token_id");
  if (j.contains("file_id")) r.file_id = id(j, "file_id");
  r.committed = flag(j, "committed", true);
  if (j.contains("mirror")) r.mirror = mirror_of(j.at("mirror"));
  return r;
}

}  // namespace

json to_json(const Event& event, client::DeviceTime now) {
  json out = std::visit(
      [](const auto& e) -> json {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Start>) {
          return {{"type", "start"},
                  {"protocol", kProtocol},
                  {"device", e.device},
                  {"dir", e.dir},
                  {"restarted", e.restarted},
                  {"options",
                   {{"page_ops_max", e.options.page_ops_max},
                    {"kdf_iterations", e.options.kdf_iterations},
                    {"overlap_work", e.options.overlap_work}}},
                  {"turn_timeout_ms", e.turn_timeout_ms}};
        } else if constexpr (std::is_same_v<T, Command>) {
          json c = command_json(e);
          c["type"] = "command";
          return c;
        } else if constexpr (std::is_same_v<T, HttpAnswer>) {
          return {{"type", "http_response"},
                  {"status", e.response.status},
                  {"headers", headers_json(e.response.headers)},
                  {"body_b64", b64(e.response.body)}};
        } else if constexpr (std::is_same_v<T, HttpFailure>) {
          return {{"type", "http_failure"}, {"what", e.what}, {"message", e.message}};
        } else {
          return {{"type", "wake"}};
        }
      },
      event);
  out["now"] = clocks_json(now);
  return out;
}

json to_json(const Yield& yield) {
  return std::visit(
      [](const auto& y) -> json {
        using T = std::decay_t<decltype(y)>;
        if constexpr (std::is_same_v<T, Ready>) {
          json out = {{"type", "ready"}, {"client", y.client}, {"supports", y.supports}};
          if (y.workspace) out["workspace_id"] = to_base64url(*y.workspace);
          return out;
        } else if constexpr (std::is_same_v<T, SendHttp>) {
          json headers = json::array();
          if (y.request.authorized && !y.token.empty())
            headers.push_back(json::array({"Authorization", "Bearer " + y.token}));
          if (!y.request.content_type.empty())
            headers.push_back(json::array({"Content-Type", y.request.content_type}));
          return {{"type", "request"},
                  {"method", y.request.method},
                  {"target", y.request.target},
                  {"headers", headers},
                  {"body_b64", b64(y.request.body)}};
        } else if constexpr (std::is_same_v<T, Wait>) {
          return {{"type", "wait"}, {"until_monotonic_ms", y.until_monotonic_ms}};
        } else if constexpr (std::is_same_v<T, CommandResult>) {
          return result_json(y);
        } else {
          return state_json(y);
        }
      },
      yield);
}

json to_json(const CommitNote& n) {
  json out = {{"type", "commit"},
              {"op_id", to_base64url(n.op_id)},
              {"key", n.key},
              {"kind", n.kind},
              {"hlc", hlc_json(n.hlc)},
              {"heads_before", [&] {
                 json out = json::array();
                 for (const OpId& id : n.heads_before) out.push_back(to_base64url(id));
                 return out;
               }()}};
  if (n.file_id) out["file_id"] = to_base64url(*n.file_id);
  return out;
}

json random_answer(ByteView bytes) { return {{"type", "random"}, {"bytes_b64", b64(bytes)}}; }
json continue_answer() { return {{"type", "continue"}}; }

namespace {

// Parses LINE as one JSON object and reads it with READ; every way a line can be wrong (not JSON,
// not an object, a member missing or of the wrong type, a rule of the protocol broken) is one
// protocol_error that says which.
template <typename T, typename Read>
Result<T> read_line(std::string_view line, Read&& read) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Error(Code::kProtocolError, "not a JSON object (ADP-001)");
  try {
    return read(j);
  } catch (const Bad& bad) {
    return Error(Code::kProtocolError, "a message that " + bad.what);
  } catch (const json::exception& e) {
    return Error(Code::kProtocolError, std::string("a malformed message: ") + e.what());
  }
}

}  // namespace

Result<AdapterLine> adapter_line_from_json(std::string_view line) {
  return read_line<AdapterLine>(line, [](const json& j) -> Result<AdapterLine> {
    const std::string type = text(j, "type");
    AdapterLine out;
    if (type == "ready") {
      Ready r;
      r.client = text_or(j, "client");
      if (j.contains("supports"))
        for (const json& s : j.at("supports"))
          if (s.is_string()) r.supports.push_back(s.get<std::string>());
      if (j.contains("workspace_id")) r.workspace = id(j, "workspace_id");
      out.yield = r;
    } else if (type == "request") {
      SendHttp s;
      s.request.method = text(j, "method");
      s.request.target = text(j, "target");
      const Bytes body = bytes(j, "body_b64");
      s.request.body = std::string(body.begin(), body.end());
      s.request.authorized = false;
      for (const auto& [name, value] : headers_of(j)) {
        if (name == "authorization") {
          if (value.rfind("Bearer ", 0) != 0)
            throw Bad{"its Authorization header is not \"Bearer TOKEN\""};
          s.token = value.substr(7);
          s.request.authorized = true;
        } else if (name == "content-type") {
          s.request.content_type = value;
        }
      }
      out.yield = s;
    } else if (type == "wait") {
      out.yield = Wait{number(j, "until_monotonic_ms")};
    } else if (type == "result") {
      out.yield = result_of(j);
    } else if (type == "state") {
      out.yield = state_of(j);
    } else if (type == "commit") {
      out.kind = AdapterLine::Kind::kCommit;
      out.commit = CommitNote{id(j, "op_id"), text(j, "key"),         text(j, "kind"),
                              hlc(j, "hlc"),  ids(j, "heads_before"), {}};
      if (j.contains("file_id")) out.commit.file_id = id(j, "file_id");
    } else if (type == "durable") {
      out.kind = AdapterLine::Kind::kDurable;
      out.text = text(j, "step");
    } else if (type == "random") {
      out.kind = AdapterLine::Kind::kRandom;
      out.random_bytes = number(j, "bytes");
      if (out.random_bytes < 1 || out.random_bytes > kRandomBytesMax)
        throw Bad{"asks for " + std::to_string(out.random_bytes) +
                  " random bytes; 1 to 65536 may be asked"};
    } else if (type == "log") {
      out.kind = AdapterLine::Kind::kLog;
      out.text = text(j, "text");
    } else {
      throw Bad{"has the unknown type \"" + type + "\""};
    }
    return out;
  });
}

Result<SimulatorLine> simulator_line_from_json(std::string_view line) {
  return read_line<SimulatorLine>(line, [](const json& j) -> Result<SimulatorLine> {
    SimulatorLine out;
    const std::string type = text(j, "type");
    if (type == "random") {
      out.random = bytes(j, "bytes_b64");
      return out;
    }
    if (type == "continue") {
      out.proceed = true;
      return out;
    }
    const json& now = member(j, "now");
    out.now = client::DeviceTime{number(now, "wall_ms"), number(now, "monotonic_ms")};
    if (type == "start") {
      Start s;
      if (text(j, "protocol") != kProtocol)
        throw Bad{"speaks " + text(j, "protocol") + ", not " + kProtocol};
      s.device = text(j, "device");
      s.dir = text(j, "dir");
      s.restarted = flag(j, "restarted", false);
      if (j.contains("options")) {
        const json& o = j.at("options");
        if (o.contains("page_ops_max"))
          s.options.page_ops_max = static_cast<uint32_t>(number(o, "page_ops_max"));
        if (o.contains("kdf_iterations"))
          s.options.kdf_iterations = static_cast<uint32_t>(number(o, "kdf_iterations"));
        s.options.overlap_work = flag(o, "overlap_work", false);
      }
      if (j.contains("turn_timeout_ms")) s.turn_timeout_ms = number(j, "turn_timeout_ms");
      out.event = s;
    } else if (type == "command") {
      out.event = command_of(j);
    } else if (type == "http_response") {
      HttpAnswer a;
      a.response.status = static_cast<int>(number(j, "status"));
      a.response.headers = headers_of(j);
      const Bytes body = bytes(j, "body_b64");
      a.response.body = std::string(body.begin(), body.end());
      out.event = a;
    } else if (type == "http_failure") {
      out.event = HttpFailure{text(j, "what"), text_or(j, "message")};
    } else if (type == "wake") {
      out.event = Wake{};
    } else {
      throw Bad{"has the unknown type \"" + type + "\""};
    }
    return out;
  });
}

}  // namespace opsync::adapter
