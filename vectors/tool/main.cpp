// opsync-vectors: writes the language-neutral test vectors of vectors/ and checks the protocol
// library against them. See vectors/README.md.
#include <CLI/CLI.hpp>
#include <string>

#include "runner.h"

int main(int argc, char** argv) {
  CLI::App app{"Writes and checks the OpSync v1 test vectors (see vectors/README.md)."};
  app.require_subcommand(1);

  std::string out_dir;
  CLI::App* generate = app.add_subcommand(
      "generate", "Write every vector file; the output is the same on every run");
  generate->add_option("--out", out_dir, "Directory to write the vector files into")->required();

  std::string dir;
  CLI::App* verify = app.add_subcommand(
      "verify", "Check the library against every test case of the vector files in DIR");
  verify->add_option("DIR", dir, "Directory holding the vector files")->required();

  CLI11_PARSE(app, argc, argv);
  if (generate->parsed()) return opsync::vectors::generate_all(out_dir);
  return opsync::vectors::verify_all(dir);
}
