// File bookkeeping in the client store (spec 11): references recorded with the edit that makes
// them (FILE-020), the set a sync reconciles (heads only), transfer progress that survives a
// restart so a transfer resumes (FILE-031), and files no head references any more (FILE-022).
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "client_test_support.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<uint64_t>)
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<opsync::Bytes>)

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(an_attached_file_is_recorded_with_its_edit_and_a_remote_one_as_not_held) {
  TempDir dir;
  auto store = create_store(dir.path());
  const FileRef mine = file_ref(id_of(0xF1), "photo.jpg", 200000);
  const FileRef theirs = file_ref(id_of(0xF2), "scan.pdf", 1);
  must(store->commit_local_edit(
      local_edit(make_object(id_of(1), {1, 0}, "a", OpType::kPut, {}, "", {mine}), {mine.id})));
  std::vector<PageOp> page{page_op(
      1, make_object(id_of(2), {2, 0}, "b", OpType::kPut, {}, "", {theirs}), other_device())};
  // FILE-034: the page reports the files its operations reference, for this sync's reconcile.
  BOOST_TEST(must(store->apply_page(0, page, 1, {2, 0})).files_referenced ==
             std::vector<FileId>{theirs.id});

  BOOST_TEST((must(store->file(mine.id)) ==
              LocalFile{mine, true, false, FilePending::kNone, std::nullopt}));
  BOOST_TEST((must(store->file(theirs.id)) ==
              LocalFile{theirs, false, false, FilePending::kNone, std::nullopt}));
  BOOST_TEST(must(store->referenced_files()) == (std::vector<FileId>{mine.id, theirs.id}));
  BOOST_TEST(!must(store->file(id_of(0xF9))).has_value());
}

BOOST_AUTO_TEST_CASE(files_of_conflicting_heads_count_and_superseded_ones_do_not) {
  TempDir dir;
  auto store = create_store(dir.path());
  const FileRef old_file = file_ref(id_of(0xF1), "v1.txt", 10);
  const FileRef loser_file = file_ref(id_of(0xF2), "v2.txt", 10);
  const FileRef winner_file = file_ref(id_of(0xF3), "v3.txt", 10);
  const ObjectOp v1 = make_object(id_of(1), {1, 0}, "doc", OpType::kPut, {}, "", {old_file});
  const ObjectOp v2 = make_object(id_of(2), {2, 0}, "doc", OpType::kPut, {v1.id}, "", {loser_file});
  const ObjectOp v3 =
      make_object(id_of(3), {3, 0}, "doc", OpType::kPut, {v1.id}, "", {winner_file});
  std::vector<PageOp> page{page_op(1, v1, other_device()), page_op(2, v2, other_device()),
                           page_op(3, v3, other_device())};
  must(store->apply_page(0, page, 3, {3, 0}));
  // v2 and v3 are concurrent heads: both their files are reconciled; v1's is no longer needed.
  BOOST_TEST(must(store->referenced_files()) ==
             (std::vector<FileId>{loser_file.id, winner_file.id}));
  BOOST_TEST(must(store->unreferenced_files()) == std::vector<FileId>{old_file.id});

  const Status refused = store->forget_file(loser_file.id);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().code == Code::kInvalidField);
  must(store->forget_file(old_file.id));
  BOOST_TEST(!must(store->file(old_file.id)).has_value());
  BOOST_TEST(must(store->unreferenced_files()).empty());
}

