#include "opsync/client/device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "opsync/protocol/check.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/sha256.h"

namespace opsync::client {
namespace {

constexpr uint32_t kKeyId = 1;  // this client writes one key record; rotation is not implemented
constexpr const char* kDeviceFile = "device.json";

std::string key_target(const WorkspaceId& workspace) {
  return endpoint_path(EndpointId::kPutKey, {to_base64url(workspace), std::to_string(kKeyId)});
}

// Writes `text` to `path` durably and atomically (temporary name, fsync, rename), readable by the
// owner only: the file holds the data key.
Status write_private_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Code::kInternalError, "cannot write " + temporary.string());
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) std::filesystem::rename(temporary, path, ec);
  if (!written || ec) return Error(Code::kInternalError, "cannot write " + path.string());
  return {};
}

// The device directory holds plaintext objects and the data key: its owner's alone (0700).
Status make_private_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec)
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  if (ec) return Error(Code::kInternalError, "cannot create " + dir.string() + ": " + ec.message());
  return {};
}

struct DeviceFile {
  SecretKey data_key;
  uint64_t op_payload_bytes_max = 0;
  uint32_t chunk_bytes = 0;
};

Status save_device_file(const std::filesystem::path& dir, const DeviceFile& file) {
  nlohmann::json json = {{"key_id", kKeyId},
                         {"data_key", to_base64url(file.data_key.view())},
                         {"op_payload_bytes_max", file.op_payload_bytes_max},
                         {"chunk_bytes", file.chunk_bytes}};
  return write_private_file(dir / kDeviceFile, json.dump());
}

Result<DeviceFile> load_device_file(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kDeviceFile;
  std::ifstream in(path);
  if (!in)
    return Error(Code::kNotFound, path.string() + " is missing: run `opsync-client init` first");
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    DeviceFile file;
    std::optional<Bytes> key = from_base64url(json.at("data_key").get<std::string>());
    std::optional<SecretKey> secret = key ? SecretKey::from_bytes(*key) : std::nullopt;
    if (!secret)
      return Error(Code::kInvalidField, path.string() + ": data_key is not a 32-byte key");
    file.data_key = *secret;
    file.op_payload_bytes_max = json.at("op_payload_bytes_max").get<uint64_t>();
    file.chunk_bytes = json.at("chunk_bytes").get<uint32_t>();
    if (file.chunk_bytes < kChunkBytesMin || file.chunk_bytes > kChunkBytesMax)
      return Error(Code::kInvalidField, path.string() + ": chunk_bytes out of range");
    return file;
  } catch (const nlohmann::json::exception& e) {
    return Error(Code::kInvalidField, path.string() + " is damaged: " + e.what());
  }
}

// The record this client writes among the workspace's key records (kNotFound without it).
Result<KeyRecord> own_key_record(const std::vector<KeyRecord>& records) {
  for (const KeyRecord& k : records)
    if (k.key_id == kKeyId) return k;
  return Error(Code::kNotFound, "the workspace has no key record yet");
}

Keyring keyring_of(const SecretKey& data_key) {
  Keyring keys;
  keys.current_key_id = kKeyId;
  keys.keys.emplace(kKeyId, derive_subkeys(data_key));
  return keys;
}

// The chunk size of new files: the server's, within what every reader accepts (LWW-002).
uint32_t chunk_bytes_for(const Limits& limits) {
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(limits.chunk_bytes, kChunkBytesMin, kChunkBytesMax));
}

}  // namespace

Device::Device(std::unique_ptr<LocalStore> store, Keyring keys, uint64_t op_payload_bytes_max,
               uint32_t chunk_bytes)
    : store_(std::move(store)),
      keys_(std::move(keys)),
      op_payload_bytes_max_(op_payload_bytes_max),
      chunk_bytes_(chunk_bytes) {}

// ---- calls to the server outside a sync ---------------------------------------------------------

void ServerCall::on_response(const HttpResponse& response) {
  OPSYNC_CHECK_MSG(outgoing_.has_value(), "an answer to a call that sent nothing");
  outgoing_.reset();
  auto handler = std::move(handler_);
  handler_ = nullptr;
  handler(response);
  OPSYNC_CHECK_MSG(outgoing_.has_value() || done(),
                   "a call that neither sent its next request nor finished");
}

