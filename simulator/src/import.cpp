#include "opsync/simulator/import.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"
#include "opsync/protocol/sha256.h"
#include "opsync/server/core.h"
#include "opsync/server/memory_storage.h"
#include "opsync/simulator/bridge.h"
#include "opsync/simulator/trace.h"

namespace opsync::simulator {
namespace {

constexpr const char* kRedacted = "redacted:";

Error bad_line(const std::string& where, const std::string& what) {
  return Error(Code::kInvalidField, where + ": " + what);
}

std::string body_of(const nlohmann::json& message) {
  if (message.contains("body_base64url")) {
    std::optional<Bytes> bytes = from_base64url(message.at("body_base64url").get<std::string>());
    if (!bytes)
      throw nlohmann::json::type_error::create(302, "body_base64url is not base64url", &message);
    return std::string(bytes->begin(), bytes->end());
  }
  return message.value("body", "");
}

void put_body(nlohmann::json& into, const std::string& body) {
  if (body.empty()) return;
  if (is_valid_utf8(body))
    into["body"] = body;
  else
    into["body_base64url"] = to_base64url(to_bytes(body));
}

TracedExchange exchange_from_json(const nlohmann::json& line, uint32_t device) {
  TracedExchange e;
  e.device = device;
  e.sent_ms = line.at("sent_ms").get<uint64_t>();
  e.received_ms = line.at("received_ms").get<uint64_t>();
  const nlohmann::json& request = line.at("request");
  e.method = request.at("method").get<std::string>();
  e.target = request.at("target").get<std::string>();
  e.content_type = request.value("content_type", "");
  e.body = body_of(request);
  e.token = request.value("token", "");
  if (line.contains("response")) {
    const nlohmann::json& response = line.at("response");
    e.answered = true;
    e.status = response.at("status").get<int>();
    e.response_type = response.value("content_type", "");
    e.response_body = body_of(response);
    if (response.contains("server_time_ms"))
      e.server_time_ms = response.at("server_time_ms").get<uint64_t>();
  } else {
    e.error = line.at("error").get<std::string>();
  }
  return e;
}

nlohmann::json exchange_json(const TracedExchange& e) {
  nlohmann::json request = {{"method", e.method}, {"target", e.target}};
  if (!e.content_type.empty()) request["content_type"] = e.content_type;
  put_body(request, e.body);
  if (!e.token.empty()) request["token"] = e.token;
  nlohmann::json out = {{"device", e.device},
                        {"sent_ms", e.sent_ms},
                        {"received_ms", e.received_ms},
                        {"request", request}};
  if (e.answered) {
    nlohmann::json response = {{"status", e.status}};
    if (!e.response_type.empty()) response["content_type"] = e.response_type;
    put_body(response, e.response_body);
    if (e.server_time_ms) response["server_time_ms"] = *e.server_time_ms;
    out["response"] = response;
  } else {
    out["error"] = e.error;
  }
  return out;
}

bool looks_like_id(const std::string& text) {
  return text.size() == 22 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}

// What the field server chose and the core chose instead, learned from two answers to the same
// request: ids that differ, and the secrets whose fingerprints the trace holds.
struct Substitutions {
  std::map<std::string, std::string> ids;      // field id -> the core's
  std::map<std::string, std::string> secrets;  // fingerprint -> the core's secret

  void learn(const nlohmann::json& field, const nlohmann::json& core) {
    if (field.is_object() && core.is_object()) {
      for (const auto& [name, value] : field.items())
        if (core.contains(name)) learn(value, core.at(name));
    } else if (field.is_array() && core.is_array()) {
      for (size_t i = 0; i < std::min(field.size(), core.size()); ++i) learn(field[i], core[i]);
    } else if (field.is_string() && core.is_string()) {
      const std::string f = field.get<std::string>(), c = core.get<std::string>();
      if (f.rfind(kRedacted, 0) == 0) {
        const size_t colon = f.find(':', 9);
        secrets[f.substr(9, colon == std::string::npos ? std::string::npos : colon - 9)] = c;
      } else if (f != c && looks_like_id(f) && looks_like_id(c)) {
        ids[f] = c;
      }
    }
  }

  std::string apply(std::string text) const {
    for (const auto& [field, core] : ids)
      for (size_t at = text.find(field); at != std::string::npos;
           at = text.find(field, at + core.size()))
        text.replace(at, field.size(), core);
    return text;
  }

