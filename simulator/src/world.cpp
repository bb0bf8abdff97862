#include "world.h"

#include <stdlib.h>

#include <algorithm>
#include <system_error>

#include "opsync/protocol/check.h"
#include "opsync/protocol/messages.h"

namespace opsync::simulator {
namespace {

constexpr uint64_t kHourMs = 3'600'000;
constexpr uint64_t kSetupBudgetMs = 10 * 60 * 1000;  // setup must finish in 10 virtual minutes
constexpr uint64_t kHealRoundBudgetMs = 30 * 60 * 1000;
// A heal round lets every device finish what it started: up to a few thousand exchanges. Thirty
// minutes hold them at the named profiles' latencies (tens of milliseconds); a drawn network that
// takes seconds per message needs proportionally longer. Seed 31254 (10 to 32 s each way, one
// device moving 872 edits and their files in about 1,500 requests) was reported by liveness while
// it made progress in every round.
constexpr uint64_t kHealRoundTripsMin = 4000;
constexpr uint64_t kJoinRetryMs = 5000;
constexpr uint64_t kGarbageEveryMs = 10 * 60 * 1000;

std::filesystem::path make_work_dir(const std::filesystem::path& requested, bool& owned) {
  std::filesystem::path base = requested;
  if (base.empty()) {
    std::error_code ec;
    base = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                         : std::filesystem::temp_directory_path();
  }
  std::string pattern = (base / "opsync-sim-XXXXXX").string();
  OPSYNC_CHECK_MSG(mkdtemp(pattern.data()) != nullptr,
                   "cannot create the simulator's work directory");
  owned = true;
  return pattern;
}

// A device's monotonic clock: it counts from the device's boot (a different reading on each, so
// that nothing mistakes it for the wall clock) at the rate of the device's oscillator.
NodeClock monotonic_clock(uint64_t true_ms, uint32_t device, int32_t drift_ppm) {
  const int64_t since_boot_ms = 1'000'000 + int64_t{device} * 7'919;
  return NodeClock(true_ms, since_boot_ms - static_cast<int64_t>(true_ms), drift_ppm);
}

}  // namespace

std::string short_id(const Id& id) { return to_base64url(id).substr(0, 8); }

std::string hash_hex(const Hash& hash) { return to_hex(hash.view()); }

World::World(const Config& config, const RunOptions& options)
    : config_(config),
      options_(options),
      trace_(options.keep_events, options.keep_bodies),
      scheduler_(kStartMs, options),

