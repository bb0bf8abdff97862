#include "opsync/client/device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "opsync/protocol/check.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/sha256.h"

namespace opsync::client {
namespace {

constexpr uint32_t kKeyId = 1;  // this client writes one key record; rotation is not implemented
constexpr const char* kDeviceFile = "device.json";

std::string workspace_path(const WorkspaceId& id) { return "/v1/workspaces/" + to_base64url(id); }

// Writes `text` to `path` durably and atomically (temporary name, fsync, rename), readable by the
// owner only: the file holds the data key.
Status write_private_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Code::kInternalError, "cannot write " + temporary.string());
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
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
  if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
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
  if (!in) return Error(Code::kNotFound, path.string() + " is missing: run `opsync-client init` first");
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    DeviceFile file;
    std::optional<Bytes> key = from_base64url(json.at("data_key").get<std::string>());
    std::optional<SecretKey> secret = key ? SecretKey::from_bytes(*key) : std::nullopt;
    if (!secret) return Error(Code::kInvalidField, path.string() + ": data_key is not a 32-byte key");
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

// Sends one request and parses a 2xx answer as M; anything else is the server's error.
template <typename M>
Result<M> call(Transport& transport, const HttpRequest& request, const std::string& token) {
  Result<HttpResponse> response = transport.exchange(request, token);
  if (!response.ok()) return response.error();
  if (response->status < 200 || response->status >= 300) return error_from_response(*response);
  Result<M> parsed = parse_message<M>(response->body);
  if (!parsed.ok())
    return Error(Code::kProtocolError, "the server's answer to " + request.target + " does not parse: " +
                                           parsed.error().to_string());
  return parsed;
}

// The workspace's key records, and among them the one this client writes (kNotFound without it).
struct KeyRecords {
  std::vector<KeyRecord> all;
  KeyRecord own;
};
Result<KeyRecords> read_key_records(Transport& transport, const std::string& base, const std::string& token) {
  Result<KeyListResponse> keys = call<KeyListResponse>(transport, {"GET", base + "/keys", "", ""}, token);
  if (!keys.ok()) return keys.error();
  for (const KeyRecord& k : keys->keys)
    if (k.key_id == kKeyId) return KeyRecords{keys->keys, k};
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
  return static_cast<uint32_t>(std::clamp<uint64_t>(limits.chunk_bytes, kChunkBytesMin, kChunkBytesMax));
}

}  // namespace

Device::Device(std::unique_ptr<LocalStore> store, Keyring keys, uint64_t op_payload_bytes_max, uint32_t chunk_bytes)
    : store_(std::move(store)), keys_(std::move(keys)), op_payload_bytes_max_(op_payload_bytes_max),
      chunk_bytes_(chunk_bytes) {}

Result<NewWorkspace> Device::create_workspace(const std::filesystem::path& dir, const std::string& server_url,
                                              const std::string& password, Transport& transport,
                                              RandomSource& random, uint32_t kdf_iterations,
                                              const StoreOptions& store_options) {
  if (std::filesystem::exists(dir / "state.sqlite3"))
    return Error(Code::kInvalidField, dir.string() + " already holds a device");
  Result<InfoResponse> info = call<InfoResponse>(transport, {"GET", "/v1/info", "", "", false}, "");
  if (!info.ok()) return info.error();
  Result<CreateWorkspaceResponse> created = call<CreateWorkspaceResponse>(
      transport, {"POST", "/v1/workspaces", "application/json", "{}", false}, "");
  if (!created.ok()) return created.error();

  // CRY-002, CRY-003: a random data key and passphrase; the record holds the key wrapped.
  const SecretKey data_key = SecretKey::random(random);
  NewWorkspace result{created->workspace_id, generate_passphrase(random)};
  PutKeyRequest record;
  record.expected_version = 0;
  record.kdf.iterations = kdf_iterations;
  record.wrapped_key = wrap_data_key(derive_kek(password, result.passphrase, kdf_iterations), data_key,
                                     created->workspace_id, kKeyId, random);
  Result<KeyRecord> stored = call<KeyRecord>(
      transport,
      {"PUT", workspace_path(created->workspace_id) + "/keys/" + std::to_string(kKeyId), "application/json",
       serialize_message(record)},
      created->owner_token);
  if (!stored.ok()) return stored.error();

  if (Status made = make_private_directory(dir); !made.ok()) return made.error();
  Status saved = save_device_file(dir, DeviceFile{data_key, info->limits.op_payload_bytes_max, chunk_bytes_for(info->limits)});
  if (!saved.ok()) return saved.error();
  WorkspaceBinding binding{server_url, created->workspace_id, random.id(), created->block_size};
  Result<std::unique_ptr<LocalStore>> store = LocalStore::create(dir, binding, created->owner_token, store_options);
  if (!store.ok()) return store.error();
  Status keys = (*store)->put_key_records(std::vector<KeyRecord>{*stored});
  if (!keys.ok()) return keys.error();
  return result;
}

