// Always-on invariant checks.
//
// OPSYNC_CHECK guards preconditions, postconditions and states that must never happen. Unlike
// assert() it stays in release builds: a broken invariant in a sync protocol silently corrupts data
// on other machines, which is far worse than stopping. Invalid *input* is never checked this way;
// input errors are returned as opsync::Error values (see result.h).
#pragma once

namespace opsync::detail {

[[noreturn]] void check_failed(const char* expression, const char* file, int line,
                               const char* message);

}  // namespace opsync::detail

#define OPSYNC_CHECK(condition)                                                \
  do {                                                                         \
    if (!(condition)) [[unlikely]]                                             \
      ::opsync::detail::check_failed(#condition, __FILE__, __LINE__, nullptr); \
  } while (false)

#define OPSYNC_CHECK_MSG(condition, message)                                     \
  do {                                                                           \
    if (!(condition)) [[unlikely]]                                               \
      ::opsync::detail::check_failed(#condition, __FILE__, __LINE__, (message)); \
  } while (false)
