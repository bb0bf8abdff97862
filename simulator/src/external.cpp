// A real server as the world's server node (opsync-sim run --server URL): every request the
// devices send reaches it over HTTP, and every answer is recorded, so that a replay can take the
// answers from the recording instead. What the checkers need to know about the server's state
// at the end (its log, its files) it learns through the protocol, with the owner's token, like
// any client; those exchanges are recorded too.
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/sha256.h"
#include "world.h"

namespace opsync::simulator {
namespace {

std::string request_digest(const HttpRequest& request) {
  Sha256 hasher;
  hasher.update(
      to_bytes(request.method + " " + request.target + "\n" + request.content_type + "\n"));
  hasher.update(to_bytes(request.body));
  const Hash hash = hasher.digest();
  return to_hex(hash.view().first(8));
}

// Installed once by the program before its first run (set_server_connector).
ServerConnector& connector() {
  static ServerConnector installed;
  return installed;
}

class ExternalServer final : public ServerNode {
 public:
  ExternalServer(NodeHost& world, const std::string& url, const ServerRecording* replay)
      : world_(world), replay_(replay) {
    recording_.url = replay ? replay->url : url;
    if (!replay) {
      if (!connector())
        throw ExternalServerError{
            "this program cannot reach live servers (no server connector is installed)"};
      Result<std::unique_ptr<client::Transport>> transport = connector()(url);
      if (!transport.ok()) throw ExternalServerError{transport.error().message};
      transport_ = std::move(*transport);
    }
  }

  HttpResponse handle(const HttpRequest& request, const std::string& token) override {
    HttpResponse response = exchange(request, token);
    observe_server_answer(world_, request, response);
    return response;
  }

  // Uploads are not cut against an external server (for_external_server turns resets off).
  void handle_cut(const HttpRequest&, const std::string&, size_t) override {}
  void crash() override {}
  void restart() override {}
  bool up() const override { return true; }
  void backup() override {}
  bool restore(uint32_t) override { return false; }
  // The server collects on its own clock; deleted files and abandoned uploads are left out of
  // the report instead (report()).
  void collect_garbage() override {}
  uint64_t log_length() override { return fetch_log().size(); }

  std::optional<Hash> prefix_hash(uint64_t length) override {
    const std::vector<LoggedEntry>& log = fetch_log();
    if (length > log.size()) return std::nullopt;
    std::vector<Hash> hashes;
    for (const LoggedEntry& e : log) hashes.push_back(e.hash);
    const uint32_t block = block_size();
    return opsync::prefix_hash(compute_block_hashes(std::span(hashes).first(length), block), hashes,
                               length, block);
  }

  ServerReport report() override {
    ServerReport out;
    if (!world_.workspace()) return out;
    for (const LoggedEntry& e : fetch_log()) {
      out.log.push_back(e.op.id);
      out.seqs.push_back(e.seq);
      out.meanings.push_back(world_.decrypt(e.op));
      out.stored_bytes.push_back(encode_op(e.op));
    }
    for (const FileId& id : world_.known_files()) {
      const HttpResponse r =
          exchange({"GET", endpoint_path(EndpointId::kGetFile, {workspace_id(), to_base64url(id)}),
                    "", "", true},
                   world_.owner_token());
      if (r.status == 404) continue;
      Result<FileStatus> status = parse_message<FileStatus>(r.body);
      if (r.status != 200 || !status.ok())
        throw ExternalServerError{"the server answered " + std::to_string(r.status) +
                                  " to a file's status"};
      // Deleted files and abandoned uploads go on the server's own clock, which the run cannot
      // move: only the states that must hold whatever the time are reported.
      if (status->state == FileState::kDeleted || status->state == FileState::kUploading) continue;
      out.file_states[id] = std::string(file_state_name(status->state));
    }
    return out;
  }

  std::optional<ServerRecording> recording() const override { return recording_; }

 private:
  struct LoggedEntry {
    uint64_t seq = 0;
    WireOp op;
    Hash hash;
  };

  std::string workspace_id() const { return to_base64url(*world_.workspace()); }

