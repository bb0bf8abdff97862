// Objects and conflicts: last-write-wins per key with visible conflicts (spec section 10).
//
// An operation supersedes the operations it names in `bases`. The heads of a key are its
// operations that no operation supersedes; the winner is the greatest head by (hlc, id), the other
// heads are conflicts. The state is therefore a function of the set of operations held: any order
// and any duplication of the same set gives the same state (LWW-010).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/op.h"

namespace opsync {

enum class OpType : uint8_t { kPut, kDelete };

// A reference to an attached file (spec 10.1).
struct FileRef {
  FileId id;
  std::string name;
  uint64_t size_bytes = 0;
  uint32_t chunk_bytes = 0;
  uint32_t chunk_count = 0;
  Hash sha256;  // of the plaintext

  bool operator==(const FileRef&) const = default;
};

// The decrypted payload of an operation (spec 10.1).
struct ObjectPayload {
  OpType type = OpType::kPut;
  std::string key;
  Bytes value;                 // put only
  std::vector<OpId> bases;     // distinct, at most kBasesMax
  std::vector<FileRef> files;  // put only

  bool operator==(const ObjectPayload&) const = default;
};

// An operation as the object store sees it: identity and clock from the wire form, meaning from
// the decrypted payload.
struct ObjectOp {
  OpId id;
  Hlc hlc;
  ObjectPayload payload;

  bool operator==(const ObjectOp&) const = default;
};

// The total order of spec 10.2: (hlc.wall_ms, hlc.counter, id as unsigned bytes).
inline bool op_order_less(const ObjectOp& a, const ObjectOp& b) {
  if (a.hlc != b.hlc) return a.hlc < b.hlc;
  return a.id < b.id;
}

// The state of one key.
class KeyState {
 public:
  // Takes `op` into the key (idempotent and order-independent).
  // REQUIRES: op belongs to this key (the caller routes by payload.key).
  void apply(const ObjectOp& op);

  bool empty() const { return heads_.empty(); }
  // The greatest head, or nullptr before any operation.
  const ObjectOp* winner() const { return heads_.empty() ? nullptr : &heads_.front(); }
  // The other heads, greatest first.
  std::vector<const ObjectOp*> conflicts() const;
  // All heads, greatest first (what a local write names as bases, LWW-011).
  const std::vector<ObjectOp>& heads() const { return heads_; }
  std::vector<OpId> head_ids() const;
  // True when the winner is a put.
  bool present() const { return winner() && winner()->payload.type == OpType::kPut; }
  bool is_superseded(const OpId& id) const { return superseded_.count(id) != 0; }

 private:
  std::vector<ObjectOp> heads_;  // sorted greatest first
  std::set<OpId> superseded_;    // every id named in the bases of an applied operation
};

// What a key looks like to a reader: compared by the property tests and the simulator.
struct KeyView {
  std::optional<OpId> winner;
  bool present = false;
  std::vector<OpId> conflicts;  // greatest first

  bool operator==(const KeyView&) const = default;
};

// All keys of a workspace, in memory. The reference client keeps the same state in SQLite; this
// class is the model the tests, the vectors and the simulator compare it with.
class ObjectStore {
 public:
  void apply(const ObjectOp& op) { keys_[op.payload.key].apply(op); }
  const KeyState* find(const std::string& key) const;
  std::map<std::string, KeyView> snapshot() const;
  const std::map<std::string, KeyState>& keys() const { return keys_; }

 private:
  std::map<std::string, KeyState> keys_;
};

}  // namespace opsync
