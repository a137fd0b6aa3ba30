#pragma once

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

    struct outcome {
        response res;
        std::string_view route;  // the matched pattern, or "unmatched"
    };

    // Routes `req` and runs its handler, which finds `worker` (what the serving I/O
    // thread lends) in its request context. Never throws: no route is 404, a wrong
    // method 405 with Allow, and a handler that throws is logged and answered 500.
    boost::asio::awaitable<outcome> dispatch(const request& req, const worker_slot& worker) const;

  private:
    router router_;
    std::vector<handler> handlers_;
};

}  // namespace sluice::http
