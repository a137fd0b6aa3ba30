#pragma once

#include <sys/types.h>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

// A program started by a test, with its stdout and stderr going to a file the test
// can read. Killed (SIGKILL) on destruction if still running.
class child_process {
  public:
    // `env` entries are added to (or replace) the test's own environment.
    child_process(std::vector<std::string> argv,
                  std::vector<std::pair<std::string, std::string>> env = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig);

    // The exit code, or 128 + signal number; nullopt if still running after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout);

    // Resident memory (VmRSS) in KiB, from /proc; 0 when it cannot be read.
    long resident_kib() const;

    // Everything the process printed so far (stdout and stderr together).
    std::string output() const;

    // Waits until output() contains `needle`; false after `timeout`.
    bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) const;

  private:
    pid_t pid_ = -1;
    std::string log_path_;
    std::optional<int> status_;
};

}  // namespace sluice::test