  // A redacted secret in a request: the core's, when the trace showed where it came from; else
  // a stand-in of the same length (base64url letters), which the core takes as opaque.
  void fill(nlohmann::json& json) const {
    if (json.is_object() || json.is_array()) {
      for (auto& item : json) fill(item);
    } else if (json.is_string() && json.get<std::string>().rfind(kRedacted, 0) == 0) {
      const std::string text = json.get<std::string>();
      const size_t colon = text.find(':', 9);
      const std::string fingerprint =
          text.substr(9, colon == std::string::npos ? std::string::npos : colon - 9);
      auto it = secrets.find(fingerprint);
      if (it != secrets.end()) {
        json = it->second;
      } else {
        const size_t length = colon == std::string::npos ? 0 : std::stoul(text.substr(colon + 1));
        json = std::string(std::min<size_t>(length, 1 << 20), 'A');
      }
    }
  }
};

nlohmann::json parse_json(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, false);
}

// The server's clock minus the device's, from the device's answers that said the server's time
// (OpSync-Server-Time-Ms, or the body of /v1/info in older traces) against the middle of the
// round trip, for each exchange: the latest estimate before it, else the first after it, else 0.
std::vector<int64_t> clock_offsets(const ImportedTrace& trace) {
  std::vector<int64_t> out(trace.exchanges.size(), 0);
  for (uint32_t d = 0; d < trace.devices.size(); ++d) {
    std::optional<int64_t> current, first;
    std::vector<size_t> before_first;
    for (size_t i = 0; i < trace.exchanges.size(); ++i) {
      const TracedExchange& e = trace.exchanges[i];
      if (e.device != d) continue;
      std::optional<uint64_t> server_time_ms = e.answered ? e.server_time_ms : std::nullopt;
      if (!server_time_ms && e.answered && e.status == 200 &&
          endpoint_of_target(e.method, e.target) == EndpointId::kInfo) {
        Result<InfoResponse> info = parse_message<InfoResponse>(e.response_body);
        if (info.ok()) server_time_ms = info->server_time_ms;
      }
      if (server_time_ms) {
        current = static_cast<int64_t>(*server_time_ms) -
                  static_cast<int64_t>((e.sent_ms + e.received_ms) / 2);
        if (!first) first = current;
      }
      if (current)
        out[i] = *current;
      else
        before_first.push_back(i);
    }
    for (size_t i : before_first) out[i] = first.value_or(0);
  }
  return out;
}

uint64_t shifted(uint64_t clock_ms, int64_t offset) {
  const int64_t t = static_cast<int64_t>(clock_ms) + offset;
  return t < 0 ? 0 : static_cast<uint64_t>(t);
}

}  // namespace

Result<ImportedTrace> read_client_traces(const std::vector<std::string>& paths) {
  ImportedTrace out;
  std::map<std::string, uint32_t> index;
  auto device_of = [&](const std::string& name) {
    auto [it, added] = index.emplace(name, static_cast<uint32_t>(out.devices.size()));
    if (added) out.devices.push_back(name);
    return it->second;
  };
  // Each device's lines in order, device after device: the replay orders them by time.
  std::vector<std::vector<TracedExchange>> exchanges;
  for (const std::string& path : paths) {
    std::ifstream in(path);
    if (!in) return Error(Code::kNotFound, "cannot read " + path);
    std::string text;
    bool header = false;
    for (size_t number = 1; std::getline(in, text); ++number) {
      const std::string where = path + " line " + std::to_string(number);
      if (text.empty()) continue;
      const nlohmann::json line = parse_json(text);
      if (line.is_discarded() || !line.is_object()) return bad_line(where, "is not a JSON object");
      try {
        const std::string type = line.at("type").get<std::string>();
        const uint32_t device = device_of(line.at("device").get<std::string>());
        if (device >= exchanges.size()) exchanges.resize(device + 1);
        if (type == "trace") {
          const std::string format = line.at("format").get<std::string>();
          if (format != kClientTraceFormat)
            return bad_line(where, "is a trace of format " + format + "; opsync-sim reads " +
                                       kClientTraceFormat);
          header = true;
        } else if (!header) {
          return bad_line(
              where, "comes before the trace's first line (not a trace of opsync-client --trace)");
        } else if (type == "exchange") {
          exchanges[device].push_back(exchange_from_json(line, device));
        } else if (type == "commit") {
          TracedCommit c;
          c.device = device;
          c.clock_ms = line.at("clock_ms").get<uint64_t>();
          c.command = line.at("command").get<std::string>();
          for (const nlohmann::json& op : line.at("ops"))
            c.ops.push_back(op.at("id").get<std::string>());
          out.commits.push_back(std::move(c));
        } else {
          return bad_line(where, "has an unknown type \"" + type + "\"");
        }
      } catch (const nlohmann::json::exception& e) {
        return bad_line(where, std::string("is damaged: ") + e.what());
      }
    }
    if (!header)
      return Error(Code::kInvalidField, path + " holds no trace of opsync-client --trace");
  }
  if (out.devices.empty()) return Error(Code::kInvalidField, "no traces to import");
  if (out.devices.size() > 64)
    return Error(Code::kInvalidField, "more than 64 devices in the traces");
  for (auto& list : exchanges)
    for (TracedExchange& e : list) out.exchanges.push_back(std::move(e));
  return out;
}

