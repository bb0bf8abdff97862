// The state dump of ADP-061, read from the device's store.
#include <algorithm>
#include <set>
#include <tuple>

#include "adapter_parts.h"

namespace opsync::adapter {

using client::BlobKind;

DeviceState dump_device_state(client::LocalStore& store) {
  DeviceState state;
  for (const std::string& key : must(store.keys_with_heads())) {
    const client::ObjectView view = must(store.get(key));
    if (view.heads.empty()) continue;
    std::vector<HeadState>& heads = state.objects[key];
    for (const ObjectOp& op : view.heads) {
      HeadState head{op.id, op.hlc, op.payload.type == OpType::kDelete, op.payload.value, {}};
      for (const FileRef& ref : op.payload.files) head.files.push_back(ref.id);
      heads.push_back(std::move(head));
    }
    // ADP-061: in descending (hlc, op id) order, so the winner (LWW-010) comes first. The store
    // keeps them so already; sorting here makes the dump's order this function's promise.
    std::sort(heads.begin(), heads.end(), [](const HeadState& a, const HeadState& b) {
      return std::tie(b.hlc, b.op_id) < std::tie(a.hlc, a.op_id);
    });
  }
  std::set<FileId> referenced;
  for (const FileId& id : must(store.referenced_files())) {
    referenced.insert(id);
    const std::optional<client::LocalFile> local = must(store.file(id));
    FileState& file = state.files[id];
    if (!local || !local->local_copy) continue;
    std::optional<Bytes> copy = store.blobs().read(id, BlobKind::kCopy, 0, local->ref.size_bytes);
    file.held = true;
    file.content = copy ? *copy : Bytes();
  }
  for (const FileId& id : store.blobs().list(BlobKind::kCopy)) {
    if (referenced.count(id)) continue;
    const std::optional<client::LocalFile> local = must(store.file(id));
    FileState& file = state.files[id];
    file.held = true;
    const std::optional<uint64_t> size = store.blobs().size(id, BlobKind::kCopy);
    std::optional<Bytes> copy = store.blobs().read(id, BlobKind::kCopy, 0, size.value_or(0));
    file.content = copy ? *copy : Bytes();
    file.kept_after_delete = local && local->unreferenced_since_ms.has_value();
  }
  for (const client::PendingOp& pending : must(store.ops_to_upload(SIZE_MAX)))
    state.pending.push_back(OpState{pending.op.id, pending.op.hlc});
  for (const client::RejectedOp& rejected : must(store.rejected_ops()))
    state.rejected.push_back(OpState{rejected.pending.op.id, rejected.pending.op.hlc});
  const uint64_t length = must(store.mirror_size());
  state.mirror = Mirror{length, must(store.prefix_hash(length))};
  return state;
}

}  // namespace opsync::adapter
