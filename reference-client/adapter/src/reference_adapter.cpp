#include "opsync/adapter/reference_adapter.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <sstream>

#include "adapter_parts.h"
#include "opsync/client/device.h"
#include "opsync/client/engine.h"
#include "opsync/protocol/endpoints.h"

namespace opsync::adapter {

namespace {

using client::Device;
using client::DeviceTime;
using client::HttpRequest;
using client::HttpResponse;

constexpr std::array kDefectNames = {
    std::pair{ClientDefect::kNoDedupe, "no-dedupe"},
    std::pair{ClientDefect::kWallClock, "wall-clock"},
    std::pair{ClientDefect::kForgetLostUploads, "forget-lost-uploads"},
    std::pair{ClientDefect::kPlaintext, "plaintext"},
    std::pair{ClientDefect::kNoFileDelete, "no-file-delete"},
    std::pair{ClientDefect::kNoCopyRetention, "no-copy-retention"},
    std::pair{ClientDefect::kNoCopyExpiry, "no-copy-expiry"},
    std::pair{ClientDefect::kWallClockWaits, "wall-clock-waits"},
};

// Under ClientDefect::kWallClockWaits a wait is looked at again this often, as a client that
// sleeps and then reads its wall clock would.
constexpr uint64_t kWallWaitPollMs = 1000;

CommandResult failed(const Error& error) {
  CommandResult r;
  r.ok = false;
  r.error = error;
  return r;
}

}  // namespace

std::string_view client_defect_name(ClientDefect defect) {
  for (const auto& [d, name] : kDefectNames)
    if (d == defect) return name;
  return "none";
}

std::optional<ClientDefect> client_defect_from_name(std::string_view name) {
  if (name == "none") return ClientDefect::kNone;
  for (const auto& [d, n] : kDefectNames)
    if (name == n) return d;
  return std::nullopt;
}

std::vector<ClientDefect> all_client_defects() {
  std::vector<ClientDefect> out;
  for (const auto& [d, name] : kDefectNames) out.push_back(d);
  return out;
}

struct ReferenceAdapter::Impl {
  // Randomness from the host, asked for byte by byte as the client draws it (ADP-050).
  class HostRandom final : public RandomSource {
   public:
    explicit HostRandom(Impl& impl) : impl_(impl) {}
    void fill(std::span<uint8_t> out) override { impl_.host->random(out); }

   private:
    Impl& impl_;
  };

  ReferenceAdapterOptions options;
  Start start;
  TurnHost* host = nullptr;
  DeviceTime now;
  HostRandom random{*this};
  std::unique_ptr<Device> device;
  std::unique_ptr<client::SyncEngine> engine;
  std::unique_ptr<client::ServerCall> call;
  Command command;  // the command in progress
  HttpRequest last_request;
  // An edit in progress: the durable step of its commit is announced as its commit notice.
  bool editing = false;
  bool edit_committed = false;
  // ClientDefect::kNoDedupe: what each operation was, and the ones whose upload went unanswered.
  std::map<OpId, std::pair<std::string, std::string>> made;  // op -> (kind, key)
  std::vector<OpId> redo;

  bool defect(ClientDefect d) const { return options.defect == d; }
  uint64_t wall() const { return now.wall_ms; }

  client::StoreOptions store_options() {
    client::StoreOptions o = options.store;
    o.after_durable_step = [this](std::string_view step) {
      if (editing && step == "commit_local_edit") {
        edit_committed = true;  // announced with the operation, right after the commit
        return;
      }
      host->durable(step);
    };
    return o;
  }

  // ---- events ----

  Yield on_start(const Start& s) {
    start = s;
    Ready ready{"opsync-client-adapter (the reference client)",
                {"page_ops_max", "kdf_iterations", "overlap_work", "durable", "random"},
                std::nullopt};
    if (client::store_exists(s.dir, options.store)) {
      Result<std::unique_ptr<Device>> opened = Device::open(s.dir, store_options());
      if (opened.ok()) {
        device = std::move(*opened);
        ready.workspace = device->store().binding().workspace_id;
        return ready;
      }
    }
    // Nothing, or what a kill left of a join that did not finish (the key file without its
    // store): the device starts over.
    std::error_code ec;
    std::filesystem::remove_all(s.dir, ec);
    if (options.wipe_store) options.wipe_store();
    return ready;
  }

