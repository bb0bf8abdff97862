#include "opsync/server/http_server.h"

#include <malloc.h>
#include <sys/resource.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "defects.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/text.h"

namespace opsync::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using HeaderMap = std::map<std::string, std::string>;

// Room in a connection's read buffer beyond the largest header section: body bytes and the
// start of a pipelined request read together with a head. Chunk-size lines and trailers must
// fit in it too; a longer one is a framing error.
constexpr size_t kReadBufferSlackBytes = 65536;
// How long, and for how many bytes, a connection closed after an error answer keeps reading
// what the client still sends, so that a reset does not destroy the answer in flight.
constexpr uint64_t kLingerMs = 2000;
constexpr size_t kLingerBytesMax = 16 * 1048576;
// Connections refused for the connection cap are answered at once; beyond this many such
// answers in flight, refused connections are closed without one.
constexpr size_t kRefusalsInFlightMax = 256;
// How long a refused connection may take to receive its 503.
constexpr uint64_t kRefusalWriteMs = 1000;
// After a failed accept (out of file descriptors, say), wait this long before the next.
constexpr uint64_t kAcceptRetryMs = 50;
// File descriptors beyond connections_max: the database, logs, listening socket, TLS files.
constexpr uint64_t kSpareFileDescriptors = 64;
// What a JSON body costs while it is parsed, per byte of body: the body itself and its document.
// nlohmann's values take 16 bytes each plus their containers; the costliest shapes (arrays of
// empty objects, of empty strings, of nested arrays) peak at about 32 bytes per byte of text
// (an 8 MiB body of "{}," items, 270 MB; see bench/server_bench).
constexpr uint64_t kJsonMemoryPerBodyByte = 33;
// After a request whose share was at least this large, its worker hands the freed pages back to
// the system: the allocator keeps an arena per thread, and without this each worker would keep
// the largest document it ever parsed.
constexpr uint64_t kTrimAfterBytes = 32 * 1048576;
constexpr uint64_t kMib = 1048576;

std::string iso_time(uint64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<unsigned>(ms % 1000));
  return text;
}

