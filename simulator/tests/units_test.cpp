// The simulator's parts on their own: node clocks, decision streams and their replay, the
// plaintext scanner, the files checker's one exception, configurations and fault files (bad input
// gets an error naming the member), and the request and response bridge between the client and the
// server core.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "../src/clock.h"
#include "../src/plaintext.h"
#include "../src/world.h"
#include "opsync/simulator/bridge.h"
#include "opsync/simulator/config.h"
#include "opsync/simulator/decisions.h"
#include "opsync/simulator/run.h"
#include "test_printers.h"

using namespace opsync;
using namespace opsync::simulator;

BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<std::string>)
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<uint64_t>)

BOOST_AUTO_TEST_SUITE(units)

namespace {

// What an EndState refers to, held here so that a test sets only what its checker reads.
struct EndStateParts {
  Config config;
  std::vector<EditRecord> edits;
  std::map<OpId, size_t> edit_by_op;
  std::vector<SyncRecord> syncs;
  std::map<FileId, Bytes> contents;
  std::map<FileId, uint32_t> attached_by;
  std::map<FileId, std::set<uint32_t>> received_by;
  std::map<FileId, std::map<uint32_t, uint64_t>> deletes;
  std::vector<uint64_t> filled;  // log_position_filled_ms
  std::map<OpId, Hlc> uploaded_hlc;
  std::vector<DeviceReport> devices;
  ServerReport server;
  bool external = false;

  EndState state() const {
    return EndState{config,      edits,   edit_by_op, syncs,        contents, attached_by,
                    received_by, deletes, filled,     uploaded_hlc, devices,  server,
                    true,        1,       external,   true};
  }
};

}  // namespace

// The other exception: a reference that reached the server after every copy's retention time
// (FILE-040) was over. The companions: a holder that never sent DELETE, a reference that arrived
// within the time, a server that still holds the file, an external server.
BOOST_AUTO_TEST_CASE(
    the_files_checker_excuses_a_reference_that_came_back_after_the_retention_time) {
  EndStateParts parts;
  FileId file;
  file.bytes[0] = 9;
  parts.attached_by = {{file, 4}};
  parts.deletes = {{file, {{4, 7'207'000}}}};
  // Position 1 filled at 5,000 s; position 2 (the referencing operation) at 11,005 s.
  parts.filled = {5'000'000, 11'005'000};
  parts.devices.resize(5);
  for (DeviceReport& d : parts.devices) d.live = true;
  ObjectOp other;
  other.payload.key = "note/1";
  ObjectOp referencing;
  referencing.payload.key = "note/39";
  FileRef ref;
  ref.id = file;
  referencing.payload.files.push_back(ref);
  parts.server.meanings = {other, referencing};
  auto excused = [&] { return file_outlived_its_retention(parts.state(), file); };
  BOOST_TEST(excused());  // 7,207 s + one hour = 10,807 s < 11,005 s
  parts.server.meanings[0] =
      referencing;        // a reference that arrived before the DELETE (at 5,000 s):
  BOOST_TEST(excused());  // the holder deleted after it
  parts.server.meanings[0] = other;
  parts.filled[1] =
      10'000'000;  // the reference came back within the hour: the holder had to keep it
  BOOST_TEST(!excused());
  parts.filled[1] = 11'005'000;
  parts.received_by[file] = {
      2};  // device-2 received a copy and never sent DELETE: it must still hold it
  BOOST_TEST(!excused());
  parts.deletes[file][2] = 9'000'000;  // it did, but its hour ran to 12,600 s, past the reference
  BOOST_TEST(!excused());
  parts.deletes[file][2] = 7'000'000;
  BOOST_TEST(excused());
  parts.server.file_states[file] = "committed";  // the server has it: every device must get it
  BOOST_TEST(!excused());
  parts.server.file_states.clear();
  parts.external = true;  // another server's retention time is its own
  BOOST_TEST(!excused());
}

