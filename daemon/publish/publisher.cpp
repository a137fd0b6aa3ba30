#include "publish/publisher.hpp"

#include <simdjson.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <optional>
#include <vector>

#include "catalog/schema_catalog.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "publish/cloudevent.hpp"
#include "publish/event_id.hpp"
#include "publish/redis_problem.hpp"
#include "publish/storage.hpp"
#include "redis/client.hpp"
#include "redis/error.hpp"
#include "schema/schema.hpp"

namespace sluice::publish {
namespace {

namespace dom = simdjson::dom;
namespace beast_http = boost::beast::http;

std::string json_string(std::string_view s) {
    std::string out = "\"";
    log::append_json_escaped(out, s);
    out += '"';
    return out;
}

// One event ready for Redis: every byte owned, nothing pointing into the request.
struct prepared_event {
    std::string type;
    unsigned version = 0;
    std::string id;
    std::string source;
    std::string stream;
    std::string idempotency;          // empty: the broker assigned the id, no repeat possible
    std::vector<std::string> fields;  // field, value, field, value...
};

// The fate of one event of the request.
struct item {
    std::optional<prepared_event> event;  // set when it passed every check
    http::problem problem;                // else why not
    std::string entry;
    bool duplicate = false;
    std::string type;      // for metrics, once known
    unsigned version = 0;  // likewise
    bool retry = false;    // a 503 the client should retry (Retry-After)
};

class beast_headers final : public header_source {
  public:
    explicit beast_headers(const http::request& req) : req_(req) {}
    std::optional<std::string_view> get(std::string_view name) const override {
        auto it = req_.find(name);
        if (it == req_.end()) return std::nullopt;
        return std::string_view(it->value());
    }

