#include "redis/script.hpp"

#include "redis/error.hpp"

#include <openssl/sha.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::redis {
namespace {

std::vector<std::string_view> eval_argv(std::string_view verb, std::string_view body,
                                        const std::vector<std::string_view>& keys,
                                        const std::vector<std::string_view>& args,
                                        std::string& key_count) {
    key_count = std::to_string(keys.size());
    std::vector<std::string_view> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back(verb);
    argv.push_back(body);
    argv.push_back(key_count);
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

}  // namespace

script::script(std::string source) : source_(std::move(source)) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned char b : digest) {
        sha1_ += hex[b >> 4];
        sha1_ += hex[b & 0xf];
    }
}

boost::asio::awaitable<std::tuple<boost::system::error_code, reply>> eval(
    client& c, const script& s, const std::vector<std::string_view>& keys,
    const std::vector<std::string_view>& args, bool replicated) {
    constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    std::string key_count;
    request sha(eval_argv("EVALSHA", s.sha1(), keys, args, key_count));
    if (replicated) sha.replicate();
    auto [ec, r] = co_await c.async_exec(std::move(sha), use_tuple);
    // Named results, not braced temporaries in co_return (GCC 12 coroutine bug).
    std::tuple<boost::system::error_code, reply> out(ec, std::move(r));
    bool answered = !ec || ec == error::not_replicated;
    if (!answered || !std::get<1>(out).is_error() || !std::get<1>(out).str.starts_with("NOSCRIPT"))
        co_return out;
    request full(eval_argv("EVAL", s.source(), keys, args, key_count));
    if (replicated) full.replicate();
    auto [ec2, r2] = co_await c.async_exec(std::move(full), use_tuple);
    out = std::tuple<boost::system::error_code, reply>(ec2, std::move(r2));
    co_return out;
}

}  // namespace sluice::redis