Status Device::join(const std::filesystem::path& dir, const JoinRequest& request, Transport& transport,
                    RandomSource& random, const StoreOptions& store_options) {
  if (std::filesystem::exists(dir / "state.sqlite3"))
    return Error(Code::kInvalidField, dir.string() + " already holds a device");
  Result<InfoResponse> info = call<InfoResponse>(transport, {"GET", "/v1/info", "", "", false}, "");
  if (!info.ok()) return info.error();
  const std::string base = workspace_path(request.workspace_id);
  Result<KeyRecords> records = read_key_records(transport, base, request.token);
  if (!records.ok()) return records.error();
  const KeyRecord* record = &records->own;
  const SecretKey kek = derive_kek(request.password, request.passphrase, record->kdf.iterations);
  Result<SecretKey> data_key = unwrap_data_key(kek, record->wrapped_key, request.workspace_id, kKeyId);
  if (!data_key.ok())
    return Error(Code::kWrongPassword, "the password or the passphrase is wrong (the key record does not unwrap)");
  // The workspace's block size, which the mirror's hashes chain with.
  Result<BlocksResponse> blocks = call<BlocksResponse>(transport, {"GET", base + "/blocks?limit=1", "", ""}, request.token);
  if (!blocks.ok()) return blocks.error();

  if (Status made = make_private_directory(dir); !made.ok()) return made;
  Status saved = save_device_file(dir, DeviceFile{*data_key, info->limits.op_payload_bytes_max, chunk_bytes_for(info->limits)});
  if (!saved.ok()) return saved;
  WorkspaceBinding binding{request.server_url, request.workspace_id, random.id(), blocks->block_size};
  Result<std::unique_ptr<LocalStore>> store = LocalStore::create(dir, binding, request.token, store_options);
  if (!store.ok()) return store.error();
  return (*store)->put_key_records(records->all);
}

Result<std::unique_ptr<Device>> Device::open(const std::filesystem::path& dir, const StoreOptions& store_options) {
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

Status Device::commit(ObjectPayload payload, std::vector<FileId> attached_here, uint64_t now_ms, RandomSource& random) {
  Result<std::vector<OpId>> bases = store_->bases_for_write(payload.key);  // LWW-011
  if (!bases.ok()) return bases.error();
  payload.bases = std::move(bases).value();
  // The payload must be one every device accepts (LWW-001, LWW-002): check by reading it back.
  const Bytes plaintext = serialize_payload(payload);
  if (Result<ObjectPayload> check = parse_payload(plaintext); !check.ok()) return check.error();

  Result<SyncMeta> meta = store_->meta();
  if (!meta.ok()) return meta.error();
  HlcClock clock(meta->hlc);
  const int64_t pt = static_cast<int64_t>(now_ms) + meta->clock_offset_ms;  // HLC-012: last estimate
  WireOp op;
  op.id = random.id();
  op.device_id = store_->binding().device_id;
  op.hlc = clock.stamp(static_cast<uint64_t>(std::clamp<int64_t>(pt, 0, int64_t{kHlcWallMsLimit} - 1)));
  op.key_id = keys_.current_key_id;
  seal_op_payload(keys_.current().op_key, op, plaintext, random);
  if (Status valid = validate_op(op, op_payload_bytes_max_); !valid.ok())
    return Error(Code::kInvalidField, "the value is too large for one operation (at most about " +
                                          std::to_string(op_payload_bytes_max_ / 1024) +
                                          " KiB encrypted); attach it as a file instead");
  LocalStore::LocalEdit edit{op, ObjectOp{op.id, op.hlc, std::move(payload)}, std::move(attached_here), clock.last()};
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

Result<FileRef> Device::attach(const std::string& key, const std::filesystem::path& path, uint64_t now_ms,
                               RandomSource& random) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::kNotFound, "cannot read " + path.string());
  return attach(key, path.filename().string(), in, now_ms, random);
}

