#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace sluice::test {

// A real Redis Sentinel (redis-server --sentinel) on 127.0.0.1 and a free port,
// watching the master at `master_port` as `name`, with short failure detection
// (down after 1 s) so a failover fits in a test. Its config file, which Sentinel
// rewrites, lives in a temp folder of its own. Stopped on destruction.
class redis_sentinel {
  public:
    redis_sentinel(std::uint16_t master_port, std::string name = "mymaster", int quorum = 2);
    ~redis_sentinel();
    redis_sentinel(const redis_sentinel&) = delete;
    redis_sentinel& operator=(const redis_sentinel&) = delete;

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    // The master's port as this sentinel sees it now (0 when it names none).
    std::uint16_t master_port() const;
    std::string cli(const std::vector<std::string>& args) const;

  private:
    std::uint16_t port_ = 0;
    std::string dir_;
    std::string name_;
    std::unique_ptr<child_process> process_;
};

}  // namespace sluice::test
