// File reconciliation (spec 11.4): the decision table, chunk arithmetic, and convergence for any
// starting combination of local copies, upload flags and server state, with interrupted
// transfers and server faults along the way. A companion runs Dataans' flag-driven table.
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include <set>

#include "opsync/protocol/files.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;

namespace {

using Decide = FileAction (*)(LocalCopy, bool, FileState);

// Dataans' four cases: the upload flag decides, the server is never asked.
FileAction dataans_decide(LocalCopy local, bool uploaded, FileState) {
  if (uploaded) return local == LocalCopy::kPresent ? FileAction::kNone : FileAction::kDownload;
  return local == LocalCopy::kPresent ? FileAction::kUpload : FileAction::kMissing;
}

// One file as the server holds it.
struct ServerFile {
  FileState state = FileState::kAbsent;
  std::set<uint32_t> chunks;  // present chunk indices
  uint32_t chunk_count = 1;
};

struct DeviceFile {
  bool has_copy = false;
  bool upload_flag = false;
};

// Moves chunks until the transfer is cut (cut_after chunks) or done; returns true when done.
bool upload_missing(ServerFile& server, uint32_t cut_after) {
  uint32_t sent = 0;
  for (uint32_t i = 0; i < server.chunk_count; ++i) {
    if (server.chunks.count(i)) continue;
    if (sent++ == cut_after) return false;
    server.chunks.insert(i);
  }
  return true;
}

void commit_if_complete(ServerFile& server, DeviceFile& device) {
  if (server.chunks.size() == server.chunk_count) {
    server.state = FileState::kCommitted;
    device.upload_flag = true;
  }
}

// What the endpoints of spec 11.2 do for each action, with transfers that may be cut short.
void perform(FileAction action, ServerFile& server, DeviceFile& device, uint32_t cut_after) {
  switch (action) {
    case FileAction::kNone:
      device.upload_flag = true;
      break;
    case FileAction::kUpload:
      if (server.state == FileState::kAbsent) {
        server.state = FileState::kUploading;
        server.chunks.clear();
      }
      if (server.state == FileState::kUploading && upload_missing(server, cut_after))
        commit_if_complete(server, device);
      break;
    case FileAction::kResumeUpload:
      if (server.state == FileState::kUploading && upload_missing(server, cut_after))
        commit_if_complete(server, device);
      break;
    case FileAction::kRestore:
      if (server.state == FileState::kDeleted) server.state = FileState::kCommitted;
      device.upload_flag = server.state == FileState::kCommitted;
      break;
    case FileAction::kRestoreThenDownload:
      if (server.state == FileState::kDeleted) server.state = FileState::kCommitted;
      [[fallthrough]];
    case FileAction::kDownload:
      // A download only yields a copy when the file is committed and the transfer completes.
      if (server.state == FileState::kCommitted && cut_after >= server.chunk_count)
        device.has_copy = true;
      break;
    case FileAction::kWait:
    case FileAction::kMissing:
      break;
  }
}

struct Start {
  ServerFile server;
  std::vector<DeviceFile> devices;
  std::vector<uint32_t> cuts;               // transfer interruptions, consumed in order
  bool restore_server_from_backup = false;  // the server loses the file after round 0
};

std::ostream& operator<<(std::ostream& out, const Start& s) {
  out << "server=" << file_state_name(s.server.state) << " chunks=" << s.server.chunks.size() << "/"
      << s.server.chunk_count << " devices=";
  for (const DeviceFile& d : s.devices)
    out << (d.has_copy ? "P" : "A") << (d.upload_flag ? "1 " : "0 ");
  return out << (s.restore_server_from_backup ? "restore" : "");
}

rc::Gen<Start> starts() {
  return rc::gen::exec([] {
    Start s;
    s.server.chunk_count = *rc::gen::inRange<uint32_t>(1, 6);
    s.server.state = *rc::gen::element(FileState::kAbsent, FileState::kUploading,
                                       FileState::kCommitted, FileState::kDeleted);
    if (s.server.state == FileState::kUploading) {
      for (uint32_t i = 0; i < s.server.chunk_count; ++i)
        if (*rc::gen::arbitrary<bool>()) s.server.chunks.insert(i);
    } else if (s.server.state != FileState::kAbsent) {
      for (uint32_t i = 0; i < s.server.chunk_count; ++i) s.server.chunks.insert(i);
    }
    s.devices.resize(*rc::gen::inRange<size_t>(1, 5));
    for (DeviceFile& d : s.devices)
      d = DeviceFile{*rc::gen::arbitrary<bool>(), *rc::gen::arbitrary<bool>()};
    s.cuts = *rc::gen::container<std::vector<uint32_t>>(rc::gen::inRange<uint32_t>(0, 8));
    s.restore_server_from_backup = *rc::gen::inRange(0, 4) == 0;
    return s;
  });
}

// Every device that references the file reconciles it once per sync; after enough syncs, if the
// content existed anywhere complete, every device holds it and the server has it committed.
void reconciliation_converges(Decide decide) {
  Start start = *starts();
  ServerFile server = start.server;
  std::vector<DeviceFile> devices = start.devices;
  const bool content_exists =
      std::any_of(devices.begin(), devices.end(), [](const DeviceFile& d) { return d.has_copy; }) ||
      server.state == FileState::kCommitted || server.state == FileState::kDeleted;
  size_t next_cut = 0;
  // Each sync round visits every device; later rounds are fault-free so progress is possible.
  const size_t rounds = 3 + start.cuts.size() + devices.size();
  for (size_t round = 0; round < rounds; ++round) {
    if (round == 1 && start.restore_server_from_backup &&
        std::any_of(devices.begin(), devices.end(),
                    [](const DeviceFile& d) { return d.has_copy; })) {
      // An operator restored the server from a backup taken before the file existed.
      server = ServerFile{FileState::kAbsent, {}, server.chunk_count};
    }
    for (DeviceFile& device : devices) {
      const FileAction action = decide(device.has_copy ? LocalCopy::kPresent : LocalCopy::kAbsent,
                                       device.upload_flag, server.state);
      const uint32_t cut = next_cut < start.cuts.size() ? start.cuts[next_cut++] : UINT32_MAX;
      perform(action, server, device, cut);
    }
  }
  if (content_exists) {
    RC_ASSERT(server.state == FileState::kCommitted);
    for (const DeviceFile& device : devices) RC_ASSERT(device.has_copy);
  } else {
    // Nobody can ever produce the content: every device keeps reporting it pending.
    for (const DeviceFile& device : devices) RC_ASSERT(!device.has_copy);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(decision_table_of_the_spec) {
  struct Row {
    LocalCopy local;
    FileState server;
    FileAction action;
  };
  const Row table[] = {
      {LocalCopy::kPresent, FileState::kCommitted, FileAction::kNone},
      {LocalCopy::kPresent, FileState::kAbsent, FileAction::kUpload},
      {LocalCopy::kPresent, FileState::kUploading, FileAction::kResumeUpload},
      {LocalCopy::kPresent, FileState::kDeleted, FileAction::kRestore},
      {LocalCopy::kAbsent, FileState::kCommitted, FileAction::kDownload},
      {LocalCopy::kAbsent, FileState::kDeleted, FileAction::kRestoreThenDownload},
      {LocalCopy::kAbsent, FileState::kUploading, FileAction::kWait},
      {LocalCopy::kAbsent, FileState::kAbsent, FileAction::kMissing},
  };
  for (const Row& row : table)
    for (bool flag : {false, true})  // FILE-030: the flag never overrides the server's state
      BOOST_TEST(file_action_name(decide_file_action(row.local, flag, row.server)) ==
                 file_action_name(row.action));
}

BOOST_AUTO_TEST_CASE(chunk_counts_and_sizes) {
  BOOST_TEST(chunk_count_for(0, 65536) == 1u);  // an empty file is one empty chunk
  BOOST_TEST(chunk_count_for(1, 65536) == 1u);
  BOOST_TEST(chunk_count_for(65536, 65536) == 1u);
  BOOST_TEST(chunk_count_for(65537, 65536) == 2u);
  BOOST_TEST(chunk_plaintext_bytes(0, 65536, 0) == 0u);
  BOOST_TEST(chunk_plaintext_bytes(65537, 65536, 0) == 65536u);
  BOOST_TEST(chunk_plaintext_bytes(65537, 65536, 1) == 1u);
  BOOST_TEST(chunk_plaintext_bytes(131072, 65536, 1) == 65536u);
}

BOOST_AUTO_TEST_CASE(missing_ranges_are_half_open_and_ascending) {
  using Ranges = std::vector<ChunkRange>;
  const uint32_t none[] = {0};
  BOOST_TEST(missing_chunk_ranges({}, 4) == (Ranges{{0, 4}}));
  BOOST_TEST(missing_chunk_ranges(none, 1).empty());
  const uint32_t some[] = {1, 2, 5};
  BOOST_TEST(missing_chunk_ranges(some, 8) == (Ranges{{0, 1}, {3, 5}, {6, 8}}));
  const uint32_t all[] = {0, 1, 2};
  BOOST_TEST(missing_chunk_ranges(all, 3).empty());
}

BOOST_AUTO_TEST_CASE(state_names_round_trip) {
  for (FileState s :
       {FileState::kAbsent, FileState::kUploading, FileState::kCommitted, FileState::kDeleted})
    BOOST_TEST((file_state_from_name(file_state_name(s)) == std::optional<FileState>(s)));
  BOOST_TEST(!file_state_from_name("gone"));
}

RC_BOOST_PROP(reconciliation_converges_from_any_start, ()) {
  reconciliation_converges(&decide_file_action);
}

BOOST_AUTO_TEST_CASE(catches_dataans_flag_driven_reconciliation) {
  // A device whose flag says "uploaded" never notices that a restored server lost the file.
  BOOST_TEST(testing::finds_counterexample("flag-driven reconciliation converges",
                                           [] { reconciliation_converges(&dataans_decide); }));
}

BOOST_AUTO_TEST_SUITE_END()
