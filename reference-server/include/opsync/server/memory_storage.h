// An in-memory backend for fast simulation and fuzzing. A model-based test
// (tests/storage_model_test.cpp) runs random request sequences against this backend and the
// SQLite one and requires byte-identical responses.
#pragma once

#include <memory>

#include "opsync/server/storage.h"

namespace opsync::server {

class MemoryStorage final : public Storage {
 public:
  MemoryStorage();
  ~MemoryStorage() override;

  Status read(const std::function<void(Transaction&)>& body) override;
  Status write(const std::function<bool(Transaction&)>& body) override;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace opsync::server
