// The opsync-v1 server node: the reference server core on in-memory storage, with its crashes,
// backups and restores, and the server-side deliberate defects of Variant (hidden-restore,
// restore-revives-tokens). The devices are in client_node.cpp.
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/server/core.h"
#include "opsync/server/memory_storage.h"
#include "opsync/simulator/bridge.h"
#include "world.h"

namespace opsync::simulator {
namespace {

constexpr size_t kBackupsKept = 3;

// ---- the server ---------------------------------------------------------------------------------

class OpsyncServer final : public ServerNode {
 public:
  explicit OpsyncServer(NodeHost& world) : world_(world), random_(world.node_random("server")) {
    // Small blocks and the limits' floors, so that short runs page, fill blocks and split batches.
    static constexpr uint32_t kBlockSizes[] = {4, 16, 64};
    config_.block_size = kBlockSizes[world.stream("config/server").draw(3)];
    config_.limits = kLimitFloors;
    config_.upload_expiry_ms = kRetentionMsMin;
    config_.file_retention_ms = kRetentionMsMin;
    core_ = std::make_unique<server::ServerCore>(config_, storage_, *random_);
  }

  HttpResponse handle(const HttpRequest& request, const std::string& token) override {
    OPSYNC_CHECK(up_);
    const uint64_t now = clock.read(world_.now());
    HttpResponse response =
        to_client_response(core_->handle(to_server_request(request, token), now));
    observe_server_answer(world_, request, response);
    if (world_.config().variant == Variant::kHiddenRestore) hide_restore(request, response);
    return response;
  }

  // The HTTP adapter reads a whole body before the core sees a request: a cut one never arrives.
  void handle_cut(const HttpRequest&, const std::string&, size_t) override {}

  void crash() override {
    up_ = false;
    core_.reset();
  }
  void restart() override {
    if (up_) return;
    core_ = std::make_unique<server::ServerCore>(config_, storage_, *random_);
    up_ = true;
  }
  bool up() const override { return up_; }

  void backup() override {
    backups_.push_back(storage_.snapshot());
    if (backups_.size() > kBackupsKept) backups_.erase(backups_.begin());
  }
  bool restore(uint32_t pick) override {
    if (backups_.empty()) return false;
    const size_t index = backups_.size() - 1 - std::min<size_t>(pick, backups_.size() - 1);
    if (world_.config().variant == Variant::kHiddenRestore && world_.workspace()) {
      // The defect: the server keeps answering the prefix hashes of the log it had.
      old_hashes_ = op_hashes();
    }
    if (world_.config().variant == Variant::kRestoreRevivesTokens)
      storage_.restore_with_journal(
          *backups_[index]);  // the defect: revocations roll back with the data
    else
      storage_.restore(*backups_[index]);
    restart_core();
    return true;
  }
  void collect_garbage() override {
    if (up_) core_->collect_garbage(clock.read(world_.now()), 1'000'000);
  }
  // The workspace's head_seq: one record read, where op_hashes() reads the whole log (World asks
  // after every accepted upload).
  uint64_t log_length() override {
    uint64_t length = 0;
    if (!world_.workspace()) return length;
    Status read = storage_.read([&](server::Transaction& txn) {
      if (std::optional<server::WorkspaceRecord> ws = txn.workspace(*world_.workspace()))
        length = ws->head_seq;
    });
    OPSYNC_CHECK(read.ok());
    return length;
  }

  std::optional<Hash> prefix_hash(uint64_t length) override {
    std::vector<Hash> hashes = op_hashes();
    if (length > hashes.size()) return std::nullopt;
    return opsync::prefix_hash(
        compute_block_hashes(std::span(hashes).first(length), config_.block_size), hashes, length,
        config_.block_size);
  }

