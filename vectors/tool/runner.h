// The two subcommands: write every vector file, and check the library against every test case.
#pragma once

#include <filesystem>

namespace opsync::vectors {

// Writes every vector file into `out_dir` (created if needed). Returns the exit code.
int generate_all(const std::filesystem::path& out_dir);

// Checks every vector file in `dir`, printing one line per failing test case and a summary.
// Returns 0 only when every file is present and known and every test case passes.
int verify_all(const std::filesystem::path& dir);

}  // namespace opsync::vectors
