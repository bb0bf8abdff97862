// hlc.json: hybrid logical clocks (spec 8.1), the server's skew test (LOG-006) and the range of
// a timestamp (HLC-003).
#include "opsync/protocol/hlc.h"

#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "hlc";
constexpr std::string_view kAlgorithm = "HybridLogicalClock";
constexpr uint64_t kSeed = 0x41c;

constexpr uint32_t kCounterMax = 0xFFFFFFFFu;
constexpr uint64_t kNowMs = 1764000000000;
constexpr uint64_t kHourMs = 3600000;

// A step of a clock's life: stamp a local operation, or take in a remote timestamp.
struct Step {
  enum class Action { kStamp, kObserve } action;
  uint64_t physical_ms;
  Hlc remote;  // kObserve only
};

Step stamp(uint64_t physical_ms) { return Step{Step::Action::kStamp, physical_ms, {}}; }
Step observe(Hlc remote, uint64_t physical_ms) {
  return Step{Step::Action::kObserve, physical_ms, remote};
}

void add_sequence(TestGroup& group, std::string id, std::string comment,
                  std::vector<std::string> flags, Hlc initial, const std::vector<Step>& steps) {
  HlcClock clock(initial);
  Json steps_json = Json::array();
  for (const Step& step : steps) {
    if (step.action == Step::Action::kStamp) {
      const Hlc stamped = clock.stamp(step.physical_ms);
      steps_json.push_back(Json{
          {"action", "stamp"}, {"physicalMs", step.physical_ms}, {"expected", hlc_json(stamped)}});
    } else {
      clock.observe(step.remote, step.physical_ms);
      steps_json.push_back(Json{{"action", "observe"},
                                {"remote", hlc_json(step.remote)},
                                {"physicalMs", step.physical_ms},
                                {"expected", hlc_json(clock.last())}});
    }
  }
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"initial", hlc_json(initial)}, {"steps", std::move(steps_json)}}});
}

// A device that keeps stamping and taking in timestamps while its physical clock wanders.
std::vector<Step> random_walk(SeededRandom& random, size_t count) {
  std::vector<Step> steps;
  uint64_t physical_ms = kNowMs;
  // One draw per statement: the order of draws must not depend on the compiler.
  for (size_t i = 0; i < count; ++i) {
    // Mostly forward, sometimes the same millisecond, sometimes back (a corrected clock).
    physical_ms += random.below(5);
    const bool set_back = random.below(4) == 0;
    if (set_back) physical_ms -= 6;
    const bool local = random.below(2) == 0;
    if (local) {
      steps.push_back(stamp(physical_ms));
      continue;
    }
    const uint64_t remote_wall_ms = physical_ms + random.below(9) - 4;
    const uint32_t remote_counter = static_cast<uint32_t>(random.below(4));
    steps.push_back(observe({remote_wall_ms, remote_counter}, physical_ms));
  }
  return steps;
}

// The fixed operation whose timestamp HlcInputTest varies.
WireOp op_with_stamp(const Hlc& stamp) {
  WireOp op;
  op.hlc = stamp;
  op.key_id = 1;
  op.payload = Bytes(kEnvelopeOverheadBytes, 0);
  return op;
}

