#include "publish/plan.hpp"

#include <algorithm>
#include <boost/beast/http/field.hpp>

#include "json/write.hpp"
#include "store/problem.hpp"

namespace sluice::publish {
namespace {

namespace beast_http = boost::beast::http;

// The `violations` and `truncated` members of a schema_violation answer, appended to
// its problem. Violations are listed while `budget` (bytes of answer left) lasts;
// those that do not fit are counted in `left_out`. `truncated` says the list is not
// all the contract found.
void append_violations(std::string& extra, const item& it, std::size_t& budget,
                       std::size_t& left_out) {
    extra += R"(,"violations":[)";
    std::size_t listed = 0;
    std::string one;
    for (const auto& v : it.violations) {
        one.clear();
        one += R"({"instanceLocation":)";
        json::append_string(one, v.instance_location);
        one += R"(,"keywordLocation":)";
        json::append_string(one, v.keyword_location);
        one += R"(,"absoluteKeywordLocation":)";
        json::append_string(one, v.absolute_keyword_location);
        one += R"(,"message":)";
        json::append_string(one, v.message);
        if (!v.code.empty()) {  // the engine gave up here: regex_limit, evaluation_budget...
            one += R"(,"code":)";
            json::append_string(one, v.code);
        }
        one += '}';
        if (one.size() + 1 > budget) break;
        budget -= one.size() + 1;
        if (listed++) extra += ',';
        extra += one;
    }
    left_out += it.violations.size() - listed;
    extra += R"(],"truncated":)";
    extra += it.more_violations || listed < it.violations.size() ? "true" : "false";
}

// Appends the success answer of a stored event: its prefix, then the entry.
void append_success_json(std::string& out, const item& it, const encoded_events& enc) {
    out += it.event->answer.in(enc.bytes);
    json::append_escaped(out, it.entry);
    out += it.duplicate ? R"(","duplicate":true})" : R"(","duplicate":false})";
}

http::response answer(unsigned status, std::string body) {
    return http::make_response(status, std::move(body), "application/json");
}

}  // namespace

http::response render(const publish_plan& plan, const publish_options& opts, bool* budget_ran_out) {
    if (plan.refused) return http::make_problem(*plan.refused);
    const auto& items = plan.items;
    const auto& enc = plan.enc;
    if (plan.redis_error) {
        auto failure = store::problem_for_redis_error(plan.redis_error);
        auto res = http::make_problem(failure.problem);
        res.set(beast_http::field::retry_after, std::to_string(failure.retry_after_seconds));
        return res;
    }
    if (!plan.batch) {
        const auto& it = items.front();
        if (it.event) {
            std::string body;
            body.reserve(it.event->answer.size + it.entry.size() + 24);
            append_success_json(body, it, enc);
            auto res = answer(it.duplicate ? 200 : 201, std::move(body));
            return res;
        }
        auto p = it.problem;
        std::size_t budget = opts.max_answer_bytes, left_out = 0;
        if (!it.violations.empty()) append_violations(p.extra_json, it, budget, left_out);
        if (budget_ran_out && left_out > 0) *budget_ran_out = true;
        auto res = http::make_problem(p);
        if (it.retry) res.set(beast_http::field::retry_after, "1");
        return res;
    }
    // A few bytes of bad event can earn a kilobyte of explanation, so the failed
    // items' problems (detail, violations and all) share one byte budget: at most
    // publish.max_answer_bytes, and no more than a small multiple of the request
    // itself. Past it an item keeps only its status and code, and the answer says
    // what it left out. So any answer is at most the budget plus a few dozen bytes
    // per item, of which there are at most publish.max_batch.
    std::string body = R"({"results":[)";
    body.reserve(64 + items.size() * 64);
    std::size_t budget = std::min(opts.max_answer_bytes, 4096 + 4 * plan.request_bytes);
    std::size_t stored = 0, left_out = 0;
    bool cut = false;  // some item's explanation was left out
    http::problem p;
    auto append_bare = [&](const http::problem& q) {
        body += R"({"status":)" + std::to_string(q.status) + R"(,"problem":{"code":")";
        json::append_escaped(body, q.code);
        body += "\"}}";
    };
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        if (i) body += ',';
        if (it.event) {
            ++stored;
            body += it.duplicate ? R"({"status":200,"event":)" : R"({"status":201,"event":)";
            append_success_json(body, it, enc);
            body += '}';
            continue;
        }
        if (budget == 0) {
            append_bare(it.problem);
            left_out += it.violations.size();
            cut = true;
            continue;
        }
        p = it.problem;
        std::size_t before = budget, left_before = left_out;
        if (p.detail.size() > budget) {
            p.detail.clear();
            cut = true;
        } else {
            budget -= p.detail.size();
        }
        if (!it.violations.empty()) append_violations(p.extra_json, it, budget, left_out);
        auto problem_json = http::to_json(p);
        std::size_t rest = problem_json.size() - (before - budget);  // its fixed fields
        if (rest > budget) {
            append_bare(p);
            left_out = left_before + it.violations.size();
            budget = 0;
            cut = true;
            continue;
        }
        budget -= rest;
        body += R"({"status":)" + std::to_string(p.status) + R"(,"problem":)" + problem_json + "}";
    }
    body += R"(],"stored":)" + std::to_string(stored) + R"(,"failed":)" +
            std::to_string(items.size() - stored);
    if (left_out > 0 || cut) {
        body += R"(,"truncated":true,"violations_left_out":)" + std::to_string(left_out);
        if (budget_ran_out) *budget_ran_out = true;
    }
    body += '}';
    auto res = answer(stored == items.size() ? 200 : 207, std::move(body));
    return res;
}

}  // namespace sluice::publish
