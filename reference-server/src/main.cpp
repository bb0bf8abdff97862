// opsync-server: the reference OpSync server.
//
//   opsync-server [--data-dir DIR] [--listen ADDR] [--port N] [--port-file FILE] ...
//   opsync-server create-workspace [--data-dir DIR]      (closed registration, server stopped)
//
// With --registration closed, workspaces are made either by `create-workspace` while no server
// runs on DIR, or through the running server by a POST /v1/workspaces that carries the operator's
// credential of --registration-credential-file (AUTH-006; deploy/README.md).
#include <malloc.h>
#include <signal.h>
#include <sqlite3.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "defects.h"
#include "opsync/protocol/sha256.h"
#include "opsync/server/core.h"
#include "opsync/server/http_server.h"
#include "opsync/server/metrics.h"
#include "opsync/server/sqlite_storage.h"

namespace {

using namespace opsync;
using namespace opsync::server;

// Writes FILE atomically (temporary name, then rename) so a reader never sees a partial port.
bool write_port_file(const std::string& path, uint16_t port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) return false;
    out << port << '\n';
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

// Blocks SIGINT and SIGTERM in every thread; one thread waits for them and stops the server,
// which lets in-flight requests finish before serve() returns.
void stop_on_signals(sigset_t& signals, HttpServer& server) {
  std::thread([signals, &server]() mutable {
    int received = 0;
    sigwait(&signals, &received);
    std::cerr << "opsync-server: signal " << received << ", finishing in-flight requests\n";
    server.stop();
  }).detach();
}

// The operator's registration credential from FILE: its first line, which must look like a token
// (AUTH-010: at least 128 bits, printable ASCII without spaces). Empty result and a message in
// `why` when the file is unusable.
std::optional<std::string> read_registration_credential(const std::string& path, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = "cannot read the registration credential file " + path;
    return std::nullopt;
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.pop_back();
  constexpr size_t kCredentialCharsMin = 22;  // 128 bits of base64
  constexpr size_t kCredentialCharsMax = 512;
  const bool printable =
      std::all_of(line.begin(), line.end(), [](unsigned char c) { return c > 0x20 && c < 0x7F; });
  if (line.size() < kCredentialCharsMin || line.size() > kCredentialCharsMax || !printable) {
    why = "the registration credential in " + path + " must be one line of " +
          std::to_string(kCredentialCharsMin) + " to " + std::to_string(kCredentialCharsMax) +
          " printable characters without spaces (e.g. `openssl rand -base64 32`)";
    return std::nullopt;
  }
  return line;
}

// ADDRESS:PORT of --metrics-listen ("127.0.0.1:9420", "[::1]:9420"); nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> split_listen_address(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string address = text.substr(0, colon);
  if (address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  const unsigned long value = std::stoul(port);
  if (value > 65535) return std::nullopt;
  return std::make_pair(address, static_cast<uint16_t>(value));
}

// What a scrape reads from the data directory: the database's size on disk and each workspace's
// log length, through a read-only connection of its own (WAL lets it read beside the writer).
void read_storage_gauges(const std::filesystem::path& data_dir, MetricsGauges& gauges) {
  for (const char* file : {"opsync.db", "opsync.db-wal"}) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(data_dir / file, ec);
    if (!ec) gauges.database_bytes += size;
  }
  sqlite3* db = nullptr;
  const std::string path = (data_dir / "opsync.db").string();
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT head_seq FROM workspaces", -1, &statement, nullptr) ==
        SQLITE_OK) {
      while (sqlite3_step(statement) == SQLITE_ROW)
        gauges.log_lengths.push_back(static_cast<uint64_t>(sqlite3_column_int64(statement, 0)));
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
}

// Everything the command line sets.
struct Flags {
  std::string data_dir = "./opsync-data";
  std::string listen = "127.0.0.1";
  uint16_t port = 8420;
  std::string port_file;
  ServerConfig config;
  std::string registration = "open";
  std::string registration_credential_file;
  std::string log_format = "text";
  std::string durability = "full";
  std::string tls_cert, tls_key;
  std::string metrics_listen, metrics_port_file;
  HttpOptions http;
  std::vector<std::string> defects;  // opsync-server-defective only
  bool list_defects = false;
};