void ServerCall::on_transport_failure(const std::string& what) {
  OPSYNC_CHECK_MSG(outgoing_.has_value(), "a transport failure of a call that sent nothing");
  const std::string target = outgoing_->request.target;
  outgoing_.reset();
  handler_ = nullptr;
  finish(Error(Code::kTransport, "no answer to " + target + ": " + what));
}

const Status& ServerCall::status() const {
  OPSYNC_CHECK_MSG(status_.has_value(), "the status of a call that is not over");
  return *status_;
}

template <typename M>
void ServerCall::expect(HttpRequest request, std::string token, std::function<void(M)> then) {
  OPSYNC_CHECK(!done() && !outgoing_);
  const std::string target = request.target;
  outgoing_ = Outgoing{std::move(request), std::move(token)};
  handler_ = [this, target, then = std::move(then)](const HttpResponse& response) {
    if (response.status < 200 || response.status >= 300)
      return finish(error_from_response(response));
    Result<M> parsed = parse_message<M>(response.body);
    if (!parsed.ok())
      return finish(Error(
          Code::kProtocolError,
          "the server's answer to " + target + " does not parse: " + parsed.error().to_string()));
    then(std::move(parsed).value());
  };
}

void ServerCall::finish(Status status) {
  OPSYNC_CHECK(!done());
  outgoing_.reset();
  handler_ = nullptr;
  status_ = std::move(status);
}

Status run_call(ServerCall& call, Transport& transport) {
  // Bounded: every call sends a fixed, short sequence of requests.
  while (const std::optional<ServerCall::Outgoing>& outgoing = call.next()) {
    Result<HttpResponse> response = transport.exchange(outgoing->request, outgoing->token);
    if (response.ok())
      call.on_response(*response);
    else
      call.on_transport_failure(response.error().message);
  }
  return call.status();
}

CreateWorkspaceCall::CreateWorkspaceCall(std::filesystem::path dir, std::string server_url,
                                         std::string password, RandomSource& random,
                                         uint32_t kdf_iterations, StoreOptions store_options)
    : dir_(std::move(dir)),
      server_url_(std::move(server_url)),
      password_(std::move(password)),
      random_(random),
      kdf_iterations_(kdf_iterations),
      store_options_(std::move(store_options)) {
  if (store_exists(dir_, store_options_)) {
    finish(Error(Code::kInvalidField, dir_.string() + " already holds a device"));
    return;
  }
  expect<InfoResponse>(
      {"GET", endpoint_path(EndpointId::kInfo, {}), "", "", false}, "", [this](InfoResponse info) {
        info_ = std::move(info);
        expect<CreateWorkspaceResponse>(
            {"POST", endpoint_path(EndpointId::kCreateWorkspace, {}), "application/json", "{}",
             false},
            "", [this](CreateWorkspaceResponse created) {
              created_ = std::move(created);
              // CRY-002, CRY-003: a random data key and passphrase; the record holds the key
              // wrapped.
              data_key_ = SecretKey::random(random_);
              result_ = NewWorkspace{created_.workspace_id, generate_passphrase(random_)};
              PutKeyRequest record;
              record.expected_version = 0;
              record.kdf.iterations = kdf_iterations_;
              record.wrapped_key =
                  wrap_data_key(derive_kek(password_, result_.passphrase, kdf_iterations_),
                                data_key_, created_.workspace_id, kKeyId, random_);
              expect<KeyRecord>({"PUT", key_target(created_.workspace_id), "application/json",
                                 serialize_message(record)},
                                created_.owner_token, [this](KeyRecord stored) {
                                  if (Status made = make_private_directory(dir_); !made.ok())
                                    return finish(made);
                                  Status saved = save_device_file(
                                      dir_, DeviceFile{data_key_, info_.limits.op_payload_bytes_max,
                                                       chunk_bytes_for(info_.limits)});
                                  if (!saved.ok()) return finish(saved);
                                  WorkspaceBinding binding{server_url_, created_.workspace_id,
                                                           random_.id(), created_.block_size};
                                  Result<std::unique_ptr<LocalStore>> store = LocalStore::create(
                                      dir_, binding, created_.owner_token, store_options_);
                                  if (!store.ok()) return finish(store.error());
                                  finish((*store)->put_key_records(std::vector<KeyRecord>{stored}));
                                });
            });
      });
}

const NewWorkspace& CreateWorkspaceCall::result() const {
  OPSYNC_CHECK_MSG(done() && status().ok(), "the result of a call that did not succeed");
  return result_;
}

