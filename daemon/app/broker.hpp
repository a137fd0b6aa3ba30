#pragma once

#include <string>

#include "config/loader.hpp"

namespace sluice::app {

// The running daemon: loads the schemas, starts the HTTP server and the Redis health
// client, and handles signals (SIGTERM/SIGINT drain and exit, SIGHUP reload).
// Signals, reload and Redis health run on the main thread's control io_context;
// HTTP runs on the server's own I/O threads.
class broker {
  public:
    broker(config::settings settings, std::string config_path, config::env_lookup env);

    // Runs until a drain finishes. Returns the process exit code: 0 after a clean
    // stop, 1 when the listener cannot start, 2 when the schemas cannot be loaded.
    int run();

  private:
    config::settings settings_;
    std::string config_path_;
    config::env_lookup env_;
};

}  // namespace sluice::app
