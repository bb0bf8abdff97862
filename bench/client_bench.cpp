// client_bench: figures for the reference client against the real opsync-server binary over
// loopback HTTP, SQLite on disk on both sides.
//
//   (a) catch-up   a device holding a 1M-op workspace but missing its newest 100 ops syncs: time,
//                  and bytes on the wire beside the minimum (the 100 ops as the server sends them)
//   (b) bootstrap  a new device syncs a 100,000-op workspace: operations per second
//   (c) files      a 100 MB file uploaded by one device and downloaded by another with the
//                  opsync-client binary: MB/s each way and each process's peak resident memory
//
// The workspaces are filled by posting sealed operations straight to the server (as many devices
// would have), which takes seconds instead of a million local edits.
//
// Run: build/release/bench/client_bench [--ops N] [--bootstrap-ops N] [--file-mb N] [--dir DIR]
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "opsync/client/device.h"
#include "opsync/client/http_driver.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"

extern char** environ;

namespace {

using namespace opsync;
using namespace opsync::client;
using Clock = std::chrono::steady_clock;

constexpr const char* kPassword = "bench password";
constexpr uint32_t kKdfIterations = 1000;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn");
  return pid;
}

class Server {
 public:
  explicit Server(const std::filesystem::path& dir) {
    const std::filesystem::path port_file = dir.string() + ".port";
    pid_ = spawn({OPSYNC_SERVER_BINARY, "--data-dir", dir.string(), "--port", "0", "--port-file", port_file.string(),
                  "--log-format", "none"});
    for (int i = 0; i < 5000 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      if (!(in >> port_)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (port_ == 0) throw std::runtime_error("the server did not start");
  }
  ~Server() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::unique_ptr<HttpTransport> connect(const std::string& url) { return std::move(HttpTransport::connect(url).value()); }

struct Workspace {
  std::filesystem::path owner_dir;
  std::string passphrase;
  std::unique_ptr<Device> owner;
};

Workspace create_workspace(const Server& server, const std::filesystem::path& dir, RandomSource& random) {
  auto transport = connect(server.url());
  Result<NewWorkspace> created = Device::create_workspace(dir, server.url(), kPassword, *transport, random, kKdfIterations);
  if (!created.ok()) throw std::runtime_error(created.error().to_string());
  Workspace w{dir, created->passphrase, std::move(Device::open(dir).value())};
  return w;
}

// Posts `count` sealed put operations (100-byte values) to the workspace in 1,000-op batches.
void fill(const Server& server, Workspace& w, uint64_t count, const std::string& prefix, RandomSource& random) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  client.set_read_timeout(120, 0);
  const std::string path =
      endpoint_path(EndpointId::kUploadOps, {to_base64url(w.owner->store().binding().workspace_id)});
  const httplib::Headers auth = {{"Authorization", "Bearer " + w.owner->token()}};
  const DeviceId device = random.id();
  const uint64_t stamp_ms = system_now_ms();
  for (uint64_t done = 0; done < count;) {
    UploadOpsRequest batch;
    for (; done < count && batch.ops.size() < 1000; ++done) {
      ObjectPayload payload;
      payload.key = prefix + std::to_string(done);
      payload.value = random.bytes(100);
      WireOp op;
      op.id = random.id();
      op.device_id = device;
      op.hlc = Hlc{stamp_ms, static_cast<uint32_t>(done)};
      seal_op_payload(w.owner->keys().current().op_key, op, serialize_payload(payload), random);
      batch.ops.push_back(std::move(op));
    }
    auto answer = client.Post(path, auth, serialize_message(batch), "application/json");
    if (!answer || answer->status != 200) throw std::runtime_error("filling the workspace failed");
  }
}

std::unique_ptr<Device> join(const Server& server, Workspace& w, const std::filesystem::path& dir, RandomSource& random) {
  auto transport = connect(server.url());
  Result<TokenIssued> token = w.owner->invite(Scope::kReadWrite, std::nullopt, *transport);
  Status joined = Device::join(dir, JoinRequest{server.url(), w.owner->store().binding().workspace_id, token->token,
                                                kPassword, w.passphrase},
                               *transport, random);
  if (!joined.ok()) throw std::runtime_error(joined.error().to_string());
  return std::move(Device::open(dir).value());
}

struct Synced {
  SyncReport report;
  WireBytes bytes;
  double seconds;
  double client_cpu_seconds;  // this process's user + system time during the sync
};

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Synced sync(Device& device, RandomSource& random) {
  auto transport = connect(device.store().binding().server_url);
  SyncEngine engine(device.store(), device.keys(), random);
  const auto start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  SyncFinished finished = run_sync(engine, *transport, device.token());
  const double seconds = seconds_since(start);
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  if (finished.error) throw std::runtime_error("sync failed: " + finished.error->to_string());
  return {engine.report(), transport->bytes(), seconds, cpu_seconds};
}

// Runs opsync-client with `args`; returns seconds and its peak resident memory in MiB.
std::pair<double, double> run_client(const std::vector<std::string>& args) {
  std::vector<std::string> all = {OPSYNC_CLIENT_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  const auto start = Clock::now();
  const pid_t pid = spawn(all);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("opsync-client failed");
  return {seconds_since(start), static_cast<double>(usage.ru_maxrss) / 1024};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Figures for the reference client: catch-up, bootstrap, and file transfer."};
  uint64_t total_ops = 1'000'000, bootstrap_ops = 100'000, file_mb = 100;
  std::string dir = (std::filesystem::temp_directory_path() / "opsync-client-bench").string();
  app.add_option("--ops", total_ops, "Operations in the catch-up workspace (a)")->capture_default_str();
  app.add_option("--bootstrap-ops", bootstrap_ops, "Operations a new device bootstraps (b)")->capture_default_str();
  app.add_option("--file-mb", file_mb, "Size of the file moved each way (c)")->capture_default_str();
  app.add_option("--dir", dir, "Scratch directory (removed first)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path root = dir;
  SystemRandom random;
  Server server(root / "server");

  // (b) bootstrap
  {
    Workspace w = create_workspace(server, root / "b-owner", random);
    fill(server, w, bootstrap_ops, "b/", random);
    auto fresh = join(server, w, root / "b-new", random);
    const Synced s = sync(*fresh, random);
    std::printf("(b) bootstrap: a new device synced %llu ops in %.2f s: %.0f ops/s (%.1f MB received)\n",
                static_cast<unsigned long long>(s.report.ops_applied), s.seconds,
                static_cast<double>(s.report.ops_applied) / s.seconds, static_cast<double>(s.bytes.received) / 1e6);
    std::printf("    the client's CPU time: %.2f s (the rest is the server and the network)\n", s.client_cpu_seconds);
  }

  // (a) catch-up
  {
    Workspace w = create_workspace(server, root / "a-owner", random);
    const auto fill_start = Clock::now();
    fill(server, w, total_ops, "a/", random);
    std::printf("(a) filled a workspace with %llu ops in %.1f s\n", static_cast<unsigned long long>(total_ops),
                seconds_since(fill_start));
    auto device = join(server, w, root / "a-device", random);
    const Synced first = sync(*device, random);
    std::printf("    the device bootstrapped them in %.1f s (%.0f ops/s)\n", first.seconds,
                static_cast<double>(first.report.ops_applied) / first.seconds);
    // The newest 100, from another device; their size on the wire is the minimum.
    fill(server, w, 100, "a/new/", random);
    httplib::Client client("127.0.0.1", server.port());
    const std::string page_path =
        endpoint_target(EndpointId::kReadOps, {to_base64url(w.owner->store().binding().workspace_id)},
                        {{"after_seq", std::to_string(total_ops)}});
    auto page = client.Get(page_path, {{"Authorization", "Bearer " + w.owner->token()}});
    const OpsPageResponse parsed = *parse_message<OpsPageResponse>(page->body);
    uint64_t minimum = 0;
    for (const SequencedOp& op : parsed.ops) minimum += serialize_message(UploadOpsRequest{{op.op}}).size() - 10;
    const Synced s = sync(*device, random);
    const uint64_t moved = s.bytes.sent + s.bytes.received;
    std::printf("(a) catch-up: %llu ops in %.1f ms, %llu requests; %llu bytes on the wire (%llu sent, %llu received) "
                "for a minimum of %llu: %.2fx, %+lld bytes beyond 2x\n",
                static_cast<unsigned long long>(s.report.ops_applied), s.seconds * 1000,
                static_cast<unsigned long long>(s.report.requests), static_cast<unsigned long long>(moved),
                static_cast<unsigned long long>(s.bytes.sent), static_cast<unsigned long long>(s.bytes.received),
                static_cast<unsigned long long>(minimum), static_cast<double>(moved) / static_cast<double>(minimum),
                static_cast<long long>(moved) - 2 * static_cast<long long>(minimum));
  }

  // (c) files, with the binary, so that each side's memory is its own.
  {
    Workspace w = create_workspace(server, root / "c-owner", random);
    const std::filesystem::path file = root / "file.bin";
    {
      std::ofstream out(file, std::ios::binary);
      for (uint64_t mib = 0; mib < file_mb; ++mib) {
        const Bytes block = random.bytes(1 << 20);
        out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(block.size()));
      }
    }
    auto reader = join(server, w, root / "c-reader", random);
    reader.reset();
    w.owner.reset();
    run_client({"attach", "--dir", (root / "c-owner").string(), "file", file.string()});
    const auto [up_s, up_mib] = run_client({"sync", "--dir", (root / "c-owner").string()});
    const auto [down_s, down_mib] = run_client({"sync", "--dir", (root / "c-reader").string()});
    const double mb = static_cast<double>(file_mb) * 1048576 / 1e6;
    std::printf("(c) a %llu MiB file: upload %.1f MB/s (%.2f s, peak %.0f MiB), download %.1f MB/s (%.2f s, peak "
                "%.0f MiB)\n",
                static_cast<unsigned long long>(file_mb), mb / up_s, up_s, up_mib, mb / down_s, down_s, down_mib);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