BOOST_AUTO_TEST_CASE(chunk_progress_survives_a_restart_and_clears_when_the_transfer_completes) {
  TempDir dir;
  const FileRef big = file_ref(id_of(0xF1), "big.bin", 5 * 65536 + 1);  // 6 chunks
  {
    auto store = create_store(dir.path());
    must(store->commit_local_edit(
        local_edit(make_object(id_of(1), {1, 0}, "a", OpType::kPut, {}, "", {big}), {big.id})));
    for (uint32_t index : {4u, 0u, 2u, 2u})
      must(store->record_chunk_done(big.id, TransferDirection::kUpload, index));
    must(store->record_chunk_done(big.id, TransferDirection::kDownload, 5));
    must(store->set_pending(big.id, FilePending::kWait));
  }
  auto store = open_store(dir.path());
  BOOST_TEST(must(store->chunks_done(big.id, TransferDirection::kUpload)) ==
             (std::vector<uint32_t>{0, 2, 4}));
  // What is left to send, by the protocol's own range arithmetic.
  const std::vector<uint32_t> done = must(store->chunks_done(big.id, TransferDirection::kUpload));
  BOOST_TEST((missing_chunk_ranges(done, big.chunk_count) ==
              std::vector<ChunkRange>{{1, 2}, {3, 4}, {5, 6}}));
  BOOST_TEST(must(store->file(big.id))->pending == FilePending::kWait);

  must(store->set_upload_flag(big.id, true));
  BOOST_TEST(must(store->chunks_done(big.id, TransferDirection::kUpload)).empty());
  BOOST_TEST(must(store->chunks_done(big.id, TransferDirection::kDownload)) ==
             std::vector<uint32_t>{5});
  must(store->set_local_copy(big.id, false));  // a copy that failed FILE-023's check
  BOOST_TEST(must(store->chunks_done(big.id, TransferDirection::kDownload)).empty());
  must(store->record_chunk_done(big.id, TransferDirection::kDownload, 1));
  must(store->clear_chunk_progress(big.id, TransferDirection::kDownload));
  BOOST_TEST(must(store->chunks_done(big.id, TransferDirection::kDownload)).empty());
  BOOST_TEST(
      (must(store->file(big.id)) == LocalFile{big, false, true, FilePending::kWait, std::nullopt}));
  BOOST_TEST(store->partial_file_path(big.id).filename() == to_base64url(big.id) + ".part");
}

BOOST_AUTO_TEST_CASE(a_chunk_index_beyond_the_file_fails_a_check) {
  TempDir dir;
  const FileRef small = file_ref(id_of(0xF1), "small.bin", 10);  // 1 chunk
  {
    auto store = create_store(dir.path());
    must(store->commit_local_edit(
        local_edit(make_object(id_of(1), {1, 0}, "a", OpType::kPut, {}, "", {small}))));
  }
  BOOST_TEST(fails_check(
      [&] {
        (void)open_store(dir.path())->record_chunk_done(small.id, TransferDirection::kUpload, 1);
      },
      "chunk index"));
  BOOST_TEST(
      must(open_store(dir.path())->chunks_done(small.id, TransferDirection::kUpload)).empty());
}

BOOST_AUTO_TEST_CASE(a_divergence_makes_forgotten_files_known_again_so_they_are_deleted_again) {
  // Found by the simulator: every device deleted and forgot a file no head referenced; then the
  // server was restored from a backup older than the deletes and held the file again, committed,
  // forever. After a divergence the device knows again every file its operations referenced.
  TempDir dir;
  auto store = create_store(dir.path());
  const FileRef old_file = file_ref(id_of(0xF1), "old.txt", 10);
  const ObjectOp v1 = make_object(id_of(1), {1, 0}, "doc", OpType::kPut, {}, "", {old_file});
  const ObjectOp v2 = make_object(id_of(2), {2, 0}, "doc", OpType::kPut, {v1.id}, "");
  std::vector<PageOp> page{page_op(1, v1, other_device()), page_op(2, v2, other_device())};
  must(store->apply_page(0, page, 2, {2, 0}));
  BOOST_TEST(must(store->unreferenced_files()) == std::vector<FileId>{old_file.id});
  must(store->forget_file(old_file.id));  // deleted on the server, forgotten here
  BOOST_TEST(must(store->unreferenced_files()).empty());
  must(store->truncate_mirror(0));  // the server's log diverged
  BOOST_TEST(must(store->unreferenced_files()) == std::vector<FileId>{old_file.id});
  BOOST_TEST((must(store->file(old_file.id)) ==
              LocalFile{old_file, false, false, FilePending::kNone, std::nullopt}));
}

BOOST_AUTO_TEST_CASE(both_blob_stores_list_their_blobs_by_kind) {
  TempDir dir;
  DirectoryBlobStore on_disk(dir.path() / "files");
  MemoryBlobStore in_memory;
  for (BlobStore* blobs :
       {static_cast<BlobStore*>(&on_disk), static_cast<BlobStore*>(&in_memory)}) {
    BOOST_TEST(blobs->list(BlobKind::kCopy).empty());
    must(blobs->write(id_of(3), BlobKind::kCopy, 0, to_bytes("c")));
    must(blobs->write(id_of(1), BlobKind::kCopy, 0, to_bytes("a")));
    must(blobs->write(id_of(2), BlobKind::kPartial, 0, to_bytes("b")));
    BOOST_TEST(blobs->list(BlobKind::kCopy) == (std::vector<FileId>{id_of(1), id_of(3)}));
    BOOST_TEST(blobs->list(BlobKind::kPartial) == std::vector<FileId>{id_of(2)});
  }
  // Other files in the directory are not blobs.
  std::ofstream(dir.path() / "files" / "notes.txt") << "x";
  BOOST_TEST(on_disk.list(BlobKind::kCopy).size() == 2u);
}