// The Date header (RFC 9110 6.6.1, IMF-fixdate) of an answer, from the time the core stamped it
// with (OpSync-Server-Time-Ms), so that the two never disagree and the adapter reads no clock
// for it.
void set_date(http::fields& fields, const Response& response) {
  for (const auto& [name, value] : response.headers) {
    if (name != "OpSync-Server-Time-Ms") continue;
    const std::time_t seconds = static_cast<std::time_t>(std::stoull(value) / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);  // the C locale's names
    fields.set(http::field::date, text);
  }
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

// The path and query of a request target (RFC 9112 3.2): origin-form "/path?query", or
// absolute-form "http://host/path?query", which a server accepts although clients send it only
// to proxies (the authority is ignored: this server has one). nullopt for anything else, the
// asterisk-form "*" included (TRN-071). The path is kept as sent, not percent-decoded: routes match
// it byte for byte (TRN-012); the query is split and decoded as TRN-013 says, repeats kept so
// that the core refuses them (TRN-011).
struct Target {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};

std::optional<Target> parse_request_target(std::string_view /*method*/, std::string_view target) {
  std::string_view path_and_query;
  // The asterisk form is OPTIONS's in HTTP, but names nothing of this protocol: refused like
  // a malformed target, as fronts do (TRN-071).
  if (target == "*") return std::nullopt;
  if (!target.empty() && target.front() == '/') {
    path_and_query = target;
  } else if (defect(Defect::kAbsoluteFormRefused)) {
    return std::nullopt;
  } else {
    const std::string scheme = ascii_lower(target.substr(0, std::min<size_t>(target.size(), 8)));
    size_t authority_start = 0;
    if (scheme.rfind("http://", 0) == 0)
      authority_start = 7;
    else if (scheme.rfind("https://", 0) == 0)
      authority_start = 8;
    else
      return std::nullopt;
    const std::string_view rest = target.substr(authority_start);
    const size_t path_start = rest.find_first_of("/?");
    if (path_start == 0) return std::nullopt;  // no authority
    path_and_query =
        path_start == std::string_view::npos ? std::string_view("/") : rest.substr(path_start);
  }
  if (path_and_query.find('#') != std::string_view::npos)
    return std::nullopt;  // fragments are not sent
  Target out;
  const size_t question = path_and_query.find('?');
  out.path = std::string(path_and_query.substr(0, question));
  if (out.path.empty() || out.path.front() != '/') out.path.insert(out.path.begin(), '/');
  if (defect(Defect::kUnknownVersionServed) && out.path.rfind("/v2/", 0) == 0)
    out.path.replace(0, 3, "/v1");
  if (question != std::string_view::npos)
    out.query = parse_query_string(path_and_query.substr(question + 1));
  return out;
}

// The bytes of a target's path and query: the whole of an origin-form target, an absolute-form
// target without its scheme and authority (TRN-067).
uint64_t origin_form_bytes(std::string_view target) {
  if (!target.empty() && target.front() == '/') return target.size();
  const size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return target.size();
  const size_t path_start = target.find_first_of("/?", scheme_end + 3);
  return path_start == std::string_view::npos ? 1 : target.size() - path_start;
}

// Reads one request under the rules of RFC 9112 that Beast leaves to its user, and the limits
// of the header section. Beast itself rejects malformed request lines and fields, bad chunk
// framing, Content-Length that is not plain digits, conflicting Content-Length values, and
// Content-Length together with Transfer-Encoding. This adds (TRN-051..TRN-054):
//   - Content-Length repeated, even with equal values, or written as a list;
//   - Transfer-Encoding other than one `chunked` (501), chunked repeated or not last (400);
//   - no Host in HTTP/1.1, or more than one Host;
//   - more header fields than header_fields_max (431), a target longer than
//     request_target_bytes_max (414); the header section's bytes are Beast's header_limit.
// A refusal from these checks is kept in refusal(); the read then fails with some Beast error.
class RequestParser final : public http::basic_parser<true> {
 public:
  // `front_field`: the lower-case name of the field a front adds with the client's address
  // (--client-address-header), which is not the client's and not counted against the limits
  // (TRN-073); empty without a front.
  RequestParser(const HttpLimits& limits, std::string front_field)
      : limits_(limits), front_field_(std::move(front_field)) {
    header_limit(static_cast<std::uint32_t>(
        std::min<uint64_t>(limits.header_section_bytes_max + front_allowance(),
                           std::numeric_limits<std::uint32_t>::max())));
    // The route's limit is known only after preflight (set_body_limit); until then no limit, so
    // that the order of checks is the core's: an unknown route with a huge body is a 404.
    body_limit(std::numeric_limits<std::uint64_t>::max());
  }

  void set_body_limit(uint64_t bytes_max) {
    body_bytes_max_ = bytes_max;
    body_limit(bytes_max);
  }
  uint64_t body_bytes_max() const { return body_bytes_max_; }

  const std::optional<Error>& refusal() const { return refusal_; }
  bool request_line_done() const { return request_line_done_; }
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }
  int version() const { return version_; }
  const HeaderMap& headers() const { return headers_; }
  std::string take_body() { return std::move(body_); }
  bool expects_continue() const { return expects_continue_; }
  // The bytes of the front's field ("Name: value" CRLF), which the head's limit does not count.
  uint64_t front_field_bytes() const { return front_field_bytes_; }
  // Room Beast's byte limit leaves for the front's field; Session::on_head checks the exact total.
  uint64_t front_allowance() const { return front_field_.empty() ? 0 : kFrontFieldBytesMax; }
  static constexpr uint64_t kFrontFieldBytesMax = 1024;

 private:
  void refuse(beast::error_code& ec, Code code, std::string message) {
    refusal_ = Error(code, std::move(message));
    ec = http::error::bad_value;  // any error ends the read; refusal_ says why
  }

  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, beast::error_code& ec) override {
    request_line_done_ = true;
    method_.assign(method.data(), method.size());
    target_.assign(target.data(), target.size());
    version_ = version;  // 10 or 11: Beast refuses others before this (see on_read_error)
    // Beast applies header_limit to the request line and then, again, to the fields after it
    // (give or take the few bytes of its search for the empty line); the section's limit covers
    // both, so the fields get what the line left. Session::on_head checks the exact total.
    const uint64_t line_bytes = method.size() + 1 + target.size() + 1 + 8 + 2;  // "HTTP/1.1" CRLF
    const uint64_t section_bytes_max = limits_.header_section_bytes_max + front_allowance();
    header_limit(static_cast<std::uint32_t>(
        section_bytes_max > line_bytes
            ? std::min<uint64_t>(section_bytes_max - line_bytes,
                                 std::numeric_limits<std::uint32_t>::max())
            : 1));
    // The target's form belongs to the request line (step 1 of TRN-063); its length is one of
    // the head's limits, answered after every other fault of the head (step 6), and counts the
    // path and query alone, as a front forwards them (TRN-067).
    const std::string_view sent(target.data(), target.size());
    if (!parse_request_target(method_, sent))
      return refuse(ec, Code::kMalformedRequest,
                    "the request target is not in origin or absolute form");
    target_too_long_ = origin_form_bytes(sent) > limits_.request_target_bytes_max;
    if (target_too_long_ && defect(Defect::kHeadLimitsFirst)) refuse_over_limits(ec);
  }

  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = http::error::bad_method;  // a request parser never sees a status line
  }

  void on_field_impl(http::field field, beast::string_view name, beast::string_view value,
                     beast::error_code& ec) override {
    const std::string lower_name = ascii_lower(std::string_view(name.data(), name.size()));
    if (!front_field_.empty() && lower_name == front_field_ && front_field_bytes_ == 0)
      front_field_bytes_ = name.size() + 2 + value.size() + 2;
    else
      ++field_count_;  // judged at the end of the head (step 6 of TRN-063)
    const std::string_view text(value.data(), value.size());
    switch (field) {
      case http::field::content_length:
        // Beast accepts a repeated length when the values agree; RFC 9112 6.3 allows refusing
        // it, and a server that refuses leaves a proxy in front of it no room to disagree.
        if ((++content_length_count_ > 1 && !defect(Defect::kRepeatedLengthTaken)) ||
            text.find(',') != std::string_view::npos)
          return refuse(ec, Code::kMalformedRequest,
                        "Content-Length must appear once, with one value");
        break;
      case http::field::transfer_encoding:
        transfer_codings_.push_back(std::string(text));
        break;
      case http::field::host:
        ++host_count_;
        break;
      case http::field::expect:
        expects_continue_ = ascii_lower(trim_ows(text)) == "100-continue";
        break;
      case http::field::content_type:
      case http::field::authorization:
        // Singletons (RFC 9110 5.3): a second line could only make the request mean two things.
        if (headers_.count(lower_name) && !defect(Defect::kRepeatedFieldFirstWins))
          return refuse(ec, Code::kMalformedRequest,
                        std::string(name.data(), name.size()) + " given more than once");
        break;
      default:
        break;
    }
    headers_.emplace(lower_name, std::string(text));  // the first wins
  }

  void on_header_impl(beast::error_code& ec) override {
    if (host_count_ > 1 || (version_ == 11 && host_count_ == 0))
      return refuse(ec, Code::kMalformedRequest,
                    "an HTTP/1.1 request carries exactly one Host header");
    if (defect(Defect::kHttp10LengthRefused) && version_ == 10 && content_length_count_ > 0)
      return refuse(ec, Code::kMalformedRequest, "Content-Length on HTTP/1.0");
    // Every coding of every Transfer-Encoding field, in order (RFC 9112 6.1).
    std::vector<std::string> codings;
    for (const std::string& field : transfer_codings_) {
      std::string_view rest = field;
      while (true) {
        const size_t comma = rest.find(',');
        const std::string_view coding = trim_ows(rest.substr(0, comma));
        if (coding.empty()) return refuse(ec, Code::kMalformedRequest, "an empty transfer coding");
        codings.push_back(ascii_lower(coding));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    if (codings.empty()) return refuse_over_limits(ec);
    // RFC 9112 6.1: an HTTP/1.0 recipient cannot know the coding, so the framing is faulty
    // (TRN-064).
    if (version_ == 10 && !defect(Defect::kChunkedHttp10Served))
      return refuse(ec, Code::kMalformedRequest, "Transfer-Encoding is not defined for HTTP/1.0");
    const auto chunked = std::count(codings.begin(), codings.end(), "chunked");
    if (chunked != 1 || codings.back() != "chunked")
      return refuse(ec, Code::kMalformedRequest,
                    "chunked must be the last transfer coding, applied once");
    if (codings.size() != 1)
      return refuse(ec, Code::kUnsupportedTransferCoding,
                    "this server supports the chunked transfer coding alone");
    refuse_over_limits(ec);
  }

  // Step 6 of TRN-063: the head's limits, once it has no other fault.
  void refuse_over_limits(beast::error_code& ec) {
    if (target_too_long_)
      return refuse(ec, Code::kUriTooLong,
                    "the request target is longer than " +
                        std::to_string(limits_.request_target_bytes_max) + " bytes");
    if (field_count_ > limits_.header_fields_max)
      return refuse(ec, Code::kHeadersTooLarge,
                    "more than " + std::to_string(limits_.header_fields_max) + " header fields");
  }

  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code&) override {
    if (content_length)
      body_.reserve(static_cast<size_t>(std::min(*content_length, body_bytes_max_)));
  }

  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(beast::error_code&) override {}

  const HttpLimits limits_;
  const std::string front_field_;
  uint64_t front_field_bytes_ = 0;
  bool target_too_long_ = false;
  uint64_t body_bytes_max_ = 0;
  std::optional<Error> refusal_;
  bool request_line_done_ = false;
  std::string method_;
  std::string target_;
  int version_ = 0;
  uint64_t field_count_ = 0;
  int content_length_count_ = 0;
  int host_count_ = 0;
  bool expects_continue_ = false;
  std::vector<std::string> transfer_codings_;
  HeaderMap headers_;
  std::string body_;
};

