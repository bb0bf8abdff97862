// server_bench: figures for the reference server, measured against the real opsync-server binary
// over loopback HTTP with SQLite on disk.
//
//   upload throughput   operations per second, batches of 1,000 operations of 200 payload bytes,
//                       from 1 and from 4 concurrent uploaders (durability full: fsync per batch)
//   block hashes        latency of GET /blocks listing every block of a 1M-operation workspace
//   ops page            latency of GET /ops pages of 1,000 operations at random positions
//   memory              the server's resident memory before and after reading all 1M operations
//                       page by page (it should stay flat: nothing is held per workspace)
//   parse rate          MB/s at which the server answers 8 MiB bodies of the costliest JSON
//                       shapes (TRN-050), unauthenticated POST /v1/workspaces, one at a time
//   under a crowd       latency (median, p99) of GET /v1/info on a new connection and of a
//                       100-operation GET /ops on a kept-alive one, alone and beside 200 idle
//                       connections, 64 sending a request head a byte at a time and 64 sending a
//                       body a byte at a time
//
// Run: build/release/bench/server_bench [--ops N] [--data-dir DIR] [--http-only]
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"

extern char** environ;

namespace {

using namespace opsync;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

class Server {
 public:
  Server(const std::string& data_dir, const std::vector<std::string>& extra_args) {
    const std::string port_file = data_dir + "/port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {
        OPSYNC_SERVER_BINARY, "--data-dir", data_dir,       "--port", "0",
        "--port-file",        port_file,    "--log-format", "none"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("spawn");
    for (int i = 0; i < 10000 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      if (in >> port_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (port_ == 0) throw std::runtime_error("the server did not start");
  }
  ~Server() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  uint16_t port() const { return port_; }
  // Resident and peak resident memory in MiB, from /proc.
  std::pair<double, double> memory_mib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    double rss = 0, hwm = 0;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024;
      if (line.rfind("VmHWM:", 0) == 0) hwm = std::stod(line.substr(6)) / 1024;
    }
    return {rss, hwm};
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::string batch_body(RandomSource& random, size_t ops, uint64_t now_ms) {
  UploadOpsRequest request;
  for (size_t i = 0; i < ops; ++i) {
    WireOp op;
    op.id = random.id();
    op.device_id = random.id();
    op.hlc = Hlc{now_ms, static_cast<uint32_t>(i)};
    op.payload = random.bytes(200);
    request.ops.push_back(std::move(op));
  }
  return serialize_message(request);
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Uploads `batches` batches of 1,000 from `uploaders` threads; returns operations per second. The
// bodies are built before the clock starts: the figure is the server's, not the client's encoder's.
double upload(uint16_t port, const std::string& path, const std::string& token, size_t batches,
              int uploaders) {
  std::vector<std::string> bodies;
  SeededRandom random(1000 + batches * 7919 + static_cast<uint64_t>(uploaders));
  const uint64_t stamp_ms = now_ms();
  for (size_t b = 0; b < batches; ++b) bodies.push_back(batch_body(random, 1000, stamp_ms));
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int u = 0; u < uploaders; ++u)
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_read_timeout(120, 0);
      const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
      for (size_t b = next.fetch_add(1); b < batches; b = next.fetch_add(1)) {
        auto result = client.Post(path, auth, bodies[b], "application/json");
        if (!result || result->status != 200) failed = true;
      }
    });
  for (std::thread& t : threads) t.join();
  if (failed) throw std::runtime_error("an upload failed");
  return static_cast<double>(batches) * 1000 / (ms_since(start) / 1000);
}

struct Latency {
  double median_ms, p99_ms;
};
Latency measure(int rounds, const std::function<void(int)>& request) {
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    request(i);
    samples.push_back(ms_since(start));
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2],
          samples[std::min(samples.size() - 1, samples.size() * 99 / 100)]};
}