  Yield on_command(const Command& c) {
    if (c.name == "dump") return dump();  // at any moment, even mid-command: it changes nothing
    command = c;
    if (c.name == "create") {
      call = std::make_unique<client::CreateWorkspaceCall>(start.dir, c.server_url, c.password,
                                                           random, start.options.kdf_iterations,
                                                           store_options());
      return drive_call();
    }
    if (c.name == "join") {
      if (!c.workspace_id) return failed(Error(Code::kInvalidField, "join needs a workspace_id"));
      client::JoinRequest request{c.server_url, *c.workspace_id, c.token, c.password, c.passphrase};
      call = std::make_unique<client::JoinCall>(start.dir, request, random, store_options());
      return drive_call();
    }
    if (!device)
      return failed(
          Error(Code::kInvalidField, "the device has no workspace yet (create or join first)"));
    if (c.name == "invite") {
      call = device->start_invite(c.scope, std::nullopt);
      return drive_call();
    }
    if (c.name == "revoke") {
      if (!c.token_id) return failed(Error(Code::kInvalidField, "revoke needs a token_id"));
      call = device->start_revoke(*c.token_id);
      return drive_call();
    }
    if (c.name == "set_token") {
      must(device->store().set_token(c.token));
      return CommandResult{};
    }
    if (c.name == "put" || c.name == "delete" || c.name == "attach" || c.name == "detach")
      return edit(c);
    if (c.name == "sync") return start_sync();
    return failed(Error(Code::kInvalidField, "unknown command \"" + c.name + "\""));
  }

  Yield on_answer(const HttpResponse& response) {
    if (call) {
      call->on_response(response);
      return drive_call();
    }
    OPSYNC_CHECK_MSG(engine != nullptr, "an answer with no request in flight");
    engine->on_response(response, engine_time());
    return step_sync();
  }

  Yield on_failure(const HttpFailure& failure) {
    const std::string what = failure.message.empty() ? failure.what : failure.message;
    if (call) {
      call->on_transport_failure(what);
      return drive_call();
    }
    OPSYNC_CHECK_MSG(engine != nullptr, "a failure with no request in flight");
    if (endpoint_of_target(last_request.method, last_request.target) == EndpointId::kUploadOps) {
      if (defect(ClientDefect::kForgetLostUploads)) return forget_upload();
      if (defect(ClientDefect::kNoDedupe)) {
        Result<UploadOpsRequest> sent = parse_message<UploadOpsRequest>(last_request.body);
        OPSYNC_CHECK(sent.ok());
        for (const WireOp& op : sent->ops) redo.push_back(op.id);
      }
    }
    engine->on_transport_failure(what, engine_time());
    return step_sync();
  }

  // ---- calls (create, join, invite, revoke) ----

  Yield drive_call() {
    if (call->next()) {
      const client::ServerCall::Outgoing& out = *call->next();
      last_request = out.request;
      return SendHttp{out.request, out.token};
    }
    const Status status = call->status();
    CommandResult result;
    result.ok = status.ok();
    if (!status.ok()) result.error = status.error();
    if (command.name == "create" && status.ok()) {
      const auto* create = static_cast<const client::CreateWorkspaceCall*>(call.get());
      result.workspace_id = create->result().workspace_id;
      result.passphrase = create->result().passphrase;
    } else if (command.name == "invite" && status.ok()) {
      const auto* invite = static_cast<const Device::InviteCall*>(call.get());
      result.token = invite->result().token;
      result.token_id = invite->result().token_id;
    }
    call.reset();
    if ((command.name == "create" || command.name == "join") && status.ok()) {
      Result<std::unique_ptr<Device>> opened = Device::open(start.dir, store_options());
      if (!opened.ok()) return failed(opened.error());
      device = std::move(*opened);
      if (command.name == "create") result.token = device->token();
    }
    return result;
  }

