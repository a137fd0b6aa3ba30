#include "support/redis_sentinel.hpp"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/free_port.hpp"
#include "support/redis_server.hpp"

namespace sluice::test {

redis_sentinel::redis_sentinel(std::uint16_t master_port, std::string name, int quorum)
    : name_(std::move(name)) {
    char tmpl[] = "/tmp/sluice-test-sentinel-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = free_port();
    auto conf = dir_ + "/sentinel.conf";
    std::ofstream(conf) << "port " << port_ << "\nbind 127.0.0.1\ndir " << dir_
                        << "\nsentinel monitor " << name_ << " 127.0.0.1 " << master_port << ' '
                        << quorum << "\nsentinel down-after-milliseconds " << name_
                        << " 1000\nsentinel failover-timeout " << name_
                        << " 5000\nsentinel parallel-syncs " << name_ << " 1\n";
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{"redis-server", conf, "--sentinel", "--daemonize", "no"});
    for (int i = 0; i < 200; ++i) {
        if (cli({"PING"}) == "PONG") return;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("redis-sentinel did not come up:\n" + process_->output());
}

redis_sentinel::~redis_sentinel() {
    if (process_) {
        process_->signal(SIGKILL);
        process_->wait(std::chrono::seconds(5));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::uint16_t redis_sentinel::master_port() const {
    auto out = cli({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", name_});
    auto nl = out.find('\n');
    if (nl == std::string::npos) return 0;
    try {
        return static_cast<std::uint16_t>(std::stoi(out.substr(nl + 1)));
    } catch (const std::exception&) {
        return 0;
    }
}

std::string redis_sentinel::cli(const std::vector<std::string>& args) const {
    return redis_cli(port_, args);
}

}  // namespace sluice::test
