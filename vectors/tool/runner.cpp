#include "runner.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "suite.h"

namespace opsync::vectors {
namespace fs = std::filesystem;

namespace {

struct Tally {
  uint64_t tests = 0;
  uint64_t failures = 0;  // failing test cases plus problems of the file as a whole
};

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

// Checks the members every vector file has, reporting each problem through `fail`.
template <typename Fail>
void check_file_members(const Suite& suite, const Json& root, Fail fail) {
  auto check = [&](auto&& body) {
    try {
      body();
    } catch (const MalformedVector& e) {
      fail(e.what());
    }
  };
  check([&] {
    if (read_string(root, "algorithm") != suite.algorithm)
      fail("algorithm must be \"" + std::string(suite.algorithm) + "\"");
  });
  check([&] {
    const std::string schema = "schema/" + std::string(suite.name) + ".schema.json";
    if (read_string(root, "schema") != schema) fail("schema must be \"" + schema + "\"");
  });
  check([&] {
    if (read_string(root, "generatorVersion") != kGeneratorVersion)
      fail("generatorVersion must be \"" + std::string(kGeneratorVersion) + "\"");
  });
  check([&] {
    for (const Json& line : read_array(root, "header"))
      if (!line.is_string()) throw MalformedVector("header lines must be strings");
  });
  check([&] {
    for (const auto& [flag, note] : read_object(root, "notes").items()) {
      read_string(note, "bugType");
      read_string(note, "description");
    }
  });
}

// The metadata every test case carries; the suite's check reads the rest.
void check_test_members(const Json& test, uint64_t expected_tc_id, const Json& notes,
                        std::set<std::string>& ids, Findings& findings) {
  if (read_uint(test, "tcId") != expected_tc_id)
    findings.add("tcId must be " + std::to_string(expected_tc_id) +
                 ": tests are numbered 1..N in file order");
  const std::string id = read_string(test, "id");
  if (id.empty()) findings.add("id must not be empty");
  if (!ids.insert(id).second) findings.add("id " + id + " appears more than once in the file");
  read_string(test, "comment");
  for (const Json& flag : read_array(test, "flags")) {
    if (!flag.is_string()) throw MalformedVector("flags must be strings");
    if (!notes.is_object() || !notes.contains(flag.get<std::string>()))
      findings.add("flag " + flag.get<std::string>() + " is not explained in notes");
  }
  read_expects_valid(test);
}

// `text` with control characters and bytes that are not UTF-8 written as \xNN: failure lines
// quote inputs and parser messages, which may hold any bytes, and must stay readable text.
std::string printable(std::string_view text) {
  std::string out;
  size_t i = 0;
  auto escape = [&](uint8_t byte) {
    constexpr char kHexDigits[] = "0123456789abcdef";
    out += "\\x";
    out += kHexDigits[byte >> 4];
    out += kHexDigits[byte & 0xF];
  };
  while (i < text.size()) {
    const auto byte = static_cast<uint8_t>(text[i]);
    if (byte < 0x80) {
      if (byte < 0x20 || byte == 0x7f)
        escape(byte);
      else
        out += static_cast<char>(byte);
      ++i;
      continue;
    }
    // The length of a well-formed sequence starting here (RFC 3629), or 0.
    size_t length = byte >= 0xC2 && byte <= 0xDF   ? 2
                    : byte >= 0xE0 && byte <= 0xEF ? 3
                    : byte >= 0xF0 && byte <= 0xF4 ? 4
                                                   : 0;
    for (size_t k = 1; k < length; ++k) {
      const auto next = i + k < text.size() ? static_cast<uint8_t>(text[i + k]) : 0;
      const bool in_range = k > 1          ? (next & 0xC0) == 0x80
                            : byte == 0xE0 ? next >= 0xA0 && next <= 0xBF
                            : byte == 0xED ? next >= 0x80 && next <= 0x9F
                            : byte == 0xF0 ? next >= 0x90 && next <= 0xBF
                            : byte == 0xF4 ? next >= 0x80 && next <= 0x8F
                                           : (next & 0xC0) == 0x80;
      if (!in_range) length = 0;
    }
    if (length == 0) {
      escape(byte);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string describe_test(const Json& test) {
  std::string out = "tcId ";
  out += test.is_object() && test.contains("tcId") ? test["tcId"].dump() : "?";
  if (test.is_object() && test.contains("id") && test["id"].is_string())
    out += " (" + test["id"].get<std::string>() + ")";
  return out;
}

Tally verify_file(const Suite& suite, const fs::path& path) {
  Tally tally;
  const std::string file = suite.file_name();
  auto fail_file = [&](const std::string& what) {
    std::cout << "FAIL " << file << ": " << printable(what) << "\n";
    ++tally.failures;
  };

  const std::optional<std::string> text = read_file(path);
  if (!text) {
    fail_file("cannot be read (missing or unreadable)");
    return tally;
  }
  Json root;
  try {
    root = Json::parse(*text);
  } catch (const Json::exception& e) {
    fail_file(std::string("is not valid JSON: ") + e.what());
    return tally;
  }
  check_file_members(suite, root, fail_file);
  if (!root.is_object() || !root.contains("testGroups") || !root["testGroups"].is_array()) {
    fail_file("testGroups must be an array");
    return tally;
  }
  const Json empty_notes = Json::object();
  const Json& notes = root.contains("notes") ? root["notes"] : empty_notes;

  std::set<std::string> ids;
  bool has_valid = false;
  bool has_invalid = false;
  const Json& groups = root["testGroups"];
  for (size_t g = 0; g < groups.size(); ++g) {
    const Json& group = groups[g];
    const std::string where = "testGroups[" + std::to_string(g) + "]";
    if (!group.is_object() || !group.contains("tests") || !group["tests"].is_array()) {
      fail_file(where + " must be an object with a tests array");
      continue;
    }
    const Json& tests = group["tests"];
    const GroupKind* kind = nullptr;
    const std::string type = group.contains("type") && group["type"].is_string()
                                 ? group["type"].get<std::string>()
                                 : std::string();
    for (const GroupKind& candidate : suite.group_kinds)
      if (candidate.type == type) kind = &candidate;
    if (!kind) {
      fail_file(where + " has unknown type \"" + type + "\"; its " + std::to_string(tests.size()) +
                " test cases count as failed");
      tally.tests += tests.size();
      tally.failures += tests.size();
      continue;
    }
    for (const Json& test : tests) {
      ++tally.tests;
      Findings findings;
      try {
        check_test_members(test, tally.tests, notes, ids, findings);
        (read_expects_valid(test) ? has_valid : has_invalid) = true;
        kind->check(group, test, findings);
      } catch (const std::exception& e) {
        // MalformedVector from the readers, or a JSON type error a reader did not foresee: a
        // file edited by hand is reported, never a reason to stop.
        findings.add(std::string("malformed test case: ") + e.what());
      }
      if (findings.empty()) continue;
      ++tally.failures;
      std::string line = describe_test(test) + ": ";
      for (size_t i = 0; i < findings.differences().size(); ++i)
        line += (i ? "; " : "") + findings.differences()[i];
      std::cout << "FAIL " << file << " " << printable(line) << "\n";
    }
  }
  try {
    const uint64_t declared = read_uint(root, "numberOfTests");
    if (declared != tally.tests)
      fail_file("numberOfTests is " + std::to_string(declared) + " but the file holds " +
                std::to_string(tally.tests) + " test cases");
  } catch (const MalformedVector& e) {
    fail_file(e.what());
  }
  if (!has_valid || !has_invalid) fail_file("must hold both valid and invalid test cases");
  return tally;
}

}  // namespace

int generate_all(const fs::path& out_dir) {
  std::error_code error;
  fs::create_directories(out_dir, error);
  if (error) {
    std::cerr << "opsync-vectors generate: cannot create " << out_dir << ": " << error.message()
              << "\n";
    return 1;
  }
  for (const Suite& suite : all_suites()) {
    Json file;
    try {
      file = suite.generate();
    } catch (const std::exception& e) {
      std::cerr << "opsync-vectors generate: " << suite.file_name() << ": " << e.what() << "\n";
      return 1;
    }
    const fs::path path = out_dir / suite.file_name();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << render(file);
    out.close();
    if (!out) {
      std::cerr << "opsync-vectors generate: cannot write " << path << "\n";
      return 1;
    }
    std::cout << "wrote " << path.string() << " (" << file["numberOfTests"].get<uint64_t>()
              << " test cases)\n";
  }
  return 0;
}

int verify_all(const fs::path& dir) {
  const std::vector<Suite> suites = all_suites();
  uint64_t tests = 0;
  uint64_t failures = 0;

  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    std::cout << "FAIL " << dir.string() << " is not a directory\n";
    return 1;
  }
  // A vector file this program does not know would silently go unchecked.
  std::set<std::string> known;
  for (const Suite& suite : suites) known.insert(suite.file_name());
  std::set<std::string> unknown;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error))
    if (entry.path().extension() == ".json" && !known.count(entry.path().filename().string()))
      unknown.insert(entry.path().filename().string());
  if (error) {
    std::cout << "FAIL cannot list " << dir.string() << ": " << error.message() << "\n";
    return 1;
  }
  for (const std::string& name : unknown) {
    std::cout << "FAIL " << name << ": unknown vector file (no suite checks it)\n";
    ++failures;
  }

  std::ostringstream summary;
  for (const Suite& suite : suites) {
    const Tally tally = verify_file(suite, dir / suite.file_name());
    tests += tally.tests;
    failures += tally.failures;
    summary << (tally.failures ? "FAIL " : "ok   ") << suite.file_name() << ": " << tally.tests
            << " test cases";
    if (tally.failures)
      summary << ", " << tally.failures << (tally.failures == 1 ? " failure" : " failures");
    summary << "\n";
  }
  std::cout << summary.str();
  std::cout << "opsync-vectors verify: " << tests << " test cases in " << suites.size()
            << " files, "
            << (failures == 0   ? "all passed"
                : failures == 1 ? "1 failure"
                                : std::to_string(failures) + " failures")
            << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace opsync::vectors
