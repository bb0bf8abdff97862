// The client defects that the reference adapter makes through the device's store (ClientDefect).
#include <algorithm>

#include "adapter_parts.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"

namespace opsync::adapter {

using client::BlobKind;

Status defective_commit(client::Device& device, RandomSource& random, ClientDefect defect,
                        uint64_t wall_ms, const std::string& key, OpType type, const Bytes& value,
                        const client::ObjectView& current) {
  client::LocalStore& store = device.store();
  ObjectPayload payload;
  payload.type = type;
  payload.key = key;
  if (type == OpType::kPut) {
    payload.value = value;
    if (current.present()) payload.files = current.winner()->payload.files;
  }
  payload.bases = must(store.bases_for_write(key));
  const Bytes plaintext = serialize_payload(payload);
  const client::SyncMeta meta = must(store.meta());
  WireOp op;
  op.id = random.id();
  op.device_id = store.binding().device_id;
  op.key_id = device.keys().current_key_id;
  if (defect == ClientDefect::kWallClock) {
    op.hlc = Hlc{std::min<uint64_t>(wall_ms, kHlcWallMsLimit - 1), 0};  // the defect: no HLC
    seal_op_payload(device.keys().current().op_key, op, plaintext, random);
  } else {
    HlcClock hlc(meta.hlc);
    const int64_t pt = static_cast<int64_t>(wall_ms) + meta.clock_offset_ms;
    op.hlc =
        hlc.stamp(static_cast<uint64_t>(std::clamp<int64_t>(pt, 0, int64_t{kHlcWallMsLimit} - 1)));
    op.payload = plaintext;  // the defect: no encryption
  }
  const Hlc clock_after = std::max(meta.hlc, op.hlc);
  client::LocalStore::LocalEdit edit{op, ObjectOp{op.id, op.hlc, payload}, {}, clock_after};
  return store.commit_local_edit(edit);
}

void drop_kept_copies(client::LocalStore& store) {
  for (const FileId& id : must(store.unreferenced_files())) {
    const std::optional<client::LocalFile> local = must(store.file(id));
    if (!local || !local->unreferenced_since_ms) continue;
    if (local->local_copy) must(store.set_local_copy(id, false));
    for (BlobKind kind : {BlobKind::kCopy, BlobKind::kPartial})
      if (store.blobs().exists(id, kind)) must(store.blobs().remove(id, kind));
    must(store.forget_file(id));
  }
}

void restart_kept_copies_time(client::LocalStore& store, uint64_t wall_ms) {
  for (const FileId& id : must(store.unreferenced_files())) {
    const std::optional<client::LocalFile> local = must(store.file(id));
    if (local && local->unreferenced_since_ms) must(store.set_unreferenced_since(id, wall_ms));
  }
}

}  // namespace opsync::adapter
