// A device's client as a process: opsync-client-adapter/1's JSON lines over pipes
// (spec/client-adapter.md). Everything here is about the pipes and the process; what the lines
// mean is the adapter library's (messages.h) and what the simulator does with them the device
// node's (client_node.cpp).
#include "process_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "opsync/protocol/check.h"

extern char** environ;

namespace opsync::simulator::tool {
namespace {

constexpr size_t kLineBytesMax = size_t{256} << 20;  // a state dump with every file's content fits
constexpr size_t kStderrLinesKept = 20;
constexpr size_t kStderrLineBytesMax = 2000;
constexpr size_t kReadChunkBytes = 1 << 16;
// Asks and notices within one turn: far more than a client needs (a sync's durable steps, its
// random draws), few enough that an adapter in a loop is stopped by them before the turn timeout.
constexpr uint64_t kLinesPerTurnMax = 1'000'000;

std::string errno_text() { return std::strerror(errno); }

// A pipe end that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2];
  // Close-on-exec: one device's process must not hold another's pipes, or a dead adapter's
  // standard output would never read as closed.
  OPSYNC_CHECK_MSG(::pipe2(fds, O_CLOEXEC) == 0, "cannot make a pipe");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

class ProcessChannel final : public AdapterChannel {
 public:
  ProcessChannel(const std::string& command, const ChannelRequest& request,
                 uint64_t turn_timeout_ms)
      : device_(request.name), turn_timeout_ms_(turn_timeout_ms) {
    std::error_code ec;
    std::filesystem::create_directories(request.dir, ec);
    if (ec)
      throw ChannelBroken{"cannot make the device's directory " + request.dir + ": " +
                          ec.message()};
    Pipe in = make_pipe();
    Pipe out = make_pipe();
    Pipe err = make_pipe();

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.read.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out.write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.write.get(), STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // Its own process group: a kill reaches whatever `sh -c` started, not only the shell.
    posix_spawnattr_setpgroup(&attributes, 0);
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    posix_spawnattr_setflags(&attributes, flags);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);

