#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>

namespace sluice::test {

// Runs the coroutine `body()` on `ctx` until it finishes (at most 60 s, then the test
// fails), rethrowing what it threw, so REQUIREs inside it fail the test.
template <typename F>
void run_coroutine(boost::asio::io_context& ctx, F body) {
    bool done = false;
    std::exception_ptr failure;
    boost::asio::co_spawn(ctx, body(), [&](std::exception_ptr e) {
        failure = e;
        done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done && std::chrono::steady_clock::now() < deadline)
        ctx.run_for(std::chrono::milliseconds(50));
    REQUIRE(done);
    if (failure) std::rethrow_exception(failure);
}

}  // namespace sluice::test
