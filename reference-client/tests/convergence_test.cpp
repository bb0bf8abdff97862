// Devices converge whatever the network does: a RapidCheck property drives two or three devices
// (real stores, real engines, the real server core on in-memory storage, simulated time) through
// random edits and syncs while the network refuses connections and loses answers after the server
// has acted on them, and the devices' clocks run ahead or behind. After a quiet round every device
// shows the same keys, values and conflicts, nothing is left to upload, and the server holds every
// operation exactly once, whether the driver applies pages while the next is requested or not.
// The companion runs the same property over a network that flips one bit of an operation on its
// way to one device, and requires RapidCheck to catch it.
#include <boost/test/unit_test.hpp>
#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>

#include <map>

#include "client_test_support.h"
#include "opsync/client/device.h"
#include "opsync/client/engine.h"
#include "opsync/server/core.h"
#include "opsync/server/memory_storage.h"
#include "property_support.h"

using namespace opsync;
using namespace opsync::client;

namespace {

constexpr uint64_t kStartMs = 1'764'000'000'000;
constexpr uint32_t kKdfIterations = 1000;

// The server core answering in-process, at the simulation's time.
class CoreTransport final : public Transport {
 public:
  CoreTransport(server::ServerCore& core, const uint64_t& now_ms) : core_(core), now_ms_(now_ms) {}
  Result<HttpResponse> exchange(const HttpRequest& r, const std::string& token) override {
    server::Request request;
    request.method = r.method;
    const size_t question = r.target.find('?');
    request.path = r.target.substr(0, question);
    if (question != std::string::npos) {
      std::string_view rest = std::string_view(r.target).substr(question + 1);
      while (!rest.empty()) {  // bounded by the target's length
        const size_t amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        const size_t eq = pair.find('=');
        request.query.emplace_back(std::string(pair.substr(0, eq)),
                                   eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      }
    }
    if (r.authorized && !token.empty()) request.headers["authorization"] = "Bearer " + token;
    if (!r.content_type.empty()) request.headers["content-type"] = r.content_type;
    request.body = r.body;
    const server::Response answer = core_.handle(request, now_ms_);
    HttpResponse response;
    response.status = answer.status;
    response.body = answer.body;
    for (const auto& [name, value] : answer.headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers[lower] = value;
    }
    return response;
  }

 private:
  server::ServerCore& core_;
  const uint64_t& now_ms_;
};

// The network: refuses a connection (the server never sees the request) or loses the answer (it
// acted on it), each one time in `one_in`, from a seeded source; `tamper` flips a bit of the
// first operation's payload in every page it carries.
class FaultyNetwork final : public Transport {
 public:
  FaultyNetwork(Transport& inner, uint64_t seed, uint32_t one_in, bool tamper)
      : inner_(inner), random_(seed), one_in_(one_in), tamper_(tamper) {}
  Result<HttpResponse> exchange(const HttpRequest& r, const std::string& token) override {
    if (one_in_ && random_.below(one_in_) == 0) return Error(Code::kTransport, "connection refused");
    Result<HttpResponse> response = inner_.exchange(r, token);
    if (one_in_ && random_.below(one_in_) == 0) return Error(Code::kTransport, "answer lost");
    if (tamper_ && response.ok() && r.method == "GET" && r.target.find("/ops?") != std::string::npos) {
      Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response->body);
      if (page.ok() && !page->ops.empty()) {
        page->ops.front().op.payload.back() ^= 1;
        response->body = serialize_message(*page);
      }
    }
    return response;
  }