// Errors of the client's side that end a connection without an answer: it went away, or it
// missed a deadline (TRN-058).
bool is_silent_close(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::operation_aborted ||
         ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::not_connected ||
         ec == asio::error::bad_descriptor || ec.category() == asio::error::get_ssl_category() ||
         ec == asio::ssl::error::stream_truncated;
}

// A method token as RFC 9110 5.6.2 defines one, followed by a space: how a request line starts.
bool starts_like_request_line(std::string_view bytes) {
  const size_t space = bytes.find(' ');
  if (space == 0 || space == std::string_view::npos || space > 32) return false;
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(space), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// The key per-client caps count under (LIM-020): an IPv4 address, or the /64 network of an IPv6
// one (a host commonly holds a whole /64); IPv4-mapped IPv6 addresses count as IPv4. Text that
// is no address (from a misconfigured proxy header) is kept as it is, cut to 64 bytes.
std::string client_key(std::string_view text) {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(trim_ows(text)), ec);
  if (ec) return std::string(text.substr(0, 64));
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  if (address.is_v4()) return address.to_string();
  asio::ip::address_v6::bytes_type bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// Where the HTTP-version of a request line starts in `bytes` (the start of a request whose line
// Beast refused for its version), if it has the form "HTTP/" DIGIT "." DIGIT.
std::optional<size_t> version_offset(std::string_view bytes) {
  const size_t first_space = bytes.find(' ');
  if (first_space == std::string_view::npos) return std::nullopt;
  const size_t second_space = bytes.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return std::nullopt;
  const size_t at = second_space + 1;
  const std::string_view version = bytes.substr(at, 8);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return std::nullopt;
  return at;
}

// What a request line of another HTTP/1 minor version becomes. Beast takes HTTP/1.0 and HTTP/1.1
// only; a later minor version of HTTP/1 is read as HTTP/1.1 (RFC 9112 2.3), by rewriting its
// digit where the request line lies unread in the buffer; another major version is refused with
// 505 (TRN-054).
enum class LaterVersion : uint8_t { kNotFound, kMalformed, kUnsupported, kReadAsHttp11 };

LaterVersion read_later_minor_version(char* bytes, size_t size) {
  const std::optional<size_t> at = version_offset(std::string_view(bytes, size));
  if (!at) return LaterVersion::kNotFound;
  // Step 1 of TRN-063 before step 2: the target's form is part of the request line.
  const std::string_view line(bytes, *at);
  const size_t first_space = line.find(' ');
  const std::string_view target = line.substr(first_space + 1, line.size() - first_space - 2);
  if (!parse_request_target(line.substr(0, first_space), target) || bytes[*at + 5] == '0')
    return LaterVersion::kMalformed;
  if (bytes[*at + 5] != '1') return LaterVersion::kUnsupported;
  if (bytes[*at + 7] <= '1') return LaterVersion::kNotFound;
  bytes[*at + 7] = '1';
  return LaterVersion::kReadAsHttp11;
}

// The answer to a head over the parser's limits: before the request line ended, a long target
// (414) or no request line at all; after it, a header section too large (431).
Error header_limit_error(bool request_line_done, std::string_view received,
                         const HttpLimits& limits) {
  if (request_line_done)
    return Error(Code::kHeadersTooLarge, "the header section is larger than " +
                                             std::to_string(limits.header_section_bytes_max) +
                                             " bytes");
  if (starts_like_request_line(received) && !defect(Defect::kLongRequestLineMalformed))
    return Error(Code::kUriTooLong, "the request target is longer than " +
                                        std::to_string(limits.request_target_bytes_max) + " bytes");
  return Error(Code::kMalformedRequest, "not an HTTP request line");
}

// The body's share of the request memory, reserved before a byte of it is read: a JSON body
// counts kJsonMemoryPerBodyByte times its size (its parsed document), a chunk its size; a body
// of unknown length (chunked) counts as the route's largest.
uint64_t body_memory_bytes(const RequestHead& head, uint64_t body_bytes_max,
                           uint64_t memory_total_bytes) {
  const auto content_type = head.headers.find("content-type");
  const bool json = content_type != head.headers.end() &&
                    ascii_lower(content_type->second).rfind("application/json", 0) == 0;
  const uint64_t body_bytes = head.content_length.value_or(body_bytes_max);
  return std::min(body_bytes * (json ? kJsonMemoryPerBodyByte : 1), memory_total_bytes);
}

// The core's response as Beast's message, with its length and date.
std::shared_ptr<http::response<http::string_body>> to_http_message(Response& response,
                                                                   bool keep_alive) {
  auto message = std::make_shared<http::response<http::string_body>>();
  message->version(11);
  message->result(static_cast<unsigned>(response.status));
  if (!response.content_type.empty())
    message->set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) message->set(name, value);
  message->body() = std::move(response.body);
  message->prepare_payload();
  message->keep_alive(keep_alive);
  set_date(*message, response);
  return message;
}

}  // namespace

