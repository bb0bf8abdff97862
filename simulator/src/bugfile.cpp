#include "opsync/simulator/bugfile.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "opsync/protocol/sha256.h"

namespace opsync::simulator {
namespace {

#ifndef OPSYNC_VERSION
#define OPSYNC_VERSION "0.1.0"
#endif

// The event kinds that make up the fault schedule.
const std::set<std::string>& fault_kinds() {
  static const std::set<std::string> kinds = {
      "partition", "crash",   "restart", "restore", "backup", "clock-step", "clock-freeze",
      "clock-set", "revoked", "join",    "lost",    "reset",  "refused",    "arrive-again"};
  return kinds;
}

std::string digests_hex(const std::vector<uint64_t>& digests) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(digests.size() * 16);
  for (uint64_t d : digests)
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(d >> shift) & 0xF]);
  return out;
}

std::optional<std::vector<uint64_t>> digests_from_hex(const std::string& text) {
  if (text.size() % 16 != 0) return std::nullopt;
  std::vector<uint64_t> out;
  for (size_t at = 0; at < text.size(); at += 16) {
    uint64_t value = 0;
    for (size_t i = at; i < at + 16; ++i) {
      const char c = text[i];
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (digit < 0) return std::nullopt;
      value = value << 4 | static_cast<uint64_t>(digit);
    }
    out.push_back(value);
  }
  return out;
}

Error damaged(const std::string& what) { return Error(Code::kInvalidField, "a bug file " + what); }

// The members a person edits on purpose (a scenario's story and the verdicts it expects): the
// checksum leaves them out, and covers everything a replay depends on.
const char* const kEditableMembers[] = {"checksum", "description", "expect"};

// SHA-256 of the bug file's content without its editable members, in nlohmann's canonical dump
// (members sorted, no spaces): what `checksum` records, so that a file changed after it was written
// (a trace hash, a decision stream cut short, an edited configuration) is told apart from a
// change of the code before anything is replayed.
std::string content_checksum(nlohmann::json json) {
  for (const char* member : kEditableMembers) json.erase(member);
  const std::string canonical = json.dump();
  return hash_hex(sha256(std::string_view(canonical)));
}

// nlohmann's messages start with its own tag ("[json.exception.type_error.302] "): what follows
// is the part a reader of the bug file can act on.
std::string json_error_text(const nlohmann::json::exception& e) {
  const std::string what = e.what();
  const size_t tag_end = what.find("] ");
  return tag_end == std::string::npos ? what : what.substr(tag_end + 2);
}

// JSON as people read it in a diff: objects one member a line, arrays of numbers and strings
// on one line.
void write_readable(const nlohmann::ordered_json& json, int depth, std::string& out) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  const std::string inner(static_cast<size_t>(depth + 1) * 2, ' ');
  if (json.is_object() && !json.empty()) {
    out += "{\n";
    size_t i = 0;
    for (const auto& [name, value] : json.items()) {
      out += inner + nlohmann::ordered_json(name).dump() + ": ";
      write_readable(value, depth + 1, out);
      out += ++i < json.size() ? ",\n" : "\n";
    }
    out += indent + "}";
  } else if (json.is_array() && !json.empty() &&
             std::any_of(json.begin(), json.end(),
                         [](const nlohmann::ordered_json& v) { return v.is_structured(); })) {
    out += "[\n";
    for (size_t i = 0; i < json.size(); ++i) {
      out += inner;
      write_readable(json[i], depth + 1, out);
      out += i + 1 < json.size() ? ",\n" : "\n";
    }
    out += indent + "]";
  } else {
    std::string flat = json.dump();
    if (json.is_array()) {
      // Spaces after commas, outside strings.
      std::string spaced;
      bool in_string = false, escaped = false;
      for (const char c : flat) {
        spaced += c;
        if (escaped)
          escaped = false;
        else if (in_string && c == '\\')
          escaped = true;
        else if (c == '"')
          in_string = !in_string;
        else if (c == ',' && !in_string)
          spaced += ' ';
      }
      flat = std::move(spaced);
    }
    out += flat;
  }
}

}  // namespace

BugFile bug_file_of(const RunResult& result) {
  BugFile bug;
  bug.simulator_version = OPSYNC_VERSION;
  bug.config = result.config;
  bug.violations = result.violations;
  bug.trace_hash = result.trace_hash;
  bug.event_digests = result.event_digests;
  bug.decisions = result.decisions;
  bug.server = result.recording;
  if (!result.adapter_command.empty())
    bug.client = BugFile::ClientUnderTest{result.adapter_command, result.reference_devices,
                                          result.trace_replayable};
  for (const TraceEvent& e : result.events)
    if (fault_kinds().count(e.kind)) {
      TraceEvent fault = e;
      fault.body.clear();
      bug.schedule.push_back(std::move(fault));
    }
  return bug;
}