    std::string sh = "sh";
    std::string dash_c = "-c";
    std::string line = command;
    char* argv[] = {sh.data(), dash_c.data(), line.data(), nullptr};
    const int spawned = ::posix_spawn(&pid_, "/bin/sh", &actions, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (spawned != 0)
      throw ChannelBroken{"cannot start the adapter: " + std::string(std::strerror(spawned))};
    pgid_ = pid_;  // the process group it leads (setpgroup 0)

    to_child_ = std::move(in.write);
    from_child_ = std::move(out.read);
    errors_ = std::move(err.read);
    ::fcntl(from_child_.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(errors_.get(), F_SETFL, O_NONBLOCK);
  }

  ~ProcessChannel() override {
    // SIGKILL to the whole group, as ADP-070 says (also at the end of a run, when nothing is left
    // for the adapter). `sh -c` may keep the adapter as its child: the next process of the device
    // must not start before every process of this one is gone, or it finds the store still locked
    // by a dying one. This process is their subreaper (process_channels), so it can wait for all.
    if (pgid_ > 0) {
      ::kill(-pgid_, SIGKILL);
      int status = 0;
      // Bounded: the group's processes are killed and cannot make new ones.
      while (true) {
        const pid_t reaped = ::waitpid(-pgid_, &status, 0);
        if (reaped > 0 || (reaped < 0 && errno == EINTR)) continue;
        break;  // ECHILD: none of the group is left
      }
    }
  }

  adapter::Yield turn(const adapter::Event& event, client::DeviceTime now,
                      adapter::TurnHost& host) override {
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(turn_timeout_ms_);
    // ADP-010: nothing after a yield until the next event.
    drain(false);
    if (!pending_.empty())
      fail("wrote after its yield, before the next event (ADP-010): " + first_line_of(pending_));
    send(adapter::to_json(event, now).dump());
    // Bounded: every line comes within the deadline, and at most kLinesPerTurnMax of them.
    for (uint64_t lines = 0; lines < kLinesPerTurnMax; ++lines) {
      const std::string line = next_line();
      Result<adapter::AdapterLine> parsed = adapter::adapter_line_from_json(line);
      if (!parsed.ok())
        fail("a line that is not one of the protocol's messages (ADP-080): " +
             parsed.error().message);
      switch (parsed->kind) {
        case adapter::AdapterLine::Kind::kYield:
          return std::move(parsed->yield);
        case adapter::AdapterLine::Kind::kCommit:
          host.committed(parsed->commit);  // may throw DeviceKilled: the process dies at this step
          send(adapter::continue_answer().dump());
          break;
        case adapter::AdapterLine::Kind::kDurable:
          host.durable(parsed->text);
          send(adapter::continue_answer().dump());
          break;
        case adapter::AdapterLine::Kind::kRandom: {
          Bytes bytes(parsed->random_bytes);
          host.random(bytes);
          send(adapter::random_answer(bytes).dump());
          break;
        }
        case adapter::AdapterLine::Kind::kLog:
          keep(log_lines_, parsed->text);
          break;
      }
    }
    fail("more than " + std::to_string(kLinesPerTurnMax) +
         " asks and notices in one turn without a yield");
  }

  std::string diagnostics() override {
    drain(false);
    return diagnostic_lines();
  }

 private:
  using Clock = std::chrono::steady_clock;

  [[noreturn]] void fail(const std::string& message) {
    drain(true);
    throw ChannelBroken{message + diagnostic_lines()};
  }

  std::string diagnostic_lines() const {
    std::string text;
    if (!log_lines_.empty()) {
      text += "\n  its last log lines:";
      for (const std::string& l : log_lines_) text += "\n    " + l;
    }
    if (!stderr_lines_.empty() || !stderr_partial_.empty()) {
      text += "\n  the last lines of its standard error:";
      for (const std::string& l : stderr_lines_) text += "\n    " + l;
      if (!stderr_partial_.empty()) text += "\n    " + stderr_partial_;
    } else {
      text += "\n  (nothing on its standard error)";
    }
    return text;
  }

  static std::string first_line_of(const std::string& text) {
    const std::string line = text.substr(0, text.find('\n'));
    return line.size() > 200 ? line.substr(0, 200) + "..." : line;
  }

  static void keep(std::deque<std::string>& lines, std::string line) {
    if (line.size() > kStderrLineBytesMax) line = line.substr(0, kStderrLineBytesMax) + "...";
    lines.push_back(std::move(line));
    if (lines.size() > kStderrLinesKept) lines.pop_front();
  }

  // The process's end, in words, once its standard output closed.
  std::string exit_text() {
    int status = 0;
    pid_t got = 0;
    // Bounded: its output closed, so it is exiting; a process that closed its output and lives
    // on is killed after a second.
    for (int tries = 0; tries < 100; ++tries) {
      got = ::waitpid(pid_, &status, WNOHANG);
      if (got != 0) break;
      ::usleep(10'000);
    }
    if (got == 0) return "closed its standard output";
    pid_ = -1;
    if (got < 0) return "ended";
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "died of signal " + std::to_string(WTERMSIG(status)) + " (" +
             strsignal(WTERMSIG(status)) + ")";
    return "ended";
  }

  void send(const std::string& line) {
    std::string data = line;
    data.push_back('\n');
    size_t done = 0;
    // Bounded: each write moves at least one byte or fails.
    while (done < data.size()) {
      const ssize_t n = ::write(to_child_.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        fail("its standard input closed (" + errno_text() + "): the adapter " + exit_text() +
             " (ADP-080)");
      done += static_cast<size_t>(n);
    }
  }

  // Reads what is there on both pipes; with `until_closed`, also waits a little for the last of
  // its standard error (a process that just died).
  void drain(bool until_closed) {
    const auto until = Clock::now() + std::chrono::milliseconds(until_closed ? 200 : 0);
    bool more = true;
    while (more) {
      more = read_errors();
      char buffer[kReadChunkBytes];
      const ssize_t n = ::read(from_child_.get(), buffer, sizeof buffer);
      if (n > 0 && pending_.size() < kLineBytesMax) {
        pending_.append(buffer, static_cast<size_t>(n));
        more = true;
      }
      if (!more && until_closed && Clock::now() < until) {
        pollfd fd{errors_.get(), POLLIN, 0};
        more = ::poll(&fd, 1, 20) > 0;
      }
    }
  }

  // True when it read something.
  bool read_errors() {
    char buffer[4096];
    const ssize_t n = ::read(errors_.get(), buffer, sizeof buffer);
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        keep(stderr_lines_, std::move(stderr_partial_));
        stderr_partial_.clear();
      } else if (stderr_partial_.size() < kStderrLineBytesMax) {
        stderr_partial_.push_back(buffer[i]);
      }
    }
    return true;
  }

  // The next line of its standard output, waiting at most until the turn's deadline.
  std::string next_line() {
    // Bounded by the deadline: each pass reads, or polls until the deadline.
    while (true) {
      const size_t end = pending_.find('\n');
      if (end != std::string::npos) {
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        return line;
      }
      if (pending_.size() >= kLineBytesMax)
        fail("a line longer than " + std::to_string(kLineBytesMax >> 20) + " MiB (ADP-080)");
      const auto now = Clock::now();
      if (now >= deadline_)
        fail("no yield within its turn's " + std::to_string(turn_timeout_ms_) +
             " ms of wall time: a hang (ADP-011)");
      const auto left_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now).count() + 1;
      pollfd fds[2] = {{from_child_.get(), POLLIN, 0}, {errors_.get(), POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(left_ms));
      if (ready < 0 && errno != EINTR) fail("cannot wait for the adapter: " + errno_text());
      if (ready <= 0) continue;
      if (fds[1].revents & POLLIN) read_errors();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buffer[kReadChunkBytes];
        const ssize_t n = ::read(from_child_.get(), buffer, sizeof buffer);
        if (n == 0) {
          fail("the adapter " + exit_text() + " in the middle of a turn (ADP-080)" +
               (pending_.empty()
                    ? ""
                    : "; its last output had no line end: " + first_line_of(pending_)));
        }
        if (n > 0) pending_.append(buffer, static_cast<size_t>(n));
      }
    }
  }

  std::string device_;
  uint64_t turn_timeout_ms_;
  pid_t pid_ = -1;   // the shell; -1 once reaped
  pid_t pgid_ = -1;  // its process group, which every process of the adapter is in
  Fd to_child_;
  Fd from_child_;
  Fd errors_;
  std::string pending_;  // read from its standard output, not yet taken as lines
  std::deque<std::string> stderr_lines_;
  std::string stderr_partial_;
  std::deque<std::string> log_lines_;
  Clock::time_point deadline_;
};

}  // namespace

ChannelFactory process_channels(std::string command, uint64_t turn_timeout_ms) {
  // A write to the pipe of an adapter that died must be an error to report, not this process's end.
  ::signal(SIGPIPE, SIG_IGN);
  // The adapters' orphans (what `sh -c` started, once the shell is killed) become this process's
  // children, so that a kill can wait until every one of them is gone.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  return [command = std::move(command), turn_timeout_ms](const ChannelRequest& request) {
    return std::make_unique<ProcessChannel>(command, request, turn_timeout_ms);
  };
}

}  // namespace opsync::simulator::tool