      decisions_(options.replay ? std::make_unique<Decisions>(config.seed, *options.replay)
                                : std::make_unique<Decisions>(config.seed)),
      workload_(*this),
      network_(*this, trace_, figures_, truth_, config.devices + config.faults.joins),
      fault_plan_(*this, network_, workload_, figures_),
      membership_(*this),
      server_life_(*this, trace_, truth_, scanner_, membership_, figures_) {
  OPSYNC_CHECK_MSG(validate(config).ok(), "run() needs a valid configuration");
  work_dir_ = make_work_dir(options.work_dir, owns_work_dir_);
  // CRY-004, SEC-001: the password never leaves the device (the passphrase and the keys join
  // the watch list as the owner makes them).
  if (config.protocol == Protocol::kOpsyncV1)
    scanner_.add_text(to_bytes(password_), "the password");
}

World::~World() {
  // Nodes close their stores before their directories go.
  devices_.clear();
  server_.reset();
  if (owns_work_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }
}

// ---- scheduling ---------------------------------------------------------------------------------

void World::schedule(uint64_t at_ms, std::function<void()> action) {
  scheduler_.schedule(at_ms, std::move(action));
}

void World::run_events(uint64_t until_ms) { scheduler_.run_events(until_ms); }

void World::run_until(uint64_t until_ms) { scheduler_.run_until(until_ms); }

uint64_t World::clock_of(const std::string& node) const {
  if (node == "server") return server_ ? server_->clock.read(now()) : now();
  if (node.rfind("device-", 0) == 0) {
    const size_t index = static_cast<size_t>(std::stoul(node.substr(7)));
    if (index < devices_.size()) return devices_[index]->clock.read(now());
  }
  return now();
}

void World::add_event(const std::string& node, const std::string& kind, const std::string& detail,
                      ByteView bytes, uint64_t exchange) {
  TraceEvent e;
  e.time_ms = now();
  e.node = node;
  e.exchange = exchange;
  if (exchange)
    e.peer = node == "server" ? devices_.at(network_.device_of(exchange))->name : "server";
  e.kind = kind;
  e.detail = detail;
  e.clock_ms = clock_of(node);
  trace_.add(std::move(e), bytes);
}

// ---- ground truth -------------------------------------------------------------------------------

void World::record_edit(EditRecord edit) {
  edit.index = truth_.edit_count();
  figures_.edits += 1;
  const std::string detail = edit.kind + " " + edit.key + " op " + short_id(edit.op);
  Bytes bytes(edit.op.view().begin(), edit.op.view().end());
  append_ascii(bytes, edit.kind + " " + edit.key);
  event(devices_.at(edit.device)->name, "edit", detail, bytes);
  truth_.add_edit(std::move(edit));
}

void World::finish_sync(DeviceNode& device, SyncRecord record) {
  record.end_ms = now();
  record.finished = true;
  figures_.syncs += 1;
  if (!record.ok) figures_.syncs_failed += 1;
  event(device.name, "sync-end", record.ok ? "ok" : "failed: " + record.error);
  // A sync that fails with nothing gone wrong around it is a bug of the protocol or the client.
  if (!record.ok && record.faults_seen == 0 && !revocation_intended(device.index))
    violation("sync_errors", {device.name}, {},
              "a sync failed although no fault touched it: " + record.error);
  // Redundant transfers: operations the device held, sent again (counterexample 5).
  if (record.redundant_ops > record.redundancy_allowed)
    violation("transfer_cost", {device.name}, {},
              "a sync received " + std::to_string(record.redundant_ops) +
                  " operations the device already held (" + std::to_string(record.ops_received) +
                  " received, " + std::to_string(record.held_at_start) +
                  " held before); a sync should move what the device lacks");
  truth_.add_sync(std::move(record));
}

void World::workspace_created(std::optional<WorkspaceId> workspace, std::string passphrase,
                              std::string owner_token) {
  workspace_ = std::move(workspace);
  passphrase_ = std::move(passphrase);
  owner_token_ = std::move(owner_token);
}

void World::note_fault_for(uint32_t device) {
  if (device < devices_.size()) devices_[device]->note_fault();
}

void World::violation(const std::string& checker, std::vector<std::string> nodes,
                      std::vector<std::string> ops, const std::string& message) {
  if (violations_.count(checker)) return;
  violations_.emplace(checker,
                      Violation{checker, now(), std::move(nodes), std::move(ops), message});
  event("world", "violation", checker + ": " + message, to_bytes(checker));
}

void World::add_plaintext_file(const FileId& id, ByteView content, uint32_t device) {
  truth_.add_file(id, content, device);
  scanner_.add_file(content, "the content of file " + short_id(id));
  figures_.files_attached += 1;
}

void World::observe_position(uint64_t position, const OpId& id, const std::string& to) {
  if (const std::optional<OpId> before = truth_.serve_position(position, id))
    violation("position_stability", {"server", to}, {to_base64url(*before), to_base64url(id)},
              "position " + std::to_string(position) + " held operation " + short_id(*before) +
                  " and now holds " + short_id(id) + ", with no restore in between (LOG-012)");
}

void World::observe_block(uint64_t index, const Hash& hash, const std::string& to) {
  if (truth_.serve_block(index, hash))
    violation("position_stability", {"server", to}, {},
              "the hash of block " + std::to_string(index) + " changed with no restore in between");
}

// ---- the network --------------------------------------------------------------------------------

void World::send(DeviceNode& device, uint64_t task, HttpRequest request, std::string token) {
  network_.send(device, task, std::move(request), std::move(token));
}

// ---- phases -----------------------------------------------------------------------------------

void World::setup() {
  phase_ = Phase::kSetup;
  const bool dataans = config_.protocol == Protocol::kDataans03;
  if (external_server())
    server_ = make_external_server(*this, options_.server_url, options_.recording);
  else
    server_ = dataans ? make_dataans_server(*this) : make_opsync_server(*this);
  server_->clock = NodeClock(now(), 0, 0);
  const uint32_t total = config_.devices + config_.faults.joins;
  for (uint32_t d = 0; d < total; ++d) {
    devices_.push_back(dataans ? make_dataans_device(*this, d) : make_client_device(*this, d));
    devices_.back()->clock = NodeClock(now(), 0, 0);
    devices_.back()->monotonic = monotonic_clock(now(), d, 0);
  }
  // Clocks are drawn for every device, including those that join later, so that joins do not
  // shift the draws of the others.
  if (config_.script.empty()) {
    const FaultProfile& f = config_.faults;
    for (auto& d : devices_) {
      Stream& s = stream("clock/" + d->name);
      const int64_t offset = static_cast<int64_t>(s.range(0, 2 * f.clock_offset_ms_max)) -
                             static_cast<int64_t>(f.clock_offset_ms_max);
      const int32_t drift = static_cast<int32_t>(s.range(0, 2 * uint64_t{f.drift_ppm_max})) -
                            static_cast<int32_t>(f.drift_ppm_max);
      d->clock = NodeClock(now(), offset, drift);
      d->monotonic = monotonic_clock(now(), d->index, drift);
    }
    Stream& s = stream("clock/server");
    const int64_t offset = static_cast<int64_t>(s.range(0, 2 * f.server_clock_offset_ms_max)) -
                           static_cast<int64_t>(f.server_clock_offset_ms_max);
    server_->clock = NodeClock(now(), offset, 0);
    server_clock_offset_ms_ = offset;
  }
  workload_.draw_keys();
  add_plaintext(to_bytes(password_), "the password");

  devices_[0]->start_setup(true);
  run_events(now() + kSetupBudgetMs);
  for (uint32_t d = 1; d < config_.devices; ++d) {
    devices_[0]->invite(d);
    run_events(now() + kSetupBudgetMs);
  }
  for (uint32_t d = 0; d < config_.devices; ++d)
    if (devices_[d]->life != DeviceNode::Life::kUp)
      violation("liveness", {devices_[d]->name}, {},
                "the device could not join the workspace without faults");
}

void World::plan_chaos() {
  phase_ = Phase::kChaos;
  chaos_start_ms_ = now();
  event("world", "phase", "chaos", to_bytes("chaos"));
  if (!config_.script.empty()) {
    plan_script();
    return;
  }
  workload_.plan_edits();
  fault_plan_.plan();
  for (uint32_t d = 0; d < config_.devices; ++d) workload_.plan_sync_schedule(d);
  // The server collects garbage periodically, as opsync-server does.
  for (uint64_t t = chaos_start_ms_ + kGarbageEveryMs; t < chaos_start_ms_ + config_.chaos_ms;
       t += kGarbageEveryMs)
    schedule(t, [this] {
      if (server_->up()) server_->collect_garbage();
    });
}

void World::plan_script() {
  for (const ScriptStep& step : config_.script)
    if (!step.key.empty()) workload_.add_key(step.key);
  for (const ScriptStep& step : config_.script) {
    const uint64_t at = chaos_start_ms_ + step.at_ms;
    schedule(at, [this, step] {
      DeviceNode& d = *devices_.at(step.device);
      if (step.action == "put" || step.action == "delete" || step.action == "detach") {
        d.edit(step.action, step.key, to_bytes(step.value), 0);
      } else if (step.action == "attach") {
        d.edit("attach", step.key, {}, step.file_bytes);
      } else if (step.action == "sync") {
        d.sync(false);
      } else if (step.action == "clock") {
        d.clock.set(now(), step.clock_offset_ms, step.clock_frozen);
        event(d.name, "clock-set",
              "the clock is set " + std::to_string(step.clock_offset_ms) + " ms from true time" +
                  (step.clock_frozen ? ", standing still" : ""),
              to_bytes(std::to_string(step.clock_offset_ms)));
      } else if (step.action == "offline") {
        network_.set_offline(step.device, true);
      } else if (step.action == "online") {
        network_.set_offline(step.device, false);
      } else if (step.action == "server-clock") {
        server_->clock.set(now(), step.clock_offset_ms, step.clock_frozen);
        event("server", "clock-set",
              "the server's clock is set " + std::to_string(step.clock_offset_ms) +
                  " ms from true time" + (step.clock_frozen ? ", standing still" : ""),
              to_bytes(std::to_string(step.clock_offset_ms)));
      } else if (step.action == "join") {
        event(d.name, "join", "a new device asks to join", to_bytes("join"));
        devices_[0]->invite(step.device);
      } else if (step.action == "reinvite") {
        event(d.name, "reinvite", "the owner sends this device a new token", to_bytes("reinvite"));
        devices_[0]->invite(step.device);
      } else if (step.action == "revoke") {
        request_revocation(step.device);
      } else if (step.action == "backup") {
        server_->backup();
        event("server", "backup", "a backup of the storage", to_bytes("backup"));
      } else if (step.action == "restore") {
        restore_server(step.steps);
      } else if (step.action == "server-crash") {
        kill_server(step.steps);
      } else if (step.action == "crash") {
        d.arm_crash(step.steps, 5000);
      } else {
        network_.add_targeted(
            TargetedFault{step.device, step.action, step.match, step.cut_percent});
      }
    });
  }
}

uint64_t World::heal_round_budget_ms() const {
  // Latency is drawn uniformly between its bounds: a round trip takes their sum on average.
  const uint64_t round_trip_ms =
      uint64_t{config_.faults.latency_ms_min} + config_.faults.latency_ms_max;
  return std::max(kHealRoundBudgetMs, kHealRoundTripsMin * round_trip_ms);
}

void World::heal() {
  phase_ = Phase::kHeal;
  event("world", "phase", "heal", to_bytes("heal"));
  network_.heal();
  server_life_.restart("the server restarts for the heal phase");
  for (auto& d : devices_) d->prepare_for_heal();
  // Joins that have not completed get their chance now, with no faults.
  run_events(now() + heal_round_budget_ms());
  for (uint32_t round = 1; round <= config_.heal_rounds_max; ++round) {
    heal_rounds_ = round;
    const std::vector<SyncRecord>& syncs = truth_.syncs();
    const size_t first = syncs.size();
    for (auto& d : devices_) d->sync(true);
    run_events(now() + heal_round_budget_ms());
    bool quiet = true;
    size_t ran = 0;
    for (size_t i = first; i < syncs.size(); ++i) {
      // A device whose token the owner revoked keeps trying, as a stolen token would: its
      // syncs fail, and say nothing of whether the others became quiet.
      if (!syncs[i].heal || revocation_intended(syncs[i].device)) continue;
      ++ran;
      quiet = quiet && syncs[i].ok && !syncs[i].moved;
    }
    for (auto& d : devices_)
      if (d->busy() && !revocation_intended(d->index)) quiet = false;
    if (quiet && ran > 0) {
      healed_ = true;
      break;
    }
    if (ran == 0 && std::none_of(devices_.begin(), devices_.end(),
                                 [](const auto& d) { return d->life == DeviceNode::Life::kUp; })) {
      break;
    }
  }
  figures_.heal_rounds = heal_rounds_;
  if (!healed_) {
    std::vector<std::string> nodes;
    std::string last_error;
    for (auto& d : devices_)
      if (d->busy()) {
        nodes.push_back(d->name);
        last_error = d->name + " was still busy with a sync or a call at the end of the round";
      }
    for (auto it = truth_.syncs().rbegin(); it != truth_.syncs().rend(); ++it)
      if (it->heal && (!it->ok || it->moved)) {
        nodes.push_back(devices_[it->device]->name);
        if (last_error.empty())
          last_error = it->ok ? "it still moved operations or files" : it->error;
        if (nodes.size() >= 4) break;
      }
    violation("liveness", nodes, {},
              "the devices did not become quiet within " + std::to_string(config_.heal_rounds_max) +
                  " heal rounds with every fault off; the last: " + last_error);
  }
}

void World::collect() {
  phase_ = Phase::kCollect;
  // Past the retention time of deleted files and the expiry of abandoned uploads, the server
  // collects (FILE-011); the orphans checker then finds what nobody deleted.
  run_until(now() + 2 * kHourMs + 1);
  server_->collect_garbage();
  event("world", "phase", "collect", to_bytes("collect"));
  // Each device syncs once more, as it would the next time it runs: past the retention time it
  // removes the copies it kept of files no head references (FILE-040).
  if (config_.protocol != Protocol::kOpsyncV1) return;
  for (auto& d : devices_) d->sync(true);
  run_events(now() + heal_round_budget_ms());
}

RunResult World::run() {
  setup();
  plan_chaos();
  run_until(chaos_start_ms_ + config_.chaos_ms);
  phase_ = Phase::kDrain;
  // Messages in flight land; no fault strikes them.
  run_events(now() + config_.faults.timeout_ms + config_.faults.latency_ms_max * 2 +
             config_.faults.latency_spike_ms_max);
  heal();
  collect();
  check_at_end();
  phase_ = Phase::kDone;

  RunResult result;
  result.config = config_;
  for (const std::string& name : checker_names()) {
    auto it = violations_.find(name);
    if (it != violations_.end()) result.violations.push_back(it->second);
  }
  figures_.events = trace_.event_count();
  figures_.decisions = decisions_->decision_count();
  figures_.simulated_ms = now() - kStartMs;
  figures_.chaos_ms = config_.chaos_ms;
  result.figures = figures_;
  result.trace_hash = trace_.hash();
  if (options_.keep_decisions) {
    result.decisions = decisions_->log();
    result.event_digests = trace_.digests();
  }
  if (options_.keep_events) result.events = trace_.events();
  result.recording = server_->recording();
  result.trace_replayable = trace_replayable_;
  if (options_.clients) {
    result.adapter_command =
        options_.adapter_command.empty() ? "(a channel factory)" : options_.adapter_command;
    for (uint32_t device : options_.reference_devices)
      if (device < devices_.size()) result.reference_devices.insert(device);
  }
  return result;
}

void World::check_at_end() {
  std::vector<DeviceReport> reports;
  for (auto& d : devices_) reports.push_back(d->report());
  const ServerReport server = server_->report();
  figures_.ops_in_log = server.log.size();
  for (const Bytes& stored : server.stored_bytes)
    if (std::optional<std::string> leak = scanner_.scan(stored)) {
      violation("plaintext", {"server"}, {}, "the server stores " + *leak + " in the clear");
      break;
    }
  EndState state{config_,
                 truth_.edits(),
                 truth_.edit_by_op(),
                 truth_.syncs(),
                 truth_.file_contents(),
                 truth_.file_attached_by(),
                 truth_.file_chunks_received_by(),
                 truth_.file_delete_answered_ms(),
                 truth_.log_position_filled_ms(),
                 truth_.uploaded_hlc(),
                 reports,
                 server,
                 healed_,
                 heal_rounds_,
                 external_server(),
                 static_cast<bool>(decrypt_op_)};
  run_end_checkers(*this, state);
}

std::vector<std::string> checker_names() {
  return {"convergence", "nothing_lost", "log_integrity", "causality",          "no_resurrection",
          "files",       "orphans",      "plaintext",     "liveness",           "backoff",
          "revocation",  "sync_errors",  "transfer_cost", "position_stability", "field_answers"};
}

RunResult run(const Config& config, const RunOptions& options) {
  World world(config, options);
  return world.run();
}

}  // namespace opsync::simulator
