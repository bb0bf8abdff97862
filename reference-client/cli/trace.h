// opsync-client --trace FILE: what a device did, for a bug report that the simulator can replay
// (opsync-sim import). One JSON object a line, appended:
//
//   {"type":"trace","format":"opsync-client-trace/1","device":"laptop","client":"opsync-client
//   0.1.0"}
//   {"type":"exchange","device":...,"sent_ms":...,"received_ms":...,"request":{...},"response":{...}}
//   {"type":"commit","device":...,"clock_ms":...,"command":"put","ops":[{"id":...,"wall_ms":...,"counter":...}]}
//
// Clock readings are the device's own. Bodies are kept as sent and received (ciphertext stays
// ciphertext; binary bodies in base64url), except secrets: a bearer token is never written (a
// request names its token by a fingerprint, the first 8 bytes of its SHA-256 in hex), and the
// values of the members "token", "owner_token", "wrapped_key", "password" and "passphrase" are
// replaced by "redacted:FINGERPRINT:LENGTH". Keys and values of objects never appear in the clear:
// commits name operations by id and timestamp only.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "opsync/client/http.h"
#include "opsync/protocol/op.h"

namespace opsync::client {

class TraceWriter {
 public:
  // Appends to `path`; `device` names the device in every line (the directory's name).
  static Result<std::unique_ptr<TraceWriter>> open(const std::string& path,
                                                   const std::string& device);

  void exchange(const HttpRequest& request, const std::string& token, uint64_t sent_ms,
                const Result<HttpResponse>& response, uint64_t received_ms);
  void committed(const std::string& command, const std::vector<WireOp>& ops, uint64_t clock_ms);

 private:
  TraceWriter(std::ofstream out, std::string device)
      : out_(std::move(out)), device_(std::move(device)) {}
  void line(const std::string& json);

  std::ofstream out_;
  std::string device_;
};

// The fingerprint a trace gives a secret: 16 hex digits of its SHA-256.
std::string secret_fingerprint(const std::string& secret);

// A transport that writes every exchange to a trace.
class TracingTransport final : public Transport {
 public:
  TracingTransport(Transport& inner, TraceWriter& trace) : inner_(inner), trace_(trace) {}
  Result<HttpResponse> exchange(const HttpRequest& request, const std::string& token) override;

 private:
  Transport& inner_;
  TraceWriter& trace_;
};

}  // namespace opsync::client