// Where the data lives, where the server listens, who may create workspaces, what it logs.
void add_server_options(CLI::App& app, Flags& flags) {
  app.add_option("--data-dir", flags.data_dir, "Directory of the database (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", flags.listen, "Address to listen on; 0.0.0.0 for every interface")
      ->capture_default_str();
  app.add_option("--port", flags.port, "TCP port; 0 picks a free one (see --port-file)")
      ->capture_default_str();
  app.add_option("--port-file", flags.port_file,
                 "Write the port listened on to this file once listening");
  app.add_option("--block-size", flags.config.block_size,
                 "Block size N of new workspaces (spec 7.4)")
      ->check(CLI::Range(kBlockSizeMin, kBlockSizeMax))
      ->capture_default_str();
  app.add_option(
         "--max-skew-ms", flags.config.max_clock_skew_ms,
         "Reject operations stamped further than this ahead of the server's clock (LOG-006)")
      ->check(CLI::Range(kMaxClockSkewMsMin, kMaxClockSkewMsMax))
      ->capture_default_str();
  app.add_option("--tls-cert", flags.tls_cert, "PEM certificate: serve HTTPS (needs --tls-key)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", flags.tls_key, "PEM private key for --tls-cert")
      ->check(CLI::ExistingFile);
  app.add_option(
         "--registration", flags.registration,
         "open: anyone may create a workspace; closed: only `opsync-server create-workspace`")
      ->check(CLI::IsMember({"open", "closed"}))
      ->capture_default_str();
  app.add_option(
         "--registration-credential-file", flags.registration_credential_file,
         "With --registration closed: a file whose first line is the operator's secret; a POST "
         "/v1/workspaces sending it as `Authorization: Bearer` creates a workspace (spec AUTH-006)")
      ->check(CLI::ExistingFile);
  app.add_option("--log-format", flags.log_format, "One line per request: text, json, or none")
      ->check(CLI::IsMember({"text", "json", "none"}))
      ->capture_default_str();
  app.add_option(
         "--durability", flags.durability,
         "full: fsync every commit (acknowledged uploads survive power loss); process: survive a "
         "crash of this process only, faster")
      ->check(CLI::IsMember({"full", "process"}))
      ->capture_default_str();
}

// The HTTP adapter's threads, caps and timeouts.
void add_http_options(CLI::App& app, Flags& flags) {
  app.add_option(
         "--threads", flags.http.threads,
         "Worker threads running requests (SQLite, JSON); connections need no thread of their own")
      ->check(CLI::Range(size_t{1}, kHttpThreadsMax))
      ->capture_default_str();
  app.add_option("--io-threads", flags.http.io_threads, "Threads serving sockets and TLS")
      ->check(CLI::Range(size_t{1}, kHttpIoThreadsMax))
      ->capture_default_str();
  app.add_option("--connections-max", flags.http.connections_max,
                 "Open connections at most; one more is answered 503 unavailable and closed")
      ->check(CLI::Range(size_t{1}, kHttpConnectionsMax))
      ->capture_default_str();
  app.add_option(
         "--request-memory-mib-max", flags.http.request_memory_mib_max,
         "Memory for request bodies being read and parsed (a JSON body counts 33 times its size); "
         "requests beyond it wait their turn")
      ->check(CLI::Range(kHttpRequestMemoryMibMin, kHttpRequestMemoryMibMax))
      ->capture_default_str();
  const auto timeout_range = CLI::Range(kHttpTimeoutMsMin, kHttpTimeoutMsMax);
  app.add_option(
         "--header-timeout-ms", flags.http.header_timeout_ms,
         "A request's line and headers must arrive within this from their first byte (and a TLS "
         "handshake within this from the connection); else the connection is closed")
      ->check(timeout_range)
      ->capture_default_str();
  app.add_option("--body-timeout-ms", flags.http.body_timeout_ms,
                 "A request body must arrive within this once its headers were accepted")
      ->check(timeout_range)
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", flags.http.idle_timeout_ms,
                 "A kept-alive connection with no request is closed after this")
      ->check(timeout_range)
      ->capture_default_str();
  app.add_option("--write-timeout-ms", flags.http.write_timeout_ms,
                 "A client must take a whole response within this")
      ->check(timeout_range)
      ->capture_default_str();
  app.add_option("--shutdown-timeout-ms", flags.http.shutdown_timeout_ms,
                 "On SIGTERM, requests already being handled get this long to finish; slower "
                 "connections are dropped")
      ->check(timeout_range)
      ->capture_default_str();
  app.add_option("--gc-interval-ms", flags.http.gc_interval_ms,
                 "How often expired uploads and deleted files are removed")
      ->capture_default_str();
}