JoinCall::JoinCall(std::filesystem::path dir, JoinRequest request, RandomSource& random,
                   StoreOptions store_options)
    : dir_(std::move(dir)),
      request_(std::move(request)),
      random_(random),
      store_options_(std::move(store_options)) {
  if (store_exists(dir_, store_options_)) {
    finish(Error(Code::kInvalidField, dir_.string() + " already holds a device"));
    return;
  }
  const std::string workspace = to_base64url(request_.workspace_id);
  expect<InfoResponse>(
      {"GET", endpoint_path(EndpointId::kInfo, {}), "", "", false}, "",
      [this, workspace](InfoResponse info) {
        info_ = std::move(info);
        expect<KeyListResponse>(
            {"GET", endpoint_path(EndpointId::kListKeys, {workspace}), "", ""}, request_.token,
            [this, workspace](KeyListResponse keys) {
              records_ = std::move(keys.keys);
              // No record at all: nobody made the data key yet, so this device is the workspace's
              // first.
              if (records_.empty()) return put_first_key_record(workspace);
              Result<KeyRecord> record = own_key_record(records_);
              if (!record.ok()) return finish(record.error());
              if (request_.passphrase.empty())
                return finish(Error(Code::kInvalidField,
                                    "the workspace already has a key record: joining it needs the "
                                    "passphrase its first "
                                    "device showed (OPSYNC_PASSPHRASE)"));
              const SecretKey kek =
                  derive_kek(request_.password, request_.passphrase, record->kdf.iterations);
              Result<SecretKey> data_key =
                  unwrap_data_key(kek, record->wrapped_key, request_.workspace_id, kKeyId);
              if (!data_key.ok())
                return finish(Error(
                    Code::kWrongPassword,
                    "the password or the passphrase is wrong (the key record does not unwrap)"));
              data_key_ = *data_key;
              read_block_size_and_finish(workspace);
            });
      });
}

void JoinCall::put_first_key_record(const std::string& workspace) {
  // CRY-002, CRY-003, as for a new workspace: a random data key and passphrase.
  data_key_ = SecretKey::random(random_);
  result_.new_passphrase = generate_passphrase(random_);
  PutKeyRequest record;
  record.expected_version = 0;
  record.kdf.iterations = request_.kdf_iterations;
  record.wrapped_key =
      wrap_data_key(derive_kek(request_.password, *result_.new_passphrase, request_.kdf_iterations),
                    data_key_, request_.workspace_id, kKeyId, random_);
  expect<KeyRecord>(
      {"PUT", key_target(request_.workspace_id), "application/json", serialize_message(record)},
      request_.token, [this, workspace](KeyRecord stored) {
        records_ = {stored};
        read_block_size_and_finish(workspace);
      });
}

void JoinCall::read_block_size_and_finish(const std::string& workspace) {
  // The workspace's block size, which the mirror's hashes chain with.
  expect<BlocksResponse>(
      {"GET", endpoint_target(EndpointId::kReadBlocks, {workspace}, {{"limit", "1"}}), "", ""},
      request_.token, [this](BlocksResponse blocks) {
        if (Status made = make_private_directory(dir_); !made.ok()) return finish(made);
        Status saved =
            save_device_file(dir_, DeviceFile{data_key_, info_.limits.op_payload_bytes_max,
                                              chunk_bytes_for(info_.limits)});
        if (!saved.ok()) return finish(saved);
        WorkspaceBinding binding{request_.server_url, request_.workspace_id, random_.id(),
                                 blocks.block_size};
        Result<std::unique_ptr<LocalStore>> store =
            LocalStore::create(dir_, binding, request_.token, store_options_);
        if (!store.ok()) return finish(store.error());
        finish((*store)->put_key_records(records_));
      });
}

const Joined& JoinCall::result() const {
  OPSYNC_CHECK_MSG(done() && status().ok(), "the result of a call that did not succeed");
  return result_;
}

Result<NewWorkspace> Device::create_workspace(const std::filesystem::path& dir,
                                              const std::string& server_url,
                                              const std::string& password, Transport& transport,
                                              RandomSource& random, uint32_t kdf_iterations,
                                              const StoreOptions& store_options) {
  CreateWorkspaceCall call(dir, server_url, password, random, kdf_iterations, store_options);
  if (Status status = run_call(call, transport); !status.ok()) return status.error();
  return call.result();
}

