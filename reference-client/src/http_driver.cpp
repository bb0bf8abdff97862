#include "opsync/client/http_driver.h"

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <future>
#include <string_view>
#include <thread>

namespace opsync::client {

namespace {

// What went wrong, in the user's words: the HTTP library's own names for its failures
// ("Connection", "SSLServerVerification") mean nothing to someone whose server is down.
std::string failure_text(httplib::Error error, const std::string& host) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect to " + host + ", is the server running?";
    case httplib::Error::ConnectionTimeout:
      return "connecting to " + host + " timed out";
    case httplib::Error::Read:
      return "the connection to " + host + " broke while reading the answer";
    case httplib::Error::Write:
      return "the connection to " + host + " broke while sending the request";
    case httplib::Error::SSLConnection:
      return "the TLS handshake with " + host + " failed";
    case httplib::Error::SSLLoadingCerts:
      return "the trusted certificates could not be loaded";
    case httplib::Error::SSLServerVerification:
      return "the certificate of " + host + " is not trusted";
    case httplib::Error::BindIPAddress:
      return "no local address to connect from";
    case httplib::Error::Canceled:
      return "the request was cancelled";
    default:
      return "no answer from " + host;
  }
}

}  // namespace

struct HttpTransport::Impl {
  std::string host;  // scheme, host and port, for messages
  std::unique_ptr<httplib::Client> client;
};

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;

Result<std::unique_ptr<HttpTransport>> HttpTransport::connect(const std::string& server_url,
                                                              HttpOptions options) {
  const bool https = server_url.rfind("https://", 0) == 0;
  if (!https && server_url.rfind("http://", 0) != 0)
    return Error(Code::kInvalidField,
                 "the server URL must start with http:// or https://, not \"" + server_url + "\"");
  auto impl = std::make_unique<Impl>();
  impl->host = server_url;
  impl->client = std::make_unique<httplib::Client>(server_url);
  if (!impl->client->is_valid())
    return Error(Code::kInvalidField, "not a usable server URL: " + server_url);
  impl->client->set_keep_alive(true);
  impl->client->set_connection_timeout(std::chrono::milliseconds(options.connect_timeout_ms));
  impl->client->set_read_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  impl->client->set_write_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  if (https) {
    impl->client->enable_server_certificate_verification(options.verify_certificate);
    if (!options.ca_cert_path.empty()) impl->client->set_ca_cert_path(options.ca_cert_path.c_str());
  }
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
}

Result<HttpResponse> HttpTransport::exchange(const HttpRequest& request, const std::string& token) {
  httplib::Headers headers;
  if (request.authorized && !token.empty()) headers.emplace("Authorization", "Bearer " + token);
  // Content-Type goes to cpp-httplib as the body's type, which writes the field itself: set in
  // `headers` too, it would be sent twice (a request TRN-068 refuses).
  uint64_t sent = request.method.size() + request.target.size() + 12 + request.body.size() + 2;
  if (!request.content_type.empty())
    sent += std::string_view("Content-Type").size() + request.content_type.size() + 4;
  for (const auto& [name, value] : headers) sent += name.size() + value.size() + 4;
  bytes_.sent += sent;

  httplib::Result result = [&] {
    if (request.method == "GET") return impl_->client->Get(request.target, headers);
    if (request.method == "DELETE") return impl_->client->Delete(request.target, headers);
    if (request.method == "PUT")
      return impl_->client->Put(request.target, headers, request.body, request.content_type);
    return impl_->client->Post(request.target, headers, request.body, request.content_type);
  }();
  if (!result) return Error(Code::kTransport, failure_text(result.error(), impl_->host));
  HttpResponse response;
  response.status = result->status;
  response.body = std::move(result->body);
  uint64_t received = 15 + result->reason.size() + response.body.size() + 2;
  for (const auto& [name, value] : result->headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    received += name.size() + value.size() + 4;
    response.headers[lower] = value;
  }
  bytes_.received += received;
  return response;
}

uint64_t system_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t steady_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

DeviceTime system_device_time() { return DeviceTime{system_now_ms(), steady_now_ms()}; }

SyncFinished run_sync(SyncEngine& engine, Transport& transport, const std::string& token,
                      const std::function<void(const SyncReport&)>& progress,
                      const DriverClock& clock) {
  // Bounded by the engine: every request either makes progress or counts against its attempts.
  while (true) {
    SyncStep step = engine.next(clock.now());
    if (auto* finished = std::get_if<SyncFinished>(&step)) return *finished;
    if (auto* wait = std::get_if<WaitUntil>(&step)) {
      // On the monotonic clock (SYNC-020): setting the wall clock neither stretches nor cuts it.
      if (clock.wait_until) {
        clock.wait_until(wait->until_monotonic_ms);
      } else {
        const uint64_t now = clock.now().monotonic_ms;
        if (wait->until_monotonic_ms > now)
          std::this_thread::sleep_for(std::chrono::milliseconds(wait->until_monotonic_ms - now));
      }
      continue;
    }
    const HttpRequest& request = std::get<SendRequest>(step).request;
    Result<HttpResponse> response = [&] {
      if (!engine.has_work()) return transport.exchange(request, token);
      // The engine's work (applying the page in hand) and the trip of the next request share
      // nothing, so the request travels on its own thread meanwhile; the answer waits for both.
      std::future<Result<HttpResponse>> answer =
          std::async(std::launch::async, [&] { return transport.exchange(request, token); });
      engine.work();
      return answer.get();
    }();
    if (response.ok()) {
      engine.on_response(*response, clock.now());
    } else {
      engine.on_transport_failure(response.error().message, clock.now());
    }
    if (progress) progress(engine.report());
  }
}

}  // namespace opsync::client