// The files checker excuses a referenced file no device holds only when nobody could bring it
// back: its attacher was revoked, no live device ever received a chunk, the server lost it. Each
// other case must still be reported (the companions: a live attacher, a live device that had
// received it and lost its copy, a server that holds it).
BOOST_AUTO_TEST_CASE(the_files_checker_excuses_only_a_file_lost_with_its_revoked_holder) {
  EndStateParts parts;
  FileId file;
  file.bytes[0] = 7;
  parts.attached_by = {{file, 1}};
  parts.devices.resize(3);
  parts.devices[0].live = true;   // holds the reference
  parts.devices[1].live = false;  // attached the file, then revoked
  parts.devices[2].live = true;
  auto excused = [&] { return file_lost_with_its_revoked_holder(parts.state(), file); };
  BOOST_TEST(excused());
  parts.received_by[file] = {1};  // only its attacher read it back: still nobody else's
  BOOST_TEST(excused());
  parts.received_by[file] = {1, 2};  // device-2 had a copy: losing it is a client's fault
  BOOST_TEST(!excused());
  parts.received_by.clear();
  parts.devices[1].live = true;  // the attacher can upload it again
  BOOST_TEST(!excused());
  parts.devices[1].live = false;
  parts.server.file_states[file] = "committed";  // the server holds it: every device must get it
  BOOST_TEST(!excused());
  parts.server.file_states[file] = "deleted";
  BOOST_TEST(excused());
  parts.attached_by.clear();  // nobody known to have attached it
  BOOST_TEST(!excused());
}