  ServerReport report() override {
    ServerReport out;
    if (!world_.workspace()) return out;
    const WorkspaceId ws = *world_.workspace();
    Status read = storage_.read([&](server::Transaction& txn) {
      for (const server::StoredOp& stored : txn.ops_after(ws, 0, SIZE_MAX, UINT64_MAX)) {
        Result<WireOp> op = decode_op(stored.encoding);
        OPSYNC_CHECK_MSG(op.ok(), "the server stores an operation that does not decode");
        out.log.push_back(op->id);
        out.seqs.push_back(stored.seq);
        out.meanings.push_back(world_.decrypt(*op));
        out.stored_bytes.push_back(stored.encoding);
      }
      for (const FileId& id : world_.known_files()) {
        std::optional<server::FileRecord> file = txn.file(ws, id);
        if (!file) continue;
        out.file_states[id] = std::string(file_state_name(file->state));
        for (uint32_t index : txn.chunk_indices(ws, id))
          if (std::optional<Bytes> chunk = txn.chunk(ws, id, index))
            out.stored_bytes.push_back(*chunk);
      }
    });
    OPSYNC_CHECK(read.ok());
    return out;
  }

 private:
  void restart_core() {
    core_ = std::make_unique<server::ServerCore>(config_, storage_, *random_);
    up_ = true;
  }

  std::vector<Hash> op_hashes() {
    std::vector<Hash> out;
    if (!world_.workspace()) return out;
    Status read = storage_.read([&](server::Transaction& txn) {
      std::optional<server::WorkspaceRecord> ws = txn.workspace(*world_.workspace());
      if (ws) out = txn.op_hashes(ws->id, 1, ws->head_seq);
    });
    OPSYNC_CHECK(read.ok());
    return out;
  }

  // Variant::kHiddenRestore: pages after a restore carry the prefix hash of the log before it,
  // and a read beyond the restored log's end gets an empty page instead of after_seq_beyond_head.
  void hide_restore(const HttpRequest& request, HttpResponse& response) {
    if (old_hashes_.empty() || request.method != "GET") return;
    if (endpoint_of_target(request.method, request.target) != EndpointId::kReadOps) return;
    const std::optional<uint64_t> after_seq_or = parse_decimal_parameter(
        query_parameter(request.target, "after_seq").value_or("0"), 0, UINT64_MAX);
    if (!after_seq_or) return;  // the core refused it; nothing to hide
    const uint64_t after_seq = *after_seq_or;
    if (after_seq > old_hashes_.size()) return;
    const Hash old_hash = opsync::prefix_hash(
        compute_block_hashes(std::span(old_hashes_).first(after_seq), config_.block_size),
        old_hashes_, after_seq, config_.block_size);
    if (response.status == 200) {
      Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
      if (!page.ok()) return;
      page->after_hash = old_hash;
      response.body = serialize_message(*page);
    } else if (response.status == 409) {
      OpsPageResponse page;
      page.after_seq = after_seq;
      page.after_hash = old_hash;
      page.head_seq = after_seq;
      response.status = 200;
      response.body = serialize_message(page);
    }
  }

  NodeHost& world_;
  std::unique_ptr<SeededRandom> random_;
  server::ServerConfig config_;
  server::MemoryStorage storage_;
  std::unique_ptr<server::ServerCore> core_;
  bool up_ = true;
  std::vector<std::shared_ptr<const server::MemoryStorage::Snapshot>> backups_;
  std::vector<Hash> old_hashes_;
};

}  // namespace

// What the server served, for the position and page checkers (LOG-011, LOG-012).
void observe_server_answer(NodeHost& world, const HttpRequest& request,
                           const HttpResponse& response) {
  if (request.method != "GET" || response.status != 200) return;
  const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
  const std::string to = "a device";
  if (endpoint == EndpointId::kReadOps) {
    Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
    if (!page.ok()) return;
    for (size_t i = 0; i < page->ops.size(); ++i) {
      const SequencedOp& op = page->ops[i];
      if (op.seq != page->after_seq + 1 + i)
        world.violation("log_integrity", {"server"}, {to_base64url(op.op.id)},
                        "a page after " + std::to_string(page->after_seq) + " holds position " +
                            std::to_string(op.seq) + " at index " + std::to_string(i) +
                            " (LOG-011)");
      world.observe_position(op.seq, op.op.id, to);
    }
  } else if (endpoint == EndpointId::kReadBlocks) {
    Result<BlocksResponse> blocks = parse_message<BlocksResponse>(response.body);
    if (!blocks.ok()) return;
    for (const BlockEntry& entry : blocks->blocks) world.observe_block(entry.index, entry.hash, to);
  }
}

std::unique_ptr<ServerNode> make_opsync_server(NodeHost& world) {
  return std::make_unique<OpsyncServer>(world);
}

}  // namespace opsync::simulator
