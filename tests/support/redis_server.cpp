#include "support/redis_server.hpp"

#include <signal.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "support/free_port.hpp"

namespace sluice::test {

redis_server::redis_server(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
    char tmpl[] = "/tmp/sluice-test-redis-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    // Another process may take the free port between our check and redis's bind: retry.
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_port();
        try {
            start();
            return;
        } catch (const std::exception&) {
            process_.reset();
        }
    }
    throw std::runtime_error("could not start redis-server");
}

redis_server::~redis_server() {
    if (process_) {
        process_->signal(SIGCONT);
        process_->signal(SIGKILL);
        process_->wait(std::chrono::seconds(5));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void redis_server::start() {
    std::vector<std::string> argv{
        "redis-server", "--bind", "127.0.0.1",    "--port", std::to_string(port_), "--dir", dir_,
        "--save",       "",       "--appendonly", "no",     "--daemonize",         "no"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    process_ = std::make_unique<child_process>(argv);
    for (int i = 0; i < 200; ++i) {
        if (answers()) return;
        if (process_->wait(std::chrono::milliseconds(0))) break;  // exited: port taken?
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("redis-server did not come up:\n" + process_->output());
}

void redis_server::kill() {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(5));
}

void redis_server::pause() {
    process_->signal(SIGSTOP);
}
void redis_server::resume() {
    process_->signal(SIGCONT);
}

std::string redis_cli(std::uint16_t port, const std::vector<std::string>& args) {
    std::string cmd = "redis-cli -p " + std::to_string(port);
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        std::array<char, 4096> buf{};
        while (auto n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
        ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

std::string redis_server::cli(const std::vector<std::string>& args) const {
    return redis_cli(port_, args);
}

bool redis_server::answers() const {
    // With a password set, PING answers NOAUTH: the server is up all the same.
    auto reply = cli({"ping"});
    return reply == "PONG" || reply.find("NOAUTH") != std::string::npos;
}

}  // namespace sluice::test