BOOST_AUTO_TEST_CASE(a_clock_drifts_steps_and_stands_still) {
  const uint64_t t0 = 1'000'000'000;
  NodeClock clock(t0, 5000, 500);  // 5 s ahead, 500 ppm fast
  BOOST_TEST(clock.read(t0) == t0 + 5000);
  BOOST_TEST(clock.read(t0 + 1'000'000) == t0 + 1'000'000 + 5000 + 500);
  clock.step(t0 + 1'000'000, -3'600'000);  // an hour back
  BOOST_TEST(clock.read(t0 + 1'000'000) == t0 + 1'000'000 + 5500 - 3'600'000);
  clock.freeze(t0 + 2'000'000);
  const uint64_t still = clock.read(t0 + 2'000'000);
  BOOST_TEST(clock.read(t0 + 3'000'000) == still);
  BOOST_TEST(
      !clock.true_time_reaching(still + 1, t0 + 3'000'000).has_value());  // never, while frozen
  clock.unfreeze(t0 + 3'000'000);
  BOOST_TEST(clock.read(t0 + 3'000'000) == still);  // it goes on from where it stood
  const std::optional<uint64_t> at = clock.true_time_reaching(still + 10'000, t0 + 3'000'000);
  BOOST_REQUIRE(at.has_value());
  BOOST_TEST(clock.read(*at) >= still + 10'000);
  BOOST_TEST(clock.read(*at - 1) < still + 10'000);  // and not a millisecond later than needed
  NodeClock slow(t0, 0, -500);
  const std::optional<uint64_t> later = slow.true_time_reaching(t0 + 1'000'000, t0);
  BOOST_TEST(slow.read(*later) >= t0 + 1'000'000);
  BOOST_TEST(*later > t0 + 1'000'000);  // a slow clock takes longer
}

BOOST_AUTO_TEST_CASE(streams_are_independent_and_a_replayed_log_gives_the_same_draws) {
  Decisions a(42);
  std::vector<uint64_t> network;
  for (int i = 0; i < 20; ++i) network.push_back(a.stream("network/device-0").draw(1000));
  // Another stream drawing in between changes nothing for the first: streams are by name.
  Decisions b(42);
  std::vector<uint64_t> interleaved;
  for (int i = 0; i < 20; ++i) {
    b.stream("faults/new-kind").draw(7);
    interleaved.push_back(b.stream("network/device-0").draw(1000));
  }
  BOOST_TEST(network == interleaved);
  BOOST_TEST(Decisions(43).stream("network/device-0").draw(1'000'000) !=
             Decisions(42).stream("network/device-0").draw(1'000'000));
  // The log replays; past its end a stream answers 0, the simplest choice, and larger values
  // than a bound admits are cut to it.
  DecisionLog log = a.log();
  BOOST_TEST(log.at("network/device-0").size() == 20u);
  Decisions replay(0, log);
  for (int i = 0; i < 20; ++i)
    BOOST_TEST(replay.stream("network/device-0").draw(1000) == network[i]);
  BOOST_TEST(replay.stream("network/device-0").draw(1000) == 0u);
  BOOST_TEST(replay.stream("never-recorded").draw(5) == 0u);
  BOOST_TEST(!replay.stream("never-recorded").chance_ppm(999'999));  // 0 means no
  Decisions cut(0, DecisionLog{{"s", {900}}});
  BOOST_TEST(cut.stream("s").draw(10) == 9u);
  BOOST_TEST(cut.replaying());
}

BOOST_AUTO_TEST_CASE(the_scanner_finds_plaintext_anywhere_and_nothing_in_ciphertext) {
  PlaintextScanner scanner;
  const std::string value = "the text the server must never read";
  scanner.add_text(to_bytes(value), "a value");
  SeededRandom random(1);
  const Bytes file = random.bytes(10000);
  scanner.add_file(file, "a file");
  const Bytes noise = random.bytes(100000);
  BOOST_TEST(!scanner.scan(noise).has_value());
  Bytes leak = random.bytes(333);
  append_ascii(leak, value);
  BOOST_TEST(scanner.scan(leak) == std::optional<std::string>("a value"));
  // Any run of 79 bytes of a file is found, wherever it starts.
  Bytes run = random.bytes(17);
  run.insert(run.end(), file.begin() + 4321, file.begin() + 4321 + 79);
  BOOST_TEST(scanner.scan(run) == std::optional<std::string>("a file"));
  // Short texts are not indexed (a 15-byte window would match by chance too often).
  PlaintextScanner none;
  none.add_text(to_bytes("short"), "short");
  BOOST_TEST(none.indexed_windows() == 0u);
}

BOOST_AUTO_TEST_CASE(named_profiles_and_fault_files_round_trip) {
  for (const std::string& name : profile_names()) {
    const std::optional<FaultProfile> profile = named_profile(name);
    BOOST_REQUIRE(profile.has_value());
    const Result<FaultProfile> back = fault_profile_from_json(to_json(*profile));
    BOOST_REQUIRE(back.ok());
    BOOST_TEST((*back == *profile), name);
  }
  BOOST_TEST(!named_profile("nothing like it").has_value());
  const Config config = default_config(9);
  const Result<Config> back = config_from_json(to_json(config));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == config));
}

BOOST_AUTO_TEST_CASE(bad_fault_files_and_configs_get_an_error_naming_the_member) {
  struct Case {
    nlohmann::json json;
    std::string field;
  };
  const std::vector<Case> faults = {
      {{{"drift_ppm_max", 501}}, "faults.drift_ppm_max"},
      {{{"request_loss_ppm", -1}}, "faults.request_loss_ppm"},
      {{{"timeout_ms", "5000"}}, "faults.timeout_ms"},
      {{{"partition_ms_min", 10}, {"partition_ms_max", 5}}, "faults.partition_ms_max"},
      {{{"latency_ms_min", 1.5}}, "faults.latency_ms_min"},
      {{{"lossy", true}}, "faults.lossy"},
      {nlohmann::json::array(), "faults"},
  };
  for (const Case& c : faults) {
    const Result<FaultProfile> result = fault_profile_from_json(c.json);
    BOOST_TEST_CONTEXT(c.json.dump()) {
      BOOST_REQUIRE(!result.ok());
      BOOST_TEST(result.error().code == Code::kInvalidField);
      BOOST_TEST(result.error().field == c.field);
    }
  }
  nlohmann::json config = to_json(default_config(1));
  const std::vector<std::pair<std::string, nlohmann::json>> bad_members = {
      {"devices", 0},        {"devices", 65},  {"protocol", "dataans-0.2"},
      {"variant", "sloppy"}, {"chaos_ms", 10}, {"script", "put"},
      {"surprise", 1}};
  for (const auto& [member, value] : bad_members) {
    nlohmann::json broken = config;
    broken[member] = value;
    const Result<Config> result = config_from_json(broken);
    BOOST_TEST(!result.ok(), member << " = " << value.dump());
    if (!result.ok())
      BOOST_TEST(result.error().message.find(member) != std::string::npos, result.error().message);
  }
  nlohmann::json script = config;
  script["script"] = nlohmann::json::array({{{"at_ms", 0}, {"device", 0}, {"action", "explode"}}});
  BOOST_TEST(config_from_json(script).error().field == "config.script[0].action");
  script["script"] = nlohmann::json::array({{{"at_ms", 0}, {"device", 9}, {"action", "sync"}}});
  BOOST_TEST(config_from_json(script).error().field == "script[0].device");
  const Result<FaultProfile> missing = load_fault_profile("/nonexistent/faults.json");
  BOOST_TEST(missing.error().message.find("neither a profile") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_bridge_carries_targets_tokens_and_headers_as_http_would) {
  client::HttpRequest request{"GET", "/v1/workspaces/abc/ops?after_seq=7&limit=4", "", "", true};
  const server::Request r = to_server_request(request, "opsync_secret");
  BOOST_TEST(r.path == "/v1/workspaces/abc/ops");
  BOOST_TEST(r.query.size() == 2u);
  BOOST_TEST(r.query[0].first == "after_seq");
  BOOST_TEST(r.query[1].second == "4");
  BOOST_TEST(r.headers.at("authorization") == "Bearer opsync_secret");
  request.authorized = false;
  BOOST_TEST(!to_server_request(request, "opsync_secret").headers.count("authorization"));
  server::Response answer;
  answer.status = 409;
  answer.body = "{}";
  answer.headers.emplace_back("OpSync-Server-Time-Ms", "12");
  const client::HttpResponse back = to_client_response(answer);
  BOOST_TEST(back.status == 409);
  BOOST_TEST(back.header("opsync-server-time-ms") == "12");
}

// Found by the property: a device with a fast clock writes, its upload is refused for
// clock_skew and re-stamped lower (HLC-020), then its token is revoked and it writes again. The
// causality checker must judge the first write by the timestamp the device holds it with now,
// not the one it was first written with.
BOOST_AUTO_TEST_CASE(a_restamped_operation_is_judged_by_its_new_timestamp) {
  const char* text =
      R"({"chaos_ms":25019,"devices":4,"ops":9,"keys":1,"hot_keys":1,"attach_percent":0,
    "delete_percent":0,"detach_percent":0,"sync_interval_ms_max":5525,"seed":108948435134099711,
    "faults":{"name":"generated","clock_offset_ms_max":125069,"duplicate_ppm":34038,"latency_ms_max":360,
    "latency_spike_ms_max":1,"latency_spike_ppm":1,"request_loss_ppm":60820,"response_loss_ppm":1,
    "revocations":1,"partitions_per_hour":0,"clock_steps_per_hour":0,"clock_freezes_per_hour":0,
    "device_crashes_per_hour":0,"server_crashes_per_hour":0,"backups_per_hour":0,"restores_per_hour":0,
    "reset_ppm":0,"drift_ppm_max":0,"clock_step_ms_max":0,"clock_freeze_ms_max":0,"joins":0,
    "server_clock_offset_ms_max":0}})";
  opsync::Result<Config> config = config_from_json(nlohmann::json::parse(text));
  BOOST_REQUIRE(config.ok());
  const RunResult result = run(*config);
  for (const Violation& v : result.violations) BOOST_TEST_MESSAGE(v.checker << ": " << v.message);
  BOOST_TEST(result.passed());
}

// Found by shrinking: a configuration that allows files of one chunk only (file_chunks_max 1)
// drew the size of a large file from an empty range.
BOOST_AUTO_TEST_CASE(files_of_one_chunk_at_most_are_drawn_from_a_valid_range) {
  Config config = default_config(11);
  config.devices = 2;
  config.ops = 40;
  config.chaos_ms = 20000;
  config.attach_percent = 100;
  config.delete_percent = 0;
  config.detach_percent = 0;
  config.file_chunks_max = 1;
  config.faults = *named_profile("none");
  BOOST_REQUIRE(validate(config).ok());
  const RunResult result = run(config);
  BOOST_TEST(result.figures.files_attached > 30u);
  BOOST_TEST(result.passed());
}

BOOST_AUTO_TEST_SUITE_END()
