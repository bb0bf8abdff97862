// Finds plaintext in bytes the server receives or stores (SEC-001, CRY-024).
//
// The simulator knows every plaintext of a run: keys, values and file names as they appear in
// payload JSON, file contents, passwords and passphrases. It indexes 16-byte windows of them
// (every 8th of a text, and its last; every 64th of a file) and scans bytes at every offset
// against the index, with a bitmap in front of it so that most offsets cost one load and one
// test. A leaked key, value or name is found whole, and so is any run of one at least 23 bytes
// long; a leaked run of a file is found when it is at least 79 bytes long. 16-byte windows of
// random text and ciphertext meet by chance with probability about 2^-96 per offset, so a report is
// a real leak.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "opsync/protocol/bytes.h"

namespace opsync::simulator {

class PlaintextScanner {
 public:
  PlaintextScanner();

  // `what` names the plaintext in a report ("value of edit 17", "file F..."). Texts shorter than
  // 16 bytes are not indexed.
  void add_text(ByteView text, const std::string& what);
  void add_file(ByteView content, const std::string& what);

  // The first plaintext found in `bytes`, or nullopt.
  std::optional<std::string> scan(ByteView bytes) const;
  size_t indexed_windows() const { return windows_.size(); }

 private:
  void add_window(const uint8_t* at, const std::string& what);

  struct Window {
    uint64_t second;  // bytes 8..15 of the window
    uint32_t what;    // index into names_
  };
  std::vector<uint64_t> bitmap_;                       // over a hash of the first 8 bytes
  std::unordered_multimap<uint64_t, Window> windows_;  // keyed by bytes 0..7
  std::vector<std::string> names_;
};

}  // namespace opsync::simulator
