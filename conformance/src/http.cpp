#include "opsync/conformance/http.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "opsync/protocol/text.h"

namespace opsync::conformance {
namespace {

using Clock = std::chrono::steady_clock;

bool equal_names(std::string_view a, std::string_view b) {
  return ascii_lower(a) == ascii_lower(b);
}

Error transport(std::string message) { return Error(Code::kTransport, std::move(message)); }

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

std::optional<uint64_t> parse_uint(std::string_view text, int base = 10) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

SSL_CTX* client_context(const Server& server) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (!context) return nullptr;
  if (server.insecure) {
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
    const bool loaded = server.ca_file.empty() ? SSL_CTX_set_default_verify_paths(context) == 1
                                               : SSL_CTX_load_verify_locations(
                                                     context, server.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      SSL_CTX_free(context);
      return nullptr;
    }
  }
  return context;
}

}  // namespace

Result<Server> Server::parse(std::string_view url) {
  Server server;
  server.url = std::string(url);
  std::string_view rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
    server.port = 80;
  } else if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
    server.tls = true;
    server.port = 443;
  } else {
    return Error(Code::kInvalidField, "server", "the URL must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    return Error(Code::kInvalidField, "server",
                 "give the server's root URL, without a path (the suite adds /v1/...)");
  // The port follows the last colon, unless that colon is inside an IPv6 literal ("[::1]").
  const size_t colon = rest.rfind(':');
  const size_t bracket = rest.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    const std::optional<uint64_t> port = parse_uint(rest.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535)
      return Error(Code::kInvalidField, "server", "the port must be a number from 1 to 65535");
    server.port = static_cast<uint16_t>(*port);
    rest = rest.substr(0, colon);
  }
  if (rest.size() > 2 && rest.front() == '[' && rest.back() == ']')
    rest = rest.substr(1, rest.size() - 2);
  if (rest.empty()) return Error(Code::kInvalidField, "server", "the URL has no host");
  server.host = std::string(rest);
  return server;
}

std::string HttpRequest::serialize(const Server& server) const {
  std::string out = method + " " + target + " HTTP/1.1\r\n";
  bool has_host = false;
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    has_host = has_host || equal_names(name, "host");
    has_length =
        has_length || equal_names(name, "content-length") || equal_names(name, "transfer-encoding");
  }
  if (!has_host && add_content_length)
    out += "Host: " + server.host + ":" + std::to_string(server.port) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!has_length && add_content_length && (!body.empty() || method == "POST" || method == "PUT"))
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (equal_names(key, name)) return value;
  return std::nullopt;
}

size_t HttpResponse::header_count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& h) { return equal_names(h.first, name); }));
}

struct Connection::Impl {
  int fd = -1;
  SSL_CTX* context = nullptr;
  SSL* ssl = nullptr;
  std::string buffer;  // bytes read and not yet consumed
  bool eof = false;

