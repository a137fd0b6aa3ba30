#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "redis/client.hpp"

namespace sluice::redis {

// A Lua script known by its SHA1, so it travels as EVALSHA: the source is sent only
// when Redis does not have it cached (after a restart or SCRIPT FLUSH). Immutable;
// share one instance between threads.
class script {
  public:
    explicit script(std::string source);
    const std::string& source() const { return source_; }
    const std::string& sha1() const { return sha1_; }  // lowercase hex

  private:
    std::string source_;
    std::string sha1_;
};

// Runs `s` with `keys` and `args`: EVALSHA first, and EVAL (which also caches the
// script) when Redis answers NOSCRIPT. Completes like client::async_exec. With
// `replicated`, the script's writes count only once replicas have them
// (request::replicate(): error::not_replicated, with the script's reply, when too few).
boost::asio::awaitable<std::tuple<boost::system::error_code, reply>> eval(
    client& c, const script& s, const std::vector<std::string_view>& keys,
    const std::vector<std::string_view>& args, bool replicated = false);

}  // namespace sluice::redis