Result<FileRef> Device::attach(const std::string& key, const std::string& name, std::istream& content,
                               uint64_t now_ms, RandomSource& random) {
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
    if (Status written = blobs.write(ref.id, BlobKind::kPartial, ref.size_bytes, slice); !written.ok())
      return written.error();
    ref.size_bytes += n;
  }
  if (content.bad()) return Error(Code::kInternalError, "cannot read " + name + " to copy it into the device");
  if (Status sized = blobs.resize(ref.id, BlobKind::kPartial, ref.size_bytes); !sized.ok()) return sized.error();
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

Status Device::detach(const std::string& key, const FileId& file, uint64_t now_ms, RandomSource& random) {
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

Result<std::vector<FileRef>> Device::export_files(const std::string& key, const std::filesystem::path& output_dir) {
  Result<ObjectView> current = store_->get(key);
  if (!current.ok()) return current.error();
  if (!current->present()) return Error(Code::kNotFound, "no object has the key \"" + key + "\"");
  std::error_code ec;
  std::filesystem::create_directories(output_dir, ec);
  if (ec) return Error(Code::kInternalError, "cannot create " + output_dir.string() + ": " + ec.message());
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
      const std::optional<Bytes> slice =
          store_->blobs().read(ref.id, BlobKind::kCopy, offset, std::min(kSliceBytes, ref.size_bytes - offset));
      if (!slice) return Error(Code::kInternalError, "the copy of " + ref.name + " is shorter than its reference");
      out.write(reinterpret_cast<const char*>(slice->data()), static_cast<std::streamsize>(slice->size()));
    }
    if (!out) return Error(Code::kInternalError, "cannot write " + target.string());
  }
  return missing;
}

Result<TokenIssued> Device::invite(Scope scope, std::optional<uint64_t> expires_in_ms, Transport& transport) {
  CreateTokenRequest body{scope, expires_in_ms};
  return call<TokenIssued>(transport,
                           {"POST", workspace_path(store_->binding().workspace_id) + "/tokens", "application/json",
                            serialize_message(body)},
                           token());
}

Status Device::change_password(const std::string& old_password, const std::string& new_password,
                               const std::string& passphrase, Transport& transport, RandomSource& random,
                               uint32_t kdf_iterations) {
  const WorkspaceId& workspace = store_->binding().workspace_id;
  const std::string base = workspace_path(workspace);
  Result<KeyRecords> records = read_key_records(transport, base, token());
  if (!records.ok()) return records.error();
  const KeyRecord* record = &records->own;
  Result<SecretKey> data_key =
      unwrap_data_key(derive_kek(old_password, passphrase, record->kdf.iterations), record->wrapped_key, workspace, kKeyId);
  if (!data_key.ok()) return Error(Code::kWrongPassword, "the current password or the passphrase is wrong");
  PutKeyRequest update;
  update.expected_version = record->version;
  update.kdf.iterations = kdf_iterations;
  update.wrapped_key = wrap_data_key(derive_kek(new_password, passphrase, kdf_iterations), *data_key, workspace, kKeyId, random);
  Result<KeyRecord> stored = call<KeyRecord>(
      transport, {"PUT", base + "/keys/" + std::to_string(kKeyId), "application/json", serialize_message(update)}, token());
  if (!stored.ok()) return stored.error();
  return store_->put_key_records(std::vector<KeyRecord>{*stored});
}

}  // namespace opsync::client
