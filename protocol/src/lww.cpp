#include "opsync/protocol/lww.h"

#include <algorithm>

#include "opsync/protocol/check.h"

namespace opsync {

void KeyState::apply(const ObjectOp& op) {
  OPSYNC_CHECK(heads_.empty() || heads_.front().payload.key == op.payload.key);
  // Record what the operation supersedes even if the operation itself is superseded or already
  // held: a superseded operation arriving later must not become a head (LWW-013).
  for (const OpId& base : op.payload.bases) superseded_.insert(base);
  std::erase_if(heads_, [this](const ObjectOp& head) { return superseded_.count(head.id) != 0; });

  if (superseded_.count(op.id) != 0) return;
  const bool held = std::any_of(heads_.begin(), heads_.end(),
                                [&](const ObjectOp& head) { return head.id == op.id; });
  if (held) return;  // applying twice is applying once (LWW-010)
  // Keep heads sorted greatest first so the winner is heads_.front().
  auto position = std::find_if(heads_.begin(), heads_.end(),
                               [&](const ObjectOp& head) { return op_order_less(head, op); });
  heads_.insert(position, op);
  OPSYNC_CHECK(
      std::is_sorted(heads_.begin(), heads_.end(),
                     [](const ObjectOp& a, const ObjectOp& b) { return op_order_less(b, a); }));
}

std::vector<const ObjectOp*> KeyState::conflicts() const {
  std::vector<const ObjectOp*> out;
  for (size_t i = 1; i < heads_.size(); ++i) out.push_back(&heads_[i]);
  return out;
}

std::vector<OpId> KeyState::head_ids() const {
  std::vector<OpId> ids;
  ids.reserve(heads_.size());
  for (const ObjectOp& head : heads_) ids.push_back(head.id);
  return ids;
}

const KeyState* ObjectStore::find(const std::string& key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

std::map<std::string, KeyView> ObjectStore::snapshot() const {
  std::map<std::string, KeyView> out;
  for (const auto& [key, state] : keys_) {
    KeyView view;
    if (const ObjectOp* winner = state.winner()) view.winner = winner->id;
    view.present = state.present();
    for (const ObjectOp* conflict : state.conflicts()) view.conflicts.push_back(conflict->id);
    out.emplace(key, std::move(view));
  }
  return out;
}

}  // namespace opsync
