#include "client_traffic.h"

#include <algorithm>

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"

namespace opsync::simulator {
namespace {

constexpr uint64_t kDriftPpmMax = 500;     // the largest drift a profile may give an oscillator
constexpr uint64_t kWaitSlackMs = 5;       // the rounding of a drifting clock's readings
constexpr uint64_t kBackoffCapMs = 64000;  // SYNC-010

std::optional<std::string> file_of_target(const std::string& target) {
  const size_t at = target.find("/files/");
  if (at == std::string::npos) return std::nullopt;
  const size_t from = at + 7;
  const size_t end = target.find_first_of("/?", from);
  return target.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

}  // namespace

// ---- the figures of a sync ----------------------------------------------------------------------

void SyncTraffic::start(uint64_t held_at_start) {
  held_at_start_ = held_at_start;
  read_ops_ = false;
  last_after_seq_ = 0;
  searching_ = false;
  searched_from_ = 0;
}

void SyncTraffic::observe_request(const HttpRequest& request) {
  const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
  if (!endpoint) return;
  switch (*endpoint) {
    case EndpointId::kReadOps: {
      const uint64_t after_seq =
          parse_decimal_parameter(query_parameter(request.target, "after_seq").value_or("0"), 0,
                                  UINT64_MAX)
              .value_or(0);
      // The prefix check reads after the mirror's end.
      if (!read_ops_) held_at_start_ = std::max(held_at_start_, after_seq);
      if (searching_ && searched_from_ > after_seq)
        allowance_ += searched_from_ - after_seq;  // what the search set aside (spec 9.1 step 3)
      read_ops_ = true;
      searching_ = false;
      last_after_seq_ = after_seq;
      break;
    }
    case EndpointId::kReadBlocks:
      if (!searching_) {
        searching_ = true;
        searched_from_ = last_after_seq_;
        // The page whose after_hash failed the check is the search's cost too: the client
        // discards it and reads its operations again after the verified prefix.
        allowance_ += last_page_redundant_;
      }
      break;
    case EndpointId::kUploadOps: {
      moved_ = true;
      // What the checkers judge an operation by if a restore takes it out of the log later.
      Result<UploadOpsRequest> upload = parse_message<UploadOpsRequest>(request.body);
      if (upload.ok())
        for (const WireOp& op : upload->ops) world_.note_uploaded_hlc(op.id, op.hlc);
      break;
    }
    case EndpointId::kPutChunk:
    case EndpointId::kCreateFile:
    case EndpointId::kCommitFile:
    case EndpointId::kDeleteFile:
      moved_ = true;
      break;
    default:
      break;
  }
}

void SyncTraffic::observe_answer(const HttpRequest& request, const HttpResponse& response) {
  if (response.status != 200 || request.method != "GET") return;
  const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
  if (endpoint == EndpointId::kGetChunk || endpoint == EndpointId::kGetFile) {
    moved_ = true;
    return;
  }
  if (endpoint != EndpointId::kReadOps) return;
  Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
  if (!page.ok()) return;
  received_ += page->ops.size();
  if (!page->ops.empty()) moved_ = true;
  last_page_redundant_ = 0;
  for (const SequencedOp& op : page->ops) {
    // Received again: at a position the device held when the sync began, and an operation it
    // holds (a restore may have put other operations at those positions since).
    if (op.seq <= held_at_start_ && held_ids_.count(op.op.id)) ++last_page_redundant_;
    received_ids_.push_back(op.op.id);
  }
  redundant_ += last_page_redundant_;
}

void SyncTraffic::settle_received() {
  held_ids_.insert(received_ids_.begin(), received_ids_.end());
  received_ids_.clear();
}

void SyncTraffic::finish(SyncRecord& record) {
  record.moved = moved_;
  moved_ = false;
  record.redundant_ops = redundant_;
  record.ops_received = received_;
  record.redundancy_allowed = allowance_;
  redundant_ = received_ = allowance_ = last_page_redundant_ = 0;
  record.held_at_start = held_at_start_;
}

// ---- chunks sent again --------------------------------------------------------------------------

void ChunkUploads::check_request(const HttpRequest& request) {
  if (endpoint_of_target(request.method, request.target) != EndpointId::kPutChunk) return;
  if (world_.restores() != restores_at_confirmations_) {
    confirmed_chunks_.clear();
    restores_at_confirmations_ = world_.restores();
  }
  const std::optional<std::string> file = file_of_target(request.target);
  const size_t slash = request.target.rfind('/');
  const std::optional<uint64_t> index =
      parse_decimal_parameter(request.target.substr(slash + 1), 0, UINT32_MAX);
  if (!file || !index) return;
  if (confirmed_chunks_.count({*file, static_cast<uint32_t>(*index)}))
    world_.violation(
        "transfer_cost", {device_name_}, {},
        device_name_ + " uploaded chunk " + std::to_string(*index) + " of file " + *file +
            " again after the server had confirmed it, and nothing the server said since listed "
            "it " +
            "missing: an interrupted upload resumes with the chunks the server lacks (FILE-031)");
}

void ChunkUploads::note_answer(const HttpRequest& request, const HttpResponse& response) {
  const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
  if (!endpoint) return;
  const std::optional<std::string> file = file_of_target(request.target);
  if (!file) return;
  auto forget_file = [&] {
    auto it = confirmed_chunks_.lower_bound({*file, 0});
    while (it != confirmed_chunks_.end() && it->first == *file) it = confirmed_chunks_.erase(it);
  };
  if (*endpoint == EndpointId::kPutChunk && response.status == 200) {
    const size_t slash = request.target.rfind('/');
    const std::optional<uint64_t> index =
        parse_decimal_parameter(request.target.substr(slash + 1), 0, UINT32_MAX);
    if (index) confirmed_chunks_.insert({*file, static_cast<uint32_t>(*index)});
  } else if (*endpoint == EndpointId::kCreateFile && response.status / 100 == 2) {
    forget_file();
  } else if (*endpoint == EndpointId::kGetFile) {
    Result<FileStatus> status = parse_message<FileStatus>(response.body);
    if (response.status != 200 || !status.ok()) return forget_file();
    for (const ChunkRange& range : status->chunks_missing)
      for (uint32_t i = range.first; i < range.second; ++i) confirmed_chunks_.erase({*file, i});
  }
}

// ---- waits --------------------------------------------------------------------------------------

void BackoffWatch::wait_begins(uint64_t asked_ms) {
  if (!began_) began_ = WaitBegan{world_.now(), asked_ms};
}

void BackoffWatch::wait_ends() {
  if (!began_) return;
  const WaitBegan began = *began_;
  began_.reset();
  const uint64_t asked_ms = began.asked_ms;
  const uint64_t waited_ms = world_.now() - began.true_ms;
  const uint64_t allowed_ms = asked_ms + asked_ms * kDriftPpmMax / 1'000'000 + kWaitSlackMs;
  if (asked_ms > kBackoffCapMs)
    world_.violation("backoff", {device_name_}, {},
                     device_name_ + " asked to wait " + std::to_string(asked_ms) +
                         " ms before its next attempt; " + "SYNC-010 caps a wait at " +
                         std::to_string(kBackoffCapMs) + " ms");
  else if (waited_ms > allowed_ms)
    world_.violation("backoff", {device_name_}, {},
                     device_name_ + " waited " + std::to_string(waited_ms) +
                         " ms of true time for a backoff of " + std::to_string(asked_ms) +
                         " ms; a wait must not outlast its length whatever the " +
                         "wall clock does (SYNC-020)");
}

}  // namespace opsync::simulator