BugFile error_bug_file(const Config& config, std::string error) {
  BugFile bug;
  bug.simulator_version = OPSYNC_VERSION;
  bug.config = config;
  bug.error = std::move(error);
  return bug;
}

nlohmann::json to_json(const BugFile& bug) {
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : bug.violations)
    violations.push_back({{"checker", v.checker},
                          {"time_ms", v.time_ms},
                          {"nodes", v.nodes},
                          {"ops", v.ops},
                          {"message", v.message}});
  nlohmann::json schedule = nlohmann::json::array();
  for (const TraceEvent& e : bug.schedule)
    schedule.push_back(
        {{"time_ms", e.time_ms}, {"node", e.node}, {"kind", e.kind}, {"detail", e.detail}});
  nlohmann::json decisions = nlohmann::json::object();
  for (const auto& [stream, values] : bug.decisions) decisions[stream] = values;
  nlohmann::json out = {{"format", kBugFormat},
                        {"simulator", {{"name", "opsync-sim"}, {"version", bug.simulator_version}}},
                        {"protocol", protocol_name(bug.config.protocol)},
                        {"variant", variant_name(bug.config.variant)},
                        {"seed", bug.config.seed},
                        {"checker", bug.checker()},
                        {"violations", violations},
                        {"trace_hash", hash_hex(bug.trace_hash)},
                        {"event_count", bug.event_digests.size()},
                        {"config", to_json(bug.config)},
                        {"schedule", schedule},
                        {"decisions", decisions},
                        {"event_digests", digests_hex(bug.event_digests)}};
  if (!bug.description.empty()) out["description"] = bug.description;
  if (bug.expect) out["expect"] = *bug.expect;
  if (bug.server) {
    nlohmann::json answers = nlohmann::json::array();
    for (const RecordedAnswer& a : bug.server->answers) {
      nlohmann::json answer = {{"request", a.request}, {"status", a.status}};
      if (!a.content_type.empty()) answer["content_type"] = a.content_type;
      // Text as it is; anything else (a chunk's ciphertext) in base64url.
      if (is_valid_utf8(a.body))
        answer["body"] = a.body;
      else
        answer["body_base64url"] = to_base64url(to_bytes(a.body));
      answers.push_back(std::move(answer));
    }
    out["server"] = {{"url", bug.server->url}, {"answers", answers}};
  }
  if (bug.imported) out["imported"] = to_json(*bug.imported);
  if (bug.error) out["error"] = *bug.error;
  if (bug.client)
    out["client"] = {{"adapter", bug.client->adapter},
                     {"reference_devices", bug.client->reference_devices},
                     {"replay", bug.client->trace_replayable ? "trace" : "verdict"}};
  return out;
}