// An operator's limits and retention times, the metrics endpoint, and the testing switches.
void add_operator_options(CLI::App& app, Flags& flags) {
  app.add_option("--upload-expiry-ms", flags.config.upload_expiry_ms,
                 "Unfinished uploads idle this long are removed")
      ->check(CLI::Range(kRetentionMsMin, kJsonIntegerMax))
      ->capture_default_str();
  app.add_option("--file-retention-ms", flags.config.file_retention_ms,
                 "Deleted files keep their chunks this long")
      ->check(CLI::Range(kRetentionMsMin, kJsonIntegerMax))
      ->capture_default_str();

  app.add_option("--workspace-creations-per-minute", flags.config.workspace_creations_per_minute,
                 "Workspaces one client address (IPv6: its /64) may create per minute, in bursts "
                 "of as many; "
                 "more get 429 rate_limited. 0: no limit")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1000000}))
      ->capture_default_str();
  app.add_option("--tokens-per-workspace-max", flags.config.tokens_per_workspace_max,
                 "Tokens neither revoked nor expired one workspace may hold; more get 409 "
                 "quota_exceeded. 0: no limit")
      ->capture_default_str();
  app.add_option("--uploading-bytes-per-workspace-max",
                 flags.config.uploading_bytes_per_workspace_max,
                 "Bytes of chunks of files not yet committed one workspace may hold; more get 409 "
                 "quota_exceeded. "
                 "0: no limit")
      ->capture_default_str();
  app.add_option(
      "--client-address-header", flags.http.client_address_header,
      "Behind a reverse proxy: the header holding the client's address (e.g. X-Real-IP), for the "
      "per-address limit. Only when clients cannot reach this server except through the proxy");
  app.add_option(
      "--metrics-listen", flags.metrics_listen,
      "Serve Prometheus metrics (requests by route and status, latency histograms, connections, "
      "database size, workspaces by log length) at http://ADDRESS:PORT/metrics, e.g. "
      "127.0.0.1:9420; "
      "off by default");
  app.add_option(
      "--metrics-port-file", flags.metrics_port_file,
      "Write the metrics port to this file once listening (for --metrics-listen ADDRESS:0)");
  app.add_option("--fault-path", flags.http.fault_path,
                 "Tests only: a request to exactly this path fails with an exception in its "
                 "worker, to check the "
                 "answer the server then gives")
      ->group("Testing");
#ifdef OPSYNC_DEFECT_SWITCHES
  // opsync-server-defective only: the deliberate defects of defects.h, for the conformance suite's
  // self-test. opsync-server has no such option.
  app.add_option("--defect", flags.defects,
                 "Break one rule of the spec on purpose (repeatable; see --list-defects)");
  app.add_flag("--list-defects", flags.list_defects,
               "List the defects --defect takes, with the requirements each breaks");
#endif
}

// --list-defects and --defect (opsync-server-defective only): an exit code when the program should
// stop here, nullopt to go on.
std::optional<int> apply_defect_flags([[maybe_unused]] const Flags& flags) {
#ifdef OPSYNC_DEFECT_SWITCHES
  if (flags.list_defects) {
    for (const DefectName& f : defect_names())
      std::cout << f.name << "  " << f.requirements << "\n";
    return 0;
  }
  for (const std::string& name : flags.defects) {
    const std::optional<Defect> f = defect_from_name(name);
    if (!f) {
      std::cerr << "opsync-server: no defect is called " << name << " (see --list-defects)\n";
      return 2;
    }
    enable_defect(*f);
  }
#endif
  return std::nullopt;
}

// --registration and its credential: an exit code when the flags do not fit together, nullopt
// to go on. `creating`: the create-workspace subcommand, which needs no credential.
std::optional<int> apply_registration_flags(Flags& flags, bool creating) {
  flags.config.registration =
      flags.registration == "open" ? Registration::kOpen : Registration::kClosed;
  if (!flags.registration_credential_file.empty() && !creating) {
    if (flags.config.registration != Registration::kClosed) {
      std::cerr << "opsync-server: --registration-credential-file needs --registration closed "
                   "(open registration "
                   "lets anyone create workspaces already)\n";
      return 2;
    }
    std::string why;
    const std::optional<std::string> credential =
        read_registration_credential(flags.registration_credential_file, why);
    if (!credential) {
      std::cerr << "opsync-server: " << why << '\n';
      return 2;
    }
    flags.config.registration_credential_sha256 = sha256(*credential);
  }
  return std::nullopt;
}

