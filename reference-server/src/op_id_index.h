// The SQLite backend's index from operation id to sequence number, held in memory.
//
// Why not an SQLite index: operation ids are random, so every insertion into a B-tree over them
// lands on a random page. At a million operations a batch of 1,000 dirties about 1,000 index pages,
// which the WAL writes, fsyncs and later checkpoints: measured on the reference machine, 25-30 ms
// per batch and growing with the log, against 3 ms for the same batch without that index. The log
// itself is appended in sequence order and stays cheap. So the durable data is the ops table alone
// and this index is a cache derived from it: built on a workspace's first upload by one sequential
// scan, updated as operations are appended, and dropped whenever it might disagree with the
// database (a transaction that did not commit). Nothing is lost by dropping it.
//
// A slot holds a 64-bit fingerprint of the id (a keyed mix, so that clients, who choose their ids,
// cannot aim them at one slot) and the sequence number. A fingerprint match is a candidate only:
// the caller confirms it against the row. 16 bytes per slot at a load of at most 3/4.
//
// Not thread-safe: the storage touches it only while it holds its writer mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <vector>

#include "opsync/protocol/bytes.h"

namespace opsync::server {

class OpIdIndex {
 public:
  // `salt` keys the fingerprints; `slots_max` bounds the memory of all workspaces together (least
  // recently used workspaces are forgotten first; the one in use is always kept).
  OpIdIndex(uint64_t salt, size_t slots_max);

  bool loaded(int64_t workspace) const { return workspaces_.count(workspace) != 0; }
  // Starts an empty index for `workspace`, to be filled with add(); evicts others if needed.
  void start(int64_t workspace);
  // Records that the workspace's log holds `id` at `seq`. REQUIRES: loaded(workspace).
  void add(int64_t workspace, const OpId& id, uint64_t seq);
  // Calls `visit(seq)` for every sequence number whose id may be `id`, until it returns true.
  // Returns whether one did. REQUIRES: loaded(workspace).
  bool find(int64_t workspace, const OpId& id, const std::function<bool(uint64_t)>& visit);
  // Forgets the workspace (it is rebuilt on its next use).
  void forget(int64_t workspace);

  size_t slots() const { return slots_total_; }

  // splitmix64's finalizer: a bijection that spreads every input bit over the output. A
  // fingerprint is mix(mix(low ^ salt) ^ high ^ (salt << 1)) over the id's two 64-bit halves;
  // public so that tests can build ids that share one.
  static uint64_t mix(uint64_t x);

 private:
  struct Slot {
    uint64_t fingerprint = 0;  // 0: empty
    uint64_t seq = 0;
  };
  struct Table {
    std::vector<Slot> slots;
    size_t used = 0;
    std::list<int64_t>::iterator recency;
  };

  uint64_t fingerprint(const OpId& id) const;
  Table& table(int64_t workspace);
  void grow(Table& table);
  void evict_beyond(size_t slots_max, int64_t keep);

  uint64_t salt_;
  size_t slots_max_;
  size_t slots_total_ = 0;
  std::map<int64_t, Table> workspaces_;
  std::list<int64_t> recency_;  // most recently used first
};

}  // namespace opsync::server