nlohmann::json to_json(const ImportedTrace& trace) {
  nlohmann::json exchanges = nlohmann::json::array(), commits = nlohmann::json::array();
  for (const TracedExchange& e : trace.exchanges) exchanges.push_back(exchange_json(e));
  for (const TracedCommit& c : trace.commits)
    commits.push_back(
        {{"device", c.device}, {"clock_ms", c.clock_ms}, {"command", c.command}, {"ops", c.ops}});
  return {{"format", kClientTraceFormat},
          {"devices", trace.devices},
          {"exchanges", exchanges},
          {"commits", commits}};
}

Result<ImportedTrace> imported_trace_from_json(const nlohmann::json& json) {
  ImportedTrace out;
  try {
    if (json.at("format").get<std::string>() != kClientTraceFormat)
      return Error(Code::kUnsupportedFormat, "format", "imported traces of another format");
    out.devices = json.at("devices").get<std::vector<std::string>>();
    if (out.devices.empty() || out.devices.size() > 64)
      return Error(Code::kInvalidField, "imported: 1 to 64 devices");
    for (const nlohmann::json& e : json.at("exchanges")) {
      const uint32_t device = e.at("device").get<uint32_t>();
      if (device >= out.devices.size())
        return Error(Code::kInvalidField, "imported: an exchange of no device");
      out.exchanges.push_back(exchange_from_json(e, device));
    }
    for (const nlohmann::json& c : json.at("commits")) {
      TracedCommit commit;
      commit.device = c.at("device").get<uint32_t>();
      if (commit.device >= out.devices.size())
        return Error(Code::kInvalidField, "imported: a commit of no device");
      commit.clock_ms = c.at("clock_ms").get<uint64_t>();
      commit.command = c.at("command").get<std::string>();
      commit.ops = c.at("ops").get<std::vector<std::string>>();
      out.commits.push_back(std::move(commit));
    }
  } catch (const nlohmann::json::exception& e) {
    return Error(Code::kInvalidField, std::string("imported: ") + e.what());
  }
  return out;
}

Config imported_config(const ImportedTrace& trace, uint64_t seed) {
  Config config = default_config(seed);
  config.devices = static_cast<uint32_t>(trace.devices.size());
  config.ops = static_cast<uint32_t>(trace.commits.size());
  config.faults = *named_profile("none");
  return config;
}