uint64_t system_time_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// What the server and its connections share. Sessions hold a reference: the server outlives
// every session, since serve() returns only after the last one closed.
//
// Members are declared in the order that lets destruction run safely: the workers (joined
// first) may still hold sessions, whose destruction needs the I/O context, the session registry
// and the TLS context, which are therefore destroyed after them.
struct HttpServer::Impl {
  class SessionBase {
   public:
    virtual ~SessionBase() = default;
    virtual void stop() = 0;         // stop reading new requests; close once idle
    virtual void force_close() = 0;  // the shutdown deadline passed
  };
  template <class Stream>
  class Session;

  ServerCore& core;
  HttpOptions options;
  std::ostream& log;
  std::mutex log_mutex;
  std::optional<asio::ssl::context> tls;
  std::atomic<bool> serving{false};
  std::atomic<bool> stopping{false};
  // Held by stop() while it hands the shutdown to the I/O threads; serve() takes it before it
  // returns, so that a stop() from another thread (a signal handler's) is done with the I/O
  // context before the owner can destroy the server.
  std::mutex stop_mutex;
  uint16_t port = 0;

  std::mutex sessions_mutex;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions;
  uint64_t next_session_id = 0;
  std::atomic<size_t> refusals_in_flight{0};

  // The request memory (HttpOptions::request_memory_mib_max): reservations and the requests
  // waiting for theirs, in arrival order (at most one per connection). Declared after the
  // session registry: a waiter holds its session, whose destruction needs the registry.
  struct MemoryWaiter {
    uint64_t bytes;
    std::function<void()> resume;
  };
  enum class Reservation : uint8_t { kReserved, kQueued, kStopping };
  std::mutex memory_mutex;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_free_bytes = 0;
  std::deque<MemoryWaiter> memory_waiters;

  // The garbage collector's timer.
  std::mutex gc_mutex;
  std::condition_variable gc_wake;
  bool gc_stopping = false;

  asio::io_context io;
  asio::strand<asio::io_context::executor_type> control;  // the acceptor and the timers below
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  asio::steady_timer shutdown_deadline;
  asio::thread_pool workers;

  Impl(ServerCore& c, HttpOptions o, std::ostream& l)
      : core(c),
        options(std::move(o)),
        log(l),
        io(static_cast<int>(options.io_threads)),
        control(asio::make_strand(io)),
        acceptor(control),
        accept_retry(control),
        shutdown_deadline(control),
        workers(options.threads) {
    memory_total_bytes = memory_free_bytes = options.request_memory_mib_max * kMib;
  }

  // Reserves `bytes` (at most all of the request memory) for a request now, or queues `resume`
  // to run once they are reserved; after stop() it does neither (drop_memory_waiters has run or
  // will find the queue as it is: stopping is set before it).
  Reservation reserve_memory(uint64_t bytes, std::function<void()> resume) {
    std::lock_guard lock(memory_mutex);
    OPSYNC_CHECK(bytes <= memory_total_bytes);
    if (stopping) return Reservation::kStopping;
    if (memory_waiters.empty() && bytes <= memory_free_bytes) {
      memory_free_bytes -= bytes;
      return Reservation::kReserved;
    }
    memory_waiters.push_back(MemoryWaiter{bytes, std::move(resume)});
    return Reservation::kQueued;
  }

  void release_memory(uint64_t bytes) {
    std::vector<std::function<void()>> resumed;
    {
      std::lock_guard lock(memory_mutex);
      memory_free_bytes += bytes;
      OPSYNC_CHECK(memory_free_bytes <= memory_total_bytes);
      // In order: a large request at the head is not overtaken for ever by small ones.
      while (!memory_waiters.empty() && memory_waiters.front().bytes <= memory_free_bytes) {
        memory_free_bytes -= memory_waiters.front().bytes;
        resumed.push_back(std::move(memory_waiters.front().resume));
        memory_waiters.pop_front();
      }
    }
    for (auto& resume : resumed) resume();
  }

  // On stop: the requests still waiting are dropped with their connections.
  void drop_memory_waiters() {
    std::deque<MemoryWaiter> dropped;
    {
      std::lock_guard lock(memory_mutex);
      dropped.swap(memory_waiters);
    }
  }

  void write_log(const Response& response, const std::string& method, const std::string& path,
                 double duration_ms) {
    // Metrics by route alone: a raw path would make a series per id.
    if (options.metrics)
      options.metrics->request(response.route.empty() ? "-" : response.route, response.status,
                               duration_ms);
    if (options.log_format == LogFormat::kNone) return;
    std::string request_id;
    for (const auto& [name, value] : response.headers)
      if (name == "OpSync-Request-Id") request_id = value;
    // Routes, not raw paths: paths hold ids, never tokens, but routes keep logs uniform.
    std::string route = response.route;
    if (route.empty())
      route = method.empty() ? "-" : method.substr(0, 32) + " " + path.substr(0, 200);
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.2f", duration_ms);
    std::string line;
    if (options.log_format == LogFormat::kJson) {
      line = "{\"time\":\"" + iso_time(system_time_ms()) + "\",\"request_id\":\"" +
             json_escape(request_id) + "\",\"workspace\":\"" + json_escape(response.workspace) +
             "\",\"route\":\"" + json_escape(route) +
             "\",\"status\":" + std::to_string(response.status) + ",\"duration_ms\":" + duration +
             (response.error_code.empty() ? "" : ",\"error\":\"" + response.error_code + "\"") +
             "}";
    } else {
      line = iso_time(system_time_ms()) + " " + request_id + " " +
             (response.workspace.empty() ? "-" : response.workspace) + " \"" + json_escape(route) +
             "\" " + std::to_string(response.status) + " " + duration + "ms" +
             (response.error_code.empty() ? "" : " " + response.error_code);
    }
    std::lock_guard lock(log_mutex);
    log << line << '\n' << std::flush;
  }

