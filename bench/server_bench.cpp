// server_bench: figures for the reference server, measured against the real opsync-server binary
// over loopback HTTP with SQLite on disk.
//
//   upload throughput   operations per second, batches of 1,000 operations of 200 payload bytes,
//                       from 1 and from 4 concurrent uploaders (durability full: fsync per batch)
//   block hashes        latency of GET /blocks listing every block of a 1M-operation workspace
//   ops page            latency of GET /ops pages of 1,000 operations at random positions
//   memory              the server's resident memory before and after reading all 1M operations
//                       page by page (it should stay flat: nothing is held per workspace)
//
// Run: build/release/bench/server_bench [--ops N] [--data-dir DIR]
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

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
    std::vector<std::string> args = {OPSYNC_SERVER_BINARY, "--data-dir", data_dir, "--port", "0",
                                     "--port-file", port_file, "--log-format", "none"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn");
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
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Uploads `batches` batches of 1,000 from `uploaders` threads; returns operations per second. The
// bodies are built before the clock starts: the figure is the server's, not the client's encoder's.
double upload(uint16_t port, const std::string& path, const std::string& token, size_t batches, int uploaders) {
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
  return {samples[samples.size() / 2], samples[std::min(samples.size() - 1, samples.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Figures for the reference server (upload throughput, block and page latency, memory)."};
  size_t total_ops = 1'000'000;
  std::string data_dir = (std::filesystem::temp_directory_path() / "opsync-server-bench").string();
  app.add_option("--ops", total_ops, "Operations in the workspace for the latency figures")->capture_default_str();
  app.add_option("--data-dir", data_dir, "Scratch data directory (removed first)")->capture_default_str();
  std::string durability = "full";
  app.add_option("--durability", durability, "The server's --durability")->check(CLI::IsMember({"full", "process"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  std::filesystem::remove_all(data_dir);
  std::filesystem::create_directories(data_dir);

  Server server(data_dir, {"--durability", durability});
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  auto created = client.Post(endpoint_path(EndpointId::kCreateWorkspace, {}), "{}", "application/json");
  if (!created || created->status != 201) throw std::runtime_error("cannot create a workspace");
  const CreateWorkspaceResponse ws = *parse_message<CreateWorkspaceResponse>(created->body);
  const std::string workspace = to_base64url(ws.workspace_id);
  const std::string ops_path = endpoint_path(EndpointId::kUploadOps, {workspace});
  const auto page_target = [&](uint64_t after) {
    return endpoint_target(EndpointId::kReadOps, {workspace}, {{"after_seq", std::to_string(after)}});
  };
  const httplib::Headers auth = {{"Authorization", "Bearer " + ws.owner_token}};

  const size_t batches = total_ops / 1000;
  const size_t single = std::min<size_t>(batches / 4, 100);
  const double one_uploader = upload(server.port(), ops_path, ws.owner_token, single, 1);
  const double four_uploaders = upload(server.port(), ops_path, ws.owner_token, batches - single, 4);
  std::printf("upload, batches of 1,000 x 200 B, SQLite on disk, durability %s:\n", durability.c_str());
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
  std::printf("GET /ops, pages of 1,000 at random positions: median %.1f ms, p99 %.1f ms\n", page.median_ms,
              page.p99_ms);

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
  std::printf("read all %zu operations in %zu pages: %.1f s (%.0f ops/s)\n", total_ops, pages, paging_s,
              static_cast<double>(total_ops) / paging_s);
  std::printf("server memory: resident %.0f MiB before paging, %.0f MiB after; peak %.0f MiB (peak during "
              "uploads %.0f MiB)\n",
              rss_before, rss_after, hwm_after, hwm_before);
  std::filesystem::remove_all(data_dir);
  return 0;
}
