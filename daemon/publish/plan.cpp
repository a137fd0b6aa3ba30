#include "publish/plan.hpp"

#include "redis/error.hpp"

#include <simdjson.h>

#include <boost/beast/http/field.hpp>
#include <charconv>

#include "catalog/schema_catalog.hpp"
#include "json/write.hpp"
#include "log/logger.hpp"
#include "publish/cloudevent.hpp"
#include "publish/event_id.hpp"
#include "store/keys.hpp"
#include "store/problem.hpp"

namespace sluice::publish {
namespace {

namespace dom = simdjson::dom;
namespace beast_http = boost::beast::http;

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
// `steps` is the request's evaluation budget, shared by all its events.
item prepare(const incoming_event& in, const catalog::schema_catalog& cat,
             const publish_options& opts, const auth::principal* who,
             schema::evaluation_budget& steps, std::string_view header_traceparent,
             std::string_view header_tracestate, encoded_events& enc) {
    item out;
    // Before anything else, so a principal learns nothing of types it may not use.
    if (who && !who->may(auth::action::publish, in.type)) {
        out.problem = {403,
                       "forbidden",
                       "Forbidden",
                       "'" + who->name + "' may not publish events of this type",
                       {}};
        return out;
    }
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
    out.type = t->first;
    out.version = version;
    if (!in.has_data) {
        out.problem = {400,
                       "invalid_cloudevent",
                       "Invalid CloudEvent",
                       "the event has no data; contracts check an event's `data`",
                       {}};
        return out;
    }
    auto verdict =
        contract->validator->evaluate(in.data, steps, opts.evaluation, opts.max_violations);
    if (!verdict.valid) {
        auto& violations = verdict.violations;
        out.more_violations = verdict.truncated;
        std::string detail =
            "the data does not match " + type + " v" + std::to_string(version) + ": " +
            (violations.empty() ? std::string("invalid") : violations.front().message) +
            (violations.size() > 1 || out.more_violations
                 ? " (and " + std::to_string(violations.size() - 1) +
                       (out.more_violations ? " or more)" : " more)")
                 : "");
        // Out of steps, the event was not decided: said apart from a violation.
        bool undecided = verdict.budget_exhausted;
        out.problem = {422, undecided ? "evaluation_budget" : "schema_violation",
                       undecided ? "The request used up its evaluation budget"
                                 : "The event does not match its contract",
                       std::move(detail),
                       R"("eventType":)" + json::quoted(type) + R"(,"eventVersion":)" +
                           std::to_string(version)};
        out.violations = std::move(violations);
        return out;
    }
    prepared_event e;
    e.type = t->first;
    char generated_id[36];
    std::string_view id = in.id;
    if (id.empty()) {
        format_event_id(generated_id);
        id = std::string_view(generated_id, sizeof generated_id);
    }
    std::string_view source = in.source.empty() ? std::string_view(opts.source) : in.source;
    // Idempotency is about ids the publisher chose; a fresh UUIDv7 cannot repeat, so
    // such events are a plain XADD, without the script and its key.
    if (!in.id.empty()) e.idempotency = store::idempotency_key(type, source, id);

    auto& f = enc.bytes;
    e.fields.at = f.size();
    auto add = [&](std::string_view k, std::string_view v) {
        redis::append_bulk(f, k);
        redis::append_bulk(f, v);
        e.field_count += 2;
    };
    char version_text[16];
    auto version_end = std::to_chars(version_text, version_text + sizeof version_text, version).ptr;
    std::string_view version_view(version_text,
                                  static_cast<std::size_t>(version_end - version_text));
    add("specversion", "1.0");
    add("id", id);
    add("source", source);
    add("type", e.type);
    add("version", version_view);
    if (in.time.empty()) {
        thread_local std::string now;
        now.clear();
        log::append_timestamp(now);
        add("time", now);
    } else {
        add("time", in.time);
    }
    if (!in.subject.empty()) add("subject", in.subject);
    add("datacontenttype", "application/json");
    std::string_view traceparent = in.traceparent.empty() ? header_traceparent : in.traceparent;
    if (!traceparent.empty() && is_valid_traceparent(traceparent)) {
        add("traceparent", traceparent);
        thread_local std::string cut;
        auto tracestate =
            bound_tracestate(in.traceparent.empty() ? header_tracestate : in.tracestate, cut);
        if (!tracestate.empty()) add("tracestate", tracestate);
    }
    // Minified through a builder kept per thread: its buffer is reused, not regrown
    // for every event.
    thread_local simdjson::internal::string_builder<> minified;
    minified.clear();
    minified.append(in.data);
    add("data", minified.str());
    e.fields.size = f.size() - e.fields.at;

    auto& a = enc.bytes;
    e.answer.at = a.size();
    auto field = [&a](std::string_view prefix, std::string_view value) {
        a += prefix;
        json::append_escaped(a, value);
        a += '"';
    };
    field(R"({"id":")", id);
    field(R"(,"source":")", source);
    field(R"(,"type":")", e.type);
    a += R"(,"version":)";
    a += version_view;
    a += R"(,"entry":")";
    e.answer.size = a.size() - e.answer.at;
    out.event = std::move(e);
    return out;
}

// The simdjson parser of this thread: its buffers are reused from request to request.
// (A plain function: a thread_local declared in a coroutine lands in its frame.)
dom::parser& thread_parser() {
    thread_local dom::parser parser;
    return parser;
}

// Parses the body and prepares each of its events into `items` and `enc`. Returns a
// problem when the request as a whole cannot be read.
std::optional<http::problem> read_events(const http::request& req, const header_source& headers,
                                         body_mode mode, const catalog::schema_catalog& cat,
                                         const publish_options& opts, const auth::principal* who,
                                         item_list& items, encoded_events& enc) {
    const std::string& body = req.body();
    dom::element root;
    if (auto error = thread_parser().parse(body.data(), body.size(), true).get(root)) {
        if (error == simdjson::NUMBER_ERROR || error == simdjson::UTF8_ERROR ||
            error == simdjson::DEPTH_ERROR || error == simdjson::CAPACITY)
            return http::problem{
                400,
                "malformed_json",
                "Malformed JSON",
                std::string("the body cannot be read: ") + simdjson::error_message(error),
                {}};
        auto at = locate_json_error(body);
        return http::problem{
            400, "malformed_json", "Malformed JSON",
            "the body is not valid JSON at line " + std::to_string(at.line) + ", column " +
                std::to_string(at.column) + " (" + simdjson::error_message(error) + ")",
            R"("line":)" + std::to_string(at.line) + R"(,"column":)" + std::to_string(at.column)};
    }
    std::string_view header_traceparent, header_tracestate;
    if (auto v = headers.get("traceparent")) header_traceparent = *v;
    if (auto v = headers.get("tracestate")) header_tracestate = *v;
    schema::evaluation_budget steps{opts.evaluation.max_steps};
    auto take = [&](std::optional<incoming_event> in, const event_error& error) {
        if (!in) {
            items.emplace_back().problem = problem_of(error);
            return;
        }
        items.push_back(
            prepare(*in, cat, opts, who, steps, header_traceparent, header_tracestate, enc));
    };
    event_error error;
    if (mode == body_mode::batch) {
        dom::array arr;
        if (root.get(arr))
            return http::problem{400,
                                 "invalid_batch",
                                 "Invalid batch",
                                 "a batch must be a JSON array of CloudEvents",
                                 {}};
        if (arr.size() == 0)
            return http::problem{400, "invalid_batch", "Invalid batch", "the batch is empty", {}};
        if (arr.size() > opts.max_batch)
            return http::problem{413,
                                 "batch_too_large",
                                 "Batch too large",
                                 "the batch holds " + std::to_string(arr.size()) +
                                     " events; at most " + std::to_string(opts.max_batch) +
                                     " are accepted",
                                 {}};
        items.reserve(arr.size());
        // Each event is its data plus ~250 bytes of attributes and RESP framing.
        enc.bytes.reserve(body.size() + arr.size() * (256 + 128));
        for (auto element : arr) take(read_structured(element, error), error);
        return std::nullopt;
    }
    items.reserve(1);
    enc.bytes.reserve(body.size() + 256 + 128);
    if (mode == body_mode::structured)
        take(read_structured(root, error), error);
    else if (mode == body_mode::envelope)
        take(read_envelope(root, error), error);
    else
        take(read_binary(headers, root, error), error);
    return std::nullopt;
}

}  // namespace

