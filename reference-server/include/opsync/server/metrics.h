// Operator telemetry: what opsync-server has done, in the Prometheus text exposition format
// (version 0.0.4), served on a listener of its own (--metrics-listen), never on the protocol's
// port: monitoring needs no token, and the clients' port exposes nothing but the protocol.
//
// ServerMetrics counts as requests are answered (the HTTP adapter calls it once per answer) and
// writes the exposition on demand; MetricsListener is the small HTTP/1.1 server that answers
// GET /metrics with it. Both are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "opsync/protocol/result.h"

namespace opsync::server {

// What is read when a scrape comes rather than counted as it happens.
struct MetricsGauges {
  uint64_t open_connections = 0;
  uint64_t database_bytes = 0;        // the database file and its write-ahead log
  std::vector<uint64_t> log_lengths;  // operations in each workspace's log
};

class ServerMetrics {
 public:
  // One answer: its route ("POST /v1/workspaces/{workspace_id}/ops", or "-" when none matched),
  // its status, and how long it took from the request's first byte to the answer.
  void request(const std::string& route, int status, double duration_ms);
  // A connection refused over --connections-max.
  void connection_refused();
  // The exposition of everything, with `gauges` read by the caller at the scrape.
  std::string exposition(const MetricsGauges& gauges) const;

  // The upper bounds of the latency histogram's buckets, in seconds.
  static const std::vector<double>& latency_buckets_s();
  // The upper bounds of the histogram of workspaces by the length of their log, in operations.
  static const std::vector<uint64_t>& log_length_buckets();

 private:
  struct Latency {
    std::vector<uint64_t> buckets;  // cumulative counts are made at exposition
    uint64_t count = 0;
    double sum_s = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> answers
  std::map<std::string, Latency> latency_;                    // route -> its latencies
  std::atomic<uint64_t> refused_{0};
};

// A plain HTTP/1.1 listener answering GET /metrics (and HEAD) with `body()`, anything else 404;
// one connection at a time, each closed after its answer, with a 2 s deadline to send a request.
class MetricsListener {
 public:
  // Binds ADDRESS:PORT (IPv4 or IPv6; port 0 picks a free one) and starts its thread.
  static Result<std::unique_ptr<MetricsListener>> start(const std::string& address, uint16_t port,
                                                        std::function<std::string()> body);
  ~MetricsListener();  // stops the thread and closes the socket
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  uint16_t port() const { return port_; }

 private:
  MetricsListener(int socket, uint16_t port, std::function<std::string()> body);
  void serve();
  void answer(int connection);

  int socket_;
  uint16_t port_;
  std::function<std::string()> body_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace opsync::server
