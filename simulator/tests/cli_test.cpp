// opsync-sim as a user runs it: exit codes (0 pass, 1 a checker failed, 2 bad usage), one-line
// errors for bad input, --json output, swarms with shards, and the merge of their summaries.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
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
    std::string pattern =
        (std::filesystem::temp_directory_path() / "opsync-sim-cli-XXXXXX").string();
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
  const std::string command =
      std::string(OPSYNC_SIM_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  Outcome o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = slurp(out);
  o.err = slurp(err);
  return o;
}

size_t lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

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
      {"run --protocol dataans-0.3 --server http://127.0.0.1:9", "dataans-0.3"},
      {"run --variant hidden-restore --server http://127.0.0.1:9", "hidden-restore"},
      {"run --server ftp://127.0.0.1:9 --devices 1 --ops 1 --chaos-ms 1000", "http://"},
      {"run --server http://127.0.0.1:9 --devices 1 --ops 1 --chaos-ms 1000", "did not answer"},
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
  for (const std::string command :
       {"", "run ", "swarm ", "merge ", "replay ", "shrink ", "render ", "record "}) {
    const Outcome o = sim(scratch, command + "--help");
    BOOST_TEST(o.exit_code == 0, command);
    BOOST_TEST(o.out.find("Usage") != std::string::npos, command);
  }
}

BOOST_AUTO_TEST_CASE(
    run_prints_a_verdict_or_one_json_object_and_a_failure_exits_1_with_its_replay) {
  Scratch scratch;
  const Outcome pass =
      sim(scratch, "run --seed 5 --devices 3 --ops 30 --chaos-ms 30000 --faults lossy --json");
  BOOST_TEST(pass.exit_code == 0, pass.err);
  const nlohmann::json j = nlohmann::json::parse(pass.out);
  BOOST_TEST(j.at("verdict") == "pass");
  BOOST_TEST(j.at("trace_hash").get<std::string>().size() == 64u);
  BOOST_TEST(j.at("figures").at("edits").get<uint64_t>() > 0u);
  BOOST_TEST(j.at("violations").empty());

  // A failure writes its bug file and says how to replay it; the replay reproduces it.
  const Outcome fail =
      sim(scratch, "run --config simulator/scenarios/variant-plaintext.json --out " +
                       scratch.path().string());
  BOOST_TEST(fail.exit_code == 1, fail.out + fail.err);
  BOOST_TEST(fail.out.find("plaintext") != std::string::npos);
  // The hint names the program as it was started, so that it pastes as it is.
  const std::string prefix = "replay: " + std::string(OPSYNC_SIM_BINARY) + " replay ";
  const size_t replay = fail.out.find(prefix);
  BOOST_REQUIRE(replay != std::string::npos);
  const std::string file =
      fail.out.substr(replay + prefix.size(), fail.out.find('\n', replay) - replay - prefix.size());
  BOOST_TEST(std::filesystem::exists(file), file);
  const Outcome again = sim(scratch, "replay " + file);
  BOOST_TEST(again.exit_code == 0, again.out + again.err);
  BOOST_TEST(again.out.find("reproduced") == 0u, again.out);
  BOOST_TEST(again.out.find("plaintext:") != std::string::npos, again.out);
  const Outcome json = sim(scratch, "replay --json " + file);
  BOOST_TEST(json.exit_code == 0);
  const nlohmann::json replayed = nlohmann::json::parse(json.out);
  BOOST_TEST(replayed.at("reproduced") == true);
  BOOST_TEST(replayed.at("trace_hash") == replayed.at("recorded_trace_hash"));
}

