// The messages of opsync-client-adapter/1 (spec/client-adapter.md) as C++ values, and their JSON
// lines. The simulator and the reference client's adapter both speak them: in one process the
// values are passed as they are; across a pipe they travel as the JSON lines of the spec.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "opsync/client/engine.h"
#include "opsync/client/http.h"
#include "opsync/protocol/bytes.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/result.h"

namespace opsync::adapter {

inline constexpr const char* kProtocol = "opsync-client-adapter/1";
inline constexpr uint64_t kTurnTimeoutMsDefault = 10'000;
inline constexpr size_t kRandomBytesMax = 65536;

// ---- events (simulator to adapter) --------------------------------------------------------------

struct StartOptions {
  uint32_t page_ops_max = 0;       // the `limit` of GET /ops; 0: the server's
  uint32_t kdf_iterations = 1000;  // for new key records (derivation is not under test)
  bool overlap_work = false;  // apply a page while the next one travels (the reference client's)
  bool operator==(const StartOptions&) const = default;
};

struct Start {
  std::string device;
  std::string dir;
  bool restarted = false;
  StartOptions options;
  uint64_t turn_timeout_ms = kTurnTimeoutMsDefault;
};

// One command (spec/client-adapter.md 3.2); the members a command does not use stay empty.
struct Command {
  std::string name;  // create join invite revoke set_token put delete attach detach sync dump
  std::string server_url;
  std::string password;
  std::string passphrase;
  std::string token;
  std::string key;
  std::string file_name;
  std::optional<WorkspaceId> workspace_id;
  std::optional<TokenId> token_id;
  std::optional<FileId> file_id;
  Bytes value;  // put: the value; attach: the content
  Scope scope = Scope::kReadWrite;
  std::optional<uint64_t>
      pick;  // detach without file_id: the pick-th (mod their count) of the winner's files
};

struct HttpAnswer {
  client::HttpResponse response;
};
struct HttpFailure {
  std::string what;  // timeout, refused, reset
  std::string message;
};
struct Wake {};

using Event = std::variant<Start, Command, HttpAnswer, HttpFailure, Wake>;

// ---- notices and asks (adapter to simulator, within a turn) -------------------------------------

struct CommitNote {
  OpId op_id;
  std::string key;
  std::string kind;  // put, delete, attach, detach
  Hlc hlc;
  std::vector<OpId> heads_before;
  std::optional<FileId> file_id;  // attach: the file it attached
};

// What an adapter may ask and tell during its turn.
class TurnHost {
 public:
  virtual ~TurnHost() = default;
  // Random bytes (ADP-050).
  virtual void random(std::span<uint8_t> out) = 0;
  // A durable step committed (ADP-041). May not return: the device is killed there.
  virtual void durable(std::string_view step) = 0;
  // A local edit committed (ADP-040); it is also the durable step of that commit.
  virtual void committed(const CommitNote& note) = 0;
};

// ---- yields (adapter to simulator, ending a turn) -----------------------------------------------

struct Ready {
  std::string client;
  std::vector<std::string> supports;
  std::optional<WorkspaceId> workspace;  // the workspace the device holds, after a restart
};
struct SendHttp {
  client::HttpRequest request;
  std::string token;  // sent as Authorization: Bearer when the request is authorized
};
struct Wait {
  uint64_t until_monotonic_ms = 0;
};

struct Mirror {
  uint64_t length = 0;
  Hash prefix_hash;
};

struct CommandResult {
  bool ok = true;
  std::optional<Error> error;
  // What some commands give back (spec/client-adapter.md 3.2).
  std::optional<WorkspaceId> workspace_id;
  std::string passphrase;
  std::string token;  // create: the owner token; invite: the new token
  std::optional<TokenId> token_id;
  std::optional<FileId> file_id;
  bool committed = true;  // an edit that made no operation (delete of an absent key) says false
  std::optional<Mirror> mirror;  // sync: the mirror after it, when the client keeps one
};

struct HeadState {
  OpId op_id;
  Hlc hlc;
  bool deleted = false;
  Bytes value;
  std::vector<FileId> files;
  bool operator==(const HeadState&) const = default;
};
struct FileState {
  bool held = false;
  Bytes content;                   // when held
  bool kept_after_delete = false;  // a copy kept for the retention time (FILE-040)
  bool operator==(const FileState&) const = default;
};
struct OpState {
  OpId op_id;
  Hlc hlc;
  bool operator==(const OpState&) const = default;
};
// The answer to `dump` (ADP-061).
struct DeviceState {
  std::map<std::string, std::vector<HeadState>> objects;  // winner first
  std::map<FileId, FileState> files;
  std::vector<OpState> pending;
  std::vector<OpState> rejected;
  std::optional<Mirror> mirror;
  bool operator==(const DeviceState&) const = default;
};

using Yield = std::variant<Ready, SendHttp, Wait, CommandResult, DeviceState>;

// A client behind the protocol: one event in, its turn's notices and asks through the host, one
// yield out.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual Yield on_event(const Event& event, client::DeviceTime now, TurnHost& host) = 0;
};

// ---- JSON lines ---------------------------------------------------------------------------------

nlohmann::json to_json(const Event& event, client::DeviceTime now);
nlohmann::json to_json(const Yield& yield);
nlohmann::json to_json(const CommitNote& note);

// What one line from an adapter is.
struct AdapterLine {
  enum class Kind { kYield, kCommit, kDurable, kRandom, kLog };
  Kind kind = Kind::kYield;
  Yield yield;
  CommitNote commit;
  std::string text;  // durable: the step; log: the text
  size_t random_bytes = 0;
};
// Strict: a line that is not one of the spec's messages, or that lacks a member its kind needs,
// is an error naming what is wrong (ADP-080).
Result<AdapterLine> adapter_line_from_json(std::string_view line);

// What one line from the simulator is, for an adapter reading its standard input.
struct SimulatorLine {
  std::optional<Event> event;  // an event, with its clocks
  client::DeviceTime now;
  std::optional<Bytes> random;  // the answer to a random ask
  bool proceed = false;         // `continue`: the answer to a durable notice
};
Result<SimulatorLine> simulator_line_from_json(std::string_view line);
nlohmann::json random_answer(ByteView bytes);
nlohmann::json continue_answer();

}  // namespace opsync::adapter
