#include "ground_truth.h"

#include <limits>
#include <string_view>

#include "opsync/protocol/check.h"
#include "opsync/protocol/endpoints.h"

namespace opsync::simulator {

void GroundTruth::add_edit(EditRecord edit) {
  OPSYNC_CHECK_MSG(!edit_by_op_.count(edit.op), "two edits recorded with one operation id");
  edit_by_op_[edit.op] = edits_.size();
  edits_.push_back(std::move(edit));
}

EditRecord* GroundTruth::edit_by_op(const OpId& id) {
  auto it = edit_by_op_.find(id);
  return it == edit_by_op_.end() ? nullptr : &edits_[it->second];
}

std::optional<OpId> GroundTruth::last_edit_of(uint32_t device) const {
  for (auto it = edits_.rbegin(); it != edits_.rend(); ++it)
    if (it->device == device) return it->op;
  return std::nullopt;
}

void GroundTruth::add_file(const FileId& id, ByteView content, uint32_t device) {
  file_contents_[id] = Bytes(content.begin(), content.end());
  file_attached_by_[id] = device;
}

const Bytes* GroundTruth::file_content(const FileId& id) const {
  auto it = file_contents_.find(id);
  return it == file_contents_.end() ? nullptr : &it->second;
}

std::vector<FileId> GroundTruth::known_files() const {
  std::vector<FileId> out;
  for (const auto& [id, content] : file_contents_) out.push_back(id);
  return out;
}

void GroundTruth::note_file_delete_answered(uint32_t device, const std::string& target,
                                            const client::HttpResponse& response) {
  if (endpoint_of_target("DELETE", target) != EndpointId::kDeleteFile) return;
  const size_t files = target.find("/files/");
  if (files == std::string::npos) return;
  const std::optional<FileId> id =
      fixed_from_base64url<16>(target.substr(files + std::string_view("/files/").size()));
  const std::optional<uint64_t> server_ms = parse_decimal_parameter(
      response.header("opsync-server-time-ms"), 0, std::numeric_limits<uint64_t>::max());
  if (id && server_ms) file_delete_answered_ms_[*id][device] = *server_ms;
}

void GroundTruth::note_chunk_received(uint32_t device, const std::string& target) {
  // GET /v1/workspaces/{workspace_id}/files/{file_id}/chunks/{index}
  const size_t files = target.find("/files/");
  const size_t chunks = target.find("/chunks/");
  if (files == std::string::npos || chunks == std::string::npos || chunks < files) return;
  const size_t id_at = files + std::string_view("/files/").size();
  if (std::optional<FileId> id = fixed_from_base64url<16>(target.substr(id_at, chunks - id_at)))
    file_chunks_received_by_[*id].insert(device);
}

void GroundTruth::note_log_length(uint64_t length, uint64_t server_clock_ms) {
  // Bounded by the log's length, which only a restore shortens (note_log_restored cuts this).
  while (log_position_filled_ms_.size() < length)
    log_position_filled_ms_.push_back(server_clock_ms);
}

void GroundTruth::note_log_restored(uint64_t length) {
  if (log_position_filled_ms_.size() > length) log_position_filled_ms_.resize(length);
}

std::optional<OpId> GroundTruth::serve_position(uint64_t position, const OpId& id) {
  if (position == 0) return std::nullopt;
  if (position <= served_positions_.size()) {
    const OpId& before = served_positions_[position - 1];
    if (before != id) return before;
    return std::nullopt;
  }
  // Positions are served densely from 1: a later one appears only after its predecessors.
  if (position == served_positions_.size() + 1) served_positions_.push_back(id);
  return std::nullopt;
}

bool GroundTruth::serve_block(uint64_t index, const Hash& hash) {
  if (index < served_blocks_.size()) return served_blocks_[index] != hash;
  if (index == served_blocks_.size()) served_blocks_.push_back(hash);
  return false;
}

}  // namespace opsync::simulator
