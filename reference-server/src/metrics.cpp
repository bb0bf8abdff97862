#include "opsync/server/metrics.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace opsync::server {
namespace {

// A label value in the exposition format: backslash, double quote and newline escaped.
std::string label_value(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

const std::vector<double>& ServerMetrics::latency_buckets_s() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,   0.25,   0.5,   1,    2.5,   10};
  return buckets;
}

const std::vector<uint64_t>& ServerMetrics::log_length_buckets() {
  static const std::vector<uint64_t> buckets = {0, 100, 1000, 10000, 100000, 1000000, 10000000};
  return buckets;
}

void ServerMetrics::request(const std::string& route, int status, double duration_ms) {
  const double seconds = duration_ms / 1000;
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  Latency& latency = latency_[route];
  if (latency.buckets.empty()) latency.buckets.assign(latency_buckets_s().size(), 0);
  const auto& bounds = latency_buckets_s();
  const size_t bucket =
      static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  if (bucket < bounds.size()) ++latency.buckets[bucket];
  ++latency.count;
  latency.sum_s += seconds;
}

void ServerMetrics::connection_refused() { ++refused_; }

std::string ServerMetrics::exposition(const MetricsGauges& gauges) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    header(out, "opsync_http_requests_total", "counter", "Requests answered, by route and status.");
    for (const auto& [key, count] : requests_)
      out += "opsync_http_requests_total{route=\"" + label_value(key.first) + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    header(out, "opsync_http_request_duration_seconds", "histogram",
           "Time from a request's first byte to its answer, by route.");
    const auto& bounds = latency_buckets_s();
    for (const auto& [route, latency] : latency_) {
      const std::string labels = "route=\"" + label_value(route) + "\"";
      uint64_t cumulative = 0;
      for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += latency.buckets[i];
        out += "opsync_http_request_duration_seconds_bucket{" + labels + ",le=\"" +
               number(bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
      }
      out += "opsync_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
             std::to_string(latency.count) + "\n";
      out += "opsync_http_request_duration_seconds_sum{" + labels + "} " + number(latency.sum_s) +
             "\n";
      out += "opsync_http_request_duration_seconds_count{" + labels + "} " +
             std::to_string(latency.count) + "\n";
    }
  }
  header(out, "opsync_http_connections_open", "gauge",
         "Connections open on the protocol's listener.");
  out += "opsync_http_connections_open " + std::to_string(gauges.open_connections) + "\n";
  header(out, "opsync_http_connections_refused_total", "counter",
         "Connections refused because --connections-max were open.");
  out += "opsync_http_connections_refused_total " + std::to_string(refused_.load()) + "\n";
  header(out, "opsync_database_size_bytes", "gauge",
         "Bytes of the database file and its write-ahead log.");
  out += "opsync_database_size_bytes " + std::to_string(gauges.database_bytes) + "\n";
  header(out, "opsync_workspaces", "gauge", "Workspaces on this server.");
  out += "opsync_workspaces " + std::to_string(gauges.log_lengths.size()) + "\n";
  header(out, "opsync_workspace_log_operations", "histogram",
         "Workspaces by the number of operations in their log.");
  uint64_t total = 0;
  for (const uint64_t length : gauges.log_lengths) total += length;
  for (const uint64_t bound : log_length_buckets()) {
    const auto within = std::count_if(gauges.log_lengths.begin(), gauges.log_lengths.end(),
                                      [&](uint64_t length) { return length <= bound; });
    out += "opsync_workspace_log_operations_bucket{le=\"" + std::to_string(bound) + "\"} " +
           std::to_string(within) + "\n";
  }
  out += "opsync_workspace_log_operations_bucket{le=\"+Inf\"} " +
         std::to_string(gauges.log_lengths.size()) + "\n";
  out += "opsync_workspace_log_operations_sum " + std::to_string(total) + "\n";
  out +=
      "opsync_workspace_log_operations_count " + std::to_string(gauges.log_lengths.size()) + "\n";
  return out;
}

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(const std::string& address,
                                                                uint16_t port,
                                                                std::function<std::string()> body) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    return Error(Code::kInvalidField, "metrics-listen", "not a numeric IP address: " + address);
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int yes = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const bool bound =
      fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 16) == 0;
  freeaddrinfo(found);
  if (!bound) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Error(
        Code::kInternalError, "metrics-listen",
        "cannot listen for metrics on " + address + ":" + std::to_string(port) + ": " + why);
  }
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  const uint16_t actual =
      ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  return std::unique_ptr<MetricsListener>(new MetricsListener(fd, actual, std::move(body)));
}

MetricsListener::MetricsListener(int socket, uint16_t port, std::function<std::string()> body)
    : socket_(socket), port_(port), body_(std::move(body)) {
  thread_ = std::thread([this] { serve(); });
}

MetricsListener::~MetricsListener() {
  stopping_ = true;
  thread_.join();
  ::close(socket_);
}

void MetricsListener::serve() {
  // Polls so that the destructor's flag is seen within 100 ms.
  while (!stopping_) {
    pollfd ready{socket_, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    const int connection = ::accept4(socket_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    answer(connection);
    ::close(connection);
  }
}

void MetricsListener::answer(int connection) {
  constexpr size_t kHeadBytesMax = 8192;
  constexpr int kRequestTimeoutMs = 2000;
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kHeadBytesMax) {
    pollfd readable{connection, POLLIN, 0};
    if (::poll(&readable, 1, kRequestTimeoutMs) <= 0) return;
    char buffer[1024];
    const ssize_t got = ::recv(connection, buffer, sizeof buffer, 0);
    if (got <= 0) return;
    head.append(buffer, static_cast<size_t>(got));
  }
  const std::string line = head.substr(0, head.find("\r\n"));
  const bool get = line.rfind("GET /metrics ", 0) == 0,
             head_only = line.rfind("HEAD /metrics ", 0) == 0;
  std::string status = "404 Not Found", type = "text/plain; charset=utf-8",
              body = "not found: this listener serves GET /metrics\n";
  if (get || head_only) {
    status = "200 OK";
    type = "text/plain; version=0.0.4; charset=utf-8";
    body = body_();
  }
  std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                         "\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n";
  if (!head_only) response += body;
  for (size_t sent = 0; sent < response.size();) {
    const ssize_t n =
        ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace opsync::server