Status Device::join(const std::filesystem::path& dir, const JoinRequest& request,
                    Transport& transport, RandomSource& random, const StoreOptions& store_options) {
  JoinCall call(dir, request, random, store_options);
  return run_call(call, transport);
}

Result<Joined> Device::join_workspace(const std::filesystem::path& dir, const JoinRequest& request,
                                      Transport& transport, RandomSource& random,
                                      const StoreOptions& store_options) {
  JoinCall call(dir, request, random, store_options);
  if (Status status = run_call(call, transport); !status.ok()) return status.error();
  return call.result();
}

Result<std::unique_ptr<Device>> Device::open(const std::filesystem::path& dir,
                                             const StoreOptions& store_options) {
  Result<DeviceFile> file = load_device_file(dir);
  if (!file.ok()) return file.error();
  Result<std::unique_ptr<LocalStore>> store = LocalStore::open(dir, store_options);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Device>(new Device(std::move(store).value(), keyring_of(file->data_key),
                                            file->op_payload_bytes_max, file->chunk_bytes));
}

std::string Device::token() {
  Result<SyncMeta> meta = store_->meta();
  return meta.ok() ? meta->token : std::string();
}

Status Device::commit(ObjectPayload payload, std::vector<FileId> attached_here, uint64_t now_ms,
                      RandomSource& random) {
  Result<std::vector<OpId>> bases = store_->bases_for_write(payload.key);  // LWW-011
  if (!bases.ok()) return bases.error();
  payload.bases = std::move(bases).value();
  // The payload must be one every device accepts (LWW-001, LWW-002): check by reading it back.
  const Bytes plaintext = serialize_payload(payload);
  if (Result<ObjectPayload> check = parse_payload(plaintext); !check.ok()) return check.error();

  Result<SyncMeta> meta = store_->meta();
  if (!meta.ok()) return meta.error();
  HlcClock clock(meta->hlc);
  const int64_t pt =
      static_cast<int64_t>(now_ms) + meta->clock_offset_ms;  // HLC-012: last estimate
  WireOp op;
  op.id = random.id();
  op.device_id = store_->binding().device_id;
  op.hlc =
      clock.stamp(static_cast<uint64_t>(std::clamp<int64_t>(pt, 0, int64_t{kHlcWallMsLimit} - 1)));
  op.key_id = keys_.current_key_id;
  seal_op_payload(keys_.current().op_key, op, plaintext, random);
  if (Status valid = validate_op(op, op_payload_bytes_max_); !valid.ok())
    return Error(Code::kInvalidField, "the value is too large for one operation (at most about " +
                                          std::to_string(op_payload_bytes_max_ / 1024) +
                                          " KiB encrypted); attach it as a file instead");
  LocalStore::LocalEdit edit{op, ObjectOp{op.id, op.hlc, std::move(payload)},
                             std::move(attached_here), clock.last()};
  return store_->commit_local_edit(edit);
}

Status Device::put(const std::string& key, ByteView value, uint64_t now_ms, RandomSource& random) {
  ObjectPayload payload;
  payload.type = OpType::kPut;
  payload.key = key;
  payload.value.assign(value.begin(), value.end());
  Result<ObjectView> current = store_->get(key);
  if (!current.ok()) return current.error();
  if (current->present()) payload.files = current->winner()->payload.files;
  return commit(std::move(payload), {}, now_ms, random);
}

Status Device::remove(const std::string& key, uint64_t now_ms, RandomSource& random) {
  Result<ObjectView> current = store_->get(key);
  if (!current.ok()) return current.error();
  if (!current->present()) return Error(Code::kNotFound, "no object has the key \"" + key + "\"");
  ObjectPayload payload;
  payload.type = OpType::kDelete;
  payload.key = key;
  return commit(std::move(payload), {}, now_ms, random);
}

Result<FileRef> Device::attach(const std::string& key, const std::filesystem::path& path,
                               uint64_t now_ms, RandomSource& random) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::kNotFound, "cannot read " + path.string());
  return attach(key, path.filename().string(), in, now_ms, random);
}

