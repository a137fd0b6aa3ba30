#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace sluice::test {

// Runs redis-cli against 127.0.0.1:`port` and returns its output (trimmed).
std::string redis_cli(std::uint16_t port, const std::vector<std::string>& args);

// A real redis-server on 127.0.0.1 and a free port, with its data in a fresh temp
// folder, for one test. Stopped (and its folder removed) on destruction.
class redis_server {
  public:
    // `extra_args` go to redis-server as given, e.g. {"--requirepass", "secret"}.
    explicit redis_server(std::vector<std::string> extra_args = {});
    ~redis_server();

    std::uint16_t port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

    // Stops the server (SIGKILL, like a crash) and waits until the port is closed.
    void kill();
    // Starts it again on the same port and waits until it answers PING.
    void start();
    // SIGSTOP / SIGCONT: a server that stops answering but keeps its connections.
    void pause();
    void resume();

    // Runs redis-cli against the server and returns its output (trimmed).
    std::string cli(const std::vector<std::string>& args) const;

  private:
    bool answers() const;

    std::uint16_t port_;
    std::string dir_;
    std::vector<std::string> extra_args_;
    std::unique_ptr<child_process> process_;
};

}  // namespace sluice::test
