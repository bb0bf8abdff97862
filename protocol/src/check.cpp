#include "opsync/protocol/check.h"

#include <cstdio>
#include <cstdlib>

namespace opsync::detail {

void check_failed(const char* expression, const char* file, int line, const char* message) {
  std::fprintf(stderr, "opsync: invariant violated at %s:%d: %s%s%s\n", file, line, expression,
               message ? " -- " : "", message ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace opsync::detail