namespace {

// What a bug file must be before its members are read: of this format, with only known members
// and every required one, and unchanged since opsync-sim wrote it.
Status check_bug_file_shape(const nlohmann::json& json) {
  if (!json.is_object()) return damaged("must be a JSON object");
  const auto format = json.find("format");
  if (format == json.end() || !format->is_string())
    return damaged("has no \"format\" member: not a bug file of opsync-sim");
  if (*format != kBugFormat)
    return Error(Code::kUnsupportedFormat, "format",
                 "the bug file's format is " + format->get<std::string>() +
                     "; this opsync-sim reads " + std::string(kBugFormat) +
                     (format->get<std::string>().rfind("opsync-bug/", 0) == 0
                          ? " (a newer or older simulator wrote it)"
                          : ""));
  static const std::set<std::string> known = {
      "format",   "simulator",  "protocol",      "variant",     "seed",
      "checker",  "violations", "trace_hash",    "event_count", "config",
      "schedule", "decisions",  "event_digests", "description", "expect",
      "server",   "imported",   "error",         "client",      "checksum"};
  for (const auto& [name, value] : json.items())
    if (!known.count(name)) return damaged("has an unknown member \"" + name + "\"");
  for (const char* required :
       {"simulator", "protocol", "seed", "checker", "violations", "trace_hash", "event_count",
        "config", "schedule", "decisions", "event_digests"})
    if (!json.contains(required)) return damaged("has no \"" + std::string(required) + "\" member");
  if (const auto checksum = json.find("checksum"); checksum != json.end()) {
    if (!checksum->is_string() || *checksum != content_checksum(json))
      return damaged(
          "was changed after opsync-sim wrote it: its checksum does not match its content, so a "
          "replay "
          "would say nothing about the code (only \"description\" and \"expect\" may be edited; to "
          "keep "
          "another edit on purpose, delete the \"checksum\" member)");
  }
  return Status::ok_status();
}

// The run a bug file records: its configuration and what it found (violations, trace hash,
// event digests). Throws nlohmann::json::exception on a member of the wrong type.
Status read_run_and_verdict(const nlohmann::json& json, BugFile& bug) {
  bug.simulator_version = json.at("simulator").at("version").get<std::string>();
  Result<Config> config = config_from_json(json.at("config"));
  if (!config.ok()) return damaged("has a bad configuration: " + config.error().message);
  bug.config = *config;
  if (json.at("seed").get<uint64_t>() != bug.config.seed)
    return damaged("names another seed than its configuration");
  if (json.at("protocol").get<std::string>() != protocol_name(bug.config.protocol))
    return damaged("names another protocol than its configuration");
  for (const nlohmann::json& v : json.at("violations"))
    bug.violations.push_back(
        Violation{v.at("checker").get<std::string>(), v.at("time_ms").get<uint64_t>(),
                  v.at("nodes").get<std::vector<std::string>>(),
                  v.at("ops").get<std::vector<std::string>>(), v.at("message").get<std::string>()});
  if (json.at("checker").get<std::string>() != bug.checker())
    return damaged("names a checker that is not its first violation's");
  const std::optional<Bytes> hash = from_hex(json.at("trace_hash").get<std::string>());
  if (!hash || hash->size() != 32)
    return damaged("has a trace_hash that is not 64 hexadecimal digits");
  std::copy(hash->begin(), hash->end(), bug.trace_hash.bytes.begin());
  std::optional<std::vector<uint64_t>> digests =
      digests_from_hex(json.at("event_digests").get<std::string>());
  if (!digests) return damaged("has event_digests that are not 16 hexadecimal digits per event");
  bug.event_digests = std::move(*digests);
  if (json.at("event_count").get<uint64_t>() != bug.event_digests.size())
    return damaged("counts another number of events than it has digests");
  return Status::ok_status();
}

// The fault schedule and the decisions of every stream, which a replay draws again.
Status read_schedule_and_decisions(const nlohmann::json& json, BugFile& bug) {
  for (const nlohmann::json& e : json.at("schedule")) {
    TraceEvent event;
    event.time_ms = e.at("time_ms").get<uint64_t>();
    event.node = e.at("node").get<std::string>();
    event.kind = e.at("kind").get<std::string>();
    event.detail = e.at("detail").get<std::string>();
    bug.schedule.push_back(std::move(event));
  }
  for (const auto& [stream, values] : json.at("decisions").items()) {
    if (!values.is_array())
      return damaged("has decisions of stream " + stream + " that are not a list");
    std::vector<uint64_t>& out = bug.decisions[stream];
    for (const nlohmann::json& v : values) {
      if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        return damaged("has a decision of stream " + stream +
                       " that is not a non-negative integer");
      out.push_back(v.get<uint64_t>());
    }
  }
  return Status::ok_status();
}

// A real server's recorded answers (`server`).
Status read_server_recording(const nlohmann::json& server, BugFile& bug) {
  ServerRecording recording;
  recording.url = server.at("url").get<std::string>();
  for (const nlohmann::json& a : server.at("answers")) {
    RecordedAnswer answer;
    answer.request = a.at("request").get<std::string>();
    answer.status = a.at("status").get<int>();
    answer.content_type = a.value("content_type", "");
    if (a.contains("body_base64url")) {
      std::optional<Bytes> body = from_base64url(a.at("body_base64url").get<std::string>());
      if (!body) return damaged("has a recorded answer whose body_base64url is not base64url");
      answer.body = std::string(body->begin(), body->end());
    } else {
      answer.body = a.at("body").get<std::string>();
    }
    recording.answers.push_back(std::move(answer));
  }
  bug.server = std::move(recording);
  if (Status ok = validate_for_external_server(bug.config); !ok.ok())
    return damaged("records a server's answers for a configuration that " + ok.error().message);
  return Status::ok_status();
}

// The client under test behind the adapter (`client`).
Status read_client_under_test(const nlohmann::json& client, BugFile& bug) {
  BugFile::ClientUnderTest under_test;
  under_test.adapter = client.at("adapter").get<std::string>();
  if (under_test.adapter.empty()) return damaged("names an empty adapter command");
  for (const nlohmann::json& d : client.at("reference_devices")) {
    const uint32_t device = d.get<uint32_t>();
    if (device >= bug.config.devices + bug.config.faults.joins)
      return damaged("names reference device " + std::to_string(device) +
                     ", which its configuration does not have");
    under_test.reference_devices.insert(device);
  }
  const std::string replay = client.at("replay").get<std::string>();
  if (replay != "trace" && replay != "verdict")
    return damaged("has a client replay that is not trace or verdict");
  under_test.trace_replayable = replay == "trace";
  bug.client = std::move(under_test);
  return Status::ok_status();
}

// The optional members: the story, an error, the expected verdicts, a server's answers, imported
// traces, the client under test.
Status read_optional_members(const nlohmann::json& json, BugFile& bug) {
  if (json.contains("description")) bug.description = json.at("description").get<std::string>();
  if (json.contains("error")) {
    bug.error = json.at("error").get<std::string>();
    if (!bug.violations.empty() || !bug.event_digests.empty())
      return damaged("records an error and also a verdict: a run that errs has none");
  }
  if (json.contains("expect")) bug.expect = json.at("expect");
  if (json.contains("server"))
    if (Status ok = read_server_recording(json.at("server"), bug); !ok.ok()) return ok;
  if (json.contains("imported")) {
    Result<ImportedTrace> imported = imported_trace_from_json(json.at("imported"));
    if (!imported.ok()) return damaged("has " + imported.error().message);
    if (imported->devices.size() != bug.config.devices)
      return damaged("has imported traces of another number of devices than its configuration");
    bug.imported = std::move(*imported);
  }
  if (json.contains("client"))
    if (Status ok = read_client_under_test(json.at("client"), bug); !ok.ok()) return ok;
  return Status::ok_status();
}

}  // namespace

