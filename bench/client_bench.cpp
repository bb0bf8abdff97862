// client_bench: figures for the reference client against the real opsync-server binary over
// loopback HTTP, SQLite on disk on both sides.
//
//   (a) catch-up   a device holding a 1M-op workspace but missing its newest 100 ops syncs: time,
//                  and bytes on the wire beside the minimum (the 100 ops as the server sends them)
//   (b) bootstrap  a new device syncs a 100,000-op and a 1,000,000-op workspace: operations per
//                  second beside a naive program applying the same rows to SQLite, run after run
//                  in the same process, and where the client's time goes per page of operations
//   (c) files      a 100 MB file uploaded by one device and downloaded by another with the
//                  opsync-client binary: MB/s each way and each process's peak resident memory
//
// The workspaces are filled by posting sealed operations straight to the server (as many devices
// would have), which takes seconds instead of a million local edits.
//
// Run: build/release/bench/client_bench [--sections abc] [--ops N] [--bootstrap-ops N,N...]
//                                        [--repeats N] [--file-mb N] [--dir DIR]
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "opsync/client/device.h"
#include "opsync/client/http_driver.h"
#include "opsync/protocol/crypto.h"
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
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("spawn");
  return pid;
}

class Server {
 public:
  explicit Server(const std::filesystem::path& dir) {
    const std::filesystem::path port_file = dir.string() + ".port";
    pid_ = spawn({OPSYNC_SERVER_BINARY, "--data-dir", dir.string(), "--port", "0", "--port-file",
                  port_file.string(), "--log-format", "none"});
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
  // The server process's CPU time so far (user + system), from /proc.
  double cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    // Fields after the command name, which ends at the last ')': state is field 3, utime 14,
    // stime 15.
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int number = 3; number <= 15 && fields >> field; ++number)
      if (number >= 14) ticks += std::stod(field);
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::unique_ptr<HttpTransport> connect(const std::string& url) {
  return std::move(HttpTransport::connect(url).value());
}

struct Workspace {
  std::filesystem::path owner_dir;
  std::string passphrase;
  std::unique_ptr<Device> owner;
};

Workspace create_workspace(const Server& server, const std::filesystem::path& dir,
                           RandomSource& random) {
  auto transport = connect(server.url());
  Result<NewWorkspace> created =
      Device::create_workspace(dir, server.url(), kPassword, *transport, random, kKdfIterations);
  if (!created.ok()) throw std::runtime_error(created.error().to_string());
  Workspace w{dir, created->passphrase, std::move(Device::open(dir).value())};
  return w;
}

// Posts `count` sealed put operations (100-byte values) to the workspace in 1,000-op batches.
void fill(const Server& server, Workspace& w, uint64_t count, const std::string& prefix,
          RandomSource& random) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  client.set_read_timeout(120, 0);
  const std::string path = endpoint_path(EndpointId::kUploadOps,
                                         {to_base64url(w.owner->store().binding().workspace_id)});
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

std::unique_ptr<Device> join(const Server& server, Workspace& w, const std::filesystem::path& dir,
                             RandomSource& random) {
  auto transport = connect(server.url());
  Result<TokenIssued> token = w.owner->invite(Scope::kReadWrite, std::nullopt, *transport);
  Status joined = Device::join(dir,
                               JoinRequest{server.url(), w.owner->store().binding().workspace_id,
                                           token->token, kPassword, w.passphrase},
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
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
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

// ---- (b) bootstrap ------------------------------------------------------------------------------

// The operations of a workspace as a new device stores them, read from the server and decrypted
// once before any timing: the rows the naive apply writes. Flat (one byte arena), so that a
// million of them cost their bytes and not a million allocations.
struct BootstrapRows {
  struct Row {
    uint64_t seq = 0;
    OpId id;
    Hlc hlc;
    bool put = true;
    size_t encoding_at = 0, encoding_size = 0, key_at = 0, key_size = 0, value_at = 0,
           value_size = 0;
  };
  std::vector<Row> rows;
  Bytes arena;

  size_t append(ByteView bytes) {
    const size_t at = arena.size();
    arena.insert(arena.end(), bytes.begin(), bytes.end());
    return at;
  }
  ByteView bytes(size_t at, size_t size) const { return ByteView(arena.data() + at, size); }
  std::string_view text(size_t at, size_t size) const {
    return std::string_view(reinterpret_cast<const char*>(arena.data() + at), size);
  }
};

BootstrapRows read_rows(const Server& server, Workspace& w) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  client.set_read_timeout(120, 0);
  const std::string workspace = to_base64url(w.owner->store().binding().workspace_id);
  const httplib::Headers auth = {{"Authorization", "Bearer " + w.owner->token()}};
  const SecretKey& op_key = w.owner->keys().current().op_key;
  BootstrapRows out;
  for (uint64_t after = 0;;) {
    auto answer = client.Get(
        endpoint_target(EndpointId::kReadOps, {workspace}, {{"after_seq", std::to_string(after)}}),
        auth);
    if (!answer || answer->status != 200)
      throw std::runtime_error("reading the workspace's operations failed");
    Result<OpsPageResponse> page = parse_message<OpsPageResponse>(answer->body);
    if (!page.ok()) throw std::runtime_error(page.error().to_string());
    for (const SequencedOp& op : page->ops) {
      Result<ObjectPayload> payload = parse_payload(open_op_payload(op_key, op.op).value());
      if (!payload.ok()) throw std::runtime_error(payload.error().to_string());
      BootstrapRows::Row row;
      row.seq = op.seq;
      row.id = op.op.id;
      row.hlc = op.op.hlc;
      row.put = payload->type == OpType::kPut;
      const Bytes encoding = encode_op(op.op);
      row.encoding_size = encoding.size();
      row.encoding_at = out.append(encoding);
      row.key_size = payload->key.size();
      row.key_at = out.append(
          ByteView(reinterpret_cast<const uint8_t*>(payload->key.data()), payload->key.size()));
      row.value_size = payload->value.size();
      row.value_at = out.append(payload->value);
      out.rows.push_back(row);
    }
    if (!page->next_after_seq) break;
    after = *page->next_after_seq;
  }
  return out;
}

void exec_or_throw(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "?";
    sqlite3_free(message);
    throw std::runtime_error(std::string("naive apply: ") + text);
  }
}

// The baseline: the same rows applied by a straightforward program, as one would write it without
// this client's history. One SQLite file in WAL mode with the client's durability
// (synchronous=FULL: every page survives power loss), SQLite's default page and cache sizes, a log
// table whose ids are unique (the check that the server repeats no operation) and an objects table
// holding each key's last-writer-wins value, upserted row by row; one transaction per page of the
// server's 1,000 operations; prepared statements reused. No hashing, no decryption, no network: it
// only writes. Returns seconds.
double naive_apply(const std::filesystem::path& file, const BootstrapRows& rows, size_t page_ops) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK)
    throw std::runtime_error("naive apply: cannot open");
  exec_or_throw(
      db,
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE ops (seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, wall_ms INTEGER NOT "
      "NULL,"
      "  counter INTEGER NOT NULL, encoding BLOB NOT NULL);"
      "CREATE TABLE objects (key TEXT PRIMARY KEY, id BLOB NOT NULL, wall_ms INTEGER NOT NULL,"
      "  counter INTEGER NOT NULL, deleted INTEGER NOT NULL, value BLOB NOT NULL);");
  sqlite3_stmt* insert_op = nullptr;
  sqlite3_stmt* upsert_object = nullptr;
  if (sqlite3_prepare_v2(
          db, "INSERT INTO ops (seq, id, wall_ms, counter, encoding) VALUES (?, ?, ?, ?, ?)", -1,
          &insert_op, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(
          db,
          "INSERT INTO objects (key, id, wall_ms, counter, deleted, value) VALUES (?1, ?2, ?3, ?4, "
          "?5, ?6) "
          "ON CONFLICT (key) DO UPDATE SET id = excluded.id, wall_ms = excluded.wall_ms, "
          "counter = excluded.counter, deleted = excluded.deleted, value = excluded.value "
          "WHERE (excluded.wall_ms, excluded.counter, excluded.id) > "
          "(objects.wall_ms, objects.counter, objects.id)",
          -1, &upsert_object, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("naive apply: ") + sqlite3_errmsg(db));
  auto step = [&](sqlite3_stmt* statement) {
    if (sqlite3_step(statement) != SQLITE_DONE)
      throw std::runtime_error(std::string("naive apply: ") + sqlite3_errmsg(db));
    sqlite3_reset(statement);
  };
  const auto start = Clock::now();
  for (size_t begin = 0; begin < rows.rows.size(); begin += page_ops) {
    exec_or_throw(db, "BEGIN");
    for (size_t i = begin; i < std::min(rows.rows.size(), begin + page_ops); ++i) {
      const BootstrapRows::Row& row = rows.rows[i];
      const ByteView encoding = rows.bytes(row.encoding_at, row.encoding_size);
      const ByteView value = rows.bytes(row.value_at, row.value_size);
      const std::string_view key = rows.text(row.key_at, row.key_size);
      sqlite3_bind_int64(insert_op, 1, static_cast<int64_t>(row.seq));
      sqlite3_bind_blob(insert_op, 2, row.id.bytes.data(), 16, SQLITE_STATIC);
      sqlite3_bind_int64(insert_op, 3, static_cast<int64_t>(row.hlc.wall_ms));
      sqlite3_bind_int64(insert_op, 4, row.hlc.counter);
      sqlite3_bind_blob(insert_op, 5, encoding.data(), static_cast<int>(encoding.size()),
                        SQLITE_STATIC);
      step(insert_op);
      sqlite3_bind_text(upsert_object, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
      sqlite3_bind_blob(upsert_object, 2, row.id.bytes.data(), 16, SQLITE_STATIC);
      sqlite3_bind_int64(upsert_object, 3, static_cast<int64_t>(row.hlc.wall_ms));
      sqlite3_bind_int64(upsert_object, 4, row.hlc.counter);
      sqlite3_bind_int(upsert_object, 5, row.put ? 0 : 1);
      sqlite3_bind_blob(upsert_object, 6,
                        value.empty() ? "" : static_cast<const void*>(value.data()),
                        static_cast<int>(value.size()), SQLITE_STATIC);
      step(upsert_object);
    }
    exec_or_throw(db, "COMMIT");
  }
  const double seconds = seconds_since(start);
  sqlite3_finalize(insert_op);
  sqlite3_finalize(upsert_object);
  sqlite3_close(db);
  return seconds;
}

// Bytes this process has had written to storage so far (write_bytes of /proc/self/io): SQLite's
// writes of its write-ahead log and of its checkpoints into the database file.
uint64_t process_written_bytes() {
  std::ifstream in("/proc/self/io");
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value)
    if (name == "write_bytes:") return value;
  return 0;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Where a bootstrap's time goes, page by page, from the store's own hooks (StoreOptions): the
// fault points a page's transaction passes for each operation, and the durable step that ends it.
// All of them run on the thread that applies pages. Per page (wall-clock, in this order):
//   between    from the previous page's commit to its first operation's mirror row: waiting for
//              the server's answer, parsing it, decrypting, hashing, opening the transaction
//   mirror     the id lookups (is the operation held already?) and the mirror rows
//   objects    the object rows (with their bases, files and heads)
//   commit     after the last operation to the commit's return: the write of the WAL and its fsync
// and the thread's CPU time between pages (read twice per page: reading it costs a system call).
class PageProfile {
 public:
  enum Phase : size_t { kBetween, kMirror, kObjects, kCommit, kPhases };
  struct Page {
    std::array<double, kPhases> wall_s{};
    double between_cpu_s = 0;
    double total() const {
      return wall_s[kBetween] + wall_s[kMirror] + wall_s[kObjects] + wall_s[kCommit];
    }
  };

  StoreOptions options() {
    StoreOptions options;
    options.fault_point = [this](std::string_view point) {
      if (point == "page:after_mirror") {
        if (!in_page_) {
          in_page_ = true;
          current_.between_cpu_s = thread_cpu_seconds() - mark_cpu_s_;
          take(kBetween);
        } else {
          take(kMirror);
        }
      } else if (point == "page:after_operation") {
        take(kObjects);
      }
    };
    options.after_durable_step = [this](std::string_view step) {
      if (step == "apply_page" && in_page_) {
        take(kCommit);
        pages_.push_back(current_);
      } else {
        mark_ = Clock::now();
      }
      current_ = Page{};
      in_page_ = false;
      mark_cpu_s_ = thread_cpu_seconds();
    };
    return options;
  }
  void start() {
    mark_ = Clock::now();
    mark_cpu_s_ = thread_cpu_seconds();
  }
  const std::vector<Page>& pages() const { return pages_; }

  // The commits' median and slowest, and the time of those over twice the median (the write-ahead
  // log's checkpoints into the database file, and settling the mirror's ids) per page.
  std::string describe_commits() const {
    std::vector<double> commits;
    for (const Page& page : pages_) commits.push_back(page.wall_s[kCommit]);
    if (commits.empty()) return "none";
    std::sort(commits.begin(), commits.end());
    const double p50 = commits[commits.size() / 2];
    double slow_s = 0;
    size_t slow = 0;
    for (double c : commits)
      if (c > 2 * p50) {
        slow_s += c;
        ++slow;
      }
    char line[200];
    std::snprintf(line, sizeof line,
                  "median %.2f ms, slowest %.1f ms; %zu over twice the median, %.2f ms per page",
                  p50 * 1000, commits.back() * 1000, slow,
                  slow_s * 1000 / static_cast<double>(commits.size()));
    return line;
  }

  // The mean page of pages [begin, end), in milliseconds, as a line.
  std::string describe(size_t begin, size_t end) const {
    Page sum;
    for (size_t i = begin; i < end; ++i) {
      for (size_t p = 0; p < kPhases; ++p) sum.wall_s[p] += pages_[i].wall_s[p];
      sum.between_cpu_s += pages_[i].between_cpu_s;
    }
    const double n = static_cast<double>(std::max<size_t>(1, end - begin)) / 1000;
    char line[320];
    std::snprintf(line, sizeof line,
                  "%.2f ms = between pages %.2f (of which client CPU %.2f) + id lookups and mirror "
                  "rows %.2f + "
                  "object rows %.2f + commit %.2f",
                  sum.total() / n, sum.wall_s[kBetween] / n, sum.between_cpu_s / n,
                  sum.wall_s[kMirror] / n, sum.wall_s[kObjects] / n, sum.wall_s[kCommit] / n);
    return line;
  }

 private:
  void take(Phase phase) {
    const auto now = Clock::now();
    current_.wall_s[phase] += std::chrono::duration<double>(now - mark_).count();
    mark_ = now;
  }

  std::vector<Page> pages_;
  Page current_;
  bool in_page_ = false;
  Clock::time_point mark_ = Clock::now();
  double mark_cpu_s_ = 0;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// (b) for one workspace size: `repeats` runs of the naive apply and of a new device's sync,
// alternating which goes first.
void bench_bootstrap(const Server& server, const std::filesystem::path& root, uint64_t ops,
                     int repeats, RandomSource& random) {
  const std::string tag = "b" + std::to_string(ops);
  Workspace w = create_workspace(server, root / (tag + "-owner"), random);
  const auto fill_start = Clock::now();
  fill(server, w, ops, tag + "/", random);
  const double fill_s = seconds_since(fill_start);
  const auto read_start = Clock::now();
  const BootstrapRows rows = read_rows(server, w);
  const double read_s = seconds_since(read_start);
  if (rows.rows.size() != ops)
    throw std::runtime_error("the workspace holds another number of operations");
  std::printf(
      "(b) bootstrap of %llu ops (filled in %.1f s; read back page after page and decrypted in "
      "%.1f s, "
      "%.0f ops/s), %d runs of each, alternating:\n",
      static_cast<unsigned long long>(ops), fill_s, read_s, static_cast<double>(ops) / read_s,
      repeats);
  std::vector<double> naive_rates, client_rates;
  std::vector<PageProfile> profiles;
  for (int run = 0; run < repeats; ++run) {
    double naive_s = 0;
    uint64_t naive_written = 0, naive_file_bytes = 0;
    auto run_naive = [&] {
      const std::filesystem::path file = root / (tag + "-naive.sqlite3");
      const uint64_t written_before = process_written_bytes();
      naive_s = naive_apply(file, rows, 1000);
      naive_written = process_written_bytes() - written_before;
      naive_file_bytes = std::filesystem::file_size(file);
      for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(file.string() + suffix);
    };
    Synced synced{};
    double server_cpu_s = 0;
    uint64_t client_written = 0, client_file_bytes = 0;
    PageProfile profile;
    auto run_client = [&] {
      const std::filesystem::path dir = root / (tag + "-device");
      {
        auto transport = connect(server.url());
        Result<TokenIssued> token = w.owner->invite(Scope::kReadWrite, std::nullopt, *transport);
        Status joined =
            Device::join(dir,
                         JoinRequest{server.url(), w.owner->store().binding().workspace_id,
                                     token->token, kPassword, w.passphrase},
                         *transport, random, profile.options());
        if (!joined.ok()) throw std::runtime_error(joined.error().to_string());
        auto device = std::move(Device::open(dir, profile.options()).value());
        profile.start();
        const double server_cpu_start = server.cpu_seconds();
        const uint64_t written_before = process_written_bytes();
        synced = sync(*device, random);
        client_written = process_written_bytes() - written_before;
        server_cpu_s = server.cpu_seconds() - server_cpu_start;
      }
      client_file_bytes = std::filesystem::file_size(dir / "state.sqlite3");
      std::filesystem::remove_all(dir);
    };
    if (run % 2 == 0) {
      run_naive();
      run_client();
    } else {
      run_client();
      run_naive();
    }
    if (synced.report.ops_applied != ops)
      throw std::runtime_error("the new device applied another number of ops");
    const double naive_rate = static_cast<double>(ops) / naive_s;
    const double client_rate = static_cast<double>(ops) / synced.seconds;
    naive_rates.push_back(naive_rate);
    client_rates.push_back(client_rate);
    std::printf(
        "    run %d: naive apply %.2f s (%.0f ops/s); client %.2f s (%.0f ops/s; CPU: client %.2f "
        "s, server %.2f s): "
        "%.2fx\n",
        run + 1, naive_s, naive_rate, synced.seconds, client_rate, synced.client_cpu_seconds,
        server_cpu_s, client_rate / naive_rate);
    const double per_op = static_cast<double>(ops);
    std::printf(
        "           written to disk per op: naive %.0f B (its file %.0f B), client %.0f B (its "
        "file %.0f B)\n",
        static_cast<double>(naive_written) / per_op, static_cast<double>(naive_file_bytes) / per_op,
        static_cast<double>(client_written) / per_op,
        static_cast<double>(client_file_bytes) / per_op);
    profiles.push_back(std::move(profile));
  }
  const double naive_median = median(naive_rates);
  const double client_median = median(client_rates);
  std::printf(
      "    median: naive apply %.0f ops/s, client %.0f ops/s: the client at %.2fx the naive "
      "apply\n",
      naive_median, client_median, client_median / naive_median);
  // The profile of the run nearest the median.
  size_t nearest = 0;
  for (size_t i = 0; i < client_rates.size(); ++i)
    if (std::abs(client_rates[i] - client_median) < std::abs(client_rates[nearest] - client_median))
      nearest = i;
  const PageProfile& profile = profiles[nearest];
  const size_t pages = profile.pages().size();
  std::printf("    client, mean page of 1000 ops (run %zu): %s\n", nearest + 1,
              profile.describe(0, pages).c_str());
  std::printf("    the first tenth of its pages: %s\n", profile.describe(0, pages / 10).c_str());
  std::printf("    the last tenth of its pages:  %s\n",
              profile.describe(pages - pages / 10, pages).c_str());
  std::printf("    its commits: %s\n", profile.describe_commits().c_str());
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
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("opsync-client failed");
  return {seconds_since(start), static_cast<double>(usage.ru_maxrss) / 1024};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Figures for the reference client: catch-up, bootstrap beside a naive apply, and file "
      "transfer."};
  uint64_t total_ops = 1'000'000, file_mb = 100;
  std::vector<uint64_t> bootstrap_ops = {100'000, 1'000'000};
  int repeats = 3;
  std::string sections = "bac";
  std::string dir = (std::filesystem::temp_directory_path() / "opsync-client-bench").string();
  app.add_option("--sections", sections, "Which figures: any of the letters a, b and c")
      ->capture_default_str();
  app.add_option("--ops", total_ops, "Operations in the catch-up workspace (a)")
      ->capture_default_str();
  app.add_option("--bootstrap-ops", bootstrap_ops, "Workspace sizes a new device bootstraps (b)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--repeats", repeats,
                 "Runs of the naive apply and of the client's bootstrap, each (b)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--file-mb", file_mb, "Size of the file moved each way (c)")
      ->capture_default_str();
  app.add_option("--dir", dir, "Scratch directory (removed first)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path root = dir;
  SystemRandom random;
  Server server(root / "server");

  // (b) bootstrap
  if (sections.find('b') != std::string::npos)
    for (const uint64_t ops : bootstrap_ops) bench_bootstrap(server, root, ops, repeats, random);

  // (a) catch-up
  if (sections.find('a') != std::string::npos) {
    Workspace w = create_workspace(server, root / "a-owner", random);
    const auto fill_start = Clock::now();
    fill(server, w, total_ops, "a/", random);
    std::printf("(a) filled a workspace with %llu ops in %.1f s\n",
                static_cast<unsigned long long>(total_ops), seconds_since(fill_start));
    auto device = join(server, w, root / "a-device", random);
    const Synced first = sync(*device, random);
    std::printf("    the device bootstrapped them in %.1f s (%.0f ops/s)\n", first.seconds,
                static_cast<double>(first.report.ops_applied) / first.seconds);
    // The newest 100, from another device; their size on the wire is the minimum.
    fill(server, w, 100, "a/new/", random);
    httplib::Client client("127.0.0.1", server.port());
    const std::string page_path = endpoint_target(
        EndpointId::kReadOps, {to_base64url(w.owner->store().binding().workspace_id)},
        {{"after_seq", std::to_string(total_ops)}});
    auto page = client.Get(page_path, {{"Authorization", "Bearer " + w.owner->token()}});
    const OpsPageResponse parsed = *parse_message<OpsPageResponse>(page->body);
    uint64_t minimum = 0;
    for (const SequencedOp& op : parsed.ops)
      minimum += serialize_message(UploadOpsRequest{{op.op}}).size() - 10;
    const Synced s = sync(*device, random);
    const uint64_t moved = s.bytes.sent + s.bytes.received;
    std::printf(
        "(a) catch-up: %llu ops in %.1f ms, %llu requests; %llu bytes on the wire (%llu sent, %llu "
        "received) "
        "for a minimum of %llu: %.2fx, %+lld bytes beyond 2x\n",
        static_cast<unsigned long long>(s.report.ops_applied), s.seconds * 1000,
        static_cast<unsigned long long>(s.report.requests), static_cast<unsigned long long>(moved),
        static_cast<unsigned long long>(s.bytes.sent),
        static_cast<unsigned long long>(s.bytes.received), static_cast<unsigned long long>(minimum),
        static_cast<double>(moved) / static_cast<double>(minimum),
        static_cast<long long>(moved) - 2 * static_cast<long long>(minimum));
  }

  // (c) files, with the binary, so that each side's memory is its own.
  if (sections.find('c') != std::string::npos) {
    Workspace w = create_workspace(server, root / "c-owner", random);
    const std::filesystem::path file = root / "file.bin";
    {
      std::ofstream out(file, std::ios::binary);
      for (uint64_t mib = 0; mib < file_mb; ++mib) {
        const Bytes block = random.bytes(1 << 20);
        out.write(reinterpret_cast<const char*>(block.data()),
                  static_cast<std::streamsize>(block.size()));
      }
    }
    auto reader = join(server, w, root / "c-reader", random);
    reader.reset();
    w.owner.reset();
    run_client({"attach", "--dir", (root / "c-owner").string(), "file", file.string()});
    const auto [up_s, up_mib] = run_client({"sync", "--dir", (root / "c-owner").string()});
    const auto [down_s, down_mib] = run_client({"sync", "--dir", (root / "c-reader").string()});
    const double mb = static_cast<double>(file_mb) * 1048576 / 1e6;
    std::printf(
        "(c) a %llu MiB file: upload %.1f MB/s (%.2f s, peak %.0f MiB), download %.1f MB/s (%.2f "
        "s, peak "
        "%.0f MiB)\n",
        static_cast<unsigned long long>(file_mb), mb / up_s, up_s, up_mib, mb / down_s, down_s,
        down_mib);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
