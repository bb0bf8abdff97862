// opsync-demo: the protocol core at work, in one process and without a network.
//
// Two devices share a workspace through an in-memory stand-in for the server's log. They edit
// offline (one clock an hour slow), encrypt every operation, sync with the spec's diff, resolve a
// concurrent edit by last-write-wins with a visible conflict, and recover after the "server" is
// restored from an old backup. Everything random comes from --seed, so runs repeat exactly.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/random.h"

namespace opsync {
namespace {

constexpr uint32_t kBlockSize = 4;  // tiny, so the demo's logs span several blocks
constexpr uint64_t kStartMs = 1'764'000'000'000;

std::string short_id(const Id& id) { return to_base64url(id).substr(0, 6); }

// The server's log: operations in acceptance order, with their hashes.
struct ServerLog {
  std::vector<WireOp> ops;
  std::vector<Hash> hashes;

  bool holds(const OpId& id) const {
    for (const WireOp& op : ops)
      if (op.id == id) return true;
    return false;
  }
  void accept(const WireOp& op) {
    if (holds(op.id)) return;  // idempotent, as LOG-004 requires
    ops.push_back(op);
    hashes.push_back(op_hash(op));
  }
};

class Device {
 public:
  Device(std::string name, int64_t clock_error_ms, const Subkeys& keys, RandomSource& random)
      : name_(std::move(name)),
        clock_error_ms_(clock_error_ms),
        keys_(keys),
        random_(random),
        device_id_(random.id()) {}

  // A local write: stamped by the HLC, naming every head it replaces, sealed, kept in the outbox.
  void write(uint64_t real_time_ms, const std::string& key, const std::string& value) {
    ObjectPayload payload;
    payload.type = OpType::kPut;
    payload.key = key;
    payload.value = to_bytes(value);
    if (const KeyState* state = store_.find(key)) payload.bases = state->head_ids();
    WireOp op;
    op.id = random_.id();
    op.device_id = device_id_;
    op.hlc = clock_.stamp(real_time_ms + clock_error_ms_);
    op.key_id = 1;
    seal_op_payload(keys_.op_key, op, serialize_payload(payload), random_);
    take_in(op);
    outbox_.push_back(op);
    std::printf("  %-6s writes %s = \"%s\"  (op %s, hlc %llu+%u)\n", name_.c_str(), key.c_str(),
                value.c_str(), short_id(op.id).c_str(),
                static_cast<unsigned long long>(op.hlc.wall_ms - kStartMs), op.hlc.counter);
  }

  // One sync against the log: plan with the spec's diff, upload, apply, adopt the server's order.
  void sync(ServerLog& server, uint64_t real_time_ms) {
    std::vector<OpId> mirror_ids;
    for (const WireOp& op : mirror_) mirror_ids.push_back(op.id);
    const std::vector<Hash> mirror_blocks = compute_block_hashes(mirror_hashes_, kBlockSize);
    const std::vector<Hash> server_blocks = compute_block_hashes(server.hashes, kBlockSize);
    std::vector<OpId> server_ids;
    for (const WireOp& op : server.ops) server_ids.push_back(op.id);
    std::vector<OutboxEntry> outbox;
    for (const WireOp& op : outbox_) outbox.push_back(OutboxEntry{op.id, op_hash(op)});

    Result<DiffPlan> plan =
        plan_diff(kBlockSize, LogView{mirror_ids, mirror_hashes_, mirror_blocks}, outbox,
                  LogView{server_ids, server.hashes, server_blocks});
    if (!plan.ok()) {
      std::printf("  %s: sync failed: %s\n", name_.c_str(), plan.error().to_string().c_str());
      return;
    }
    std::printf("  %-6s syncs: %s, verified prefix %llu, upload %zu, apply %zu, acknowledge %zu\n",
                name_.c_str(),
                plan->diverged ? "DIVERGED (blocks compared)" : "prefix hash matches",
                static_cast<unsigned long long>(plan->verified_prefix), plan->upload.size(),
                plan->apply.size(), plan->acknowledge.size());
    std::map<OpId, WireOp> mine;
    for (const WireOp& op : mirror_) mine.emplace(op.id, op);
    for (const WireOp& op : outbox_) mine.emplace(op.id, op);
    for (const OpId& id : plan->upload) server.accept(mine.at(id));
    for (const WireOp& op : server.ops) {
      if (mine.count(op.id)) continue;
      clock_.observe(op.hlc, real_time_ms + clock_error_ms_);  // HLC-002
      take_in(op);
    }
    mirror_ = server.ops;
    mirror_hashes_ = server.hashes;
    outbox_.clear();
  }

  void show(const std::string& key) const {
    const KeyState* state = store_.find(key);
    if (!state || !state->winner()) return;
    std::printf("  %-6s sees %s = \"%s\"", name_.c_str(), key.c_str(),
                to_string(state->winner()->payload.value).c_str());
    for (const ObjectOp* conflict : state->conflicts())
      std::printf("   [conflict kept: \"%s\" from op %s]",
                  to_string(conflict->payload.value).c_str(), short_id(conflict->id).c_str());
    std::printf("\n");
  }