namespace {

// One line of the traces in the order the replay takes it: an exchange or a commit.
struct ReplayStep {
  uint64_t at_ms;
  uint32_t device;
  size_t order;
  bool commit;
  size_t index;
};

// The server handled each request when its answer says (OpSync-Server-Time-Ms); an exchange
// without that is placed at the middle of its round trip, moved to the server's clock. The
// estimate alone misorders two devices' requests a few milliseconds apart when round trips
// are slow, as on a loaded machine.
std::vector<ReplayStep> replay_steps(const ImportedTrace& trace) {
  const std::vector<int64_t> offsets = clock_offsets(trace);
  std::vector<ReplayStep> steps;
  std::vector<uint64_t> last(trace.devices.size(), 0);  // each device's steps stay in their order
  std::vector<int64_t> device_offset(trace.devices.size(), 0);
  for (size_t i = 0; i < trace.exchanges.size(); ++i) {
    const TracedExchange& e = trace.exchanges[i];
    uint64_t at = e.answered && e.server_time_ms
                      ? *e.server_time_ms
                      : shifted((e.sent_ms + e.received_ms) / 2, offsets[i]);
    at = std::max(at, last[e.device]);
    last[e.device] = at;
    device_offset[e.device] = offsets[i];
    steps.push_back(ReplayStep{at, e.device, i, false, i});
  }
  for (size_t i = 0; i < trace.commits.size(); ++i) {
    const TracedCommit& c = trace.commits[i];
    steps.push_back(ReplayStep{shifted(c.clock_ms, device_offset[c.device]), c.device,
                               trace.exchanges.size() + i, true, i});
  }
  std::stable_sort(steps.begin(), steps.end(), [](const ReplayStep& a, const ReplayStep& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.order < b.order;
  });
  return steps;
}

// The field server's configuration, as its /v1/info said.
server::ServerConfig field_server_config(const ImportedTrace& trace) {
  server::ServerConfig server_config;
  for (const TracedExchange& e : trace.exchanges)
    if (e.answered && e.status == 200 &&
        endpoint_of_target(e.method, e.target) == EndpointId::kInfo) {
      Result<InfoResponse> info = parse_message<InfoResponse>(e.response_body);
      if (!info.ok()) continue;
      if (info->block_size) server_config.block_size = info->block_size;
      if (info->max_clock_skew_ms) server_config.max_clock_skew_ms = info->max_clock_skew_ms;
      server_config.upload_expiry_ms =
          std::max(info->upload_expiry_ms, server_config.upload_expiry_ms);
      server_config.file_retention_ms =
          std::max(info->file_retention_ms, server_config.file_retention_ms);
      server_config.limits = info->limits;
      break;
    }
  return server_config;
}

// The traces played against the reference core, step by step, with the events, the figures and
// the answers that differ from the field server's.
class Replay {
 public:
  Replay(const ImportedTrace& trace, const Config& config, const RunOptions& options)
      : trace_(trace),
        server_config_(field_server_config(trace)),
        random_(config.seed),
        core_(server_config_, storage_, random_),
        events_(options.keep_events, options.keep_bodies) {
    result_.config = config;
  }

  void commit(const TracedCommit& c, uint64_t now) {
    std::string detail = c.command;
    for (const std::string& op : c.ops) detail += " op " + op.substr(0, 8);
    TraceEvent e{now, node(c.device), "edit", detail, c.clock_ms, 0, "", "", 0};
    std::string bytes = c.command;
    for (const std::string& op : c.ops) bytes += " " + op;
    events_.add(std::move(e), to_bytes(bytes));
    result_.figures.edits += 1;
  }

  void exchange(const TracedExchange& x, uint64_t now) {
    const uint64_t id = ++exchange_id_;
    std::string token;
    bool token_before_traces = false;
    const client::HttpRequest request = core_request(x, token, token_before_traces);
    const std::string what = request.method + " " + request.target;
    Bytes sent = to_bytes(what + "\n" + request.body);
    events_.add(TraceEvent{now, node(x.device), "send", what, x.sent_ms, id, "server", "", 0},
                sent);
    result_.figures.requests += 1;
    result_.figures.bytes_to_server += request.body.size();
    if (x.answered && token_before_traces) {
      // The token was issued before the traces begin (a device traced from some command after
      // its init): the workspace, its log and its keys as the field server held them are not in
      // the traces, so the core cannot be asked the same question. The field's answer stands.
      result_.figures.answers_not_compared += 1;
      result_.figures.bytes_from_server += x.response_body.size();
      events_.add(TraceEvent{now, node(x.device), "deliver",
                             std::to_string(x.status) + " for " + what +
                                 " (not compared: its token was issued before the traces begin)",
                             x.received_ms, id, "server", "", 0},
                  to_bytes(std::to_string(x.status) + "\n" + x.response_body));
      return;
    }
    if (!x.answered) {
      // The field request got no answer; whether it reached the server is unknown, so it is
      // not sent here either.
      events_.add(TraceEvent{now, node(x.device), "lost", "no answer in the field: " + x.error,
                             x.received_ms, id, "server", "", 0},
                  to_bytes(x.error));
      result_.figures.messages_lost += 1;
      return;
    }
    compare_answer(x, request, token, what, id, now);
  }

