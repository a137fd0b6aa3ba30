#include "publish/publisher.hpp"

#include <algorithm>
#include <chrono>

#include "catalog/schema_catalog.hpp"
#include "metrics/registry.hpp"
#include "publish/plan.hpp"
#include "store/stream_store.hpp"

namespace sluice::publish {

publisher::publisher(catalog_source catalog, metrics::registry& metrics, publish_options options)
    : catalog_(std::move(catalog))
    , metrics_(metrics)
    , options_(std::make_shared<const publish_options>(std::move(options))) {}

void publisher::set_options(publish_options options) {
    options_.store(std::make_shared<const publish_options>(std::move(options)));
}

boost::asio::awaitable<http::response> publisher::handle(const http::request_context& ctx) const {
    auto started = std::chrono::steady_clock::now();
    auto& store = ctx.worker.get<store::stream_store>();
    auto opts = options_.load();
    auto cat = catalog_();
    const auto& req = ctx.req;
    // Everything that reads the request happens before the first co_await: the
    // parser is per thread, and another request may use it while we wait on Redis.
    auto plan = plan_publish(req, *cat, *opts, ctx.who);
    if (plan.refused) {
        if (plan.refused->code == "batch_too_large")
            metrics_.count_limit(metrics::limit::publish_max_batch);
        co_return render(plan, *opts);
    }
    if (rate_limit_ && !plan.appends.empty()) {
        if (auto wait = rate_limit_(ctx, plan.items.size())) {
            metrics_.count_rate_limited("publish");
            http::problem p{429,
                            "rate_limited",
                            "Too many requests",
                            "over the publish rate limit (rate_limits); nothing was stored, retry "
                            "after " +
                                std::to_string(*wait) + " s",
                            {}};
            auto res = http::make_problem(p);
            res.set(http::beast_http::field::retry_after, std::to_string(*wait));
            co_return res;
        }
    }
    if (!plan.appends.empty()) {
        record(plan, co_await store.append(plan.appends, opts->idempotency_window));
    }
    // Counted per run of equal outcomes: a batch is usually one type, one result.
    const auto& items = plan.items;
    auto result_of = [&](const item& it) {
        return it.event ? (plan.redis_error ? std::string_view("redis_error")
                           : it.duplicate   ? std::string_view("duplicate")
                                            : std::string_view("stored"))
                        : it.problem.code;
    };
    if (std::any_of(items.begin(), items.end(), [](const item& it) { return it.more_violations; }))
        metrics_.count_limit(metrics::limit::publish_max_violations);
    for (std::size_t i = 0; i < items.size();) {
        auto result = result_of(items[i]);
        std::size_t j = i + 1;
        while (j < items.size() && items[j].type == items[i].type &&
               items[j].version == items[i].version && result_of(items[j]) == result)
            ++j;
        metrics_.count_publish(items[i].type, items[i].version, result, j - i);
        i = j;
    }

    if (!plan.written.empty())
        metrics_.observe_publish(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            items.size());
    bool budget_ran_out = false;
    auto res = render(plan, *opts, &budget_ran_out);
    if (budget_ran_out) metrics_.count_limit(metrics::limit::publish_max_answer_bytes);
    co_return res;
}

}  // namespace sluice::publish