  size_t session_count() {
    std::lock_guard lock(sessions_mutex);
    return sessions.size();
  }

  uint64_t add_session(const std::shared_ptr<SessionBase>& session) {
    std::lock_guard lock(sessions_mutex);
    sessions.emplace(next_session_id, session);
    return next_session_id++;
  }

  void remove_session(uint64_t id) {
    bool last = false;
    {
      std::lock_guard lock(sessions_mutex);
      sessions.erase(id);
      last = sessions.empty();
    }
    // The last connection gone after stop(): nothing keeps serve() waiting any more. (Not when
    // serve() is over: then this runs while the I/O context is destroyed.)
    if (last && stopping && serving) asio::post(control, [this] { shutdown_deadline.cancel(); });
  }

  std::vector<std::shared_ptr<SessionBase>> live_sessions() {
    std::vector<std::shared_ptr<SessionBase>> live;
    std::lock_guard lock(sessions_mutex);
    for (auto& [id, weak] : sessions)
      if (auto session = weak.lock()) live.push_back(std::move(session));
    return live;
  }

  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void refuse_connection(tcp::socket socket);
  void begin_stop();

  void collect_garbage_periodically() {
    std::unique_lock lock(gc_mutex);
    while (!gc_stopping) {
      lock.unlock();
      core.collect_garbage(system_time_ms());
      lock.lock();
      gc_wake.wait_for(lock, std::chrono::milliseconds(options.gc_interval_ms),
                       [this] { return gc_stopping; });
    }
  }
};