  private:
    const http::request& req_;
};

http::problem problem_of(const event_error& e) {
    return e.problem;
}

// Checks one incoming event against the catalog and builds what Redis will store.
item prepare(const incoming_event& in, const catalog::schema_catalog& cat,
             const publish_options& opts, std::string_view header_traceparent,
             std::string_view header_tracestate) {
    item out;
    std::string type(in.type);
    auto t = cat.types.find(type);
    if (t == cat.types.end()) {
        std::string known;
        std::size_t n = 0;
        for (const auto& [name, versions] : cat.types) {
            if (n++ == 10) {
                known += ", ...";
                break;
            }
            known += (known.empty() ? "" : ", ") + name;
        }
        out.problem = {422,
                       "unknown_type",
                       "Unknown event type",
                       "no event type '" + type + "'; known types: " + known,
                       {}};
        return out;
    }
    const auto& policy = cat.policies.at(type);
    unsigned version = in.version ? in.version : policy.default_version;
    const catalog::schema_file* contract = nullptr;
    for (const auto& v : t->second)
        if (v.version == version) contract = &v;
    if (!contract) {
        std::string versions;
        for (const auto& v : t->second)
            versions += (versions.empty() ? "" : ", ") + std::to_string(v.version);
        out.problem = {422,
                       "unknown_version",
                       "Unknown event version",
                       type + " has versions " + versions + "; got " + std::to_string(version),
                       {}};
        return out;
    }
    // Only a known type and version may become metric labels: anything a client
    // sends could otherwise mint new series.
    out.type = type;
    out.version = version;
    if (!in.has_data) {
        out.problem = {400,
                       "invalid_cloudevent",
                       "Invalid CloudEvent",
                       "the event has no data; contracts check an event's `data`",
                       {}};
        return out;
    }
    if (!contract->validator->validate(in.data)) {
        auto violations = contract->validator->explain(in.data, 20);
        std::string list;
        for (const auto& v : violations) {
            if (!list.empty()) list += ',';
            list += R"({"instanceLocation":)" + json_string(v.instance_location) +
                    R"(,"keywordLocation":)" + json_string(v.keyword_location) +
                    R"(,"absoluteKeywordLocation":)" + json_string(v.absolute_keyword_location) +
                    R"(,"message":)" + json_string(v.message) + "}";
        }
        std::string detail =
            "the data does not match " + type + " v" + std::to_string(version) + ": " +
            (violations.empty() ? std::string("invalid") : violations.front().message) +
            (violations.size() > 1 ? " (and " + std::to_string(violations.size() - 1) + " more)"
                                   : "");
        out.problem = {422, "schema_violation", "The event does not match its contract",
                       std::move(detail),
                       R"("eventType":)" + json_string(type) + R"(,"eventVersion":)" +
                           std::to_string(version) + R"(,"violations":[)" + list + "]"};
        return out;
    }
    prepared_event e;
    e.type = type;
    e.version = version;
    e.id = in.id.empty() ? new_event_id() : in.id;
    e.source = in.source.empty() ? opts.source : in.source;
    e.stream = stream_key(type);
    // Idempotency is about ids the publisher chose; a fresh UUIDv7 cannot repeat, so
    // such events are a plain XADD, without the script and its key.
    if (!in.id.empty()) e.idempotency = idempotency_key(type, e.source, e.id);
    e.fields.reserve(22);
    auto add = [&](std::string_view k, std::string v) {
        e.fields.emplace_back(k);
        e.fields.push_back(std::move(v));
    };
    add("specversion", "1.0");
    add("id", e.id);
    add("source", e.source);
    add("type", type);
    add("version", std::to_string(version));
    add("time", in.time.empty() ? now_rfc3339() : in.time);
    if (!in.subject.empty()) add("subject", in.subject);
    add("datacontenttype", "application/json");
    std::string traceparent =
        in.traceparent.empty() ? std::string(header_traceparent) : in.traceparent;
    if (!traceparent.empty() && is_valid_traceparent(traceparent)) {
        add("traceparent", traceparent);
        std::string tracestate =
            in.traceparent.empty() ? std::string(header_tracestate) : in.tracestate;
        if (!tracestate.empty()) add("tracestate", tracestate);
    }
    add("data", simdjson::minify(in.data));
    out.event = std::move(e);
    return out;
}

// Appends `{"id":...,"entry":...}` for a stored event: one buffer, no temporaries
// (a batch answers a hundred of these).
void append_success_json(std::string& out, const item& it) {
    const auto& e = *it.event;
    auto field = [&out](std::string_view prefix, std::string_view value) {
        out += prefix;
        log::append_json_escaped(out, value);
        out += '"';
    };
    field(R"({"id":")", e.id);
    field(R"(,"source":")", e.source);
    field(R"(,"type":")", e.type);
    out += R"(,"version":)";
    out += std::to_string(e.version);
    field(R"(,"entry":")", it.entry);
    out += it.duplicate ? R"(,"duplicate":true})" : R"(,"duplicate":false})";
}

std::string success_json(const item& it) {
    std::string out;
    out.reserve(160);
    append_success_json(out, it);
    return out;
}

http::response answer(unsigned status, std::string body) {
    return http::make_response(status, std::move(body), "application/json");
}

// The XADD of `e`, in `argv` (reused across a batch: one allocation, not one per event).
const std::vector<std::string_view>& xadd_argv(const prepared_event& e,
                                               std::vector<std::string_view>& argv) {
    argv.clear();
    argv.push_back("XADD");
    argv.push_back(e.stream);
    argv.push_back("*");
    for (const auto& f : e.fields) argv.push_back(f);
    return argv;
}

std::vector<std::string_view> eval_argv(std::string_view verb, std::string_view script,
                                        const prepared_event& e, const std::string& window) {
    std::vector<std::string_view> argv;
    argv.reserve(6 + e.fields.size());
    argv.push_back(verb);
    argv.push_back(script);
    argv.push_back("2");
    argv.push_back(e.stream);
    argv.push_back(e.idempotency);
    argv.push_back(window);
    for (const auto& f : e.fields) argv.push_back(f);
    return argv;
}

}  // namespace

publisher::publisher(client_source redis, catalog_source catalog, metrics::registry& metrics,
                     publish_options options)
    : redis_(std::move(redis))
    , catalog_(std::move(catalog))
    , metrics_(metrics)
    , options_(std::make_shared<const publish_options>(std::move(options))) {}

void publisher::set_options(publish_options options) {
    options_.store(std::make_shared<const publish_options>(std::move(options)));
}

boost::asio::awaitable<http::response> publisher::handle(const http::request_context& ctx) const {
    constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    auto started = std::chrono::steady_clock::now();
    redis::client& redis = redis_(co_await boost::asio::this_coro::executor);
    auto opts = options_.load();
    auto cat = catalog_();
    const auto& req = ctx.req;
    beast_headers headers(req);
    auto mode = mode_for(std::string_view(req[beast_http::field::content_type]),
                         headers.get("ce-specversion").has_value());
    if (mode == body_mode::unsupported) {
        std::string_view given = req[beast_http::field::content_type];
        if (!simdjson::validate_utf8(given.data(), given.size()))
            given = "a Content-Type that is not UTF-8";
        http::problem p{
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "send application/cloudevents+json, application/cloudevents-batch+json, "
            "application/json, "
            "or JSON data with ce-* headers; got " +
                std::string(req[beast_http::field::content_type].empty()
                                ? std::string_view("no Content-Type")
                                : std::string_view(req[beast_http::field::content_type])),
            {}};
        auto res = http::make_problem(p);
        co_return res;
    }

    // Everything that reads the request happens before the first co_await: the
    // parser is per thread, and another request may use it while we wait on Redis.
    std::vector<item> items;
    bool batch = mode == body_mode::batch;
    {
        thread_local dom::parser parser;
        const std::string& body = req.body();
        dom::element root;
        if (auto error = parser.parse(body.data(), body.size(), true).get(root)) {
            if (error == simdjson::NUMBER_ERROR || error == simdjson::UTF8_ERROR ||
                error == simdjson::DEPTH_ERROR || error == simdjson::CAPACITY) {
                http::problem p{
                    400,
                    "malformed_json",
                    "Malformed JSON",
                    std::string("the body cannot be read: ") + simdjson::error_message(error),
                    {}};
                auto res = http::make_problem(p);
                co_return res;
            }
            auto at = locate_json_error(body);
            http::problem p{400, "malformed_json", "Malformed JSON",
                            "the body is not valid JSON at line " + std::to_string(at.line) +
                                ", column " + std::to_string(at.column) + " (" +
                                simdjson::error_message(error) + ")",
                            R"("line":)" + std::to_string(at.line) + R"(,"column":)" +
                                std::to_string(at.column)};
            auto res = http::make_problem(p);
            co_return res;
        }
        std::string_view header_traceparent, header_tracestate;
        if (auto v = headers.get("traceparent")) header_traceparent = *v;
        if (auto v = headers.get("tracestate")) header_tracestate = *v;
        auto take = [&](std::optional<incoming_event> in, const event_error& error) {
            item it;
            if (!in)
                it.problem = problem_of(error);
            else
                it = prepare(*in, *cat, *opts, header_traceparent, header_tracestate);
            items.push_back(std::move(it));
        };
        event_error error;
        if (batch) {
            dom::array arr;
            std::string problem_text;
            if (root.get(arr))
                problem_text = "a batch must be a JSON array of CloudEvents";
            else if (arr.size() == 0)
                problem_text = "the batch is empty";
            if (!problem_text.empty()) {
                http::problem p{400, "invalid_batch", "Invalid batch", problem_text, {}};
                auto res = http::make_problem(p);
                co_return res;
            }
            if (arr.size() > opts->max_batch) {
                http::problem p{413,
                                "batch_too_large",
                                "Batch too large",
                                "the batch holds " + std::to_string(arr.size()) +
                                    " events; at most " + std::to_string(opts->max_batch) +
                                    " are accepted",
                                {}};
                auto res = http::make_problem(p);
                co_return res;
            }
            items.reserve(arr.size());
            for (auto element : arr) take(read_structured(element, error), error);
        } else if (mode == body_mode::structured) {
            take(read_structured(root, error), error);
        } else if (mode == body_mode::envelope) {
            take(read_envelope(root, error), error);
        } else {
            take(read_binary(headers, root, error), error);
        }
    }

    // One pipelined request for every event that passed its checks.
    redis::request writes;
    std::vector<std::size_t> written;
    const std::string window = std::to_string(opts->idempotency_window.count());
    const auto& script = publish_script();
    std::vector<std::string_view> argv;
    // Each stored event is its data plus ~250 bytes of attributes and RESP framing.
    writes.reserve(req.body().size() + items.size() * 320);
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (!items[i].event) continue;
        const auto& e = *items[i].event;
        if (e.idempotency.empty())
            writes.push(xadd_argv(e, argv));
        else
            writes.push(eval_argv("EVALSHA", script.sha1(), e, window));
        written.push_back(i);
    }
    boost::system::error_code redis_error;
    if (!written.empty()) {
        // A large batch may take Redis a while: allow for it, so the watchdog does not
        // cut a connection whose writes are being applied.
        auto allowance = std::chrono::milliseconds(written.size() / 10);
        auto [ec, r] = co_await redis.async_exec(std::move(writes), use_tuple, allowance);
        std::vector<redis::reply> replies;
        if (!ec) {
            if (written.size() == 1)
                replies.push_back(std::move(r));
            else
                replies = std::move(r.elements);
            // After a Redis restart the script is not cached: send those once as EVAL.
            redis::request retry;
            std::vector<std::size_t> retried;
            for (std::size_t k = 0; k < replies.size(); ++k)
                if (replies[k].is_error() && replies[k].str.starts_with("NOSCRIPT")) {
                    retry.push(
                        eval_argv("EVAL", script.source(), *items[written[k]].event, window));
                    retried.push_back(k);
                }
            if (!retried.empty()) {
                auto [ec2, r2] = co_await redis.async_exec(std::move(retry), use_tuple);
                ec = ec2;
                if (!ec) {
                    if (retried.size() == 1)
                        replies[retried[0]] = std::move(r2);
                    else
                        for (std::size_t k = 0; k < retried.size(); ++k)
                            replies[retried[k]] = std::move(r2.elements[k]);
                }
            }
        }
        redis_error = ec;
        for (std::size_t k = 0; !ec && k < written.size(); ++k) {
            auto& it = items[written[k]];
            const auto& rep = replies[k];
            if (rep.type == redis::reply::kind::string && it.event->idempotency.empty()) {
                it.entry = rep.str;  // XADD's entry id
            } else if (rep.type == redis::reply::kind::array && rep.elements.size() == 2) {
                it.duplicate = rep.elements[0].integer == 0;
                it.entry = rep.elements[1].str;
            } else if (rep.is_transient_error()) {
                it.problem = {503,
                              "redis_unavailable",
                              "Redis is unavailable",
                              "Redis refused the write for now (" +
                                  rep.str.substr(0, rep.str.find(' ')) +
                                  "); nothing was written; retry",
                              {}};
                it.retry = true;
                it.event.reset();
            } else {
                log::error("unexpected reply from the publish script",
                           {{"type", it.event->type}, {"reply", rep.str}});
                it.problem = {500,
                              "internal_error",
                              "Internal server error",
                              "Redis answered the publish script unexpectedly; see the server log",
                              {}};
                it.event.reset();
            }
        }
    }
    for (const auto& it : items) {
        std::string result = it.event ? (redis_error    ? "redis_error"
                                         : it.duplicate ? "duplicate"
                                                        : "stored")
                                      : std::string(it.problem.code);
        metrics_.count_publish(it.type, it.version, result);
    }

