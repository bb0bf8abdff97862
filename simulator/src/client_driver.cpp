#include "client_driver.h"

#include <algorithm>

#include "opsync/protocol/check.h"
#include "opsync/protocol/endpoints.h"

namespace opsync::simulator {
namespace {

constexpr uint32_t kKdfIterations =
    1000;  // key derivation is not under test; 600,000 would cost 0.3 s

std::string device_name(uint32_t index) { return "device-" + std::to_string(index); }

}  // namespace

adapter::Command named_command(std::string name) {
  adapter::Command c;
  c.name = std::move(name);
  return c;
}

std::string code_and_message(const Error& error) {
  return std::string(code_name(error.code)) + ": " + error.message;
}

ClientDriver::ClientDriver(NodeHost& world, uint32_t device_index)
    : world_(world),
      traffic_(world),
      chunk_uploads_(world, device_name(device_index)),
      backoff_(world, device_name(device_index)) {
  index = device_index;
  name = device_name(device_index);
  random_ = world.node_random(name);
  dir_ = world.work_dir() / name;
  Stream& s = world.stream("config/" + name);
  static constexpr uint32_t kPageOps[] = {0, 4, 16};
  options_.page_ops_max = kPageOps[s.draw(3)];
  options_.overlap_work = s.draw(2) == 1;
  options_.kdf_iterations = kKdfIterations;
  if (world.options().clients && !world.options().reference_devices.count(device_index)) {
    factory_ = world.options().clients;
  } else {
    const std::string memory_database_uri =
        world.options().device_stores == RunOptions::DeviceStores::kMemory
            ? "file:/" + world.work_dir().filename().string() + "/" + name + "?vfs=memdb"
            : "";
    disk_ = std::make_unique<InProcessDisk>(memory_database_uri, world.config().variant);
    factory_ = [this](const ChannelRequest&) { return disk_->open_channel(); };
  }
}

ClientDriver::~ClientDriver() {
  channel_.reset();  // the client's own connection before the disk's
  if (disk_) disk_->close();
}

// ---- the world's answers ------------------------------------------------------------------------

void ClientDriver::on_answer(uint64_t task, const HttpResponse& response) {
  if (task != awaited_) return;
  awaited_ = 0;
  chunk_uploads_.note_answer(last_request_, response);
  if (activity_ == Activity::kSync) traffic_.observe_answer(last_request_, response);
  turn(adapter::HttpAnswer{response});
}

void ClientDriver::on_failure(uint64_t task, const std::string& what) {
  if (task != awaited_) return;
  awaited_ = 0;
  const std::string kind = what.find("refused") != std::string::npos ? "refused"
                           : what.find("reset") != std::string::npos ? "reset"
                                                                     : "timeout";
  turn(adapter::HttpFailure{kind, what});
}

// ---- turns --------------------------------------------------------------------------------------

client::DeviceTime ClientDriver::device_time() const {
  return {clock.read(world_.now()), monotonic.read(world_.now())};
}

bool ClientDriver::launch(bool restarted) {
  channel_ = factory_(ChannelRequest{index, name, dir_.string()});
  adapter::Start start{name, dir_.string(), restarted, options_, world_.options().turn_timeout_ms};
  activity_ = Activity::kStarting;
  const std::optional<adapter::Yield> yield = run_turn(start);
  activity_ = Activity::kIdle;
  if (!yield) return false;
  const auto* ready = std::get_if<adapter::Ready>(&*yield);
  if (!ready) return broken("the answer to start was not ready (ADP-020)");
  if (std::find(ready->supports.begin(), ready->supports.end(), "random") == ready->supports.end())
    world_.note_client_draws_own_randomness();
  holds_workspace_ = ready->workspace.has_value();
  return true;
}

std::optional<adapter::Yield> ClientDriver::run_turn(const adapter::Event& event) {
  try {
    return channel_->turn(event, device_time(), *this);
  } catch (const DeviceKilled&) {
    die();
  } catch (const ChannelBroken& broken_channel) {
    throw ChannelBroken{name + ": " + broken_channel.message};
  }
  return std::nullopt;
}

void ClientDriver::begin(Activity activity, const adapter::Command& command) {
  activity_ = activity;
  command_ = command;
  turn(command);
}

void ClientDriver::turn(const adapter::Event& event) {
  const std::optional<adapter::Yield> yield = run_turn(event);
  if (yield) take(*yield);
}

bool ClientDriver::broken(const std::string& message) {
  throw ChannelBroken{name + ": " + message + (channel_ ? channel_->diagnostics() : std::string())};
}

void ClientDriver::take(const adapter::Yield& yield) {
  if (const auto* send = std::get_if<adapter::SendHttp>(&yield)) return send_request(*send);
  if (const auto* wait = std::get_if<adapter::Wait>(&yield))
    return wait_until(wait->until_monotonic_ms);
  if (const auto* result = std::get_if<adapter::CommandResult>(&yield)) {
    backoff_.wait_ends();
    const Activity done = activity_;
    activity_ = Activity::kIdle;
    return finish(done, *result);
  }
  broken("a yield that does not answer the command in progress (ADP-010)");
}

void ClientDriver::send_request(const adapter::SendHttp& send) {
  backoff_.wait_ends();
  traffic_.settle_received();
  last_request_ = send.request;
  if (send.request.authorized) token_ = send.token;
  observe_request(send.request);
  chunk_uploads_.check_request(send.request);
  awaited_ = ++requests_;
  world_.send(*this, awaited_, send.request, send.token);
}

void ClientDriver::wait_until(uint64_t until_monotonic_ms) {
  const client::DeviceTime now = device_time();
  backoff_.wait_begins(until_monotonic_ms - std::min(until_monotonic_ms, now.monotonic_ms));
  const std::optional<uint64_t> at = monotonic.true_time_reaching(until_monotonic_ms, world_.now());
  OPSYNC_CHECK_MSG(at.has_value(), "a monotonic clock that stands still");
  world_.schedule(std::max(*at, world_.now() + 1),
                  [this, incarnation = incarnation, activity = activity_] {
                    if (incarnation == this->incarnation && activity_ == activity)
                      turn(adapter::Wake{});
                  });
}

std::optional<adapter::DeviceState> ClientDriver::dump() {
  const Activity was = activity_;
  activity_ = Activity::kDump;
  const std::optional<adapter::Yield> yield = run_turn(named_command("dump"));
  activity_ = was;
  if (!yield) return std::nullopt;
  if (const auto* state = std::get_if<adapter::DeviceState>(&*yield)) return *state;
  broken("the answer to dump was not state (ADP-061)");
  return std::nullopt;
}

// ---- what the traffic says ----------------------------------------------------------------------

void ClientDriver::observe_request(const client::HttpRequest& request) {
  const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
  if (!endpoint) return;
  if (*endpoint == EndpointId::kPutKey && !key_record_) {
    // The owner's first key record, for the device's learn_keys().
    Result<PutKeyRequest> record = parse_message<PutKeyRequest>(request.body);
    if (record.ok()) key_record_ = *record;
  }
  if (activity_ == Activity::kSync) traffic_.observe_request(request);
}

// ---- TurnHost: the client's asks and notices ----------------------------------------------------

void ClientDriver::durable(std::string_view step) {
  ++durable_steps_;
  if (!crash_countdown_ || --*crash_countdown_ > 0) return;
  crash_countdown_.reset();
  world_.event(name, "crash",
               "killed after durable step " + std::to_string(durable_steps_) + " (" +
                   std::string(step) + ")",
               to_bytes(std::string(step)));
  throw DeviceKilled{};
}

void ClientDriver::committed(const adapter::CommitNote& note) {
  traffic_.hold(note.op_id);
  record_commit(note);
  durable("commit_local_edit");
}

// ---- crashes and death --------------------------------------------------------------------------

void ClientDriver::arm_crash(uint32_t steps, uint64_t down_ms) {
  if (life != Life::kUp && life != Life::kJoining) return;
  down_ms_ = down_ms;
  if (steps == 0) {
    world_.event(name, "crash", "killed at rest", to_bytes("crash"));
    die();
    return;
  }
  crash_countdown_ = steps;
}

void ClientDriver::die() {
  world_.note_device_crash();
  channel_.reset();  // the client's process ends: what it committed stays, as after kill -9
  activity_ = Activity::kIdle;
  current_sync.reset();
  backoff_.forget();
  traffic_.forget_unsettled();
  awaited_ = 0;
  forget_unsaved_work();
  ++incarnation;
  life = Life::kDown;
  world_.schedule(world_.now() + down_ms_, [this] { restart(); });
}

}  // namespace opsync::simulator