  ~Impl() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (context) SSL_CTX_free(context);
    if (fd >= 0) ::close(fd);
  }

  // Reads what is available into the buffer; false on timeout. Sets eof when the peer closed.
  bool fill(Clock::time_point deadline) {
    if (eof) return true;
    if (!ssl || SSL_pending(ssl) == 0) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, remaining_ms(deadline));
      if (ready <= 0) return false;
    }
    char chunk[16384];
    ssize_t n;
    if (ssl) {
      n = SSL_read(ssl, chunk, sizeof chunk);
      if (n <= 0) {
        const int error = SSL_get_error(ssl, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return true;
        eof = true;
        return true;
      }
    } else {
      n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
      if (n <= 0) {
        eof = true;
        return true;
      }
    }
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }

  // Waits until the buffer holds `needle` (returns its position) or `count` bytes.
  Result<size_t> until(std::string_view needle, Clock::time_point deadline) {
    size_t from = 0;
    while (true) {
      const size_t at = buffer.find(needle, from);
      if (at != std::string::npos) return at;
      if (buffer.size() > kResponseBytesMax) return transport("the response's head is too large");
      from = buffer.size() >= needle.size() ? buffer.size() - needle.size() + 1 : 0;
      if (eof) return transport("the server closed the connection in the middle of a response");
      if (!fill(deadline)) return transport("no complete response within the timeout");
    }
  }
  Status at_least(size_t count, Clock::time_point deadline) {
    while (buffer.size() < count) {
      if (eof) return transport("the server closed the connection in the middle of a body");
      if (!fill(deadline)) return transport("no complete body within the timeout");
    }
    return {};
  }
  std::string take(size_t count) {
    std::string out = buffer.substr(0, count);
    buffer.erase(0, count);
    return out;
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::open(const Server& server, uint64_t timeout_ms) {
  auto impl = std::make_unique<Impl>();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(server.host.c_str(), std::to_string(server.port).c_str(), &hints, &found) != 0 ||
      !found)
    return transport("cannot resolve " + server.host);
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last_error = "no address";
  for (addrinfo* a = found; a && impl->fd < 0; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (::poll(&p, 1, remaining_ms(deadline)) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      last_error = error ? std::strerror(error) : "timed out";
      ::close(fd);
      continue;
    }
    impl->fd = fd;
  }
  freeaddrinfo(found);
  if (impl->fd < 0)
    return transport("cannot connect to " + server.host + ":" + std::to_string(server.port) + ": " +
                     last_error);
  const int one = 1;
  setsockopt(impl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (server.tls) {
    impl->context = client_context(server);
    if (!impl->context) return transport("cannot set up TLS (is --ca-file readable?)");
    impl->ssl = SSL_new(impl->context);
    SSL_set_fd(impl->ssl, impl->fd);
    SSL_set_tlsext_host_name(impl->ssl, server.host.c_str());
    if (!server.insecure) SSL_set1_host(impl->ssl, server.host.c_str());
    while (true) {
      const int done = SSL_connect(impl->ssl);
      if (done == 1) break;
      const int error = SSL_get_error(impl->ssl, done);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        char text[256];
        const unsigned long code = ERR_get_error();
        ERR_error_string_n(code, text, sizeof text);
        // A plain HTTP server answers the ClientHello with an HTTP status line, which OpenSSL
        // reports as a record of the wrong version: say what the operator has to change.
        if (ERR_GET_REASON(code) == SSL_R_WRONG_VERSION_NUMBER)
          return transport("the server answers plain HTTP, not TLS: use http:// in --server");
        return transport(std::string("TLS handshake failed: ") + text +
                         (server.insecure
                              ? ""
                              : " (use --ca-file, or --insecure for a self-signed test server)"));
      }
      pollfd p{impl->fd, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (::poll(&p, 1, remaining_ms(deadline)) != 1) return transport("TLS handshake timed out");
    }
  }
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Status Connection::send(std::string_view bytes) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  while (!bytes.empty()) {
    ssize_t n;
    if (impl_->ssl) {
      n = SSL_write(impl_->ssl, bytes.data(),
                    static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20)));
      if (n <= 0) {
        const int error = SSL_get_error(impl_->ssl, static_cast<int>(n));
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE)
          return transport("the connection is gone");
        n = 0;
      }
    } else {
      n = ::send(impl_->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return transport(std::string("send: ") + std::strerror(errno));
      if (n < 0) n = 0;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    if (!bytes.empty()) {
      pollfd p{impl_->fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) != 1)
        return transport("the server stopped reading");
    }
  }
  return {};
}

