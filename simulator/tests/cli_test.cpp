// opsync-sim as a user runs it: exit codes (0 pass, 1 a checker failed, 2 bad usage), one-line
// errors for bad input, --json output, swarms with shards, and the merge of their summaries.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Scratch {
 public:
  Scratch() {
    std::string pattern = (std::filesystem::temp_directory_path() / "opsync-sim-cli-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Runs opsync-sim with `args` (shell words, quoted by the caller), capturing both streams.
Outcome sim(const Scratch& scratch, const std::string& args) {
  const std::filesystem::path out = scratch.path() / "stdout", err = scratch.path() / "stderr";
  const std::string command = std::string(OPSYNC_SIM_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  Outcome o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = slurp(out);
  o.err = slurp(err);
  return o;
}

size_t lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(bad_input_gets_one_line_naming_the_problem_and_exit_code_2) {
  Scratch scratch;
  std::ofstream(scratch.path() / "broken.json") << "{\"drift_ppm_max\": 9000}";
  std::ofstream(scratch.path() / "garbage.json") << "{not json";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run --seed -1", "--seed"},
      {"run --seed 18446744073709551616", "--seed"},
      {"run --faults nonsense", "nonsense"},
      {"run --faults " + (scratch.path() / "broken.json").string(), "drift_ppm_max"},
      {"run --faults " + (scratch.path() / "garbage.json").string(), "not well-formed JSON"},
      {"run --protocol dataans-9", "dataans-9"},
      {"run --variant sloppy", "sloppy"},
      {"run --devices 0", "--devices"},
      {"swarm --shard 0/3", "--shard"},
      {"swarm --jobs 100", "--jobs"},
      {"merge " + (scratch.path() / "garbage.json").string(), "not well-formed JSON"},
      {"teleport", "teleport"},
  };
  for (const auto& [args, named] : cases) {
    BOOST_TEST_CONTEXT(args) {
      const Outcome o = sim(scratch, args);
      BOOST_TEST(o.exit_code == 2);
      BOOST_TEST(lines(o.err) == 1u, o.err);
      BOOST_TEST(o.err.find(named) != std::string::npos, o.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_command_has_help) {
  Scratch scratch;
  for (const std::string command : {"", "run ", "swarm ", "merge "}) {
    const Outcome o = sim(scratch, command + "--help");
    BOOST_TEST(o.exit_code == 0, command);
    BOOST_TEST(o.out.find("Usage") != std::string::npos, command);
  }
}

BOOST_AUTO_TEST_CASE(run_prints_a_verdict_or_one_json_object_and_a_failure_exits_1_with_its_replay) {
  Scratch scratch;
  const Outcome pass = sim(scratch, "run --seed 5 --devices 3 --ops 30 --chaos-ms 30000 --faults lossy --json");
  BOOST_TEST(pass.exit_code == 0, pass.err);
  const nlohmann::json j = nlohmann::json::parse(pass.out);
  BOOST_TEST(j.at("verdict") == "pass");
  BOOST_TEST(j.at("trace_hash").get<std::string>().size() == 64u);
  BOOST_TEST(j.at("figures").at("edits").get<uint64_t>() > 0u);
  BOOST_TEST(j.at("violations").empty());

  const Outcome fail = sim(scratch, "run --config simulator/scenarios/variant-plaintext.json --variant plaintext --out " +
                                        scratch.path().string());
  BOOST_TEST(fail.exit_code == 1, fail.out + fail.err);
  BOOST_TEST(fail.out.find("plaintext") != std::string::npos);
  const size_t replay = fail.out.find("replay: opsync-sim run --config ");
  BOOST_REQUIRE(replay != std::string::npos);
  // The written file replays the same failure.
  const std::string file = fail.out.substr(replay + 32, fail.out.find('\n', replay) - replay - 32);
  const Outcome again = sim(scratch, "run --config " + file + " --json --out " + scratch.path().string());
  BOOST_TEST(again.exit_code == 1);
  bool plaintext = false;
  const nlohmann::json replayed = nlohmann::json::parse(again.out);
  for (const nlohmann::json& v : replayed.at("violations"))
    plaintext = plaintext || v.at("checker") == "plaintext";
  BOOST_TEST(plaintext, again.out);
}

BOOST_AUTO_TEST_CASE(shards_cover_the_seeds_once_and_merge_into_one_summary) {
  Scratch scratch;
  const std::string dir = scratch.path().string();
  for (int shard = 1; shard <= 2; ++shard) {
    const Outcome o = sim(scratch, "swarm --seeds 4 --first-seed 100 --faults lossy --jobs 2 --shard " +
                                       std::to_string(shard) + "/2 --out " + dir + " --json " + dir + "/shard" +
                                       std::to_string(shard) + ".json");
    BOOST_TEST(o.exit_code == 0, o.out + o.err);
  }
  const nlohmann::json first = nlohmann::json::parse(slurp(scratch.path() / "shard1.json"));
  BOOST_TEST(first.at("seeds_run") == 2);
  BOOST_TEST(first.at("runs") == 4);
  const Outcome merged = sim(scratch, "merge " + dir + "/shard1.json " + dir + "/shard2.json --json " + dir + "/all.json");
  BOOST_TEST(merged.exit_code == 0, merged.out + merged.err);
  const nlohmann::json all = nlohmann::json::parse(slurp(scratch.path() / "all.json"));
  BOOST_TEST(all.at("seeds_run") == 4);
  BOOST_TEST(all.at("failed") == 0);
  // The same shard twice is refused.
  const Outcome twice = sim(scratch, "merge " + dir + "/shard1.json " + dir + "/shard1.json");
  BOOST_TEST(twice.exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