Result<BugFile> bug_file_from_json(const nlohmann::json& json) {
  if (Status ok = check_bug_file_shape(json); !ok.ok()) return ok.error();
  BugFile bug;
  try {
    if (Status ok = read_run_and_verdict(json, bug); !ok.ok()) return ok.error();
    if (Status ok = read_schedule_and_decisions(json, bug); !ok.ok()) return ok.error();
    if (Status ok = read_optional_members(json, bug); !ok.ok()) return ok.error();
  } catch (const nlohmann::json::exception& e) {
    return damaged("is damaged: " + json_error_text(e));
  }
  return bug;
}

Result<BugFile> load_bug_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(Code::kNotFound, "cannot read " + path);
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Error(Code::kMalformedJson, path + " is not well-formed JSON");
  Result<BugFile> bug = bug_file_from_json(json);
  if (!bug.ok())
    return Error(bug.error().code, bug.error().field, path + ": " + bug.error().message);
  return bug;
}

Status save_bug_file(const BugFile& bug, const std::string& path) {
  // The members in the order a reader wants them: what it is, what failed, then the details.
  nlohmann::json json = to_json(bug);
  json["checksum"] = content_checksum(json);
  nlohmann::ordered_json ordered;
  for (const char* name : {"format", "simulator", "description", "protocol", "variant", "seed",
                           "error", "checker", "violations", "trace_hash", "event_count", "expect",
                           "config", "schedule", "decisions", "event_digests"})
    if (json.contains(name)) ordered[name] = nlohmann::ordered_json::parse(json[name].dump());
  for (const char* name : {"client", "server", "imported", "checksum"})
    if (json.contains(name)) ordered[name] = nlohmann::ordered_json::parse(json[name].dump());
  std::string text;
  write_readable(ordered, 0, text);
  std::ofstream out(path);
  out << text << "\n";
  if (!out) return Error(Code::kInternalError, "cannot write " + path);
  return {};
}

Replay replay(const BugFile& bug, bool keep_bodies, const std::string& server_url,
              const RunOptions* limits) {
  RunOptions options;
  if (limits) {
    options.events_max = limits->events_max;
    options.give_up = limits->give_up;
    options.clients = limits->clients;
    options.adapter_command = limits->adapter_command;
    options.reference_devices = limits->reference_devices;
    options.turn_timeout_ms = limits->turn_timeout_ms;
  }
  OPSYNC_CHECK_MSG(!bug.client || options.clients,
                   "a client's bug file replays through its adapter's channels");
  if (bug.client) options.reference_devices = bug.client->reference_devices;
  options.server_url = server_url;
  if (server_url.empty() && bug.server) options.recording = &*bug.server;
  options.replay = &bug.decisions;
  options.keep_decisions = true;
  options.keep_events = true;
  options.keep_bodies = keep_bodies;
  Replay out;
  out.result =
      bug.imported ? replay_imported(*bug.imported, bug.config, options) : run(bug.config, options);
  out.same_trace = out.result.trace_hash == bug.trace_hash;
  // The same checkers, in whatever order: a bug file names the checker it is about first.
  std::set<std::string> before, after;
  for (const Violation& v : bug.violations) before.insert(v.checker);
  for (const Violation& v : out.result.violations) after.insert(v.checker);
  out.same_verdict = before == after;
  if (!out.same_trace) {
    const std::vector<uint64_t>& now = out.result.event_digests;
    size_t i = 0;
    while (i < now.size() && i < bug.event_digests.size() && now[i] == bug.event_digests[i]) ++i;
    out.parted_at = i;
  }
  return out;
}

}  // namespace opsync::simulator
