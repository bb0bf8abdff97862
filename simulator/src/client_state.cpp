#include "client_state.h"

#include "opsync/client/engine.h"

namespace opsync::simulator {

void add_state_to_report(const adapter::DeviceState& state, DeviceReport& out) {
  for (const auto& [key, heads] : state.objects)
    for (const adapter::HeadState& h : heads)
      out.objects[key].push_back(HeadView{h.op_id, h.hlc, h.deleted, h.value, h.files});
  for (const auto& [key, heads] : out.objects)
    for (const HeadView& head : heads)
      out.referenced_files.insert(head.files.begin(), head.files.end());
  for (const auto& [id, file] : state.files) {
    if (!file.held) continue;
    if (out.referenced_files.count(id))
      out.file_copies[id] = file.content;
    else
      (file.kept_after_delete ? out.retained_copies : out.unreferenced_copies).insert(id);
  }
  out.pending_ops = state.pending.size();
  for (const adapter::OpState& op : state.pending) out.pending_hlc[op.op_id] = op.hlc;
  for (const adapter::OpState& op : state.rejected) {
    out.rejected_ops.insert(op.op_id);
    out.pending_hlc[op.op_id] = op.hlc;
  }
  if (state.mirror) {
    out.mirror_length = state.mirror->length;
    out.mirror_prefix_hash = state.mirror->prefix_hash;
  }
}

std::optional<WorkspaceKeys> derive_workspace_keys(const PutKeyRequest& key_record,
                                                   const std::string& password,
                                                   const std::string& passphrase,
                                                   const WorkspaceId& workspace) {
  const SecretKey kek = derive_kek(password, passphrase, key_record.kdf.iterations);
  Result<SecretKey> data_key = unwrap_data_key(kek, key_record.wrapped_key, workspace, 1);
  if (!data_key.ok()) return std::nullopt;
  const Subkeys subkeys = derive_subkeys(*data_key);
  // The simulated workspace has the one key record (key id 1); an operation is opened the way
  // the client opens it (Keyring::open_op).
  const client::Keyring keyring{1, {{1, subkeys}}};
  WorkspaceKeys keys{subkeys, [keyring](const WireOp& op) { return keyring.open_op(op); }};
  return keys;
}

}  // namespace opsync::simulator