// One connection. Every handler runs on the connection's strand (the socket's executor), so a
// session's members need no lock; the core runs on a worker thread and hands its answer back
// through the strand.
//
// States: waiting for a request (idle), reading its head, in the core (preflight), reading its
// body, in the core (handle), writing the answer; then idle again, or closing. Invariant: at
// most one read or one write is pending at a time, and at most one core call.
template <class Stream>
class HttpServer::Impl::Session final : public HttpServer::Impl::SessionBase,
                                        public std::enable_shared_from_this<Session<Stream>> {
 public:
  enum class State : uint8_t {
    kHandshake,
    kIdle,
    kReadingHead,
    kInCore,
    kWaitingForMemory,
    kReadingBody,
    kWriting,
    kClosing
  };

  template <class... Args>
  Session(Impl& server, std::string client_address, Args&&... stream_args)
      : server_(server),
        stream_(std::forward<Args>(stream_args)...),
        buffer_(static_cast<size_t>(server.core.config().http_limits.header_section_bytes_max) +
                kReadBufferSlackBytes),
        client_address_(std::move(client_address)) {}

  ~Session() override {
    release_memory();
    if (registered_) server_.remove_session(id_);
  }

  void start() {
    id_ = server_.add_session(this->shared_from_this());
    registered_ = true;
    asio::dispatch(executor(), [self = this->shared_from_this()] {
      if (self->server_.stopping) return self->close();
      self->handshake();
    });
  }

  void stop() override {
    asio::post(executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      // Nothing of the request is with the core yet: drop it (ERR-003 holds, nothing happened).
      if (self->state_ != State::kInCore && self->state_ != State::kWriting) self->close();
    });
  }

  void force_close() override {
    asio::post(executor(), [self = this->shared_from_this()] { self->close(); });
  }

 private:
  auto executor() { return beast::get_lowest_layer(stream_).get_executor(); }
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void handshake() {
    if constexpr (kTls) {
      state_ = State::kHandshake;
      tcp().expires_after(std::chrono::milliseconds(server_.options.header_timeout_ms));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->wait_for_request();
                              });
    } else {
      wait_for_request();
    }
  }

  // Between requests: the idle deadline runs until the first byte of the next one.
  void wait_for_request() {
    if (state_ == State::kClosing) return;
    if (stopping_) return close();
    state_ = State::kIdle;
    parser_.emplace(server_.core.config().http_limits,
                    ascii_lower(server_.options.client_address_header));
    if (buffer_.size() > 0) return read_head();  // a pipelined request is already here
    tcp().expires_after(std::chrono::milliseconds(server_.options.idle_timeout_ms));
    stream_.async_read_some(
        buffer_.prepare(std::min<size_t>(4096, buffer_.max_size() - buffer_.size())),
        [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
          if (ec || bytes == 0) return self->close();
          self->buffer_.commit(bytes);
          self->read_head();
        });
  }

  void read_head() {
    state_ = State::kReadingHead;
    tcp().expires_after(std::chrono::milliseconds(server_.options.header_timeout_ms));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t head_bytes) {
          if (ec) return self->on_read_error(ec);
          self->on_head(head_bytes);
        });
  }

  // `head_bytes`: the request line, the fields and the empty line, as the parser consumed them.
  void on_head(size_t head_bytes) {
    tcp().expires_never();
    started_ = std::chrono::steady_clock::now();
    RequestParser& parser = *parser_;
    const uint64_t section_bytes_max = server_.core.config().http_limits.header_section_bytes_max;
    if (head_bytes - parser.front_field_bytes() > section_bytes_max)
      return answer_error(
          Error(Code::kHeadersTooLarge, "the header section is larger than " +
                                            std::to_string(section_bytes_max) + " bytes"),
          parser.headers());
    std::optional<Target> target = parse_request_target(parser.method(), parser.target());
    if (!target)
      return answer_error(
          Error(Code::kMalformedRequest, "the request target is not in origin or absolute form"),
          parser.headers());
    head_.method = parser.method();
    head_.path = std::move(target->path);
    head_.query = std::move(target->query);
    head_.headers = parser.headers();
    if (parser.chunked())
      head_.content_length = std::nullopt;
    else
      head_.content_length = parser.content_length().value_or(0);
    head_.client_address = client_address_;
    if (const std::string& name = server_.options.client_address_header; !name.empty()) {
      if (auto forwarded = head_.headers.find(name); forwarded != head_.headers.end())
        head_.client_address = client_key(forwarded->second);
    }
    state_ = State::kInCore;
    in_core(
        [self = this->shared_from_this()] {
          return self->server_.core.preflight(self->head_, system_time_ms());
        },
        [](Session& self, std::variant<Admission, Response> admitted) {
          self.on_preflight(std::move(admitted));
        });
  }

  void on_preflight(std::variant<Admission, Response> admitted) {
    if (auto* rejected = std::get_if<Response>(&admitted)) {
      // The body was never read: close rather than read it as the next request.
      return answer(std::move(*rejected), /*close=*/!parser_->is_done());
    }
    admission_ = std::move(std::get<Admission>(admitted));
    if (parser_->is_done()) return handle();  // no body
    const uint64_t body_bytes_max = admission_->body_bytes_max();
    parser_->set_body_limit(body_bytes_max);
    const uint64_t need = body_memory_bytes(head_, body_bytes_max, server_.memory_total_bytes);
    state_ = State::kWaitingForMemory;
    auto resume = [self = this->shared_from_this(), need] {
      asio::post(self->executor(), [self, need] { self->on_memory_reserved(need); });
    };
    switch (server_.reserve_memory(need, resume)) {
      case Reservation::kReserved:
        return on_memory_reserved(need);
      case Reservation::kQueued:
        return;
      case Reservation::kStopping:
        return close();
    }
  }

  void on_memory_reserved(uint64_t bytes) {
    reserved_bytes_ = bytes;
    if (state_ != State::kWaitingForMemory) return release_memory();  // closed meanwhile
    if (stopping_) return close();
    if (parser_->expects_continue() && buffer_.size() == 0 && parser_->version() == 11) {
      // The client waits for this before it sends the body (RFC 9110 10.1.1).
      Response interim = server_.core.interim_continue(head_, system_time_ms());
      auto message =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      for (const auto& [name, value] : interim.headers) message->set(name, value);
      state_ = State::kWriting;
      tcp().expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
      return http::async_write(
          stream_, *message,
          [self = this->shared_from_this(), message](beast::error_code ec, size_t) {
            if (ec) return self->close();
            self->read_body();
          });
    }
    read_body();
  }

  void read_body() {
    if (stopping_) return close();
    state_ = State::kReadingBody;
    tcp().expires_after(std::chrono::milliseconds(server_.options.body_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->on_read_error(ec);
                       self->tcp().expires_never();
                       self->handle();
                     });
  }

  void handle() {
    state_ = State::kInCore;
    auto request = std::make_shared<Request>();
    request->method = head_.method;
    request->path = head_.path;
    request->query = head_.query;
    request->headers = head_.headers;  // with the id interim_continue pinned, if it ran
    request->client_address = head_.client_address;
    request->body = parser_->take_body();
    in_core(
        [self = this->shared_from_this(), request] {
          Response response =
              self->server_.core.handle(*self->admission_, *request, system_time_ms());
          request->body = std::string();  // before the memory it took is released
          if (self->reserved_bytes_ >= kTrimAfterBytes) malloc_trim(0);
          return response;
        },
        [](Session& self, Response response) { self.answer(std::move(response), false); });
  }

  void release_memory() {
    if (reserved_bytes_ == 0) return;
    server_.release_memory(std::exchange(reserved_bytes_, 0));
  }

  // Runs `work` on a worker thread and `then` with its result back on this connection's strand.
  // A work guard keeps serve() running until the answer is back, even during shutdown.
  template <class Work, class Then>
  void in_core(Work work, Then then) {
    auto guard = asio::make_work_guard(server_.io);
    asio::post(server_.workers, [self = this->shared_from_this(), work = std::move(work),
                                 then = std::move(then), guard = std::move(guard)]() mutable {
      using Result = decltype(work());
      std::optional<Result> result;
      std::optional<Error> failure;
      try {
        const std::string& fault_path = self->server_.options.fault_path;
        if (!fault_path.empty() && self->head_.path == fault_path)
          throw std::runtime_error("a fault injected for tests (--fault-path)");
        result.emplace(work());
      } catch (...) {
        failure = Error(Code::kInternalError, "internal error");
      }
      asio::post(self->executor(), [self, result = std::move(result), failure = std::move(failure),
                                    then = std::move(then), guard = std::move(guard)]() mutable {
        if (self->state_ == State::kClosing) return;
        if (failure) return self->answer_error(*failure, self->head_.headers);
        then(*self, std::move(*result));
      });
    });
  }

  void on_read_error(beast::error_code ec) {
    if (state_ == State::kClosing) return;
    RequestParser& parser = *parser_;
    if (parser.refusal()) return answer_error(*parser.refusal(), parser.headers());
    if (ec == http::error::bad_version) {
      const auto data = buffer_.data();
      switch (read_later_minor_version(static_cast<char*>(data.data()), data.size())) {
        case LaterVersion::kMalformed:
          return answer_error(Error(Code::kMalformedRequest, "not an HTTP/1.x request line"), {});
        case LaterVersion::kUnsupported:
          return answer_error(
              Error(Code::kUnsupportedHttpVersion, "this server speaks HTTP/1.1 (and HTTP/1.0)"),
              {});
        case LaterVersion::kReadAsHttp11:
          parser_.emplace(server_.core.config().http_limits,
                          ascii_lower(server_.options.client_address_header));
          return read_head();
        case LaterVersion::kNotFound:
          break;
      }
    }
    if (ec == http::error::body_limit) {
      Error e(Code::kBodyTooLarge,
              "the body is larger than " + std::to_string(parser.body_bytes_max()) + " bytes");
      e.details.limit_bytes = parser.body_bytes_max();
      return answer_error(e, head_.headers);
    }
    if (ec == http::error::header_limit) {
      const auto data = buffer_.data();
      const std::string_view received(static_cast<const char*>(data.data()), data.size());
      return answer_error(
          header_limit_error(parser.request_line_done(), received,
                             server_.core.config().http_limits),
          parser.request_line_done() ? parser.headers() : std::map<std::string, std::string>());
    }
    if (is_silent_close(ec)) return close();
    if (ec == http::error::buffer_overflow && state_ == State::kReadingHead)
      return answer_error(Error(Code::kHeadersTooLarge, "the header section is too large"),
                          parser.headers());
    // Every other parse error is a framing fault: bad request line, field syntax, Content-Length,
    // Transfer-Encoding next to Content-Length, chunk sizes and framing, a line too long.
    return answer_error(
        Error(Code::kMalformedRequest, "malformed HTTP/1.1 request: " + ec.message()),
        parser.headers());
  }

  // An answer of the HTTP layer: the connection is closed after it, since what follows on it
  // cannot be trusted to start a request (TRN-051).
  void answer_error(const Error& error, const HeaderMap& request_headers) {
    if (started_ == std::chrono::steady_clock::time_point())
      started_ = std::chrono::steady_clock::now();
    if (head_.method.empty() && parser_ && parser_->request_line_done()) {
      // For the log line: what the request line said, without its query.
      head_.method = parser_->method();
      head_.path = parser_->target().substr(0, parser_->target().find('?'));
    }
    Response response = server_.core.transport_error(error, request_headers, system_time_ms());
    if (defect(Defect::kUnstampedHttpErrors))
      std::erase_if(response.headers,
                    [](const auto& header) { return header.first == "OpSync-Request-Id"; });
    answer(std::move(response), /*close=*/true);
  }

  void answer(Response response, bool close_after) {
    if (state_ == State::kClosing) return;
    release_memory();  // the body and its document are gone
    const bool head_request = head_.method == "HEAD";
    const bool keep_alive =
        !close_after && !stopping_ && parser_ && parser_->is_done() && parser_->keep_alive();
    auto message = to_http_message(response, keep_alive);
    const double duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    response.body.clear();
    server_.write_log(response, head_.method, head_.path, duration_ms);
    started_ = {};

    state_ = State::kWriting;
    tcp().expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    auto on_written = [self = this->shared_from_this(), message, keep_alive](beast::error_code ec,
                                                                             size_t) {
      if (ec) return self->close();
      self->head_ = RequestHead{};
      self->admission_.reset();
      if (keep_alive) return self->wait_for_request();
      self->linger();
    };
    if (head_request && !defect(Defect::kHeadBodySent)) {
      // HEAD: the header section of the answer, without its body (RFC 9110 9.3.2).
      auto serializer = std::make_shared<http::response_serializer<http::string_body>>(*message);
      http::async_write_header(stream_, *serializer,
                               [serializer, on_written = std::move(on_written)](
                                   beast::error_code ec, size_t n) mutable { on_written(ec, n); });
    } else {
      http::async_write(stream_, *message, std::move(on_written));
    }
  }

  // Closes after an answer: stops sending, then reads and discards what the client still sends
  // for a little while, so that closing a socket with unread bytes (which resets the connection)
  // does not destroy the answer before the client has read it.
  void linger() {
    state_ = State::kClosing;
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().expires_after(std::chrono::milliseconds(kLingerMs));
    drain();
  }

  void drain() {
    buffer_.clear();
    tcp().async_read_some(buffer_.prepare(std::min<size_t>(65536, buffer_.max_size())),
                          [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->lingered_bytes_ += bytes;
                            if (ec || self->lingered_bytes_ > kLingerBytesMax)
                              return self->close_socket();
                            self->drain();
                          });
  }

  void close() {
    if (state_ == State::kClosing) return close_socket();
    state_ = State::kClosing;
    close_socket();
  }

  void close_socket() {
    state_ = State::kClosing;
    release_memory();
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }

  Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::string client_address_;
  std::optional<RequestParser> parser_;
  RequestHead head_;
  std::optional<Admission> admission_;  // what preflight learned of head_, for handle()
  State state_ = State::kIdle;
  bool stopping_ = false;
  bool registered_ = false;
  uint64_t id_ = 0;
  size_t lingered_bytes_ = 0;
  uint64_t reserved_bytes_ = 0;  // this request's share of the request memory
  std::chrono::steady_clock::time_point started_{};
};

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping || !acceptor.is_open()) return;
  if (ec) {
    // Out of file descriptors or memory: try again shortly rather than spin.
    accept_retry.expires_after(std::chrono::milliseconds(kAcceptRetryMs));
    accept_retry.async_wait([this](beast::error_code wait_error) {
      if (!wait_error && !stopping) accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (session_count() >= options.connections_max) {
    refuse_connection(std::move(socket));
  } else {
    const auto remote = socket.remote_endpoint(ignored);
    std::string address = ignored ? std::string() : client_key(remote.address().to_string());
    if (tls) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(address),
                                                                      std::move(socket), *tls)
          ->start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(*this, std::move(address), std::move(socket))
          ->start();
    }
  }
  accept();
}