Result<FileRef> Device::attach(const std::string& key, const std::string& name,
                               std::istream& content, uint64_t now_ms, RandomSource& random) {
  FileRef ref;
  ref.id = random.id();
  ref.name = name;
  ref.chunk_bytes = chunk_bytes_;
  // Copy it in, hashing as it streams, to the partial blob of the fresh id; it becomes the copy,
  // durable, before the edit commits (FILE-020).
  BlobStore& blobs = store_->blobs();
  Sha256 hasher;
  std::vector<char> buffer(1 << 20);
  while (content) {  // bounded by the content's length
    content.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(content.gcount());
    if (n == 0) break;
    hasher.update(buffer.data(), n);
    const ByteView slice(reinterpret_cast<const uint8_t*>(buffer.data()), n);
    if (Status written = blobs.write(ref.id, BlobKind::kPartial, ref.size_bytes, slice);
        !written.ok())
      return written.error();
    ref.size_bytes += n;
  }
  if (content.bad())
    return Error(Code::kInternalError, "cannot read " + name + " to copy it into the device");
  if (Status sized = blobs.resize(ref.id, BlobKind::kPartial, ref.size_bytes); !sized.ok())
    return sized.error();
  ref.sha256 = hasher.finish();
  ref.chunk_count = static_cast<uint32_t>(chunk_count_for(ref.size_bytes, ref.chunk_bytes));
  if (Status promoted = blobs.promote(ref.id); !promoted.ok()) return promoted.error();

  ObjectPayload payload;
  payload.type = OpType::kPut;
  payload.key = key;
  Result<ObjectView> current = store_->get(key);
  if (!current.ok()) return current.error();
  if (current->present()) {
    payload.value = current->winner()->payload.value;
    payload.files = current->winner()->payload.files;
  }
  payload.files.push_back(ref);
  Status committed = commit(std::move(payload), {ref.id}, now_ms, random);
  if (!committed.ok()) {
    (void)blobs.remove(ref.id, BlobKind::kCopy);  // nothing references it
    return committed.error();
  }
  return ref;
}

Status Device::detach(const std::string& key, const FileId& file, uint64_t now_ms,
                      RandomSource& random) {
  Result<ObjectView> current = store_->get(key);
  if (!current.ok()) return current.error();
  if (!current->present()) return Error(Code::kNotFound, "no object has the key \"" + key + "\"");
  ObjectPayload payload;
  payload.type = OpType::kPut;
  payload.key = key;
  payload.value = current->winner()->payload.value;
  for (const FileRef& ref : current->winner()->payload.files)
    if (ref.id != file) payload.files.push_back(ref);
  if (payload.files.size() == current->winner()->payload.files.size())
    return Error(Code::kNotFound, "the key \"" + key + "\" has no file " + to_base64url(file));
  return commit(std::move(payload), {}, now_ms, random);
}

Result<std::vector<FileRef>> Device::export_files(const std::string& key,
                                                  const std::filesystem::path& output_dir) {
  Result<ObjectView> current = store_->get(key);
  if (!current.ok()) return current.error();
  if (!current->present()) return Error(Code::kNotFound, "no object has the key \"" + key + "\"");
  std::error_code ec;
  std::filesystem::create_directories(output_dir, ec);
  if (ec)
    return Error(Code::kInternalError,
                 "cannot create " + output_dir.string() + ": " + ec.message());
  std::vector<FileRef> missing;
  for (const FileRef& ref : current->winner()->payload.files) {
    Result<std::optional<LocalFile>> local = store_->file(ref.id);
    if (!local.ok()) return local.error();
    if (!*local || !(*local)->local_copy) {
      missing.push_back(ref);
      continue;
    }
    const std::filesystem::path target = output_dir / ref.name;
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    constexpr uint64_t kSliceBytes = 1 << 20;
    for (uint64_t offset = 0; out && offset < ref.size_bytes; offset += kSliceBytes) {
      const std::optional<Bytes> slice = store_->blobs().read(
          ref.id, BlobKind::kCopy, offset, std::min(kSliceBytes, ref.size_bytes - offset));
      if (!slice)
        return Error(Code::kInternalError,
                     "the copy of " + ref.name + " is shorter than its reference");
      out.write(reinterpret_cast<const char*>(slice->data()),
                static_cast<std::streamsize>(slice->size()));
    }
    if (!out) return Error(Code::kInternalError, "cannot write " + target.string());
  }
  return missing;
}