// Both blob stores behave alike: the directory one the client uses, the memory one the simulator
// uses.
void blob_store_contract(BlobStore& blobs) {
  const FileId id = id_of(0xB1);
  BOOST_TEST(!blobs.exists(id, BlobKind::kPartial));
  BOOST_TEST(!blobs.read(id, BlobKind::kCopy, 0, 0).has_value());
  BOOST_TEST(!blobs.size(id, BlobKind::kCopy).has_value());
  must(blobs.write(id, BlobKind::kPartial, 4, to_bytes("efgh")));  // a gap before offset 4 is zeros
  BOOST_TEST(blobs.size(id, BlobKind::kPartial) == std::optional<uint64_t>(8));
  BOOST_TEST(blobs.read(id, BlobKind::kPartial, 0, 8) ==
             std::optional(to_bytes(std::string(4, '\0') + "efgh")));
  must(blobs.write(id, BlobKind::kPartial, 0, to_bytes("abcd")));
  BOOST_TEST(blobs.read(id, BlobKind::kPartial, 2, 4) == std::optional(to_bytes("cdef")));
  BOOST_TEST(!blobs.read(id, BlobKind::kPartial, 6, 3).has_value());  // ends before offset + size
  BOOST_TEST(!blobs.read(id, BlobKind::kCopy, 0, 1).has_value());     // kinds are separate blobs
  must(blobs.resize(id, BlobKind::kPartial, 10));
  BOOST_TEST(blobs.read(id, BlobKind::kPartial, 6, 4) ==
             std::optional(to_bytes(std::string("gh") + '\0' + '\0')));
  must(blobs.resize(id, BlobKind::kPartial, 3));
  BOOST_TEST(blobs.read(id, BlobKind::kPartial, 0, 3) == std::optional(to_bytes("abc")));
  // promote replaces the copy, and the partial blob is gone.
  must(blobs.write(id, BlobKind::kCopy, 0, to_bytes("old copy")));
  must(blobs.promote(id));
  BOOST_TEST(!blobs.exists(id, BlobKind::kPartial));
  BOOST_TEST(blobs.read(id, BlobKind::kCopy, 0, 3) == std::optional(to_bytes("abc")));
  BOOST_TEST(blobs.size(id, BlobKind::kCopy) == std::optional<uint64_t>(3));
  BOOST_TEST(!blobs.promote(id).ok());                     // nothing to promote
  must(blobs.resize(id_of(0xB2), BlobKind::kPartial, 0));  // sizing creates an empty blob
  BOOST_TEST(blobs.exists(id_of(0xB2), BlobKind::kPartial));
  must(blobs.remove(id, BlobKind::kCopy));
  must(blobs.remove(id, BlobKind::kCopy));  // removing what is gone succeeds
  BOOST_TEST(!blobs.exists(id, BlobKind::kCopy));
}

BOOST_AUTO_TEST_CASE(the_directory_and_memory_blob_stores_keep_the_same_contract) {
  TempDir dir;
  DirectoryBlobStore on_disk(dir.path() / "files");
  blob_store_contract(on_disk);
  BOOST_TEST(on_disk.path(id_of(0xB2), BlobKind::kPartial).filename() ==
             to_base64url(id_of(0xB2)) + ".part");
  MemoryBlobStore in_memory;
  blob_store_contract(in_memory);
  BOOST_TEST(in_memory.blobs().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_store_given_a_blob_store_keeps_its_files_there) {
  TempDir dir;
  auto blobs = std::make_shared<MemoryBlobStore>();
  StoreOptions options = test_options();
  options.blobs = blobs;
  {
    auto store = must(LocalStore::create(dir.path(), test_binding(), "token-1", options));
    must(store->blobs().write(id_of(0xB3), BlobKind::kCopy, 0, to_bytes("kept")));
  }
  BOOST_TEST(!std::filesystem::exists(dir.path() / "files" / to_base64url(id_of(0xB3))));
  auto store = must(LocalStore::open(dir.path(), options));  // the blobs outlive the store
  BOOST_TEST(store->blobs().read(id_of(0xB3), BlobKind::kCopy, 0, 4) ==
             std::optional(to_bytes("kept")));
}

BOOST_AUTO_TEST_SUITE_END()