// A TCP connection that sends raw bytes; -1 when the server does not take it.
int connect_raw(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Connections that hold the server's attention without finishing a request: idle ones, ones
// that send a request head a byte at a time, ones whose head was accepted and whose body comes
// a byte at a time (every 100 ms).
class Crowd {
 public:
  Crowd(uint16_t port, int idle, int slow_heads, int slow_bodies) {
    const std::string padding(4096, 'a');
    for (int i = 0; i < idle + slow_heads + slow_bodies; ++i) {
      const int fd = connect_raw(port);
      if (fd < 0) throw std::runtime_error("the crowd could not connect");
      fds_.push_back(fd);
      if (i < idle) continue;
      if (i < idle + slow_heads) {
        scripts_.push_back({fd,
                            "GET " + endpoint_path(EndpointId::kInfo, {}) +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + padding,
                            0});
      } else {
        const std::string body = "{\"pad\":\"" + padding + "\"}";
        const std::string head =
            "POST " + endpoint_path(EndpointId::kCreateWorkspace, {}) +
            " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n";
        send(fd, head.data(), head.size(), MSG_NOSIGNAL);
        scripts_.push_back({fd, body, 0});
      }
    }
    dripper_ = std::thread([this] {
      while (!done_) {
        for (Script& s : scripts_)
          if (s.sent + 1 < s.bytes.size() &&
              send(s.fd, s.bytes.data() + s.sent, 1, MSG_NOSIGNAL) == 1)
            ++s.sent;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every connection accepted
  }
  ~Crowd() {
    done_ = true;
    dripper_.join();
    for (int fd : fds_) close(fd);
  }

 private:
  struct Script {
    int fd;
    std::string bytes;
    size_t sent;
  };
  std::vector<int> fds_;
  std::vector<Script> scripts_;
  std::atomic<bool> done_{false};
  std::thread dripper_;
};

// The bodies of at most `bytes` bytes each, of the shapes that cost most per byte to parse.
std::vector<std::pair<std::string, std::string>> worst_json_shapes(size_t bytes) {
  auto repeated = [&](const std::string& open, const std::string& item, const std::string& close) {
    std::string body = open;
    while (body.size() + item.size() + 1 + close.size() <= bytes)
      body += (body.size() == open.size() ? "" : ",") + item;
    return body + close;
  };
  std::string members = "{";
  for (size_t i = 0; members.size() + 16 < bytes; ++i)
    members += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
  members += "}";
  return {{"array of empty objects", repeated("{\"x\":[", "{}", "]}")},
          {"array of empty arrays", repeated("{\"x\":[", "[]", "]}")},
          {"array of arrays nested 15 deep",
           repeated("{\"x\":[", std::string(14, '[') + "0" + std::string(14, ']'), "]}")},
          {"array of zeros", repeated("{\"x\":[", "0", "]}")},
          {"array of empty strings", repeated("{\"x\":[", "\"\"", "]}")},
          {"object of members", members}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Figures for the reference server (upload throughput, block and page latency, memory)."};
  size_t total_ops = 1'000'000;
  std::string data_dir = (std::filesystem::temp_directory_path() / "opsync-server-bench").string();
  app.add_option("--ops", total_ops, "Operations in the workspace for the latency figures")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "Scratch data directory (removed first)")
      ->capture_default_str();
  std::string durability = "full";
  app.add_option("--durability", durability, "The server's --durability")
      ->check(CLI::IsMember({"full", "process"}))
      ->capture_default_str();
  bool http_only = false;
  app.add_flag("--http-only", http_only, "Only the parse rate and the latencies beside a crowd");
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  std::filesystem::remove_all(data_dir);
  std::filesystem::create_directories(data_dir);

  Server server(data_dir, {"--durability", durability});
  if (http_only) total_ops = 2000;
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  auto created =
      client.Post(endpoint_path(EndpointId::kCreateWorkspace, {}), "{}", "application/json");
  if (!created || created->status != 201) throw std::runtime_error("cannot create a workspace");
  const CreateWorkspaceResponse ws = *parse_message<CreateWorkspaceResponse>(created->body);
  const std::string workspace = to_base64url(ws.workspace_id);
  const std::string ops_path = endpoint_path(EndpointId::kUploadOps, {workspace});
  const auto page_target = [&](uint64_t after) {
    return endpoint_target(EndpointId::kReadOps, {workspace},
                           {{"after_seq", std::to_string(after)}});
  };
  const httplib::Headers auth = {{"Authorization", "Bearer " + ws.owner_token}};

  const size_t batches = total_ops / 1000;
  const size_t single = std::min<size_t>(batches / 4, 100);
  const double one_uploader = upload(server.port(), ops_path, ws.owner_token, single, 1);
  const double four_uploaders =
      upload(server.port(), ops_path, ws.owner_token, batches - single, 4);
  std::printf("upload, batches of 1,000 x 200 B, SQLite on disk, durability %s:\n",
              durability.c_str());
  std::printf("  1 uploader   %9.0f ops/s  (%zu batches)\n", one_uploader, single);
  std::printf("  4 uploaders  %9.0f ops/s  (%zu batches)\n", four_uploaders, batches - single);

  const auto [rss_before, hwm_before] = server.memory_mib();
  const Latency blocks = measure(20, [&](int) {
    auto r = client.Get(endpoint_path(EndpointId::kReadBlocks, {workspace}), auth);
    if (!r || r->status != 200) throw std::runtime_error("blocks");
  });
  std::printf("GET /blocks, all %zu block hashes of %zu operations: median %.1f ms, p99 %.1f ms\n",
              total_ops / kReferenceBlockSize, total_ops, blocks.median_ms, blocks.p99_ms);
  SeededRandom positions(7);
  const Latency page = measure(200, [&](int) {
    const uint64_t after = positions.below(total_ops - 1000);
    auto r = client.Get(page_target(after), auth);
    if (!r || r->status != 200) throw std::runtime_error("ops page");
  });
  std::printf("GET /ops, pages of 1,000 at random positions: median %.1f ms, p99 %.1f ms\n",
              page.median_ms, page.p99_ms);

  // The costliest JSON shapes at the largest body: one at a time, so the figure is one request's.
  std::printf("parse rate, 8 MiB bodies answered 400 (unknown member), 5 each, median:\n");
  double worst_mb_s = 1e9;
  for (const auto& [shape, body] : worst_json_shapes(kReferenceLimits.request_body_bytes_max)) {
    httplib::Client parser_client("127.0.0.1", server.port());
    parser_client.set_read_timeout(120, 0);
    const Latency parse = measure(5, [&](int) {
      auto r = parser_client.Post(endpoint_path(EndpointId::kCreateWorkspace, {}), body,
                                  "application/json");
      if (!r || r->status != 400) throw std::runtime_error("parse: " + shape);
    });
    const double mb_s = static_cast<double>(body.size()) / 1e6 / (parse.median_ms / 1000);
    worst_mb_s = std::min(worst_mb_s, mb_s);
    std::printf("  %-32s %5.1f ms  %6.1f MB/s\n", shape.c_str(), parse.median_ms, mb_s);
  }
  std::printf("  the worst shape: %.1f MB/s\n", worst_mb_s);

  // Normal requests alone and beside a crowd of idle and slow connections (issue 13, item 3).
  auto normal_latencies = [&](const char* label) {
    const Latency info = measure(500, [&](int) {
      httplib::Client fresh("127.0.0.1", server.port());
      auto r = fresh.Get(endpoint_path(EndpointId::kInfo, {}));
      if (!r || r->status != 200) throw std::runtime_error("info");
    });
    const Latency small_page = measure(500, [&](int i) {
      auto r =
          client.Get(endpoint_target(EndpointId::kReadOps, {workspace},
                                     {{"limit", "100"}, {"after_seq", std::to_string(i % 1000)}}),
                     auth);
      if (!r || r->status != 200) throw std::runtime_error("ops");
    });
    std::printf(
        "  %-44s GET /v1/info median %.2f ms, p99 %.2f ms; GET /ops (100) median %.2f ms, p99 %.2f "
        "ms\n",
        label, info.median_ms, info.p99_ms, small_page.median_ms, small_page.p99_ms);
  };
  std::printf("normal requests, 500 each:\n");
  normal_latencies("alone");
  {
    Crowd crowd(server.port(), 200, 64, 64);
    normal_latencies("beside 200 idle + 128 slow connections");
  }
  if (http_only) {
    std::filesystem::remove_all(data_dir);
    return 0;
  }

  // Read the whole log page by page and watch the server's memory.
  const auto start = Clock::now();
  uint64_t after = 0;
  size_t pages = 0;
  while (true) {
    auto r = client.Get(page_target(after), auth);
    if (!r || r->status != 200) throw std::runtime_error("paging");
    const OpsPageResponse body = *parse_message<OpsPageResponse>(r->body);
    ++pages;
    if (!body.next_after_seq) break;
    after = *body.next_after_seq;
  }
  const double paging_s = ms_since(start) / 1000;
  const auto [rss_after, hwm_after] = server.memory_mib();
  std::printf("read all %zu operations in %zu pages: %.1f s (%.0f ops/s)\n", total_ops, pages,
              paging_s, static_cast<double>(total_ops) / paging_s);
  std::printf(
      "server memory: resident %.0f MiB before paging, %.0f MiB after; peak %.0f MiB (peak during "
      "uploads %.0f MiB)\n",
      rss_before, rss_after, hwm_after, hwm_before);
  std::filesystem::remove_all(data_dir);
  return 0;
}