BOOST_AUTO_TEST_CASE(bad_bug_files_get_one_line_naming_the_problem) {
  Scratch scratch;
  const nlohmann::json bug =
      nlohmann::json::parse(slurp("simulator/scenarios/variant-plaintext.json"));
  auto write = [&](const std::string& name, const nlohmann::json& json) {
    std::ofstream(scratch.path() / name) << json.dump();
    return (scratch.path() / name).string();
  };
  nlohmann::json newer = bug;
  newer["format"] = "opsync-bug/2";
  nlohmann::json no_format = bug;
  no_format.erase("format");
  nlohmann::json short_hash = bug;
  short_hash["trace_hash"] = "abc";
  nlohmann::json bad_decision = bug;
  bad_decision["decisions"].begin()->push_back(-3);
  nlohmann::json missing = bug;
  missing.erase("decisions");
  nlohmann::json bad_config = bug;
  bad_config["config"]["devices"] = 0;
  nlohmann::json extra = bug;
  extra["colour"] = "red";
  std::ofstream(scratch.path() / "cut.json") << bug.dump().substr(0, 500);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"replay " + write("newer.json", newer), "opsync-bug/2"},
      {"replay " + write("no-format.json", no_format), "format"},
      {"replay " + write("short-hash.json", short_hash), "trace_hash"},
      {"replay " + write("bad-decision.json", bad_decision), "non-negative integer"},
      {"replay " + write("missing.json", missing), "decisions"},
      {"replay " + write("bad-config.json", bad_config), "devices"},
      {"replay " + write("extra.json", extra), "colour"},
      {"replay " + (scratch.path() / "cut.json").string(), "not well-formed JSON"},
      {"replay " + (scratch.path() / "absent.json").string(), "cannot read"},
      {"shrink " + write("newer2.json", newer) + " -o " + (scratch.path() / "out.json").string(),
       "opsync-bug/2"},
      {"render " + write("newer3.json", newer) + " -o " + (scratch.path() / "out.html").string(),
       "opsync-bug/2"},
      {"render simulator/scenarios/variant-plaintext.json -o x --format svg", "--format"},
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

// A bug file changed after opsync-sim wrote it (by hand, or by a damaged copy) is refused as
// damaged before anything runs, instead of being blamed on the code; its story and expected
// verdicts stay editable. A missing member is named in words, not in the JSON library's.
BOOST_AUTO_TEST_CASE(a_damaged_bug_file_is_diagnosed_as_damaged_before_any_replay) {
  Scratch scratch;
  const std::filesystem::path out = scratch.path() / "out";
  const Outcome fail =
      sim(scratch, "run --config simulator/scenarios/variant-plaintext.json --out " + out.string());
  BOOST_REQUIRE_EQUAL(fail.exit_code, 1);
  std::filesystem::path written;
  for (const auto& entry : std::filesystem::directory_iterator(out)) written = entry.path();
  const nlohmann::json bug = nlohmann::json::parse(slurp(written));
  BOOST_REQUIRE(bug.contains("checksum"));
  auto write = [&](const std::string& name, const nlohmann::json& json) {
    std::ofstream(scratch.path() / name) << json.dump(2);
    return (scratch.path() / name).string();
  };
  nlohmann::json other_hash = bug;
  other_hash["trace_hash"] = std::string(64, 'a');
  nlohmann::json cut_stream = bug;
  for (auto& [stream, values] : cut_stream["decisions"].items())
    if (values.size() > 4) {
      values.erase(values.begin() + static_cast<long>(values.size() / 2), values.end());
      break;
    }
  nlohmann::json more_ops = bug;
  more_ops["config"]["ops"] = more_ops["config"]["ops"].get<uint64_t>() + 1;
  for (const auto& [name, damaged] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"other-hash.json", other_hash},
                                                           {"cut-stream.json", cut_stream},
                                                           {"more-ops.json", more_ops}}) {
    BOOST_TEST_CONTEXT(name) {
      const Outcome o = sim(scratch, "replay " + write(name, damaged));
      BOOST_TEST(o.exit_code == 2, o.out + o.err);
      BOOST_TEST(lines(o.err) == 1u, o.err);
      BOOST_TEST(o.err.find("was changed after opsync-sim wrote it") != std::string::npos, o.err);
      BOOST_TEST(o.out.find("NOT reproduced") == std::string::npos, o.out);
    }
  }
  nlohmann::json told = bug;
  told["description"] = "a story added by hand";
  const Outcome edited = sim(scratch, "replay " + write("told.json", told));
  BOOST_TEST(edited.exit_code == 0, edited.out + edited.err);
  BOOST_TEST(edited.out.find("reproduced") == 0u, edited.out);

  nlohmann::json no_config = bug;
  no_config.erase("config");
  const Outcome o = sim(scratch, "replay " + write("no-config.json", no_config));
  BOOST_TEST(o.exit_code == 2);
  BOOST_TEST(o.err.find("has no \"config\" member") != std::string::npos, o.err);
  BOOST_TEST(o.err.find("json.exception") == std::string::npos, o.err);
}

