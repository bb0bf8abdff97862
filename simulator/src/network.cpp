#include "network.h"

#include <algorithm>

#include "opsync/protocol/sha256.h"
#include "world.h"

namespace opsync::simulator {
namespace {

// Bytes of a request and of a response on the wire, counted as the HTTP driver counts them.
uint64_t request_bytes(const HttpRequest& r, const std::string& token) {
  uint64_t bytes =
      r.method.size() + r.target.size() + 12 + r.body.size() + 2 + 40;  // Host, Content-Length
  if (!token.empty() && r.authorized) bytes += 21 + token.size() + 4;
  if (!r.content_type.empty()) bytes += 12 + r.content_type.size() + 4;
  return bytes;
}
uint64_t response_bytes(const HttpResponse& r) {
  uint64_t bytes = 15 + 2 + r.body.size() + 2;
  for (const auto& [name, value] : r.headers) bytes += name.size() + value.size() + 4;
  return bytes;
}

bool is_upload_transfer(const HttpRequest& r) {
  return (r.method == "PUT" && r.target.find("/chunks/") != std::string::npos) ||
         (r.method == "POST" && r.target.rfind("/file/", 0) == 0);
}
bool is_download_transfer(const HttpRequest& r) {
  return r.method == "GET" &&
         (r.target.find("/chunks/") != std::string::npos || r.target.rfind("/file/", 0) == 0);
}

Bytes message_bytes(const HttpRequest& r) {
  Bytes out = to_bytes(r.method + " " + r.target + "\n");
  out.insert(out.end(), r.body.begin(), r.body.end());
  return out;
}
}  // namespace

Network::Network(World& world, Trace& trace, Figures& figures, GroundTruth& truth, uint32_t devices)
    : world_(world),
      trace_(trace),
      figures_(figures),
      truth_(truth),
      cut_to_server_until_(devices, 0),
      cut_from_server_until_(devices, 0) {}

// ---- partitions and targeted faults -------------------------------------------------------------

void Network::partition(uint32_t device, bool to_server, bool from_server, uint64_t until_ms) {
  if (to_server) cut_to_server_until_[device] = std::max(cut_to_server_until_[device], until_ms);
  if (from_server)
    cut_from_server_until_[device] = std::max(cut_from_server_until_[device], until_ms);
}

void Network::set_offline(uint32_t device, bool offline) {
  cut_to_server_until_[device] = cut_from_server_until_[device] = offline ? UINT64_MAX : 0;
}

void Network::heal() {
  std::fill(cut_to_server_until_.begin(), cut_to_server_until_.end(), 0);
  std::fill(cut_from_server_until_.begin(), cut_from_server_until_.end(), 0);
  targeted_.clear();
}

uint32_t Network::device_of(uint64_t exchange) const { return exchanges_.at(exchange).device; }

bool Network::partitioned(uint32_t device, bool to_server) const {
  const std::vector<uint64_t>& cut = to_server ? cut_to_server_until_ : cut_from_server_until_;
  return device < cut.size() && cut[device] > world_.now();
}

uint64_t Network::latency(Stream& s) const {
  const FaultProfile& f = world_.config().faults;
  uint64_t ms = s.range(f.latency_ms_min, f.latency_ms_max);
  if (world_.in_chaos() && f.latency_spike_ms_max > 0 && s.chance_ppm(f.latency_spike_ppm))
    ms += s.range(0, f.latency_spike_ms_max);
  return ms;
}

std::optional<TargetedFault> Network::take_targeted(uint32_t device, const HttpRequest& request,
                                                    const std::string& kind) {
  for (auto it = targeted_.begin(); it != targeted_.end(); ++it) {
    if (it->device != device || it->kind != kind) continue;
    const size_t space = it->match.find(' ');
    const std::string method = it->match.substr(0, space);
    const std::string fragment = space == std::string::npos ? "" : it->match.substr(space + 1);
    if ((method != "*" && method != request.method) ||
        request.target.find(fragment) == std::string::npos)
      continue;
    TargetedFault found = *it;
    targeted_.erase(it);
    return found;
  }
  return std::nullopt;
}

void Network::send(DeviceNode& device, uint64_t task, HttpRequest request, std::string token) {
  const uint64_t id = ++exchange_count_;
  figures_.requests += 1;
  figures_.bytes_to_server += request_bytes(request, token);
  device.note_bytes(request_bytes(request, token), 0);
  {
    TraceEvent e;
    e.time_ms = world_.now();
    e.node = device.name;
    e.kind = "send";
    e.detail = request.method + " " + request.target;
    e.clock_ms = device.clock.read(world_.now());
    e.exchange = id;
    e.peer = "server";
    trace_.add(std::move(e), message_bytes(request));
  }
  Exchange& x = exchanges_[id];
  x.device = device.index;
  x.task = task;
  x.incarnation = device.incarnation;
  x.sent_ms = world_.now();
  x.request = std::move(request);
  x.token = std::move(token);
  Stream& net = world_.stream("network/" + device.name);
  const FaultProfile& f = world_.config().faults;
  const bool faults = world_.in_chaos();
  const uint64_t timeout_at = world_.now() + f.timeout_ms;

  if (partitioned(device.index, true)) {
    world_.event(device.name, "refused", "partitioned from the server",
                 to_bytes(std::to_string(id)), id);
    figures_.messages_lost += 1;
    fail(id, "connection refused (partitioned)", world_.now() + latency(net));
    return;
  }
  if (take_targeted(device.index, x.request, "drop") ||
      (faults && net.chance_ppm(f.request_loss_ppm))) {
    world_.event(device.name, "lost", "request lost before the server",
                 to_bytes(std::to_string(id)), id);
    figures_.messages_lost += 1;
    fail(id, "no answer (the request was lost)", timeout_at);
    return;
  }
  if (is_upload_transfer(x.request)) {
    std::optional<TargetedFault> reset = take_targeted(device.index, x.request, "reset");
    if (reset || (faults && net.chance_ppm(f.reset_ppm))) {
      const uint64_t body = x.request.body.size();
      const uint64_t cut =
          reset ? body * reset->cut_percent / 100 : (body == 0 ? 0 : net.draw(body));
      const uint64_t arrive_at = world_.now() + latency(net);
      world_.event(device.name, "reset",
                   "connection reset after " + std::to_string(cut) + " of " + std::to_string(body) +
                       " body bytes",
                   to_bytes(std::to_string(id) + ":" + std::to_string(cut)), id);
      figures_.messages_lost += 1;
      world_.schedule(arrive_at, [this, id, cut] {
        auto it = exchanges_.find(id);
        if (it == exchanges_.end() || !world_.server().up()) return;
        world_.server().handle_cut(it->second.request, it->second.token, cut);
      });
      fail(id, "connection reset during the transfer", arrive_at + 1);
      return;
    }
  }
  if (faults && net.chance_ppm(f.slow_ppm)) {
    // A slow request: the server gets it only after the device stopped waiting, and acts on it
    // then, perhaps after the device's retry; its answer finds no one waiting.
    const uint64_t late_at = timeout_at + net.range(1, std::max<uint32_t>(1, f.slow_ms_max));
    world_.event(device.name, "slow", "the request reaches the server after the device's timeout",
                 to_bytes(std::to_string(id)), id);
    figures_.messages_lost += 1;
    world_.schedule(late_at,
                    [this, device = device.index, request = x.request, token = x.token, id] {
                      if (world_.server().up())
                        world_.serve(device, id, request, token, "arrive-late");
                    });
    fail(id, "no answer (the request timed out)", timeout_at);
    return;
  }
  const uint64_t arrive_at = world_.now() + latency(net);
  world_.schedule(arrive_at, [this, id] { arrive(id, false); });
  if (faults && net.chance_ppm(f.duplicate_ppm)) {
    const uint64_t again_at = arrive_at + latency(net);
    world_.schedule(again_at, [this, id] { arrive(id, true); });
  }
}

void Network::arrive(uint64_t id, bool duplicate) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;  // a duplicate of an exchange that ended
  Exchange& x = it->second;
  const std::string& device_name = world_.device(x.device).name;
  Stream& net = world_.stream("network/" + device_name);
  if (!world_.server().up()) {
    if (!duplicate) {
      world_.event("server", "refused", "the server is down", to_bytes(std::to_string(id)), id);
      figures_.messages_lost += 1;
      fail(id, "connection refused (the server is down)", world_.now() + latency(net));
    }
    return;
  }
  HttpResponse response =
      world_.serve(x.device, id, x.request, x.token, duplicate ? "arrive-again" : "arrive");
  if (duplicate) return;  // the second copy's answer goes nowhere: the device reads one answer
  x.answered = true;
  const FaultProfile& f = world_.config().faults;
  const bool faults = world_.in_chaos();
  if (partitioned(x.device, false) || take_targeted(x.device, x.request, "drop-answer") ||
      (faults && net.chance_ppm(f.response_loss_ppm))) {
    world_.event("server", "lost", "answer lost after the server acted",
                 to_bytes(std::to_string(id)), id);
    figures_.messages_lost += 1;
    fail(id, "no answer (the answer was lost)", std::max(world_.now(), x.sent_ms + f.timeout_ms));
    return;
  }
  if (is_download_transfer(x.request) && response.status == 200 && faults &&
      net.chance_ppm(f.reset_ppm)) {
    world_.event("server", "reset", "connection reset during the download",
                 to_bytes(std::to_string(id)), id);
    figures_.messages_lost += 1;
    fail(id, "connection reset during the transfer", world_.now() + latency(net));
    return;
  }
  world_.schedule(
      world_.now() + latency(net),
      [this, id, response = std::move(response)]() mutable { deliver(id, std::move(response)); });
}

