#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "http/message.hpp"
#include "http/router.hpp"

namespace sluice::http {

// The routes of the HTTP API and their handlers. Built once before the server
// starts, then read-only: safe to use from every I/O thread.
class service {
  public:
    // Throws std::invalid_argument on a malformed or duplicate route.
    void route(std::string_view method, std::string_view pattern, handler h);

    // What a gate decides before a matched route's handler runs: an answer that ends
    // the request (401, 403), or who sent it, kept alive by `keep` while it is served.
    struct admission {
        std::optional<response> refused;
        const auth::principal* who = nullptr;
        std::shared_ptr<const void> keep;
    };
    // Called with the request, its matched route pattern (e.g.
    // "/v1/streams/{type}/events") and parameters, and what its connection tells of
    // the sender. Set before the server starts.
    using gate = std::function<admission(const request& req, std::string_view pattern,
                                         const route_params& params, const peer_info& from)>;
    void set_gate(gate g) { gate_ = std::move(g); }

    struct outcome {
        response res;
        std::string_view route;  // the matched pattern, or "unmatched"
    };

    // Routes `req` and runs its handler, which finds `worker` (what the serving I/O
    // thread lends) in its request context. Never throws: no route is 404, a wrong
    // method 405 with Allow, and a handler that throws is logged and answered 500.
    // `from`: the sender as its connection tells (for the gate, rate limits and logs).
    boost::asio::awaitable<outcome> dispatch(const request& req, const worker_slot& worker,
                                             const peer_info& from = {}) const;

  private:
    router router_;
    std::vector<handler> handlers_;
    gate gate_;
};

}  // namespace sluice::http