  // ---- edits ----

  Yield edit(const Command& c) {
    client::LocalStore& store = device->store();
    const client::ObjectView before = must(store.get(c.key));
    std::vector<OpId> heads_before;
    for (const ObjectOp& head : before.heads) heads_before.push_back(head.id);
    CommandResult result;
    Status status;
    editing = true;
    edit_committed = false;
    if (c.name == "put") {
      status = defect(ClientDefect::kWallClock) || defect(ClientDefect::kPlaintext)
                   ? defective_commit(*device, random, options.defect, wall(), c.key, OpType::kPut,
                                      c.value, before)
                   : device->put(c.key, c.value, wall(), random);
    } else if (c.name == "delete") {
      if (!before.present()) {
        editing = false;
        result.committed = false;  // nothing to delete: no operation
        return result;
      }
      status = defect(ClientDefect::kWallClock) || defect(ClientDefect::kPlaintext)
                   ? defective_commit(*device, random, options.defect, wall(), c.key,
                                      OpType::kDelete, {}, before)
                   : device->remove(c.key, wall(), random);
    } else if (c.name == "attach") {
      std::istringstream in(std::string(c.value.begin(), c.value.end()));
      Result<FileRef> ref = device->attach(c.key, c.file_name, in, wall(), random);
      if (ref.ok()) result.file_id = ref->id;
      status = ref.ok() ? Status() : Status(ref.error());
    } else {  // detach
      if (!before.present() || before.winner()->payload.files.empty() || (!c.file_id && !c.pick)) {
        editing = false;
        result.committed = false;
        return result;
      }
      const std::vector<FileRef>& files = before.winner()->payload.files;
      const FileId file = c.file_id ? *c.file_id : files[*c.pick % files.size()].id;
      status = device->detach(c.key, file, wall(), random);
    }
    editing = false;
    if (!status.ok()) return failed(status.error());
    announce_commit(c.key, c.name, heads_before, result.file_id);
    return result;
  }

  // The commit notice of the edit that just committed (ADP-040): its operation is the head the
  // key did not have before.
  void announce_commit(const std::string& key, const std::string& kind,
                       const std::vector<OpId>& heads_before,
                       std::optional<FileId> file_id = std::nullopt) {
    if (!edit_committed) return;
    edit_committed = false;
    const client::ObjectView after = must(device->store().get(key));
    for (const ObjectOp& head : after.heads) {
      if (std::find(heads_before.begin(), heads_before.end(), head.id) != heads_before.end())
        continue;
      made[head.id] = {kind, key};
      host->committed(CommitNote{head.id, key, kind, head.hlc, heads_before, file_id});
      return;
    }
  }

  // ---- syncs ----

  DeviceTime engine_time() const {
    // ClientDefect::kWallClockWaits: the engine is given the wall clock as its monotonic clock.
    return defect(ClientDefect::kWallClockWaits) ? DeviceTime{now.wall_ms, now.wall_ms} : now;
  }

  Yield start_sync() {
    if (defect(ClientDefect::kNoCopyExpiry)) restart_kept_copies_time(device->store(), wall());
    client::SyncOptions sync_options;
    sync_options.page_ops_max = start.options.page_ops_max;
    engine =
        std::make_unique<client::SyncEngine>(device->store(), device->keys(), random, sync_options);
    return step_sync();
  }

  Yield step_sync() {
    // Bounded: each pass sends, waits, finishes, or (no-file-delete) skips one request.
    while (true) {
      const client::SyncStep step = engine->next(engine_time());
      if (const auto* finished = std::get_if<client::SyncFinished>(&step))
        return finish_sync(*finished);
      if (const auto* wait = std::get_if<client::WaitUntil>(&step)) {
        if (!defect(ClientDefect::kWallClockWaits)) return Wait{wait->until_monotonic_ms};
        // Looks at the wall clock again after a while, however long it stands still.
        const uint64_t missing =
            wait->until_monotonic_ms > now.wall_ms ? wait->until_monotonic_ms - now.wall_ms : 1;
        return Wait{now.monotonic_ms + std::min(missing, kWallWaitPollMs)};
      }
      last_request = std::get<client::SendRequest>(step).request;
      if (defect(ClientDefect::kNoFileDelete) &&
          endpoint_of_target(last_request.method, last_request.target) == EndpointId::kDeleteFile) {
        HttpResponse nothing;  // the defect: the DELETE of FILE-022 is never sent
        nothing.status = 404;
        engine->on_response(nothing, engine_time());
        continue;
      }
      if (start.options.overlap_work && engine->has_work()) engine->work();
      return SendHttp{last_request, device->token()};
    }
  }