Device::InviteCall::InviteCall(Device& device, Scope scope, std::optional<uint64_t> expires_in_ms) {
  CreateTokenRequest body{scope, expires_in_ms};
  expect<TokenIssued>({"POST",
                       endpoint_path(EndpointId::kCreateToken,
                                     {to_base64url(device.store_->binding().workspace_id)}),
                       "application/json", serialize_message(body)},
                      device.token(), [this](TokenIssued issued) {
                        issued_ = std::move(issued);
                        finish({});
                      });
}

const TokenIssued& Device::InviteCall::result() const {
  OPSYNC_CHECK_MSG(done() && status().ok(), "the result of a call that did not succeed");
  return issued_;
}

std::unique_ptr<Device::InviteCall> Device::start_invite(Scope scope,
                                                         std::optional<uint64_t> expires_in_ms) {
  return std::make_unique<InviteCall>(*this, scope, expires_in_ms);
}

Device::RevokeCall::RevokeCall(Device& device, const TokenId& token_id) {
  const WorkspaceId& workspace = device.store_->binding().workspace_id;
  expect<RevokeTokenResponse>(
      {"DELETE",
       endpoint_path(EndpointId::kRevokeToken, {to_base64url(workspace), to_base64url(token_id)}),
       "", ""},
      device.token(), [this, token_id](RevokeTokenResponse revoked) {
        if (revoked.token_id != token_id)
          return finish(Error(Code::kProtocolError, "the server revoked another token"));
        revoked_ = revoked;
        finish({});
      });
}

const RevokeTokenResponse& Device::RevokeCall::result() const {
  OPSYNC_CHECK_MSG(done() && status().ok(), "the result of a call that did not succeed");
  return revoked_;
}

std::unique_ptr<Device::RevokeCall> Device::start_revoke(const TokenId& token_id) {
  return std::make_unique<RevokeCall>(*this, token_id);
}

Result<TokenIssued> Device::invite(Scope scope, std::optional<uint64_t> expires_in_ms,
                                   Transport& transport) {
  InviteCall call(*this, scope, expires_in_ms);
  if (Status status = run_call(call, transport); !status.ok()) return status.error();
  return call.result();
}

Device::ChangePasswordCall::ChangePasswordCall(Device& device, std::string old_password,
                                               std::string new_password, std::string passphrase,
                                               RandomSource& random, uint32_t kdf_iterations)
    : device_(device),
      old_password_(std::move(old_password)),
      new_password_(std::move(new_password)),
      passphrase_(std::move(passphrase)),
      random_(random),
      kdf_iterations_(kdf_iterations) {
  const WorkspaceId& workspace = device_.store_->binding().workspace_id;
  expect<KeyListResponse>(
      {"GET", endpoint_path(EndpointId::kListKeys, {to_base64url(workspace)}), "", ""},
      device_.token(), [this, workspace](KeyListResponse keys) {
        Result<KeyRecord> record = own_key_record(keys.keys);
        if (!record.ok()) return finish(record.error());
        Result<SecretKey> data_key =
            unwrap_data_key(derive_kek(old_password_, passphrase_, record->kdf.iterations),
                            record->wrapped_key, workspace, kKeyId);
        if (!data_key.ok())
          return finish(
              Error(Code::kWrongPassword, "the current password or the passphrase is wrong"));
        PutKeyRequest update;
        update.expected_version = record->version;
        update.kdf.iterations = kdf_iterations_;
        update.wrapped_key = wrap_data_key(derive_kek(new_password_, passphrase_, kdf_iterations_),
                                           *data_key, workspace, kKeyId, random_);
        expect<KeyRecord>(
            {"PUT", key_target(workspace), "application/json", serialize_message(update)},
            device_.token(), [this](KeyRecord stored) {
              finish(device_.store_->put_key_records(std::vector<KeyRecord>{stored}));
            });
      });
}

std::unique_ptr<Device::ChangePasswordCall> Device::start_change_password(
    const std::string& old_password, const std::string& new_password, const std::string& passphrase,
    RandomSource& random, uint32_t kdf_iterations) {
  return std::make_unique<ChangePasswordCall>(*this, old_password, new_password, passphrase, random,
                                              kdf_iterations);
}

Status Device::change_password(const std::string& old_password, const std::string& new_password,
                               const std::string& passphrase, Transport& transport,
                               RandomSource& random, uint32_t kdf_iterations) {
  ChangePasswordCall call(*this, old_password, new_password, passphrase, random, kdf_iterations);
  return run_call(call, transport);
}

}  // namespace opsync::client
