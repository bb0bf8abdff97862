// An in-memory backend for fast simulation and fuzzing. A model-based test
// (tests/storage_model_test.cpp) runs random request sequences against this backend and the
// SQLite one and requires byte-identical responses.
//
// snapshot() and restore() stand for a backup and a restore from it: the simulator restores a
// server from an older snapshot to make it lose its newest operations and files, as an operator
// restoring yesterday's database would.
#pragma once

#include <memory>

#include "opsync/server/storage.h"

namespace opsync::server {

class MemoryStorage final : public Storage {
 public:
  MemoryStorage();
  ~MemoryStorage() override;

  Status read(const std::function<void(Transaction&)>& body) override;
  Status write(const std::function<bool(Transaction&)>& body) override;
  // Kept apart from the contents: snapshot() copies it, restore() leaves it as it is (AUTH-030).
  Status journal_revocation(const Revocation& revocation) override;
  Result<std::vector<Revocation>> journaled_revocations() override;

  // Everything stored, copied: workspaces, tokens, key records, the log, block hashes, files and
  // chunks. Independent of the storage it came from; restoring it any number of times, into this
  // storage or another, gives the same state.
  struct Contents;
  class Snapshot {
   public:
    Snapshot(std::unique_ptr<const Contents> contents, std::vector<Revocation> journal);
    ~Snapshot();
    const Contents& contents() const { return *contents_; }
    const std::vector<Revocation>& journal() const { return journal_; }
    // Operations in the log of every workspace, for a caller choosing what a restore loses.
    uint64_t op_count() const;

   private:
    std::unique_ptr<const Contents> contents_;
    std::vector<Revocation> journal_;
  };
  // Waits for running transactions, like a backup taken between them.
  std::shared_ptr<const Snapshot> snapshot() const;
  // Replaces everything with the snapshot's state: whatever was written after it is gone, but the
  // revocation journal, which a restore of the data does not roll back (AUTH-030).
  void restore(const Snapshot& snapshot);
  // The same, rolling the journal back too: a server that keeps revocations only in its data
  // (the simulator's restore-revives-tokens variant).
  void restore_with_journal(const Snapshot& snapshot);

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace opsync::server
