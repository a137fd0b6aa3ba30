#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "support/child_process.hpp"
#include "support/http_client.hpp"

namespace sluice::test {

// A temp folder holding a config for one broker on a free port (unless `extra` has a
// listen section of its own), with the project's example schemas unless `schemas_dir`
// says otherwise. Removed afterwards.
struct broker_config {
    std::filesystem::path dir;
    std::filesystem::path file;
    std::uint16_t port;
    std::string schemas_dir;

    explicit broker_config(const std::string& redis_url, const std::string& extra = {},
                           std::string schemas = SLUICE_SOURCE_DIR "/schemas");
    ~broker_config();
    void write(const std::string& redis_url, const std::string& extra) const;
};

// Starts the real `sluice` binary with `c` and waits for its "listening" line.
std::unique_ptr<child_process> start_broker(const broker_config& c);

// Polls GET `path` until it answers `status`; returns the last reply.
http_reply wait_for_status(std::uint16_t port, const std::string& path, unsigned status,
                           std::chrono::milliseconds timeout);

}  // namespace sluice::test
