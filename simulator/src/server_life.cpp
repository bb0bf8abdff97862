#include "server_life.h"

#include "membership.h"
#include "opsync/protocol/endpoints.h"
#include "world.h"

namespace opsync::simulator {
namespace {

Bytes answer_bytes(const HttpResponse& r) {
  Bytes out = to_bytes(std::to_string(r.status) + "\n");
  out.insert(out.end(), r.body.begin(), r.body.end());
  return out;
}

}  // namespace

HttpResponse ServerLife::serve(uint32_t device, uint64_t exchange, const HttpRequest& request,
                               const std::string& token, const std::string& kind) {
  ServerNode& server = world_.server();
  const std::string& device_name = world_.device(device).name;
  // SEC-001: nothing the server receives holds plaintext.
  Bytes received = to_bytes(request.target);
  received.insert(received.end(), request.body.begin(), request.body.end());
  if (std::optional<std::string> leak = scanner_.scan(received))
    world_.violation("plaintext", {device_name, "server"}, {},
                     "the server received " + *leak + " in the clear (" + request.method + " " +
                         request.target + ")");
  HttpResponse response = server.handle(request, token);
  membership_.watch_revocations(request, token, response, device);
  // Only the simulated server's retention is known (file_outlived_its_retention); an external
  // server's log_length() would read its whole log over HTTP after every upload.
  if (!world_.external_server() && response.status == 200 && request.method == "POST" &&
      endpoint_of_target(request.method, request.target) == EndpointId::kUploadOps) {
    truth_.note_log_length(server.log_length(), server.clock.read(world_.now()));
  }
  TraceEvent e;
  e.time_ms = world_.now();
  e.node = "server";
  e.kind = kind;
  e.detail = request.method + " " + request.target + " -> " + std::to_string(response.status);
  e.clock_ms = server.clock.read(world_.now());
  e.exchange = exchange;
  e.peer = device_name;
  trace_.add(std::move(e), answer_bytes(response));
  return response;
}

void ServerLife::kill(uint64_t down_ms) {
  ServerNode& server = world_.server();
  if (!server.up()) return;
  log_length_at_death_ = server.log_length();
  server.crash();
  figures_.server_crashes += 1;
  world_.event("server", "crash",
               "the server is killed, down for " + std::to_string(down_ms) + " ms",
               to_bytes("crash"));
  for (uint32_t d = 0; d < world_.device_count(); ++d) world_.note_fault_for(d);
  world_.schedule(world_.now() + down_ms, [this] {
    if (!world_.server().up()) restart("the server restarts on its storage");
  });
}

void ServerLife::restart(const std::string& why) {
  ServerNode& server = world_.server();
  if (server.up()) return;
  server.restart();
  world_.event("server", "restart", why, to_bytes("restart"));
  // LOG-008: what the server acknowledged survives its death (a restore in between replaced the
  // log on purpose, and forgot the length it had).
  if (log_length_at_death_ && server.log_length() != *log_length_at_death_)
    world_.violation("nothing_lost", {"server"}, {},
                     "the log held " + std::to_string(*log_length_at_death_) +
                         " operations before the server died and " +
                         std::to_string(server.log_length()) + " after it restarted (LOG-008)");
  log_length_at_death_.reset();
}

void ServerLife::restore(uint32_t pick) {
  ServerNode& server = world_.server();
  const bool was_up = server.up();
  const uint64_t before = was_up ? server.log_length() : log_length_at_death_.value_or(0);
  if (!server.restore(pick)) return;  // no backup yet
  log_length_at_death_.reset();
  // The positions past the restored log will be filled again, later.
  truth_.note_log_restored(server.log_length());
  note_restore();
  world_.event("server", "restore",
               std::string(was_up ? "" : "while down, ") + "restored from backup " +
                   std::to_string(pick) + " and started: the log goes from " +
                   std::to_string(before) + " to " + std::to_string(server.log_length()) +
                   " operations",
               to_bytes(std::to_string(pick)));
}

void ServerLife::note_restore() {
  truth_.forget_served();
  figures_.restores += 1;
  for (uint32_t d = 0; d < world_.device_count(); ++d) world_.note_fault_for(d);
}

}  // namespace opsync::simulator
