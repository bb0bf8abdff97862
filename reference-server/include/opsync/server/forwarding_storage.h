// Decorators of storage: a transaction that hands every call to another, so that a wrapper
// overrides only the calls it changes (the defective server's broken log, the fuzzer's record of
// writes, the model test's checks) instead of forwarding thirty by hand each time.
#pragma once

#include "opsync/server/storage.h"

namespace opsync::server {

class ForwardingTransaction : public Transaction {
 public:
  explicit ForwardingTransaction(Transaction& inner) : inner_(inner) {}

  std::optional<WorkspaceRecord> workspace(const WorkspaceId& id) override {
    return inner_.workspace(id);
  }
  void insert_workspace(const WorkspaceRecord& record) override { inner_.insert_workspace(record); }
  void set_head_seq(const WorkspaceId& id, uint64_t head_seq) override {
    inner_.set_head_seq(id, head_seq);
  }
  void delete_workspace(const WorkspaceId& id) override { inner_.delete_workspace(id); }

  std::optional<TokenRecord> token_by_secret_hash(const Hash& secret_hash) override {
    return inner_.token_by_secret_hash(secret_hash);
  }
  std::optional<TokenRecord> token(const WorkspaceId& workspace, const TokenId& id) override {
    return inner_.token(workspace, id);
  }
  void put_token(const TokenRecord& record) override { inner_.put_token(record); }
  std::vector<TokenRecord> tokens_after(const WorkspaceId& workspace,
                                        const std::optional<TokenId>& after,
                                        size_t limit) override {
    return inner_.tokens_after(workspace, after, limit);
  }
  uint64_t live_token_count(const WorkspaceId& workspace, uint64_t now_ms) override {
    return inner_.live_token_count(workspace, now_ms);
  }

  std::optional<KeyRecord> key(const WorkspaceId& workspace, uint32_t key_id) override {
    return inner_.key(workspace, key_id);
  }
  void put_key(const WorkspaceId& workspace, const KeyRecord& record) override {
    inner_.put_key(workspace, record);
  }
  uint64_t key_count(const WorkspaceId& workspace) override { return inner_.key_count(workspace); }
  std::vector<KeyRecord> keys_after(const WorkspaceId& workspace, uint32_t after,
                                    size_t limit) override {
    return inner_.keys_after(workspace, after, limit);
  }

  std::optional<LoggedOp> op_by_id(const WorkspaceId& workspace, const OpId& id) override {
    return inner_.op_by_id(workspace, id);
  }
  std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& workspace, const OpId& id,
                                              const StoredOp& op) override {
    return inner_.append_op_if_absent(workspace, id, op);
  }
  std::vector<StoredOp> ops_after(const WorkspaceId& workspace, uint64_t after_seq, size_t limit,
                                  uint64_t payload_bytes_max) override {
    return inner_.ops_after(workspace, after_seq, limit, payload_bytes_max);
  }
  std::vector<Hash> op_hashes(const WorkspaceId& workspace, uint64_t first_seq,
                              uint64_t last_seq) override {
    return inner_.op_hashes(workspace, first_seq, last_seq);
  }
  void put_block_hash(const WorkspaceId& workspace, uint64_t index, const Hash& hash) override {
    inner_.put_block_hash(workspace, index, hash);
  }
  std::vector<Hash> block_hashes(const WorkspaceId& workspace, uint64_t start,
                                 size_t limit) override {
    return inner_.block_hashes(workspace, start, limit);
  }

  std::optional<FileRecord> file(const WorkspaceId& workspace, const FileId& id) override {
    return inner_.file(workspace, id);
  }
  void put_file(const WorkspaceId& workspace, const FileRecord& record) override {
    inner_.put_file(workspace, record);
  }
  void delete_file(const WorkspaceId& workspace, const FileId& id) override {
    inner_.delete_file(workspace, id);
  }
  std::optional<Bytes> chunk(const WorkspaceId& workspace, const FileId& id,
                             uint32_t index) override {
    return inner_.chunk(workspace, id, index);
  }
  void put_chunk(const WorkspaceId& workspace, const FileId& id, uint32_t index,
                 ByteView body) override {
    inner_.put_chunk(workspace, id, index, body);
  }
  std::vector<uint32_t> chunk_indices(const WorkspaceId& workspace, const FileId& id) override {
    return inner_.chunk_indices(workspace, id);
  }
  uint64_t stored_bytes(const WorkspaceId& workspace, const FileId& id) override {
    return inner_.stored_bytes(workspace, id);
  }
  uint64_t uploading_bytes(const WorkspaceId& workspace) override {
    return inner_.uploading_bytes(workspace);
  }
  std::vector<FileKey> files_to_collect(uint64_t deleted_before_ms, uint64_t idle_before_ms,
                                        size_t limit) override {
    return inner_.files_to_collect(deleted_before_ms, idle_before_ms, limit);
  }

 protected:
  Transaction& inner() { return inner_; }

 private:
  Transaction& inner_;
};

}  // namespace opsync::server