    if (!written.empty())
        metrics_.observe_publish(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            items.size());
    if (redis_error) {
        auto failure = problem_for_redis_error(redis_error);
        auto res = http::make_problem(failure.problem);
        res.set(beast_http::field::retry_after, std::to_string(failure.retry_after_seconds));
        co_return res;
    }
    if (!batch) {
        const auto& it = items.front();
        if (it.event) {
            auto res = answer(it.duplicate ? 200 : 201, success_json(it));
            co_return res;
        }
        auto res = http::make_problem(it.problem);
        if (it.retry) res.set(beast_http::field::retry_after, "1");
        co_return res;
    }
    std::string body = R"({"results":[)";
    body.reserve(64 + items.size() * 200);
    std::size_t stored = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        if (i) body += ',';
        if (it.event) {
            ++stored;
            body += it.duplicate ? R"({"status":200,"event":)" : R"({"status":201,"event":)";
            append_success_json(body, it);
            body += '}';
        } else {
            body += R"({"status":)" + std::to_string(it.problem.status) + R"(,"problem":)" +
                    http::to_json(it.problem) + "}";
        }
    }
    body += R"(],"stored":)" + std::to_string(stored) + R"(,"failed":)" +
            std::to_string(items.size() - stored) + "}";
    auto res = answer(stored == items.size() ? 200 : 207, std::move(body));
    co_return res;
}

}  // namespace sluice::publish