// An unknown --variant lists the variants there are, from the catalog.
BOOST_AUTO_TEST_CASE(an_unknown_variant_lists_the_variants) {
  Scratch scratch;
  for (const std::string command : {"run", "swarm --seeds 1"}) {
    const Outcome o = sim(scratch, command + " --variant nope");
    BOOST_TEST(o.exit_code == 2, command);
    for (const char* variant : {"forget-lost-uploads", "restore-revives-tokens", "no-dedupe"})
      BOOST_TEST(o.err.find(variant) != std::string::npos, o.err);
  }
  const Outcome help = sim(scratch, "run --help");
  BOOST_TEST(help.out.find("restore-revives-tokens") != std::string::npos, help.out);
}

BOOST_AUTO_TEST_CASE(a_replay_that_differs_says_so_and_where_the_traces_part) {
  // As if the code had changed since the recording: the recorded digests differ from event 10 on.
  Scratch scratch;
  nlohmann::json bug = nlohmann::json::parse(slurp("simulator/scenarios/variant-plaintext.json"));
  std::string digests = bug.at("event_digests");
  for (size_t i = 10 * 16; i < digests.size(); ++i) digests[i] = digests[i] == '0' ? '1' : '0';
  bug["event_digests"] = digests;
  bug["trace_hash"] = std::string(64, '0');
  std::ofstream(scratch.path() / "changed.json") << bug.dump();
  const std::string path = (scratch.path() / "changed.json").string();
  const Outcome o = sim(scratch, "replay " + path);
  BOOST_TEST(o.exit_code == 1, o.out + o.err);
  BOOST_TEST(o.out.find("NOT reproduced") == 0u, o.out);
  BOOST_TEST(o.out.find("the traces part at event 10 ") != std::string::npos, o.out);
  const Outcome json = sim(scratch, "replay --json " + path);
  const nlohmann::json j = nlohmann::json::parse(json.out);
  BOOST_TEST(j.at("reproduced") == false);
  BOOST_TEST(j.at("same_verdict") == true);
  BOOST_TEST(j.at("parted_at").at("event") == 10);
  // --rewrite records the new trace when the verdict holds; then it replays.
  const Outcome rewrite = sim(scratch, "replay --rewrite " + path);
  BOOST_TEST(rewrite.exit_code == 0, rewrite.out + rewrite.err);
  BOOST_TEST(sim(scratch, "replay " + path).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(shrink_keeps_the_checker_and_render_writes_a_page_and_a_shiviz_log) {
  Scratch scratch;
  const std::string small = (scratch.path() / "small.json").string();
  const Outcome shrunk =
      sim(scratch, "shrink simulator/scenarios/variant-plaintext.json -o " + small + " --tries 40");
  BOOST_TEST(shrunk.exit_code == 0, shrunk.out + shrunk.err);
  BOOST_TEST(shrunk.out.find("before: schedule ") != std::string::npos, shrunk.out);
  BOOST_TEST(shrunk.out.find("after:  schedule ") != std::string::npos, shrunk.out);
  BOOST_TEST(shrunk.out.find("still fails plaintext") != std::string::npos, shrunk.out);
  const Outcome again = sim(scratch, "replay --json " + small);
  BOOST_TEST(again.exit_code == 0, again.out);
  BOOST_TEST(nlohmann::json::parse(again.out).at("violations").at(0).at("checker") == "plaintext");
  // A run that failed nothing has nothing to shrink.
  const std::string passing = (scratch.path() / "passing.json").string();
  std::ofstream(scratch.path() / "config.json")
      << "{\"devices\": 2, \"ops\": 4, \"chaos_ms\": 5000}";
  BOOST_TEST(sim(scratch, "record " + (scratch.path() / "config.json").string() + " -o " + passing)
                 .exit_code == 0);
  const Outcome nothing = sim(scratch, "shrink " + passing + " -o " + small);
  BOOST_TEST(nothing.exit_code == 2);
  BOOST_TEST(nothing.err.find("nothing to shrink") != std::string::npos, nothing.err);

  const std::string page = (scratch.path() / "trace.html").string();
  const Outcome html = sim(scratch, "render " + small + " -o " + page);
  BOOST_TEST(html.exit_code == 0, html.out + html.err);
  const std::string text = slurp(page);
  BOOST_TEST(text.find("<!DOCTYPE html>") == 0u);
  BOOST_TEST(text.find("id=\"violation\"") != std::string::npos);
  // Self-contained: nothing is fetched (the one URL is the SVG namespace's name).
  for (const std::string remote :
       {"<script src", "<link", "@import", "url(", "fetch(", "XMLHttpRequest", "<img", "https:"})
    BOOST_TEST(text.find(remote) == std::string::npos, remote);
  const std::string log = (scratch.path() / "trace.shiviz").string();
  BOOST_TEST(sim(scratch, "render " + small + " -o " + log + " --format shiviz").exit_code == 0);
  const std::string shiviz = slurp(log);
  // ShiViz's default expression: a line of description, then "host {vector clock}" with the host's
  // own entry.
  BOOST_TEST(shiviz.find("\nserver {\"") != std::string::npos, shiviz.substr(0, 400));
  BOOST_TEST(shiviz.find("\ndevice-0 {\"device-0\":1}\n") != std::string::npos,
             shiviz.substr(0, 400));
}

// A seed that aborts or hangs its process is an error of its own, with a bug file; every other
// seed still runs, and the summary names the erring seeds.
BOOST_AUTO_TEST_CASE(a_seed_that_crashes_or_hangs_is_an_error_and_every_other_seed_still_runs) {
  Scratch scratch;
  const std::string out = (scratch.path() / "failures").string();
  // Of seeds 9 to 14, those that run (9, 12 and 14) draw six devices at most and take well
  // under a second each; the hooks fall on the others. The hang is found at the seed's deadline,
  // twenty times what a seed that runs needs even on a busy machine.
  const std::string hooks = "OPSYNC_SIM_TEST_ABORT_SEEDS=10,13 OPSYNC_SIM_TEST_HANG_SEEDS=11 ";
  const std::string command =
      hooks + std::string(OPSYNC_SIM_BINARY) + " swarm --first-seed 9 --seeds 6 --jobs 2 " +
      "--faults none --seed-timeout-s 20 --out " + out + " --json " + out + "/swarm.json >" +
      (scratch.path() / "stdout").string() + " 2>" + (scratch.path() / "stderr").string();
  const int status = std::system(command.c_str());
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 1);
  const nlohmann::json summary =
      nlohmann::json::parse(slurp(scratch.path() / "failures/swarm.json"));
  BOOST_TEST(summary["seeds_run"] == 6);
  BOOST_TEST(summary["complete"] == true);
  BOOST_TEST(summary["failed"] == 3);
  BOOST_TEST(summary["by_checker"]["error"] == 3);
  std::map<uint64_t, std::string> errors;
  for (const nlohmann::json& f : summary["failures"]) {
    BOOST_TEST(f["outcome"] == "error");
    errors[f["seed"].get<uint64_t>()] = f["message"];
    BOOST_TEST(std::filesystem::exists(f["file"].get<std::string>()));
  }
  BOOST_TEST(errors.size() == 3u);
  BOOST_TEST(errors[10].find("SIGABRT") != std::string::npos, errors[10]);
  BOOST_TEST(errors[10].find("aborts here") != std::string::npos, errors[10]);  // its last lines
  BOOST_TEST(errors[11].find("hung") != std::string::npos, errors[11]);
  // The error's bug file replays in a process of its own: the abort again, with the hook; a
  // verdict without it.
  const std::string file = (scratch.path() / "failures/bug-seed-10.json").string();
  BOOST_TEST(
      std::system(
          (hooks + std::string(OPSYNC_SIM_BINARY) + " replay " + file + " >/dev/null").c_str()) ==
      0);
  const Outcome fixed = sim(scratch, "replay " + file);
  BOOST_TEST(fixed.exit_code == 1);
  BOOST_TEST(
      fixed.out.find("NOT reproduced: the run now ends with a verdict (pass)") != std::string::npos,
      fixed.out);
  BOOST_TEST(sim(scratch, "shrink " + file + " -o " + out + "/small.json").exit_code == 2);
  // The index of the failures lists each one.
  const std::string index = slurp(scratch.path() / "failures/index.html");
  for (const char* seed : {">10<", ">11<", ">13<"})
    BOOST_TEST(index.find(seed) != std::string::npos, seed);
}

BOOST_AUTO_TEST_CASE(run_refuses_flags_a_configuration_would_make_it_ignore) {
  Scratch scratch;
  const Outcome shown = sim(scratch, "swarm --show 3");
  BOOST_REQUIRE(shown.exit_code == 0);
  std::ofstream(scratch.path() / "seed-3.json") << shown.out;
  const std::string config = (scratch.path() / "seed-3.json").string();
  for (const char* flag : {"--devices 3", "--ops 10", "--chaos-ms 5000", "--faults lossy"}) {
    const Outcome o = sim(scratch, "run --config " + config + " " + flag);
    BOOST_TEST(o.exit_code == 2, flag);
    BOOST_TEST(o.err.find("--config describes already") != std::string::npos, o.err);
  }
  // The seed's configuration runs, and its hint runs it again to the same trace.
  const Outcome once = sim(scratch, "run --json --config " + config);
  BOOST_REQUIRE(once.exit_code == 0 || once.exit_code == 1);
  const nlohmann::json first = nlohmann::json::parse(once.out);
  const Outcome again = sim(
      scratch,
      first["replay"].get<std::string>().substr(std::string(OPSYNC_SIM_BINARY).size()) + " --json");
  BOOST_TEST(nlohmann::json::parse(again.out)["trace_hash"] == first["trace_hash"]);
}

// Shards run as parallel processes, as a cluster's jobs would, merge into the summary and the bug
// files of one unsharded run of the same seeds; a missing or repeated shard is named.
BOOST_AUTO_TEST_CASE(shards_run_in_parallel_merge_into_what_one_run_gives) {
  Scratch scratch;
  const std::filesystem::path dir = scratch.path();
  // Seeds 310 to 312 draw one or two dozen devices; the broken client fails seed 311.
  const std::string seeds = "--seeds 3 --first-seed 310 --variant forget-lost-uploads --jobs 1";
  const Outcome whole = sim(scratch, "swarm " + seeds + " --out " + (dir / "whole").string() +
                                         " --json " + (dir / "whole.json").string());
  BOOST_TEST(whole.exit_code == 1, whole.out + whole.err);
  std::string shards;
  for (int shard = 1; shard <= 3; ++shard) {
    const std::string name = "shard" + std::to_string(shard);
    shards += std::string(OPSYNC_SIM_BINARY) + " swarm " + seeds + " --shard " +
              std::to_string(shard) + "/3 --out " + (dir / name).string() + " --json " +
              (dir / (name + ".json")).string() + " >/dev/null 2>&1 & ";
  }
  BOOST_REQUIRE(std::system(("(" + shards + "wait)").c_str()) == 0);
  const std::string summaries = (dir / "shard1.json").string() + " " +
                                (dir / "shard2.json").string() + " " +
                                (dir / "shard3.json").string();
  const Outcome merged =
      sim(scratch, "merge " + summaries + " --json " + (dir / "merged.json").string());
  BOOST_TEST(merged.exit_code == 1, merged.out + merged.err);  // seed 311 failed
  const nlohmann::json one = nlohmann::json::parse(slurp(dir / "whole.json"));
  const nlohmann::json all = nlohmann::json::parse(slurp(dir / "merged.json"));
  for (const char* member : {"seeds_run", "runs", "failed", "complete", "by_checker", "first_seed",
                             "seeds", "faults", "protocol", "variant"})
    BOOST_TEST(one.at(member) == all.at(member), member);
  BOOST_REQUIRE(one.at("failures").size() == all.at("failures").size());
  BOOST_REQUIRE(!one.at("failures").empty());
  for (size_t i = 0; i < one.at("failures").size(); ++i) {
    const nlohmann::json& a = one.at("failures")[i];
    const nlohmann::json& b = all.at("failures")[i];
    for (const char* member : {"seed", "checkers", "message", "outcome"})
      BOOST_TEST(a.at(member) == b.at(member), member);
    // The same bug file, byte for byte, under the same name.
    const std::filesystem::path from_one = a.at("file").get<std::string>(),
                                from_shard = b.at("file").get<std::string>();
    BOOST_TEST(from_one.filename() == from_shard.filename());
    BOOST_TEST(slurp(from_one) == slurp(from_shard), from_one.filename());
  }
  // A shard left out is named, and the merge is not complete; one given twice is refused.
  const Outcome partial = sim(scratch, "merge " + (dir / "shard1.json").string() + " " +
                                           (dir / "shard3.json").string() + " --json " +
                                           (dir / "partial.json").string());
  BOOST_TEST(partial.exit_code == 1);
  BOOST_TEST(partial.out.find("shard 2/3 is missing") != std::string::npos, partial.out);
  BOOST_TEST(nlohmann::json::parse(slurp(dir / "partial.json")).at("complete") == false);
  const Outcome twice = sim(scratch, "merge " + summaries + " " + (dir / "shard2.json").string());
  BOOST_TEST(twice.exit_code == 2);
  BOOST_TEST(twice.err.find("shard 2/3 appears twice") != std::string::npos, twice.err);
  const Outcome other =
      sim(scratch, "merge " + (dir / "shard1.json").string() + " " + (dir / "whole.json").string());
  BOOST_TEST(other.exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
