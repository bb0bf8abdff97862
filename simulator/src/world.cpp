#include "world.h"

#include <stdlib.h>

#include <system_error>

#include "opsync/protocol/check.h"
#include "opsync/protocol/messages.h"

namespace opsync::simulator {
namespace {

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
      server_life_(*this, trace_, truth_, scanner_, membership_, figures_),
      phases_(*this, scheduler_, server_, devices_, network_, workload_, fault_plan_, server_life_,
              truth_, figures_),
      verdict_(*this, trace_, *decisions_, truth_, scanner_, figures_) {
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

RunResult World::run() {
  phases_.run();
  verdict_.check_at_end(phases_.healed(), phases_.heal_rounds(), static_cast<bool>(decrypt_op_));
  return verdict_.result(trace_replayable_);
}

RunResult run(const Config& config, const RunOptions& options) {
  World world(config, options);
  return world.run();
}

}  // namespace opsync::simulator