// Over the connection cap: a 503 with Retry-After, written at once without reading the request
// (an HTTP/1.1 server may answer before the request is complete), then the connection closes.
// Over TLS there is no cheap way to answer, so the connection just closes.
void HttpServer::Impl::refuse_connection(tcp::socket socket) {
  if (options.metrics) options.metrics->connection_refused();
  if (tls || refusals_in_flight >= kRefusalsInFlightMax)
    return;  // closed by the socket's destructor
  ++refusals_in_flight;
  Response refusal = core.transport_error(
      Error(Code::kUnavailable,
            "this server has " + std::to_string(options.connections_max) + " connections open"),
      {}, system_time_ms());
  write_log(refusal, "", "", 0);
  auto message = std::make_shared<http::response<http::string_body>>();
  message->version(11);
  message->result(static_cast<unsigned>(refusal.status));
  message->set(http::field::content_type, refusal.content_type);
  for (const auto& [name, value] : refusal.headers) message->set(name, value);
  message->body() = std::move(refusal.body);
  message->prepare_payload();
  message->keep_alive(false);
  set_date(*message, refusal);
  auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
  stream->expires_after(std::chrono::milliseconds(kRefusalWriteMs));
  http::async_write(*stream, *message, [this, stream, message](beast::error_code, size_t) {
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
    --refusals_in_flight;
  });
}

