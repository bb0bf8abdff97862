#include "in_process_client.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <mutex>

#include "opsync/adapter/reference_adapter.h"
#include "opsync/protocol/check.h"
#include "opsync/protocol/limits.h"

namespace opsync::simulator {
namespace {

// The database of a store that has its schema and no binding yet, made once per process: a new
// device's database starts as a copy of its pages (SQLite's backup API) instead of running every
// migration's statements again, which took half of a 64-device run.
sqlite3* empty_store_template() {
  static sqlite3* holder = nullptr;
  static std::once_flag made;
  std::call_once(made, [] {
    const std::string uri = "file:/opsync-sim-store-template?vfs=memdb";
    OPSYNC_CHECK(sqlite3_open_v2(uri.c_str(), &holder,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                                 nullptr) == SQLITE_OK);
    std::string dir =
        (std::filesystem::temp_directory_path() / "opsync-sim-template-XXXXXX").string();
    OPSYNC_CHECK(mkdtemp(dir.data()) != nullptr);
    {
      client::StoreOptions options;
      options.durability = client::Durability::kProcess;
      options.blobs = std::make_shared<client::MemoryBlobStore>();
      options.database_uri = uri;
      const client::WorkspaceBinding binding{"sim://template", WorkspaceId{}, Id{}, kBlockSizeMin};
      Result<std::unique_ptr<client::LocalStore>> store =
          client::LocalStore::create(dir, binding, "template", options);
      OPSYNC_CHECK_MSG(store.ok(), "cannot make the simulator's empty store");
    }
    OPSYNC_CHECK(sqlite3_exec(holder, "DELETE FROM device", nullptr, nullptr, nullptr) ==
                 SQLITE_OK);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  return holder;
}

class InProcessChannel final : public AdapterChannel {
 public:
  explicit InProcessChannel(adapter::ReferenceAdapterOptions options)
      : adapter_(std::make_unique<adapter::ReferenceAdapter>(std::move(options))) {}
  adapter::Yield turn(const adapter::Event& event, client::DeviceTime now,
                      adapter::TurnHost& host) override {
    return adapter_->on_event(event, now, host);
  }

 private:
  std::unique_ptr<adapter::ReferenceAdapter> adapter_;
};

adapter::ClientDefect defect_of(Variant variant) {
  switch (variant) {
    case Variant::kNoDedupe:
      return adapter::ClientDefect::kNoDedupe;
    case Variant::kWallClock:
      return adapter::ClientDefect::kWallClock;
    case Variant::kForgetLostUploads:
      return adapter::ClientDefect::kForgetLostUploads;
    case Variant::kPlaintext:
      return adapter::ClientDefect::kPlaintext;
    case Variant::kNoFileDelete:
      return adapter::ClientDefect::kNoFileDelete;
    case Variant::kNoCopyRetention:
      return adapter::ClientDefect::kNoCopyRetention;
    case Variant::kNoCopyExpiry:
      return adapter::ClientDefect::kNoCopyExpiry;
    case Variant::kWallClockWaits:
      return adapter::ClientDefect::kWallClockWaits;
    default:
      return adapter::ClientDefect::kNone;
  }
}

}  // namespace

// A device's database in the process (SQLite's memdb VFS): this connection holds its pages the
// whole run, as a disk holds a file, while the client's own connection comes and goes with the
// device's process; closing that one (a kill) rolls back whatever it had not committed.
class MemoryDisk {
 public:
  explicit MemoryDisk(std::string uri) : uri_(std::move(uri)) { attach(); }
  ~MemoryDisk() { sqlite3_close(db_); }
  MemoryDisk(const MemoryDisk&) = delete;
  MemoryDisk& operator=(const MemoryDisk&) = delete;

  const std::string& uri() const { return uri_; }
  // The disk wiped: a directory removed and created again.
  void wipe() {
    sqlite3_close(db_);
    db_ = nullptr;
    attach();
  }

 private:
  void attach() {
    const int rc = sqlite3_open_v2(
        uri_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr);
    OPSYNC_CHECK_MSG(rc == SQLITE_OK, "cannot open a device's database in memory");
    sqlite3_backup* copy = sqlite3_backup_init(db_, "main", empty_store_template(), "main");
    OPSYNC_CHECK_MSG(copy != nullptr && sqlite3_backup_step(copy, -1) == SQLITE_DONE,
                     "cannot copy the empty store into a device's database");
    OPSYNC_CHECK(sqlite3_backup_finish(copy) == SQLITE_OK);
  }

  std::string uri_;
  sqlite3* db_ = nullptr;
};

InProcessDisk::InProcessDisk(const std::string& memory_database_uri, Variant variant)
    : variant_(variant) {
  if (!memory_database_uri.empty()) database_ = std::make_unique<MemoryDisk>(memory_database_uri);
}

InProcessDisk::~InProcessDisk() = default;

void InProcessDisk::close() { database_.reset(); }

std::unique_ptr<AdapterChannel> InProcessDisk::open_channel() {
  adapter::ReferenceAdapterOptions options;
  options.store.durability = client::Durability::kProcess;  // a crash here is of the process
  options.store.blobs = blobs_;
  if (database_) {
    options.store.database_uri = database_->uri();
    options.wipe_store = [this] {
      database_->wipe();
      blobs_->clear();
    };
  } else {
    options.wipe_store = [this] { blobs_->clear(); };
  }
  options.defect = defect_of(variant_);
  return std::make_unique<InProcessChannel>(std::move(options));
}

}  // namespace opsync::simulator