void Network::deliver(uint64_t id, HttpResponse response) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  Exchange x = std::move(it->second);
  exchanges_.erase(it);
  DeviceNode& device = world_.device(x.device);
  if (device.incarnation != x.incarnation) {
    world_.event(device.name, "dropped", "an answer to a device that restarted since",
                 to_bytes(std::to_string(id)));
    return;
  }
  figures_.bytes_from_server += response_bytes(response);
  device.note_bytes(0, response_bytes(response));
  {
    TraceEvent e;
    e.time_ms = world_.now();
    e.node = device.name;
    e.kind = "deliver";
    e.detail =
        std::to_string(response.status) + " for " + x.request.method + " " + x.request.target;
    e.clock_ms = device.clock.read(world_.now());
    e.exchange = id;
    e.peer = "server";
    const Hash body = sha256(to_bytes(response.body));
    Bytes bytes = to_bytes(std::to_string(response.status));
    append_bytes(bytes, body.view());
    trace_.add(std::move(e), bytes);
  }
  if (response.status == 200 && x.request.method == "GET")
    truth_.note_chunk_received(x.device, x.request.target);
  if (x.request.method == "DELETE" &&
      (response.status == 200 || response.status == 404 || response.status == 409))
    truth_.note_file_delete_answered(x.device, x.request.target, response);
  device.on_answer(x.task, response);
}

void Network::fail(uint64_t id, const std::string& what, uint64_t at_ms) {
  world_.schedule(std::max(at_ms, world_.now()), [this, id, what] {
    auto it = exchanges_.find(id);
    if (it == exchanges_.end()) return;
    const Exchange x = std::move(it->second);
    exchanges_.erase(it);
    DeviceNode& device = world_.device(x.device);
    if (device.incarnation != x.incarnation) return;
    {
      TraceEvent e;
      e.time_ms = world_.now();
      e.node = device.name;
      e.kind = "failure";
      e.detail = what;
      e.clock_ms = device.clock.read(world_.now());
      e.exchange = id;
      e.peer = "server";
      trace_.add(std::move(e), to_bytes(what));
    }
    world_.note_fault_for(x.device);
    device.on_failure(x.task, what);
  });
}

}  // namespace opsync::simulator
