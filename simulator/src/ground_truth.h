// The ground truth of a run: what the simulator knows that no node reports at the end, kept as
// the run goes for the checkers. Every edit and every sync; every attached file's content, who
// attached it and who received a chunk of it, when each DELETE of it was answered; when each
// position of the server's log was filled; the positions and blocks served since the last
// restore; the timestamps operations were last uploaded with.
//
// Bookkeeping only: the world raises the violations it finds here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "opsync/client/http.h"
#include "records.h"

namespace opsync::simulator {

class GroundTruth {
 public:
  // ---- edits and syncs ----
  // The next edit's index.
  uint64_t edit_count() const { return edits_.size(); }
  // Records an edit (its index is edit_count() when made); one edit per operation id.
  void add_edit(EditRecord edit);
  EditRecord* edit_by_op(const OpId& id);
  std::optional<OpId> last_edit_of(uint32_t device) const;
  void add_sync(SyncRecord record) { syncs_.push_back(std::move(record)); }
  const std::vector<SyncRecord>& syncs() const { return syncs_; }
  // An operation's timestamp as it was last uploaded (a re-stamp after clock_skew changes it).
  void note_uploaded_hlc(const OpId& id, const Hlc& hlc) { uploaded_hlc_[id] = hlc; }

  // ---- files ----
  void add_file(const FileId& id, ByteView content, uint32_t device);
  const Bytes* file_content(const FileId& id) const;
  std::vector<FileId> known_files() const;
  // A 200 to GET .../files/{file_id}/chunks/{index}: the device received a chunk of the file.
  void note_chunk_received(uint32_t device, const std::string& target);
  // An answer to a device's DELETE of a file (200, 404 or 409: FILE-042 counts each as
  // answered), at the server's clock, which starts FILE-040's time.
  void note_file_delete_answered(uint32_t device, const std::string& target,
                                 const client::HttpResponse& response);

  // ---- the server's log ----
  // The server's log is `length` long at its clock `server_clock_ms`: the positions not filled
  // before were filled then.
  void note_log_length(uint64_t length, uint64_t server_clock_ms);
  // A restore left the log `length` long: the positions past it will be filled again, later, and
  // positions and blocks may be served anew.
  void note_log_restored(uint64_t length);
  void forget_served() {
    served_positions_.clear();
    served_blocks_.clear();
  }
  // Position `position` (from 1) served holding `id`: the operation it held before when that was
  // another (LOG-012).
  std::optional<OpId> serve_position(uint64_t position, const OpId& id);
  // Block `index` served with `hash`: true when it had another hash before.
  bool serve_block(uint64_t index, const Hash& hash);

  // The parts of the checkers' end state that the ground truth holds.
  const std::vector<EditRecord>& edits() const { return edits_; }
  const std::map<OpId, size_t>& edit_by_op() const { return edit_by_op_; }
  const std::map<FileId, Bytes>& file_contents() const { return file_contents_; }
  const std::map<FileId, uint32_t>& file_attached_by() const { return file_attached_by_; }
  const std::map<FileId, std::set<uint32_t>>& file_chunks_received_by() const {
    return file_chunks_received_by_;
  }
  const std::map<FileId, std::map<uint32_t, uint64_t>>& file_delete_answered_ms() const {
    return file_delete_answered_ms_;
  }
  const std::vector<uint64_t>& log_position_filled_ms() const { return log_position_filled_ms_; }
  const std::map<OpId, Hlc>& uploaded_hlc() const { return uploaded_hlc_; }

 private:
  std::vector<EditRecord> edits_;
  std::map<OpId, size_t> edit_by_op_;
  std::vector<SyncRecord> syncs_;
  std::map<OpId, Hlc> uploaded_hlc_;
  std::map<FileId, Bytes> file_contents_;
  std::map<FileId, uint32_t> file_attached_by_;
  // The devices that received a chunk of each file from the server (a 200 to GET .../chunks/N):
  // whether a copy ever reached anyone but the device that attached it.
  std::map<FileId, std::set<uint32_t>> file_chunks_received_by_;
  // The server's clock when each device last received an answer to its DELETE of a file (200,
  // 404 or 409: FILE-042 counts each as answered), which starts FILE-040's time.
  std::map<FileId, std::map<uint32_t, uint64_t>> file_delete_answered_ms_;
  // The server's clock when each position of its log was filled (index 0: position 1); a restore
  // cuts it to the restored length.
  std::vector<uint64_t> log_position_filled_ms_;
  std::vector<OpId> served_positions_;  // position - 1 -> operation, since the last restore
  std::vector<Hash> served_blocks_;
};

}  // namespace opsync::simulator
