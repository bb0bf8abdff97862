#include "opsync/server/http_server.h"

#include "faults.h"
#include "opsync/protocol/endpoints.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

namespace opsync::server {
namespace {

std::string lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

std::string iso_time(uint64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<unsigned>(ms % 1000));
  return text;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

// Debian's cpp-httplib is a compiled library that listens with a backlog of 5
// (CPPHTTPLIB_LISTEN_BACKLOG). A burst of clients overflows that queue and some of them time out
// before they are accepted. Linux lets a second listen() on the same socket raise the backlog;
// the socket is a protected member, hence this thin subclass.
template <typename Base>
class Listener final : public Base {
 public:
  using Base::Base;
  bool raise_backlog(int backlog) { return ::listen(this->svr_sock_, backlog) == 0; }
};
constexpr int kListenBacklog = 1024;

}  // namespace

uint64_t system_time_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

struct HttpServer::Impl {
  ServerCore& core;
  HttpOptions options;
  std::ostream& log;
  std::unique_ptr<httplib::Server> http;
  int port = 0;
  std::mutex log_mutex;

  // The garbage collector's timer.
  std::mutex gc_mutex;
  std::condition_variable gc_wake;
  bool stopping = false;

  Impl(ServerCore& c, HttpOptions o, std::ostream& l) : core(c), options(std::move(o)), log(l) {}

  void write_log(const Response& response, const std::string& method, const std::string& path, double duration_ms) {
    if (options.log_format == LogFormat::kNone) return;
    std::string request_id;
    for (const auto& [name, value] : response.headers)
      if (name == "OpSync-Request-Id") request_id = value;
    // Routes, not raw paths: paths hold ids, never tokens, but routes keep logs uniform.
    const std::string route = response.route.empty() ? method + " " + path.substr(0, 200) : response.route;
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.2f", duration_ms);
    std::string line;
    if (options.log_format == LogFormat::kJson) {
      line = "{\"time\":\"" + iso_time(system_time_ms()) + "\",\"request_id\":\"" + json_escape(request_id) +
             "\",\"workspace\":\"" + json_escape(response.workspace) + "\",\"route\":\"" + json_escape(route) +
             "\",\"status\":" + std::to_string(response.status) + ",\"duration_ms\":" + duration +
             (response.error_code.empty() ? "" : ",\"error\":\"" + response.error_code + "\"") + "}";
    } else {
      line = iso_time(system_time_ms()) + " " + request_id + " " + (response.workspace.empty() ? "-" : response.workspace) +
             " \"" + route + "\" " + std::to_string(response.status) + " " + duration + "ms" +
             (response.error_code.empty() ? "" : " " + response.error_code);
    }
    std::lock_guard lock(log_mutex);
    log << line << '\n' << std::flush;
  }

  static void send(const Response& from, httplib::Response& to) {
    to.status = from.status;
    for (const auto& [name, value] : from.headers) to.set_header(name, value);
    to.set_content(from.body, from.content_type);
  }

  void serve_request(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader) {
    const auto started = std::chrono::steady_clock::now();
    Request request;
    request.method = req.method;
    // The path as sent, not percent-decoded: routes match it byte for byte (TRN-012).
    request.path = req.target.substr(0, req.target.find('?'));
    if (fault(Fault::kUnknownVersionServed) && request.path.rfind("/v2/", 0) == 0) request.path.replace(0, 3, "/v1");
    // The query as sent: cpp-httplib's params drop repeated pairs, which TRN-011 refuses.
    const size_t question = req.target.find('?');
    if (question != std::string::npos) request.query = parse_query_string(std::string_view(req.target).substr(question + 1));
    for (const auto& [name, value] : req.headers) request.headers.emplace(lower(name), value);  // first wins

    RequestHead head{request.method, request.path, request.query, request.headers, std::nullopt};
    if (req.has_header("Content-Length")) {
      const std::string declared = req.get_header_value("Content-Length");
      head.content_length = std::strtoull(declared.c_str(), nullptr, 10);
    } else if (!reader) {
      head.content_length = req.body.size();
    }

    const uint64_t now_ms = system_time_ms();
    uint64_t body_bytes_max = 0;
    std::optional<Response> rejected = core.preflight(head, now_ms, &body_bytes_max);
    Response response;
    if (rejected) {
      response = std::move(*rejected);
      // The body was never read; close rather than parse it as the next request.
      if (reader) response.headers.emplace_back("Connection", "close");
    } else {
      bool too_large = false;
      if (reader) {
        (*reader)([&](const char* data, size_t length) {
          if (request.body.size() + length > body_bytes_max) {
            too_large = true;  // a chunked body passed the limit: stop reading (LIM-002)
            return false;
          }
          request.body.append(data, length);
          return true;
        });
      }
      if (too_large) {
        Error e(Code::kBodyTooLarge, "the body is larger than " + std::to_string(body_bytes_max) + " bytes");
        e.details.limit_bytes = body_bytes_max;
        response.status = 413;
        response.body = serialize_error(e);
        response.error_code = "body_too_large";
        response.headers.emplace_back("OpSync-Server-Time-Ms", std::to_string(now_ms));
        response.headers.emplace_back("Connection", "close");
      } else {
        response = core.handle(request, now_ms);
      }
    }
    send(response, res);
    const double duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    write_log(response, request.method, request.path, duration_ms);
  }

