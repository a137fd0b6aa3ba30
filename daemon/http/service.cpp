#include "http/service.hpp"

#include <exception>

#include "log/logger.hpp"

namespace sluice::http {
namespace {

// A path is the client's: answers echo a bounded piece of it (the JSON writer turns
// bytes that are not UTF-8 into U+FFFD).
std::string echo(std::string_view path) {
    constexpr std::size_t echo_max = 256;
    std::string out(path.substr(0, echo_max));
    if (path.size() > echo_max) out += "...";
    return out;
}

}  // namespace

void service::route(std::string_view method, std::string_view pattern, handler h) {
    auto index = router_.add(method, pattern);
    if (handlers_.size() <= index) handlers_.resize(index + 1);
    handlers_[index] = std::move(h);
}

boost::asio::awaitable<service::outcome> service::dispatch(const request& req,
                                                           const worker_slot& worker,
                                                           const peer_info& from) const {
    std::string_view target = req.target();
    auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::string_view query =
        q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    // Responses are built into named locals before co_return: GCC 12 destroys
    // temporaries of braced initializers inside co_return/co_await twice.
    route_params params;
    auto m = router_.match(req.method_string(), path, params);
    if (m.result == router::match_result::outcome::not_found) {
        problem p{404, "not_found", "No such resource", "no route for " + echo(path), {}};
        outcome out{make_problem(p), "unmatched"};
        co_return out;
    }
    if (m.result == router::match_result::outcome::method_not_allowed) {
        problem p{405,
                  "method_not_allowed",
                  "Method not allowed",
                  std::string(req.method_string()) + " is not allowed on " + echo(path) +
                      "; allowed: " + m.allow,
                  {}};
        outcome out{make_problem(p), "unmatched"};
        out.res.set(beast_http::field::allow, m.allow);
        co_return out;
    }

    admission admitted;
    if (gate_) {
        admitted = gate_(req, m.pattern, params, from);
        if (admitted.refused) {
            outcome out{std::move(*admitted.refused), m.pattern};
            co_return out;
        }
    }
    request_context ctx{req, params, path, query, worker, admitted.who, from.address};
    response res;
    bool failed = false;
    try {
        res = co_await handlers_[m.route](ctx);
    } catch (const std::exception& e) {
        log::error("handler failed", {{"route", m.pattern}, {"error", e.what()}});
        failed = true;
    } catch (...) {
        log::error("handler failed", {{"route", m.pattern}, {"error", "unknown exception"}});
        failed = true;
    }
    if (failed) {
        problem p{500,
                  "internal_error",
                  "Internal server error",
                  "the request could not be handled; see the server log",
                  {}};
        res = make_problem(p);
    }
    outcome out{std::move(res), m.pattern};
    co_return out;
}

}  // namespace sluice::http