// Serves until SIGINT or SIGTERM.
int serve(Flags& flags, ServerCore& core) {
  // Block the signals before any thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  flags.http.listen_address = flags.listen;
  flags.http.port = flags.port;
  if (!flags.tls_cert.empty()) flags.http.tls_cert_file = flags.tls_cert;
  if (!flags.tls_key.empty()) flags.http.tls_key_file = flags.tls_key;
  flags.http.log_format = flags.log_format == "json"   ? LogFormat::kJson
                          : flags.log_format == "none" ? LogFormat::kNone
                                                       : LogFormat::kText;
  std::optional<std::pair<std::string, uint16_t>> metrics_address;
  if (!flags.metrics_listen.empty()) {
    metrics_address = split_listen_address(flags.metrics_listen);
    if (!metrics_address) {
      std::cerr << "opsync-server: --metrics-listen takes ADDRESS:PORT (127.0.0.1:9420, "
                   "[::1]:9420), not \""
                << flags.metrics_listen << "\"\n";
      return 2;
    }
  }
  ServerMetrics metrics;
  if (metrics_address) flags.http.metrics = &metrics;
  Result<std::unique_ptr<HttpServer>> server = HttpServer::bind(core, flags.http, std::cout);
  if (!server.ok()) {
    std::cerr << "opsync-server: " << server.error().message << '\n';
    return 1;
  }
  std::unique_ptr<MetricsListener> metrics_listener;
  if (metrics_address) {
    HttpServer& protocol_server = **server;
    Result<std::unique_ptr<MetricsListener>> started =
        MetricsListener::start(metrics_address->first, metrics_address->second,
                               [&metrics, &protocol_server, data_dir = flags.data_dir] {
                                 MetricsGauges gauges;
                                 gauges.open_connections = protocol_server.connections();
                                 read_storage_gauges(data_dir, gauges);
                                 return metrics.exposition(gauges);
                               });
    if (!started.ok()) {
      std::cerr << "opsync-server: " << started.error().message << '\n';
      return 1;
    }
    metrics_listener = std::move(*started);
    if (!flags.metrics_port_file.empty() &&
        !write_port_file(flags.metrics_port_file, metrics_listener->port())) {
      std::cerr << "opsync-server: cannot write " << flags.metrics_port_file << '\n';
      return 1;
    }
    std::cerr << "opsync-server: metrics on http://"
              << flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':')) << ":"
              << metrics_listener->port() << "/metrics\n";
  }
  if (!flags.port_file.empty() && !write_port_file(flags.port_file, (*server)->port())) {
    std::cerr << "opsync-server: cannot write " << flags.port_file << '\n';
    return 1;
  }
  std::cerr << "opsync-server: listening on " << ((*server)->tls() ? "https://" : "http://")
            << flags.listen << ":" << (*server)->port() << ", data in "
            << std::filesystem::absolute(flags.data_dir).string() << ", registration "
            << flags.registration << '\n';
  stop_on_signals(signals, **server);
  (*server)->serve();
  metrics_listener.reset();  // before the server its scrapes read
  server->reset();
  return 0;
}

// The create-workspace subcommand: what a POST /v1/workspaces would have answered, as JSON.
int create_workspace(ServerCore& core) {
  Result<CreateWorkspaceResponse> created = core.create_workspace(system_time_ms());
  if (!created.ok()) {
    std::cerr << "opsync-server: " << created.error().message << '\n';
    return 1;
  }
  std::cout << serialize_message(*created) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Blocks of 1 MiB and more come from the system and go back to it when freed. glibc's default
  // threshold rises to the largest block ever freed (up to 32 MiB), after which a parsed body's
  // arrays stay in the allocator's per-thread arenas: eight 8 MiB bodies one after another left
  // 166 MiB resident, against 12 MiB with the threshold fixed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);

  CLI::App app{
      "The reference OpSync server: every endpoint of spec v1 over HTTP(S), stored in SQLite."};
  app.set_version_flag("--version", "opsync-server 0.1.0 (protocol version 1)");
  Flags flags;
  add_server_options(app, flags);
  add_http_options(app, flags);
  add_operator_options(app, flags);
  CLI::App* create = app.add_subcommand("create-workspace",
                                        "Create a workspace in DIR and print its id and owner "
                                        "token as JSON. No server may be running on DIR "
                                        "(a running server is asked instead: POST /v1/workspaces "
                                        "with --registration-credential-file's secret)");
  create->add_option("--data-dir", flags.data_dir, "Directory of the database")
      ->capture_default_str();
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);

  if (std::optional<int> exit_code = apply_defect_flags(flags)) return *exit_code;
  if (std::optional<int> exit_code = apply_registration_flags(flags, create->parsed()))
    return *exit_code;
  Result<std::unique_ptr<SqliteStorage>> storage = SqliteStorage::open(
      flags.data_dir, flags.durability == "full" ? Durability::kFull : Durability::kProcess);
  if (!storage.ok()) {
    std::cerr << "opsync-server: " << storage.error().message << '\n';
    if (create->parsed() && storage.error().message.starts_with("another server is using"))
      std::cerr << "opsync-server: while a server runs on " << flags.data_dir
                << ", create workspaces through it: start it with --registration-credential-file "
                   "FILE and send\n"
                   "  curl -X POST -H \"Authorization: Bearer $(cat FILE)\" -H 'Content-Type: "
                   "application/json' -d '{}' URL/v1/workspaces\n";
    return 1;
  }
  SystemRandom random;
  ServerCore core(flags.config, **storage, random);
  if (create->parsed()) return create_workspace(core);
  const int exit_code = serve(flags, core);
  storage->reset();  // closes the database cleanly before exit
  if (exit_code == 0) std::cerr << "opsync-server: stopped\n";
  return exit_code;
}