  void collect_garbage_periodically() {
    std::unique_lock lock(gc_mutex);
    while (!stopping) {
      lock.unlock();
      core.collect_garbage(system_time_ms());
      lock.lock();
      gc_wake.wait_for(lock, std::chrono::milliseconds(options.gc_interval_ms), [this] { return stopping; });
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::bind(ServerCore& core, HttpOptions options, std::ostream& log) {
  auto impl = std::make_unique<Impl>(core, std::move(options), log);
  const HttpOptions& o = impl->options;
  if (o.tls_cert_file.has_value() != o.tls_key_file.has_value())
    return Error(Code::kInvalidField, "tls", "give both --tls-cert and --tls-key, or neither");
  std::function<bool()> raise_backlog;
  if (o.tls_cert_file) {
    auto tls = std::make_unique<Listener<httplib::SSLServer>>(o.tls_cert_file->c_str(), o.tls_key_file->c_str());
    if (!tls->is_valid()) return Error(Code::kInvalidField, "tls", "cannot load the TLS certificate or key");
    raise_backlog = [server = tls.get()] { return server->raise_backlog(kListenBacklog); };
    impl->http = std::move(tls);
  } else {
    auto plain_server = std::make_unique<Listener<httplib::Server>>();
    raise_backlog = [server = plain_server.get()] { return server->raise_backlog(kListenBacklog); };
    impl->http = std::move(plain_server);
  }
  httplib::Server& http = *impl->http;
  Impl* self = impl.get();
  const size_t threads = std::max<size_t>(1, o.threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_read_timeout(static_cast<time_t>(o.read_timeout_ms / 1000), static_cast<time_t>(o.read_timeout_ms % 1000 * 1000));
  http.set_tcp_nodelay(true);
  // Bodies are read through content readers with the core's per-route limits; this only caps
  // what the library would buffer for routes without one.
  http.set_payload_max_length(kReferenceLimits.request_body_bytes_max);
  auto plain = [self](const httplib::Request& req, httplib::Response& res) { self->serve_request(req, res, nullptr); };
  auto streamed = [self](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    self->serve_request(req, res, &reader);
  };
  const std::string any = "/.*";
  http.Get(any, plain);
  http.Options(any, plain);
  http.Post(any, streamed);
  http.Put(any, streamed);
  http.Patch(any, streamed);
  http.Delete(any, streamed);
  // Anything the library itself rejects (a malformed request line, say) still gets a JSON error.
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const Code code = res.status == 413 ? Code::kBodyTooLarge : res.status == 404 ? Code::kNotFound : Code::kMalformedJson;
    res.set_content(serialize_error(Error(code, "the request could not be read")), "application/json");
    res.set_header("OpSync-Server-Time-Ms", std::to_string(system_time_ms()));
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(serialize_error(Error(Code::kInternalError, "internal error")), "application/json");
    res.set_header("OpSync-Server-Time-Ms", std::to_string(system_time_ms()));
  });

  if (o.port == 0) {
    impl->port = http.bind_to_any_port(o.listen_address);
  } else {
    impl->port = http.bind_to_port(o.listen_address, o.port) ? o.port : -1;
  }
  if (impl->port <= 0)
    return Error(Code::kInternalError, "cannot listen on " + o.listen_address + ":" + std::to_string(o.port));
  if (!raise_backlog()) return Error(Code::kInternalError, "cannot raise the listen backlog");
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return static_cast<uint16_t>(impl_->port); }

bool HttpServer::tls() const { return impl_->options.tls_cert_file.has_value(); }

bool HttpServer::running() const { return impl_->http->is_running(); }

void HttpServer::serve() {
  std::thread gc;
  if (impl_->options.gc_interval_ms > 0) gc = std::thread([this] { impl_->collect_garbage_periodically(); });
  impl_->http->listen_after_bind();
  {
    std::lock_guard lock(impl_->gc_mutex);
    impl_->stopping = true;
  }
  impl_->gc_wake.notify_all();
  if (gc.joinable()) gc.join();
}

void HttpServer::stop() {
  if (impl_ && impl_->http) impl_->http->stop();
}

}  // namespace opsync::server