void add_input(TestGroup& group, std::string id, std::string comment,
               std::vector<std::string> flags, const Hlc& remote) {
  const Status status = validate_op(op_with_stamp(remote), UINT32_MAX);
  Json fields{{"remote", hlc_json(remote)}};
  if (!status.ok()) {
    fields["errorCode"] = code_name(status.error().code);
    fields["errorField"] = status.error().field;
  }
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), status.ok(),
                     std::move(fields)});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Hybrid logical clocks (spec 8): the send and receive rules of 8.1, the server's skew "
       "test of LOG-006, and the range of a timestamp (HLC-003).",
       "Timestamps are {wall_ms, counter}, ordered by wall_ms then counter.",
       "HlcSequenceTest: start a clock at initial, run the steps in order and compare the "
       "clock after each step with expected. A stamp step stamps a local operation at physical "
       "time physicalMs (the stamp is the new clock); an observe step takes in the remote "
       "timestamp of an operation applied from the server at physical time physicalMs.",
       "ServerSkewTest: a server whose clock reads serverNowMs and whose max_clock_skew_ms is "
       "maxSkewMs accepts the operation stamped stamp, or rejects it with clock_skew (LOG-006).",
       "HlcInputTest: a timestamp taken in as input (an uploaded operation, an op_encoding, a "
       "page of operations). Invalid ones must be rejected (OP-001, OP-011); errorCode and "
       "errorField are what the reference library's validate_op and decode_op report for an "
       "operation carrying that timestamp."});
  file.note("SendRule", "BASIC", "Stamping local operations (HLC-001).");
  file.note("ReceiveRule", "BASIC", "Taking in a remote timestamp (HLC-002).");
  file.note("PhysicalClockBehind", "EDGE_CASE",
            "The physical clock at or behind the clock's wall_ms (same millisecond, or a clock "
            "set back): the counter carries the order.");
  file.note("CounterOverflow", "EDGE_CASE",
            "The counter would pass 2^32 - 1: the clock moves to the next millisecond with "
            "counter 0.");
  file.note("ClockSkewDataans", "KNOWN_BUG",
            "A device whose physical clock is an hour behind edits after seeing a write from "
            "a fast device; its write must still be later (spec 15, item 2).");
  file.note("RandomWalk", "FUNCTIONALITY",
            "A long seeded mix of stamps and remote timestamps with a wandering physical clock.");
  file.note("SkewBoundary", "EDGE_CASE",
            "Stamps at and around serverNowMs + maxSkewMs: equal is accepted, one more is not.");
  file.note("WallMsOutOfRange", "MODIFIED_PARAMETER",
            "wall_ms of 2^48 or more is not a timestamp (HLC-003).");
  file.note("LargestWallMs", "EDGE_CASE", "wall_ms = 2^48 - 1, the largest valid value.");
  file.note(
      "Saturation", "EDGE_CASE",
      "Physical times of 2^48 or more, and a clock at the largest timestamp (2^48 - 1, 2^32 - 1), "
      "which it never leaves (HLC-005).");

  TestGroup& sequences = file.group(Json{{"type", "HlcSequenceTest"}});
  add_sequence(sequences, "hlc/stamp-physical-ahead",
               "Each stamp takes the physical time with counter 0.", {"SendRule"}, {0, 0},
               {stamp(1000), stamp(1005), stamp(2000)});
  add_sequence(sequences, "hlc/stamp-same-millisecond",
               "Three operations in one millisecond: counters 0, 1, 2.",
               {"SendRule", "PhysicalClockBehind"}, {0, 0},
               {stamp(1000), stamp(1000), stamp(1000)});
  add_sequence(sequences, "hlc/stamp-physical-clock-set-back",
               "The physical clock went back a second: the clock keeps its wall_ms and counts.",
               {"SendRule", "PhysicalClockBehind"}, {5000, 3},
               {stamp(4000), stamp(4001), stamp(6000)});
  add_sequence(sequences, "hlc/stamp-restart-from-persisted-state",
               "A clock restored from its persisted state after the physical clock was set back.",
               {"SendRule", "PhysicalClockBehind"}, {kNowMs, 17}, {stamp(kNowMs - 1000)});
  add_sequence(sequences, "hlc/stamp-counter-overflow",
               "Counter at 2^32 - 1 in the same millisecond: move to the next millisecond.",
               {"SendRule", "CounterOverflow"}, {7000, kCounterMax},
               {stamp(7000), stamp(7001), stamp(8000)});
  add_sequence(sequences, "hlc/stamp-counter-overflow-physical-behind",
               "Counter at 2^32 - 1 with the physical clock behind.",
               {"SendRule", "CounterOverflow", "PhysicalClockBehind"}, {7000, kCounterMax},
               {stamp(6000)});
  add_sequence(sequences, "hlc/stamp-largest-wall-ms", "Stamps at physical time 2^48 - 1.",
               {"SendRule", "LargestWallMs"}, {0, 0},
               {stamp(kHlcWallMsLimit - 1), stamp(kHlcWallMsLimit - 1)});
  add_sequence(sequences, "hlc/stamp-physical-at-2-pow-48",
               "A physical clock at 2^48 or beyond counts as 2^48 - 1 (HLC-005).",
               {"SendRule", "Saturation"}, {0, 0},
               {stamp(kHlcWallMsLimit), stamp(kHlcWallMsLimit + 5), stamp(uint64_t{1} << 52)});
  add_sequence(sequences, "hlc/stamp-at-largest-timestamp",
               "At (2^48 - 1, 2^32 - 1) a stamp returns the same timestamp again (HLC-005).",
               {"SendRule", "Saturation"}, {kHlcWallMsLimit - 1, kCounterMax},
               {stamp(kHlcWallMsLimit - 1), stamp(0), stamp(kHlcWallMsLimit)});
  add_sequence(
      sequences, "hlc/observe-at-largest-timestamp",
      "Taking in the largest timestamp, or any, leaves a saturated clock where it is (HLC-005).",
      {"ReceiveRule", "Saturation"}, {kHlcWallMsLimit - 1, kCounterMax - 1},
      {observe({kHlcWallMsLimit - 1, kCounterMax}, kHlcWallMsLimit),
       observe({1000, 0}, kHlcWallMsLimit - 1)});
  add_sequence(sequences, "hlc/observe-remote-ahead",
               "The remote wall_ms is the largest: take it with the remote counter + 1.",
               {"ReceiveRule"}, {1000, 5}, {observe({2000, 7}, 1500)});
  add_sequence(sequences, "hlc/observe-physical-ahead",
               "The physical time is the largest: counter 0.", {"ReceiveRule"}, {1000, 5},
               {observe({900, 9}, 1200)});
  add_sequence(sequences, "hlc/observe-local-ahead",
               "The clock's own wall_ms is the largest: its counter + 1.",
               {"ReceiveRule", "PhysicalClockBehind"}, {3000, 2}, {observe({2000, 9}, 2500)});
  add_sequence(sequences, "hlc/observe-equal-wall-ms",
               "Local and remote wall_ms equal and largest: max of the counters + 1, twice.",
               {"ReceiveRule", "PhysicalClockBehind"}, {3000, 2},
               {observe({3000, 9}, 100), observe({3000, 4}, 100)});
  add_sequence(sequences, "hlc/observe-all-equal", "Local, remote and physical all equal.",
               {"ReceiveRule", "PhysicalClockBehind"}, {3000, 2}, {observe({3000, 2}, 3000)});
  add_sequence(sequences, "hlc/observe-physical-equals-remote",
               "Physical time equals the remote wall_ms, both ahead: the remote counter + 1.",
               {"ReceiveRule"}, {1000, 0}, {observe({2000, 4}, 2000)});
  add_sequence(sequences, "hlc/observe-physical-equals-local",
               "Physical time equals the local wall_ms, both ahead: the local counter + 1.",
               {"ReceiveRule"}, {2000, 4}, {observe({1000, 9}, 2000)});
  add_sequence(sequences, "hlc/observe-counter-overflow-remote",
               "The remote counter is 2^32 - 1 and its wall_ms the largest.",
               {"ReceiveRule", "CounterOverflow"}, {0, 0}, {observe({5000, kCounterMax}, 100)});
  add_sequence(sequences, "hlc/observe-counter-overflow-equal-wall-ms",
               "Equal wall_ms, the local counter at 2^32 - 1.", {"ReceiveRule", "CounterOverflow"},
               {5000, kCounterMax}, {observe({5000, 3}, 0)});
  add_sequence(sequences, "hlc/observe-counter-overflow-local",
               "The local wall_ms is the largest and its counter is 2^32 - 1.",
               {"ReceiveRule", "CounterOverflow"}, {5000, kCounterMax}, {observe({4000, 0}, 0)});
  add_sequence(sequences, "hlc/clock-skew-dataans",
               "Device B's clock is an hour behind device A's. B takes in A's write stamped an "
               "hour ahead, then edits: B's stamp is above A's, so B's later edit wins.",
               {"ClockSkewDataans", "ReceiveRule", "SendRule"}, {kNowMs - 10, 0},
               {observe({kNowMs + kHourMs, 0}, kNowMs), stamp(kNowMs + 5000)});
  add_sequence(sequences, "hlc/stamp-then-observe-then-stamp",
               "Stamps and remote timestamps interleaved within a few milliseconds.",
               {"SendRule", "ReceiveRule", "PhysicalClockBehind"}, {0, 0},
               {stamp(100), observe({100, 5}, 100), stamp(100), observe({102, 0}, 101), stamp(101),
                stamp(103)});
  SeededRandom random(kSeed);
  add_sequence(sequences, "hlc/random-walk", "Forty seeded steps around 1764000000000 ms.",
               {"RandomWalk", "SendRule", "ReceiveRule"}, {0, 0}, random_walk(random, 40));

  TestGroup& skew = file.group(Json{{"type", "ServerSkewTest"}});
  struct SkewCase {
    std::string id;
    std::string comment;
    Hlc stamp;
    uint64_t max_skew_ms;
  };
  const std::vector<SkewCase> skew_cases = {
      {"hlc/skew-stamp-equals-server-time",
       "A stamp at the server's own time.",
       {kNowMs, 0},
       60000},
      {"hlc/skew-stamp-far-behind",
       "Old timestamps are fine: only the future is bounded.",
       {1, 0},
       60000},
      {"hlc/skew-stamp-at-limit",
       "wall_ms = serverNowMs + maxSkewMs is accepted.",
       {kNowMs + 60000, 0},
       60000},
      {"hlc/skew-stamp-at-limit-large-counter",
       "The counter does not matter at the limit.",
       {kNowMs + 60000, kCounterMax},
       60000},
      {"hlc/skew-stamp-one-past-limit",
       "wall_ms = serverNowMs + maxSkewMs + 1 is rejected.",
       {kNowMs + 60001, 0},
       60000},
      {"hlc/skew-an-hour-ahead",
       "An hour ahead against a one-minute limit.",
       {kNowMs + kHourMs, 0},
       60000},
      {"hlc/skew-smallest-limit-at-limit",
       "max_clock_skew_ms 1,000 (INF-003), at the limit.",
       {kNowMs + 1000, 0},
       1000},
      {"hlc/skew-smallest-limit-past-limit",
       "max_clock_skew_ms 1,000, one past the limit.",
       {kNowMs + 1001, 0},
       1000},
      {"hlc/skew-largest-limit-an-hour-ahead",
       "max_clock_skew_ms 3,600,000 (INF-003): an hour ahead is accepted.",
       {kNowMs + kHourMs, 0},
       kHourMs},
  };
  for (const SkewCase& c : skew_cases) {
    const bool accepted = within_clock_skew(c.stamp, kNowMs, c.max_skew_ms);
    skew.add(TestCase{c.id,
                      c.comment,
                      {"SkewBoundary"},
                      true,
                      Json{{"stamp", hlc_json(c.stamp)},
                           {"serverNowMs", kNowMs},
                           {"maxSkewMs", c.max_skew_ms},
                           {"accepted", accepted}}});
  }

  TestGroup& inputs = file.group(Json{{"type", "HlcInputTest"}});
  add_input(inputs, "hlc/input-largest-wall-ms", "wall_ms = 2^48 - 1 with the largest counter.",
            {"LargestWallMs"}, {kHlcWallMsLimit - 1, kCounterMax});
  add_input(inputs, "hlc/input-wall-ms-2-pow-48", "wall_ms = 2^48.", {"WallMsOutOfRange"},
            {kHlcWallMsLimit, 0});
  add_input(inputs, "hlc/input-wall-ms-2-pow-48-plus-1", "wall_ms = 2^48 + 1.",
            {"WallMsOutOfRange"}, {kHlcWallMsLimit + 1, 0});
  add_input(inputs, "hlc/input-wall-ms-2-pow-53-minus-1",
            "wall_ms = 2^53 - 1, the largest integer JSON carries here.", {"WallMsOutOfRange"},
            {kJsonIntegerMax, 0});
  return file.finish();
}

