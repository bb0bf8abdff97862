// The real-world adapter: cpp-httplib carries the engine's requests to a server over HTTP or
// HTTPS, with the system clock, and counts the bytes each way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "opsync/client/engine.h"
#include "opsync/client/http.h"

namespace opsync::client {

struct HttpOptions {
  uint64_t connect_timeout_ms = 10000;
  uint64_t read_timeout_ms = 60000;
  // HTTPS: verify the server's certificate (off only for self-signed test servers).
  bool verify_certificate = true;
  std::string ca_cert_path;  // a CA bundle or a self-signed certificate to trust
};

// Bytes on the wire: request and status lines, headers and bodies as sent and received (HTTP/1.1
// framing; TLS records and TCP/IP headers are not counted).
struct WireBytes {
  uint64_t sent = 0;
  uint64_t received = 0;
};

class HttpTransport final : public Transport {
 public:
  // `server_url`: "http://host:port" or "https://host:port". Fails with kInvalidField otherwise.
  static Result<std::unique_ptr<HttpTransport>> connect(const std::string& server_url,
                                                        HttpOptions options = {});
  ~HttpTransport() override;

  Result<HttpResponse> exchange(const HttpRequest& request, const std::string& token) override;
  const WireBytes& bytes() const { return bytes_; }

  struct Impl;

 private:
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  WireBytes bytes_;
};

// Milliseconds since the Unix epoch, from the system clock: the wall clock reading of the client,
// kept here in the adapter so that everything below it can run on simulated time.
uint64_t system_now_ms();
// Milliseconds of std::chrono::steady_clock: the monotonic reading (only differences mean
// anything).
uint64_t steady_now_ms();
// Both, as the engine takes them.
DeviceTime system_device_time();

// The time a driver passes to the engine, and how it waits for backoff: the system's wall and
// monotonic clocks by default; tests pass their own, so a device can live an hour ahead and
// backoff costs no real time.
struct DriverClock {
  std::function<DeviceTime()> now = system_device_time;
  // Returns once the monotonic clock reads `until_monotonic_ms`; empty: sleep on steady_clock.
  std::function<void(uint64_t until_monotonic_ms)> wait_until;
};

// Drives `engine` to the end over `transport`, waiting through backoff. `progress` (optional) is
// called after every exchange with the engine's report so far.
SyncFinished run_sync(SyncEngine& engine, Transport& transport, const std::string& token,
                      const std::function<void(const SyncReport&)>& progress = {},
                      const DriverClock& clock = {});

}  // namespace opsync::client