  Yield forget_upload() {
    // The defect: no answer means "it failed, forget it".
    Result<UploadOpsRequest> sent = parse_message<UploadOpsRequest>(last_request.body);
    OPSYNC_CHECK(sent.ok());
    UploadOpsResponse forgotten;
    for (const WireOp& op : sent->ops) {
      OpResult result;
      result.id = op.id;
      result.status = OpStatus::kRejected;
      result.code = Code::kOpIdConflict;
      result.message = "forgotten after a lost answer";
      forgotten.results.push_back(result);
    }
    HttpResponse fake;
    fake.status = 200;
    fake.body = serialize_message(forgotten);
    engine->on_response(fake, engine_time());
    return step_sync();
  }

  Yield finish_sync(const client::SyncFinished& finished) {
    engine.reset();
    CommandResult result;
    result.ok = !finished.error.has_value();
    result.error = finished.error;
    if (result.ok) {
      const uint64_t length = must(device->store().mirror_size());
      result.mirror = Mirror{length, must(device->store().prefix_hash(length))};
    }
    if (defect(ClientDefect::kNoCopyRetention)) drop_kept_copies(device->store());
    redo_lost_edits();
    return result;
  }

  // ClientDefect::kNoDedupe: an edit whose upload went unanswered is made again, as a new
  // operation, which the client announces like any commit, though no command asked for it.
  void redo_lost_edits() {
    std::vector<OpId> lost = std::move(redo);
    redo.clear();
    for (const OpId& id : lost) {
      auto it = made.find(id);
      if (it == made.end()) continue;
      const auto [kind, key] = it->second;
      if (kind != "put" && kind != "delete") continue;
      const client::ObjectView view = must(device->store().get(key));
      std::vector<OpId> heads_before;
      const ObjectOp* original = nullptr;
      for (const ObjectOp& head : view.heads) {
        heads_before.push_back(head.id);
        if (head.id == id) original = &head;
      }
      if (kind == "put" && !original) continue;
      const Bytes value = kind == "put" ? original->payload.value : Bytes();
      editing = true;
      edit_committed = false;
      const Status status = kind == "put" ? device->put(key, value, wall(), random)
                                          : device->remove(key, wall(), random);
      editing = false;
      if (status.ok()) announce_commit(key, kind, heads_before);
    }
  }

  // ---- the state dump (ADP-061) ----

  DeviceState dump() {
    if (!device) return DeviceState{};
    return dump_device_state(device->store());
  }
};

ReferenceAdapter::ReferenceAdapter(ReferenceAdapterOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

ReferenceAdapter::~ReferenceAdapter() {
  // The engine and calls before the device they use.
  impl_->engine.reset();
  impl_->call.reset();
  impl_->device.reset();
}

Yield ReferenceAdapter::on_event(const Event& event, DeviceTime now, TurnHost& host) {
  Impl& i = *impl_;
  i.host = &host;
  i.now = now;
  return std::visit(
      [&](const auto& e) -> Yield {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Start>)
          return i.on_start(e);
        else if constexpr (std::is_same_v<T, Command>)
          return i.on_command(e);
        else if constexpr (std::is_same_v<T, HttpAnswer>)
          return i.on_answer(e.response);
        else if constexpr (std::is_same_v<T, HttpFailure>)
          return i.on_failure(e);
        else {
          OPSYNC_CHECK_MSG(i.engine != nullptr, "a wake with no wait");
          return i.step_sync();
        }
      },
      event);
}

}  // namespace opsync::adapter