Result<HttpResponse> Connection::read_response(uint64_t timeout_ms, bool head_only) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  HttpResponse response;
  std::vector<int> interim;
  std::vector<Headers> interim_headers;
  while (true) {
    Result<size_t> head_end = impl_->until("\r\n\r\n", deadline);
    // 0x15 0x03: a TLS alert record, how a TLS server answers bytes that are no ClientHello.
    if (!head_end.ok() && impl_->buffer.size() >= 2 && impl_->buffer[0] == '\x15' &&
        impl_->buffer[1] == '\x03')
      return transport("the server answers TLS, not plain HTTP: use https:// in --server");
    if (!head_end.ok()) return head_end.error();
    const std::string head = impl_->take(*head_end + 4);
    const size_t line_end = head.find("\r\n");
    const std::string_view status_line(head.data(), line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12 || status_line[8] != ' ')
      return transport("not an HTTP/1.x status line: " + std::string(status_line.substr(0, 80)));
    const std::optional<uint64_t> status = parse_uint(status_line.substr(9, 3));
    if (!status || *status < 100 || *status > 599)
      return transport("a status line without a status");
    response = HttpResponse{};
    response.status = static_cast<int>(*status);
    response.reason = std::string(status_line.size() > 13 ? status_line.substr(13) : "");
    size_t at = line_end + 2;
    while (at < head.size() - 2) {
      const size_t end = head.find("\r\n", at);
      const std::string_view line(head.data() + at, end - at);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0)
        return transport("a header line without a name");
      response.headers.emplace_back(std::string(line.substr(0, colon)),
                                    std::string(trim_ows(line.substr(colon + 1))));
      at = end + 2;
    }
    if (response.status >= 200) break;
    // An interim response (100 Continue): note it, and read the final one.
    interim.push_back(response.status);
    interim_headers.push_back(response.headers);
    if (interim.size() > 16) return transport("more than 16 interim responses");
  }
  response.interim_statuses = std::move(interim);
  response.interim_headers = std::move(interim_headers);
  if (head_only || response.status == 204 || response.status == 304) return response;
  const std::optional<std::string> coding = response.header("transfer-encoding");
  const std::optional<std::string> length = response.header("content-length");
  if (coding && ascii_lower(*coding) == "chunked") {
    while (true) {
      Result<size_t> size_end = impl_->until("\r\n", deadline);
      if (!size_end.ok()) return size_end.error();
      std::string size_line = impl_->take(*size_end + 2);
      size_line = size_line.substr(0, std::min(size_line.find(';'), size_line.size() - 2));
      const std::optional<uint64_t> size = parse_uint(trim_ows(size_line), 16);
      if (!size) return transport("a bad chunk size in the response");
      if (response.body.size() + *size > kResponseBytesMax)
        return transport("the response body is too large");
      if (*size == 0) {
        Result<size_t> trailer_end = impl_->until("\r\n\r\n", deadline);
        if (!trailer_end.ok() && impl_->buffer.rfind("\r\n", 0) != 0) return trailer_end.error();
        if (impl_->buffer.rfind("\r\n", 0) == 0)
          impl_->take(2);
        else
          impl_->take(*trailer_end + 4);
        return response;
      }
      if (Status s = impl_->at_least(*size + 2, deadline); !s.ok()) return s.error();
      response.body += impl_->take(*size);
      impl_->take(2);
    }
  }
  if (length) {
    const std::optional<uint64_t> bytes = parse_uint(*length);
    if (!bytes || *bytes > kResponseBytesMax)
      return transport("a bad Content-Length in the response: " + *length);
    if (Status s = impl_->at_least(*bytes, deadline); !s.ok()) return s.error();
    response.body = impl_->take(*bytes);
    return response;
  }
  // Neither: the body runs to the close.
  while (!impl_->eof) {
    if (impl_->buffer.size() > kResponseBytesMax)
      return transport("the response body is too large");
    if (!impl_->fill(deadline)) return transport("no end of the body within the timeout");
  }
  response.body = impl_->take(impl_->buffer.size());
  return response;
}

bool Connection::wait_closed(uint64_t timeout_ms) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!impl_->eof) {
    impl_->buffer.clear();
    if (!impl_->fill(deadline)) return false;
  }
  return true;
}

bool Connection::readable(uint64_t timeout_ms) {
  if (!impl_->buffer.empty() || impl_->eof) return true;
  pollfd p{impl_->fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout_ms)) == 1;
}

Result<HttpResponse> exchange_once(const Server& server, const HttpRequest& request,
                                   uint64_t timeout_ms) {
  Result<std::unique_ptr<Connection>> connection = Connection::open(server, timeout_ms);
  if (!connection.ok()) return connection.error();
  if (Status sent = (*connection)->send(request.serialize(server)); !sent.ok()) return sent.error();
  return (*connection)->read_response(timeout_ms, request.method == "HEAD");
}

}  // namespace opsync::conformance