void HttpServer::Impl::begin_stop() {
  std::lock_guard lock(stop_mutex);
  if (stopping.exchange(true)) return;
  asio::post(control, [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
    drop_memory_waiters();
    const std::vector<std::shared_ptr<SessionBase>> live = live_sessions();
    for (const auto& session : live) session->stop();
    if (live.empty()) return;
    // Requests the core already has may finish and be answered until the deadline; then every
    // connection still open is closed.
    shutdown_deadline.expires_after(std::chrono::milliseconds(options.shutdown_timeout_ms));
    shutdown_deadline.async_wait([this](beast::error_code ec) {
      if (ec) return;  // cancelled: the last connection closed in time
      for (const auto& session : live_sessions()) session->force_close();
    });
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  stop();
  if (impl_) impl_->workers.join();
}

Result<std::unique_ptr<HttpServer>> HttpServer::bind(ServerCore& core, HttpOptions options,
                                                     std::ostream& log) {
  const HttpOptions& o = options;
  if (o.tls_cert_file.has_value() != o.tls_key_file.has_value())
    return Error(Code::kInvalidField, "tls", "give both --tls-cert and --tls-key, or neither");
  if (o.threads < 1 || o.threads > kHttpThreadsMax || o.io_threads < 1 ||
      o.io_threads > kHttpIoThreadsMax || o.connections_max < 1 ||
      o.connections_max > kHttpConnectionsMax)
    return Error(Code::kInvalidField, "options",
                 "threads, io threads or the connection cap out of bounds");
  if (o.request_memory_mib_max < kHttpRequestMemoryMibMin ||
      o.request_memory_mib_max > kHttpRequestMemoryMibMax)
    return Error(Code::kInvalidField, "options", "the request memory is out of bounds");
  for (uint64_t timeout_ms : {o.header_timeout_ms, o.body_timeout_ms, o.idle_timeout_ms,
                              o.write_timeout_ms, o.shutdown_timeout_ms})
    if (timeout_ms < kHttpTimeoutMsMin || timeout_ms > kHttpTimeoutMsMax)
      return Error(Code::kInvalidField, "options",
                   "timeouts are from " + std::to_string(kHttpTimeoutMsMin) + " to " +
                       std::to_string(kHttpTimeoutMsMax) + " ms");

  // Every connection is a file descriptor: raise the soft limit as far as the hard one allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t needed = static_cast<rlim_t>(o.connections_max + kSpareFileDescriptors);
    if (files.rlim_cur < needed && files.rlim_cur != RLIM_INFINITY) {
      files.rlim_cur = std::min(needed, files.rlim_max);
      setrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < needed)
      return Error(Code::kInvalidField, "connections_max",
                   std::to_string(o.connections_max) + " connections need " +
                       std::to_string(needed) + " file descriptors; the limit is " +
                       std::to_string(files.rlim_cur) +
                       " (ulimit -n, or LimitNOFILE= in a systemd unit)");
  }

  for (char& c : options.client_address_header)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto impl = std::make_unique<Impl>(core, std::move(options), log);
  Impl& server = *impl;
  if (server.options.tls_cert_file) {
    server.tls.emplace(asio::ssl::context::tls_server);
    beast::error_code ec;
    server.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                            ec);
    if (!ec) server.tls->use_certificate_chain_file(*server.options.tls_cert_file, ec);
    if (!ec)
      server.tls->use_private_key_file(*server.options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec)
      return Error(Code::kInvalidField, "tls",
                   "cannot load the TLS certificate or key: " + ec.message());
  }

  beast::error_code ec;
  const auto address = asio::ip::make_address(server.options.listen_address, ec);
  if (ec)
    return Error(Code::kInvalidField, "listen",
                 "not an IP address: " + server.options.listen_address);
  const tcp::endpoint endpoint(address, server.options.port);
  server.acceptor.open(endpoint.protocol(), ec);
  if (!ec) server.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server.acceptor.bind(endpoint, ec);
  // A burst of clients connecting at once waits in this queue, not in SYN retries.
  if (!ec) server.acceptor.listen(1024, ec);
  if (ec)
    return Error(Code::kInternalError, "cannot listen on " + server.options.listen_address + ":" +
                                           std::to_string(server.options.port) + ": " +
                                           ec.message());
  server.port = server.acceptor.local_endpoint().port();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

bool HttpServer::tls() const { return impl_->tls.has_value(); }

bool HttpServer::running() const { return impl_->serving; }

size_t HttpServer::connections() const { return impl_->session_count(); }

void HttpServer::serve() {
  Impl& server = *impl_;
  std::thread gc;
  if (server.options.gc_interval_ms > 0)
    gc = std::thread([&server] { server.collect_garbage_periodically(); });
  asio::post(server.control, [&server] {
    if (!server.stopping) server.accept();
  });
  std::vector<std::thread> io_threads;
  for (size_t i = 1; i < server.options.io_threads; ++i)
    io_threads.emplace_back([&server] { server.io.run(); });
  server.serving = !server.stopping;
  // Returns once the acceptor is closed and every connection, timer and core call is done.
  server.io.run();
  for (std::thread& t : io_threads) t.join();
  server.serving = false;
  { std::lock_guard wait_for_stop(server.stop_mutex); }
  {
    std::lock_guard lock(server.gc_mutex);
    server.gc_stopping = true;
  }
  server.gc_wake.notify_all();
  if (gc.joinable()) gc.join();
}

void HttpServer::stop() {
  if (impl_) impl_->begin_stop();
}

}  // namespace opsync::server