 private:
  Transport& inner_;
  SeededRandom random_;
  uint32_t one_in_;
  bool tamper_;
};

struct SimDevice {
  std::unique_ptr<Device> device;
  int64_t skew_ms = 0;
};

// One scenario: returns normally when every device converged, fails an RC_ASSERT otherwise.
void run_scenario(bool tamper) {
  const int device_count = *rc::gen::inRange(2, 4);
  const std::vector<uint32_t> actions = *rc::gen::resize(40, rc::gen::container<std::vector<uint32_t>>(rc::gen::arbitrary<uint32_t>()));
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();

  opsync::client::testing::TempDir dir;
  uint64_t now_ms = kStartMs;
  SeededRandom random(seed);
  server::MemoryStorage storage;
  server::ServerConfig config;
  server::ServerCore core(config, storage, random);
  CoreTransport transport(core, now_ms);
  StoreOptions fast;
  fast.durability = Durability::kProcess;

  // The first device creates the workspace; the others join it.
  std::vector<SimDevice> devices(static_cast<size_t>(device_count));
  Result<NewWorkspace> created = Device::create_workspace(dir.path() / "d0", "sim://server", "pw", transport, random,
                                                          kKdfIterations, fast);
  RC_ASSERT(created.ok());
  devices[0].device = std::move(Device::open(dir.path() / "d0", fast).value());
  for (int d = 1; d < device_count; ++d) {
    Result<TokenIssued> token = devices[0].device->invite(Scope::kReadWrite, std::nullopt, transport);
    RC_ASSERT(token.ok());
    const auto path = dir.path() / ("d" + std::to_string(d));
    RC_ASSERT(Device::join(path, JoinRequest{"sim://server", created->workspace_id, token->token, "pw", created->passphrase},
                           transport, random, fast)
                  .ok());
    devices[static_cast<size_t>(d)].device = std::move(Device::open(path, fast).value());
  }
  // Clocks: on time, 30 minutes ahead (the server refuses its stamps until it re-stamps), a day behind.
  constexpr int64_t kSkews[] = {0, 30 * 60 * 1000, -24 * 3600 * 1000};
  for (size_t d = 0; d < devices.size(); ++d) devices[d].skew_ms = kSkews[(seed >> (2 * d)) % 3];

  uint64_t ops_created = 0;
  auto sync = [&](size_t d, uint32_t one_in, uint64_t network_seed, bool tampered) {
    SimDevice& device = devices[d];
    FaultyNetwork network(transport, network_seed, one_in, tampered);
    // Pages of 4 operations in two syncs of three, so that a sync reads several pages and holds
    // one while it asks for the next; half the syncs apply the held page before the exchange, as
    // the HTTP driver does, and half leave it to the answer.
    SyncOptions options;
    options.page_ops_max = network_seed % 3 == 0 ? 0 : 4;
    const bool work_before_exchange = (network_seed / 3) % 2 == 1;
    SyncEngine engine(device.device->store(), device.device->keys(), random, options);
    // Bounded: every request either advances the sync or counts against its attempts.
    for (int steps = 0; steps < 100000; ++steps) {
      const uint64_t device_now = static_cast<uint64_t>(static_cast<int64_t>(now_ms) + device.skew_ms);
      SyncStep step = engine.next(device_now);
      if (std::holds_alternative<SyncFinished>(step)) return std::get<SyncFinished>(step).error;
      if (auto* wait = std::get_if<WaitUntil>(&step)) {
        now_ms += wait->until_ms - device_now;  // simulated time: waiting costs nothing
        continue;
      }
      now_ms += 1;
      if (work_before_exchange) engine.work();
      Result<HttpResponse> answer = network.exchange(std::get<SendRequest>(step).request, device.device->token());
      const uint64_t after = static_cast<uint64_t>(static_cast<int64_t>(now_ms) + device.skew_ms);
      if (answer.ok()) engine.on_response(*answer, after);
      else engine.on_transport_failure(answer.error().message, after);
    }
    RC_FAIL("a sync did not end");
    return std::optional<Error>();
  };

  for (uint32_t action : actions) {
    now_ms += 1000;
    const size_t d = action % devices.size();
    const std::string key = "k" + std::to_string((action >> 4) % 5);
    const uint64_t device_now = static_cast<uint64_t>(static_cast<int64_t>(now_ms) + devices[d].skew_ms);
    switch ((action >> 8) % 4) {
      case 0:
      case 1: {
        const std::string value = "v" + std::to_string(action >> 12);
        RC_ASSERT(devices[d].device->put(key, Bytes(value.begin(), value.end()), device_now, random).ok());
        ++ops_created;
        break;
      }
      case 2:
        if (devices[d].device->remove(key, device_now, random).ok()) ++ops_created;
        break;
      case 3:
        // A faulty sync may fail; whatever it committed stays consistent.
        sync(d, 4, action, tamper && d == 0);
        break;
    }
  }
  // The quiet round: every device syncs until all have seen everything.
  for (int round = 0; round < 3; ++round)
    for (size_t d = 0; d < devices.size(); ++d) {
      const std::optional<Error> error = sync(d, 0, round * 5 + d, tamper && d == 0);
      RC_ASSERT(!error.has_value());
    }

  const std::vector<std::string> keys = *devices[0].device->list();
  for (size_t d = 0; d < devices.size(); ++d) {
    Device& device = *devices[d].device;
    RC_ASSERT(*device.store().pending_count() == 0u);
    RC_ASSERT(*device.store().mirror_size() == ops_created);  // the server holds each op once
    RC_ASSERT(*device.list() == keys);
    for (const char* k : {"k0", "k1", "k2", "k3", "k4"}) {
      const ObjectView mine = *device.get(k);
      const ObjectView first = *devices[0].device->get(k);
      RC_ASSERT(mine.heads.size() == first.heads.size());
      for (size_t h = 0; h < mine.heads.size(); ++h) RC_ASSERT(mine.heads[h] == first.heads[h]);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(convergence)

RC_BOOST_PROP(devices_converge_through_refused_connections_lost_answers_and_skewed_clocks, ()) {
  run_scenario(/*tamper=*/false);
}

BOOST_AUTO_TEST_CASE(the_property_catches_a_network_that_alters_an_operation) {
  BOOST_TEST(opsync::testing::finds_counterexample("a bit flipped in pages sent to one device",
                                                   [] { run_scenario(/*tamper=*/true); }));
}

BOOST_AUTO_TEST_SUITE_END()