  RunResult finish(const RunOptions& options) {
    if (!differences_.empty()) {
      Violation v;
      v.checker = "field_answers";
      v.time_ms = first_difference_ms_;
      v.nodes = {differing_nodes_.front(), "server"};
      v.message =
          differences_.front() +
          (differences_.size() > 1 ? " (" + std::to_string(differences_.size()) + " answers differ)"
                                   : "");
      result_.violations.push_back(std::move(v));
    }
    result_.figures.events = events_.event_count();
    result_.trace_hash = events_.hash();
    if (options.keep_decisions) result_.event_digests = events_.digests();
    if (options.keep_events) result_.events = events_.events();
    return std::move(result_);
  }

 private:
  std::string node(uint32_t d) const {
    return "device-" + std::to_string(d) + " (" + trace_.devices[d] + ")";
  }

  // The field request with the core's ids and secrets in place of the field server's; the token,
  // when the trace showed where it came from.
  client::HttpRequest core_request(const TracedExchange& x, std::string& token,
                                   bool& token_before_traces) const {
    client::HttpRequest request;
    request.method = x.method;
    request.target = substitutions_.apply(x.target);
    request.content_type = x.content_type;
    request.body = substitutions_.apply(x.body);
    if (x.content_type.rfind("application/json", 0) == 0 &&
        request.body.find(kRedacted) != std::string::npos) {
      nlohmann::json body = parse_json(request.body);
      if (!body.is_discarded()) {
        substitutions_.fill(body);
        request.body = body.dump();
      }
    }
    if (!x.token.empty()) {
      auto it = substitutions_.secrets.find(x.token);
      if (it != substitutions_.secrets.end())
        token = it->second;
      else
        token_before_traces = true;
    }
    request.authorized = !token.empty();
    return request;
  }

  // The core's answer to the request, against the field server's.
  void compare_answer(const TracedExchange& x, const client::HttpRequest& request,
                      const std::string& token, const std::string& what, uint64_t id,
                      uint64_t now) {
    const client::HttpResponse response =
        to_client_response(core_.handle(to_server_request(request, token), now));
    result_.figures.bytes_from_server += response.body.size();
    events_.add(TraceEvent{now, "server", "arrive", what + " -> " + std::to_string(response.status),
                           now, id, node(x.device), "", 0},
                to_bytes(std::to_string(response.status) + "\n" + response.body));
    const nlohmann::json field_json = parse_json(x.response_body),
                         core_json = parse_json(response.body);
    if (!field_json.is_discarded() && !core_json.is_discarded())
      substitutions_.learn(field_json, core_json);
    std::string delivered = std::to_string(x.status) + " for " + what;
    if (response.status != x.status) {
      delivered += " (the reference core answers " + std::to_string(response.status) + ")";
      if (differences_.empty()) first_difference_ms_ = now;
      differences_.push_back("the field server answered " + std::to_string(x.status) + " to " +
                             trace_.devices[x.device] + "'s " + what +
                             " where the reference core answers " +
                             std::to_string(response.status));
      differing_nodes_.push_back(node(x.device));
    }
    events_.add(
        TraceEvent{now, node(x.device), "deliver", delivered, x.received_ms, id, "server", "", 0},
        to_bytes(std::to_string(x.status) + "\n" + x.response_body));
  }

  const ImportedTrace& trace_;
  server::ServerConfig server_config_;
  server::MemoryStorage storage_;
  SeededRandom random_;
  server::ServerCore core_;
  Trace events_;
  Substitutions substitutions_;
  RunResult result_;
  std::vector<std::string> differences_;
  std::vector<std::string> differing_nodes_;
  uint64_t first_difference_ms_ = 0;
  uint64_t exchange_id_ = 0;
};

}  // namespace

RunResult replay_imported(const ImportedTrace& trace, const Config& config,
                          const RunOptions& options) {
  const std::vector<ReplayStep> steps = replay_steps(trace);
  Replay replay(trace, config, options);
  uint64_t now = steps.empty() ? 0 : steps.front().at_ms;
  for (const ReplayStep& step : steps) {
    now = std::max(now, step.at_ms);
    if (step.commit)
      replay.commit(trace.commits[step.index], now);
    else
      replay.exchange(trace.exchanges[step.index], now);
  }
  return replay.finish(options);
}

}  // namespace opsync::simulator