void check_sequence(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("HlcSequenceTest cases are all valid");
  HlcClock clock(read_hlc(test, "initial"));
  const Json& steps = read_array(test, "steps");
  for (size_t i = 0; i < steps.size(); ++i) {
    const Json& step_json = steps[i];
    const std::string action = read_string(step_json, "action");
    Step step{Step::Action::kStamp, read_uint(step_json, "physicalMs", kJsonIntegerMax), {}};
    if (action == "observe") {
      step.action = Step::Action::kObserve;
      step.remote = read_hlc(step_json, "remote");
    } else if (action != "stamp") {
      throw MalformedVector("action must be \"stamp\" or \"observe\"");
    }
    const Hlc expected = read_hlc(step_json, "expected");
    const std::string what = "steps[" + std::to_string(i) + "] (" + action + ")";
    if (step.action == Step::Action::kStamp) {
      findings.expect_equal(what + " stamp", expected, clock.stamp(step.physical_ms));
    } else {
      clock.observe(step.remote, step.physical_ms);
      findings.expect_equal(what + " clock", expected, clock.last());
    }
    if (!findings.empty()) return;  // later steps start from a different clock: noise
  }
}

void check_skew(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("ServerSkewTest cases are all valid");
  const Hlc stamp = read_hlc(test, "stamp");
  const uint64_t now_ms = read_uint(test, "serverNowMs");
  const uint64_t max_skew_ms = read_uint(test, "maxSkewMs");
  findings.expect_equal("accepted", read_bool(test, "accepted"),
                        within_clock_skew(stamp, now_ms, max_skew_ms));
}

void check_input(const Json&, const Json& test, Findings& findings) {
  const WireOp op = op_with_stamp(read_hlc(test, "remote", kJsonIntegerMax + 1));
  const Status validated = validate_op(op, UINT32_MAX);
  Result<WireOp> decoded = decode_op(encode_op(op));
  if (read_expects_valid(test)) {
    findings.expect_success("validate_op", validated);
    findings.expect_success("decode_op", decoded.ok() ? Status() : Status(decoded.error()));
    return;
  }
  findings.expect_error(test, validated);
  findings.expect_error(test, decoded);
}

}  // namespace

Suite hlc_suite() {
  return Suite{kName,
               kAlgorithm,
               &generate,
               {{"HlcSequenceTest", &check_sequence},
                {"ServerSkewTest", &check_skew},
                {"HlcInputTest", &check_input}}};
}

}  // namespace opsync::vectors
