// The sync engine's phases and entry points: the table of phases, the request in flight, the
// clock estimate and the retries. The log sync is in engine_log.cpp, the file sync in
// engine_files.cpp and engine_file_jobs.cpp.
#include "opsync/client/engine.h"

#include <algorithm>
#include <cstddef>

#include "engine_impl.h"
#include "opsync/protocol/check.h"

namespace opsync::client {

const Subkeys* Keyring::find(uint32_t key_id) const {
  auto it = keys.find(key_id);
  return it == keys.end() ? nullptr : &it->second;
}

const Subkeys& Keyring::current() const {
  const Subkeys* subkeys = find(current_key_id);
  OPSYNC_CHECK_MSG(subkeys != nullptr, "the keyring lacks its current key");
  return *subkeys;
}

std::optional<ObjectOp> Keyring::open_op(const WireOp& op) const {
  const Subkeys* subkeys = find(op.key_id);
  if (!subkeys) return std::nullopt;
  Result<ObjectOp> opened = opsync::open_op(subkeys->op_key, op);
  if (!opened.ok()) return std::nullopt;
  return std::move(opened).value();
}

uint64_t backoff_ms(uint32_t attempt, uint64_t unit_ms, uint64_t cap_ms) {
  const uint64_t factor = attempt >= 32 ? (uint64_t{1} << 32) : (uint64_t{1} << attempt);
  if (unit_ms != 0 && factor > cap_ms / unit_ms) return cap_ms;
  return std::min(cap_ms, factor * unit_ms);
}

using engine_parts::fail;
using engine_parts::parse_or_fail;
using engine_parts::Phase;
using engine_parts::PhaseSet;
using engine_parts::SyncFailure;
using engine_parts::take;

namespace {

using Impl = SyncEngine::Impl;

struct PhaseRow {
  Phase phase;
  const char* request;                  // what the phase asks of the server
  PhaseSet next;                        // where its answers may lead, besides back to itself
  void (Impl::*plan)(uint64_t now_ms);  // sends the request, or moves on when there is none
};

using enum Phase;

// The phases of one sync (spec 9.1) in the order a sync first meets them: the version and limits
// (VER-002), the prefix check (SYNC-001) and the divergence search (SYNC-002), pages of operations
// (SYNC-004), the files before uploads (FILE-021), uploads (SYNC-005) with catch-up pages after
// them, the final file pass (spec 11.4) and the unreferenced files (FILE-022). Phases only move
// forward, except back to pages after a divergence search or an upload round.
constexpr PhaseRow kPhaseTable[] = {
    // {phase, request, next phases on its answers, plan}
    {kInfo, "GET /v1/info", {kPrefix}, &Impl::ask_info},
    {kPrefix, "GET /ops?after_seq=m, the prefix check", {kPages, kBlocks}, &Impl::ask_prefix},
    {kBlocks, "GET /blocks, the divergence search", {kPages}, &Impl::ask_blocks},
    {kPages, "GET /ops, the next page", {kBlocks, kFileStatus, kUpload}, &Impl::ask_pages},
    {kFileStatus, "POST /file-status", {kFiles}, &Impl::ask_files},
    {kFiles, "POST, GET and PUT of files and chunks", {kUpload, kCleanup}, &Impl::ask_files},
    {kUpload, "POST /ops, a batch", {kPages}, &Impl::ask_upload},
    {kCleanup, "DELETE /files/{id}", {kDone}, &Impl::ask_cleanup},
    {kDone, "nothing: the sync is recorded", {}, &Impl::record_done},
};

constexpr bool table_in_phase_order() {
  for (size_t i = 0; i < std::size(kPhaseTable); ++i)
    if (static_cast<size_t>(kPhaseTable[i].phase) != i) return false;
  return std::size(kPhaseTable) == static_cast<size_t>(Phase::kDone) + 1;
}
static_assert(table_in_phase_order(), "kPhaseTable has one row per phase, in order");

const PhaseRow& row_of(Phase phase) { return kPhaseTable[static_cast<size_t>(phase)]; }

// Statuses worth another attempt after backoff: the server could not answer now.
bool is_transient(int status) { return status >= 500; }

}  // namespace

namespace engine_parts {

SyncSession::SyncSession(LocalStore& s, const Keyring& k, RandomSource& r, SyncOptions o)
    : store(s), keys(k), random(r), options(o) {
  workspace = to_base64url(store.binding().workspace_id);
  const SyncMeta meta = take(store.meta());
  offset_ms = meta.clock_offset_ms;
  stored_offset_ms = meta.clock_offset_ms;
  clock = HlcClock(meta.hlc);
}

void SyncSession::enter(Phase next) {
  OPSYNC_CHECK_MSG(next == phase || row_of(phase).next.contains(next),
                   "a phase move that kPhaseTable does not list");
  phase = next;
}

uint64_t SyncSession::physical_ms(uint64_t now_ms) const {
  const int64_t pt = static_cast<int64_t>(now_ms) + offset_ms;
  return pt < 0 ? 0 : static_cast<uint64_t>(pt);
}

void SyncSession::send(HttpRequest r, AnswerHandler handler) {
  request = std::move(r);
  on_answer = std::move(handler);
  attempt = 0;
  retry_at_monotonic_ms.reset();
}

// ---- responses that every request shares ---------------------------------------------------

void SyncSession::save_offset() {
  if (offset_ms == stored_offset_ms) return;
  take(store.set_clock_offset_ms(offset_ms));
  stored_offset_ms = offset_ms;
}

std::optional<uint64_t> SyncSession::server_time_of(const HttpResponse& response) {
  const std::string& header = response.header("opsync-server-time-ms");
  if (header.empty() || header.size() > 16) return std::nullopt;
  uint64_t server_ms = 0;
  for (char c : header) {
    if (c < '0' || c > '9') return std::nullopt;
    server_ms = server_ms * 10 + static_cast<uint64_t>(c - '0');
  }
  return server_ms;
}

void SyncSession::observe_server_time(const HttpResponse& response, DeviceTime now, bool force) {
  const std::optional<uint64_t> read = server_time_of(response);
  if (!read) return;
  const uint64_t server_ms = *read;
  last_server_ms = server_ms;
  // The round trip on the monotonic clock; the request's midpoint on the wall clock is then
  // that much before the receipt (HLC-010), whatever the wall clock did meanwhile.
  const uint64_t round_trip_ms =
      now.monotonic_ms >= sent_at.monotonic_ms ? now.monotonic_ms - sent_at.monotonic_ms : 0;
  if (!force && best_round_trip_ms && round_trip_ms > *best_round_trip_ms) return;
  best_round_trip_ms = round_trip_ms;
  const uint64_t sent_wall_ms = now.wall_ms >= round_trip_ms ? now.wall_ms - round_trip_ms : 0;
  offset_ms = estimate_clock_offset_ms(sent_wall_ms, now.wall_ms, server_ms);
  report.clock_offset_ms = offset_ms;
}

}  // namespace engine_parts

// ---- planning the next request ---------------------------------------------------------------

void SyncEngine::Impl::plan(uint64_t now_ms) {
  // Every phase either sends a request or moves to a later phase; phases only move forward
  // except the bounded upload rounds, so this loop ends.
  for (int guard = 0; guard < 64 && !session.request && !finished; ++guard)
    (this->*row_of(session.phase).plan)(now_ms);
  OPSYNC_CHECK_MSG(session.request || finished, "the sync engine planned nothing");
}

void SyncEngine::Impl::ask_info(uint64_t /*now_ms*/) {
  session.send({"GET", endpoint_path(EndpointId::kInfo, {}), "", "", false},
               [this](const HttpResponse& r, DeviceTime) { on_info(r); });
}

void SyncEngine::Impl::on_info(const HttpResponse& response) {
  const InfoResponse info = parse_or_fail<InfoResponse>(response, "info");
  if (std::find(info.versions.begin(), info.versions.end(), 1u) == info.versions.end())
    fail(Code::kUnsupportedVersion, "the server does not speak protocol version 1 (VER-002)");
  session.limits = info.limits;
  session.file_retention_ms = info.file_retention_ms;
  session.report.max_clock_skew_ms = info.max_clock_skew_ms;
  session.save_offset();
  session.enter(Phase::kPrefix);
}

void SyncEngine::Impl::record_done(uint64_t now_ms) {
  take(session.store.record_sync_success(now_ms));
  session.save_offset();
  finished = SyncFinished{};
}

// ---- entry points ----------------------------------------------------------------------------

SyncStep SyncEngine::Impl::next(DeviceTime now) {
  if (finished) return *finished;
  OPSYNC_CHECK_MSG(!session.awaiting_answer, "next() before the last request was answered");
  try {
    // Waits are on the monotonic clock (SYNC-020): a wall clock set back, stepped forward or
    // standing still neither stretches nor cuts them.
    if (session.retry_at_monotonic_ms && now.monotonic_ms < *session.retry_at_monotonic_ms)
      return WaitUntil{*session.retry_at_monotonic_ms};
    session.retry_at_monotonic_ms.reset();
    if (!session.request) plan(now.wall_ms);
    if (finished) return *finished;
    session.awaiting_answer = true;
    session.sent_at = now;
    ++session.report.requests;
    return SendRequest{*session.request};
  } catch (const SyncFailure& failure) {
    finished = SyncFinished{failure.error};
    return *finished;
  }
}

// Work left by the last answer; a failure here ends the sync, and the answer to the request
// already sent is then ignored.
void SyncEngine::Impl::work() {
  if (finished) return;
  try {
    log.apply_held_page();
  } catch (const SyncFailure& failure) {
    finished = SyncFinished{failure.error};
  }
}

void SyncEngine::Impl::answer(const HttpResponse& response, DeviceTime now) {
  OPSYNC_CHECK_MSG(session.awaiting_answer, "a response without a request");
  session.awaiting_answer = false;
  work();
  if (finished) return;
  try {
    session.observe_server_time(response, now);
    if (is_transient(response.status))
      return retry(now, "the server answered " + std::to_string(response.status));
    auto handler = std::move(session.on_answer);
    session.request.reset();
    session.on_answer = nullptr;
    handler(response, now);
  } catch (const SyncFailure& failure) {
    finished = SyncFinished{failure.error};
  }
}

void SyncEngine::Impl::transport_failure(const std::string& what, DeviceTime now) {
  OPSYNC_CHECK_MSG(session.awaiting_answer, "a transport failure without a request");
  session.awaiting_answer = false;
  work();
  if (finished) return;
  retry(now, what);
}

// SYNC-008: the same request again, after backoff (SYNC-010); uploads are idempotent.
void SyncEngine::Impl::retry(DeviceTime now, const std::string& what) {
  const SyncOptions& options = session.options;
  if (++session.attempt >= options.transport_attempts_max) {
    finished = SyncFinished{
        Error(Code::kTransport, what + " (" + std::to_string(session.attempt) + " attempts)")};
    return;
  }
  session.retry_at_monotonic_ms =
      now.monotonic_ms +
      backoff_ms(session.attempt - 1, options.backoff_unit_ms, options.backoff_cap_ms);
}

SyncEngine::SyncEngine(LocalStore& store, const Keyring& keys, RandomSource& random,
                       SyncOptions options)
    : impl_(std::make_unique<Impl>(store, keys, random, options)) {}
SyncEngine::~SyncEngine() = default;
SyncStep SyncEngine::next(DeviceTime now) { return impl_->next(now); }
void SyncEngine::on_response(const HttpResponse& response, DeviceTime now) {
  impl_->answer(response, now);
}
void SyncEngine::on_transport_failure(const std::string& what, DeviceTime now) {
  impl_->transport_failure(what, now);
}
bool SyncEngine::has_work() const { return impl_->log.has_held_page() && !impl_->finished; }
void SyncEngine::work() { impl_->work(); }
const SyncReport& SyncEngine::report() const { return impl_->session.report; }

}  // namespace opsync::client