  const std::vector<WireOp>& mirror() const { return mirror_; }

 private:
  // Decrypts with associated data computed here (SEC-002) and applies by LWW.
  void take_in(const WireOp& op) {
    Result<ObjectOp> opened = open_op(keys_.op_key, op);
    if (!opened.ok()) return;
    store_.apply(*opened);
  }

  std::string name_;
  int64_t clock_error_ms_;
  Subkeys keys_;
  RandomSource& random_;
  DeviceId device_id_;
  HlcClock clock_;
  ObjectStore store_;
  std::vector<WireOp> mirror_;
  std::vector<Hash> mirror_hashes_;
  std::vector<WireOp> outbox_;
};

int run(uint64_t seed, uint32_t kdf_iterations) {
  SeededRandom random(seed);
  std::printf("OpSync protocol core demo (seed %llu)\n\n", static_cast<unsigned long long>(seed));

  std::printf(
      "1. Keys: a passphrase is generated once; the data key is wrapped under a key derived\n"
      "   from password and passphrase (PBKDF2, %u iterations), and only the wrapped key is "
      "stored.\n",
      kdf_iterations);
  const std::string passphrase = generate_passphrase(random);
  const WorkspaceId workspace = random.id();
  const SecretKey kek = derive_kek("correct horse", passphrase, kdf_iterations);
  const SecretKey data_key = SecretKey::random(random);
  const Bytes wrapped = wrap_data_key(kek, data_key, workspace, 1, random);
  std::printf("   passphrase %s\n   wrapped data key %s\n", passphrase.c_str(),
              to_base64url(wrapped).c_str());
  Result<SecretKey> unwrapped = unwrap_data_key(
      derive_kek("wrong password", passphrase, kdf_iterations), wrapped, workspace, 1);
  std::printf(
      "   unwrapping with a wrong password: %s\n\n",
      unwrapped.ok() ? "accepted (BUG)" : std::string(code_name(unwrapped.error().code)).c_str());
  const Subkeys keys = derive_subkeys(data_key);

  ServerLog server;
  Device laptop("laptop", 0, keys, random);
  Device phone("phone", -3'600'000, keys, random);  // an hour slow

  std::printf("2. Offline edits, then sync. The phone's clock is an hour slow.\n");
  uint64_t now = kStartMs;
  laptop.write(now += 1000, "groceries", "milk");
  laptop.write(now += 1000, "todo", "call Ana");
  laptop.sync(server, now += 1000);
  phone.sync(server, now += 1000);
  std::printf(
      "   The phone edits after seeing the laptop's write; its HLC orders the edit later\n"
      "   although its wall clock reads an hour earlier:\n");
  phone.write(now += 1000, "groceries", "milk, eggs");
  phone.sync(server, now += 1000);
  laptop.sync(server, now += 1000);
  laptop.show("groceries");
  phone.show("groceries");

  std::printf("\n3. A concurrent edit: both devices change \"todo\" without seeing each other.\n");
  laptop.write(now += 1000, "todo", "call Ana at 5");
  phone.write(now += 1000, "todo", "call Ana tomorrow");
  laptop.sync(server, now += 1000);
  phone.sync(server, now += 1000);
  laptop.sync(server, now += 1000);
  laptop.show("todo");
  phone.show("todo");

  std::printf("\n4. What the server stores: ciphertext and clear metadata only.\n");
  UploadOpsRequest sample;
  sample.ops.push_back(server.ops.front());
  std::printf("   %s\n   op hash %s\n", serialize_message(sample).c_str(),
              to_base64url(server.hashes.front()).c_str());

  std::printf(
      "\n5. The server is restored from a backup that holds only its first 2 operations,\n"
      "   and the phone writes again. Each device's prefix check fails, the block search\n"
      "   finds what still matches, and the lost operations are uploaded again.\n");
  server.ops.resize(2);
  server.hashes.resize(2);
  phone.write(now += 1000, "groceries", "milk, eggs, bread");
  phone.sync(server, now += 1000);
  laptop.sync(server, now += 1000);
  laptop.show("groceries");
  laptop.show("todo");
  const bool converged =
      laptop.mirror().size() == server.ops.size() && phone.mirror().size() <= server.ops.size();
  const size_t blocks = compute_block_hashes(server.hashes, kBlockSize).size();
  std::printf("\n   server log: %zu operations, %zu complete block%s of %u\n", server.ops.size(),
              blocks, blocks == 1 ? "" : "s", kBlockSize);
  return converged ? 0 : 1;
}

}  // namespace
}  // namespace opsync

int main(int argc, char** argv) {
  CLI::App app{
      "Walks through OpSync's protocol core: keys, HLC, LWW with conflicts, the diff, a server "
      "restore."};
  uint64_t seed = 1;
  uint32_t kdf_iterations = 600000;
  app.add_option("--seed", seed,
                 "Seed for every random choice (runs with the same seed print the same)");
  app.add_option("--kdf-iterations", kdf_iterations, "PBKDF2 iterations for the key-encryption key")
      ->check(CLI::Range(1u, 10000000u));
  CLI11_PARSE(app, argc, argv);
  return opsync::run(seed, kdf_iterations);
}
