#include "app/endpoints.hpp"

#include "app/readiness.hpp"
#include "catalog/holder.hpp"
#include "json/write.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"

namespace sluice::app {
namespace {}  // namespace

void add_operational_endpoints(http::service& api, const readiness& ready,
                               const catalog::holder& catalogs, metrics::registry& metrics,
                               const auth::holder& auth) {
    using http::response;
    constexpr std::string_view json = "application/json";

    api.route("GET", "/healthz",
              [](const http::request_context&) -> boost::asio::awaitable<response> {
                  co_return http::make_response(200, R"({"status":"ok"})", json);
              });

    api.route(
        "GET", "/readyz",
        [&ready, &catalogs,
         &auth](const http::request_context&) -> boost::asio::awaitable<response> {
            auto reasons = ready.reasons_not_ready();
            if (reasons.empty()) {
                auto cat = catalogs.get();
                auto a = auth.get();
                co_return http::make_response(
                    200,
                    R"({"status":"ready","redis":"up","schemas":{"types":)" +
                        std::to_string(cat->types.size()) + R"(,"versions":)" +
                        std::to_string(cat->version_count()) + R"(},"auth":)" +
                        (a && a->enabled() ? R"("enabled")" : R"("disabled")") + "}",
                    json);
            }
            std::string detail, list;
            for (const auto& r : reasons) {
                detail += detail.empty() ? r : "; " + r;
                list += list.empty() ? json::quoted(r) : "," + json::quoted(r);
            }
            http::problem p{503, "not_ready", "Not ready", detail, R"("reasons":[)" + list + "]"};
            auto res = http::make_problem(p);
            res.set(http::beast_http::field::retry_after, "1");
            co_return res;
        });

    api.route("GET", "/metrics",
              [&metrics](const http::request_context&) -> boost::asio::awaitable<response> {
                  co_return http::make_response(200, metrics.serialize(),
                                                "text/plain; version=0.0.4; charset=utf-8");
              });

    api.route(
        "GET", "/v1/version", [](const http::request_context&) -> boost::asio::awaitable<response> {
            co_return http::make_response(
                200,
                R"({"name":"sluice","version":)" + json::quoted(metrics::build_info::version()) +
                    R"(,"commit":)" + json::quoted(metrics::build_info::commit()) +
                    R"(,"compiler":)" + json::quoted(metrics::build_info::compiler()) + "}",
                json);
        });
}

}  // namespace sluice::app
