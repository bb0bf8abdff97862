// opsync-client-adapter: the reference client behind opsync-client-adapter/1
// (spec/client-adapter.md), on standard input and output, for `opsync-sim certify-client`.
//
//   opsync-sim certify-client --adapter "opsync-client-adapter"
//   opsync-sim certify-client --adapter "opsync-client-adapter --variant forget-lost-uploads"
//
// Every random byte comes from the simulator, every clock reading from its events: runs replay
// to the same trace hash. The device's state lives in the start event's directory, as files.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "opsync/adapter/reference_adapter.h"

using namespace opsync;
using namespace opsync::adapter;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitProtocol = 3;

// A fatal break of the protocol by the simulator's side: said on standard error, exit 3.
[[noreturn]] void broken(const std::string& what) {
  std::cerr << "opsync-client-adapter: " << what << std::endl;
  std::exit(kExitProtocol);
}

void write_line(const nlohmann::json& message) {
  std::cout << message.dump() << '\n' << std::flush;
}

SimulatorLine read_line() {
  std::string line;
  if (!std::getline(std::cin, line)) std::exit(0);  // the simulator closed the pipe: done
  Result<SimulatorLine> parsed = simulator_line_from_json(line);
  if (!parsed.ok()) broken("cannot read the simulator's line: " + parsed.error().message);
  return *parsed;
}

// Asks and notices go out as lines; the simulator's answers come back on standard input.
class PipeHost final : public TurnHost {
 public:
  void random(std::span<uint8_t> out) override {
    // Bounded: the spec lets one ask take up to 65536 bytes.
    for (size_t done = 0; done < out.size();) {
      const size_t n = std::min(out.size() - done, kRandomBytesMax);
      write_line({{"type", "random"}, {"bytes", n}});
      const SimulatorLine answer = read_line();
      if (!answer.random || answer.random->size() != n)
        broken("expected " + std::to_string(n) + " random bytes");
      std::copy(answer.random->begin(), answer.random->end(),
                out.begin() + static_cast<std::ptrdiff_t>(done));
      done += n;
    }
  }
  void durable(std::string_view step) override {
    write_line({{"type", "durable"}, {"step", step}});
    if (!read_line().proceed) broken("expected continue after a durable step");
  }
  void committed(const CommitNote& note) override {
    write_line(to_json(note));
    if (!read_line().proceed) broken("expected continue after a commit");
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "opsync-client-adapter: the reference client behind opsync-client-adapter/1 "
      "(spec/client-adapter.md in the "
      "source; /usr/share/doc/opsync/spec/client-adapter.md from the package)"};
  std::string variant = "none";
  std::string defects;
  for (ClientDefect d : all_client_defects())
    defects += (defects.empty() ? "" : ", ") + std::string(client_defect_name(d));
  app.add_option("--variant", variant,
                 "A deliberately broken client, to prove a certification can fail: " + defects);
  app.set_version_flag("--version", std::string("opsync-client-adapter ") + OPSYNC_VERSION);
  CLI11_PARSE(app, argc, argv);
  const std::optional<ClientDefect> defect = client_defect_from_name(variant);
  if (!defect) {
    std::cerr << "opsync-client-adapter: unknown --variant \"" << variant << "\"; the variants are "
              << defects << "\n";
    return kExitUsage;
  }

  ReferenceAdapterOptions options;
  // The process is what the simulator kills; commits need to reach the system, not the disk.
  options.store.durability = client::Durability::kProcess;
  options.defect = *defect;
  ReferenceAdapter adapter(std::move(options));
  PipeHost host;
  // Bounded by the simulator: it ends the process (closing the pipe, or with SIGKILL).
  while (true) {
    const SimulatorLine line = read_line();
    if (!line.event) broken("expected an event, not an answer to nothing");
    write_line(to_json(adapter.on_event(*line.event, line.now, host)));
  }
}