publish_plan plan_publish(const http::request& req, const catalog::schema_catalog& cat,
                          const publish_options& opts, const auth::principal* who) {
    publish_plan plan;
    plan.request_bytes = req.body().size();
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
        plan.refused = std::move(p);
        return plan;
    }

    plan.batch = mode == body_mode::batch;
    plan.refused = read_events(req, headers, mode, cat, opts, who, plan.items, plan.enc);
    if (plan.refused) return plan;

    // One pipelined append for every event that passed its checks.
    for (std::size_t i = 0; i < plan.items.size(); ++i) {
        if (!plan.items[i].event) continue;
        const auto& e = *plan.items[i].event;
        plan.appends.push_back(
            {e.type, e.fields.in(plan.enc.bytes), e.field_count, e.idempotency, {}});
        plan.written.push_back(i);
    }
    return plan;
}

void record(publish_plan& plan, const store::result<store::done>& stored) {
    plan.redis_error = stored.error.ec;
    for (std::size_t k = 0; stored.ok() && k < plan.written.size(); ++k) {
        auto& it = plan.items[plan.written[k]];
        auto& one = plan.appends[k].outcome;
        if (one.ok()) {
            it.entry = std::move(one.value.entry);
            it.duplicate = one.value.duplicate;
            continue;
        }
        auto failure = store::problem_for(
            one.error,
            one.error.ec == redis::error::not_replicated
                ? "the event is stored: retry with the same id and source (a retry stores it once)"
                : "nothing was written; retry",
            it.type);
        it.problem = std::move(failure.problem);
        it.retry = it.problem.status == 503;
        it.event.reset();
    }
}

}  // namespace sluice::publish