  // One exchange: live, recorded; or the recording's next answer, which must answer this request.
  HttpResponse exchange(const HttpRequest& request, const std::string& token) {
    const std::string digest = request_digest(request);
    if (replay_) {
      const size_t at = next_answer_++;
      // The recording answers exactly the requests of the recorded run; another request means
      // the run took another course (the code changed, or a shrink changed the schedule).
      if (at >= replay_->answers.size() || replay_->answers[at].request != digest)
        throw ExternalServerError{"the run parted from the recorded answers at answer " +
                                  std::to_string(at + 1) + " of " +
                                  std::to_string(replay_->answers.size()) + ": " + request.method +
                                  " " + request.target + " was not the request recorded there"};
      const RecordedAnswer& answer = replay_->answers[at];
      HttpResponse response;
      response.status = answer.status;
      response.body = answer.body;
      if (!answer.content_type.empty()) response.headers["content-type"] = answer.content_type;
      recording_.answers.push_back(answer);
      return response;
    }
    Result<HttpResponse> response = transport_->exchange(request, token);
    if (!response.ok())
      throw ExternalServerError{"the server at " + recording_.url + " did not answer " +
                                request.method + " " + request.target + ": " +
                                response.error().message};
    RecordedAnswer answer;
    answer.request = digest;
    answer.status = response->status;
    answer.content_type = response->header("content-type");
    answer.body = response->body;
    recording_.answers.push_back(std::move(answer));
    // The recording keeps what the devices read; the other headers are not part of the protocol.
    HttpResponse kept;
    kept.status = response->status;
    kept.body = std::move(response->body);
    if (!recording_.answers.back().content_type.empty())
      kept.headers["content-type"] = recording_.answers.back().content_type;
    return kept;
  }

  uint32_t block_size() {
    if (block_size_ == 0) {
      const HttpResponse r =
          exchange({"GET", endpoint_path(EndpointId::kInfo, {}), "", "", false}, "");
      Result<InfoResponse> info = parse_message<InfoResponse>(r.body);
      if (r.status != 200 || !info.ok() || info->block_size == 0)
        throw ExternalServerError{"the server's /v1/info does not give a block size"};
      block_size_ = info->block_size;
    }
    return block_size_;
  }

  // The server's log as the owner reads it, fetched from where the last fetch ended (no
  // restores happen against an external server, so what was read stays).
  const std::vector<LoggedEntry>& fetch_log() {
    if (!world_.workspace()) return log_;
    while (true) {
      const HttpResponse r =
          exchange({"GET",
                    endpoint_target(EndpointId::kReadOps, {workspace_id()},
                                    {{"after_seq", std::to_string(log_.size())}}),
                    "", "", true},
                   world_.owner_token());
      Result<OpsPageResponse> page = parse_message<OpsPageResponse>(r.body);
      if (r.status != 200 || !page.ok())
        throw ExternalServerError{"the server answered " + std::to_string(r.status) +
                                  " to the owner's read of the log"};
      for (const SequencedOp& op : page->ops)
        log_.push_back(LoggedEntry{op.seq, op.op, op_hash(op.op)});
      if (!page->next_after_seq || page->ops.empty()) break;
    }
    return log_;
  }

  NodeHost& world_;
  const ServerRecording* replay_;
  size_t next_answer_ = 0;
  std::unique_ptr<client::Transport> transport_;
  ServerRecording recording_;
  uint32_t block_size_ = 0;
  std::vector<LoggedEntry> log_;
};

}  // namespace

void set_server_connector(ServerConnector installed) { connector() = std::move(installed); }

std::unique_ptr<ServerNode> make_external_server(NodeHost& world, const std::string& url,
                                                 const ServerRecording* replay) {
  return std::make_unique<ExternalServer>(world, url, replay);
}

Config for_external_server(Config config) {
  FaultProfile& f = config.faults;
  f.server_crashes_per_hour = 0;
  f.backups_per_hour = 0;
  f.restores_per_hour = 0;
  f.server_clock_offset_ms_max = 0;
  f.reset_ppm = 0;
  std::erase_if(config.script, [](const ScriptStep& s) {
    return s.action == "backup" || s.action == "restore" || s.action == "reset";
  });
  return config;
}

Status validate_for_external_server(const Config& config) {
  auto no = [](const std::string& why) {
    return Error(Code::kInvalidField, "against an external server: " + why);
  };
  if (config.protocol != Protocol::kOpsyncV1)
    return no("only opsync-v1 runs (dataans-0.3 is a model)");
  if (config.variant == Variant::kHiddenRestore)
    return no("the hidden-restore variant breaks the server, not a device");
  if (!(for_external_server(config) == config))
    return no(
        "the server's own faults (crashes, backups, restores, its clock, cut uploads) cannot be "
        "caused");
  return {};
}

}  // namespace opsync::simulator
