#include "publish/cloudevent.hpp"

#include <algorithm>
#include <cctype>

#include "schema/formats.hpp"

namespace sluice::publish {
namespace {

namespace dom = simdjson::dom;

event_error bad_event(std::string detail) {
    return {{400, "invalid_cloudevent", "Invalid CloudEvent", std::move(detail), {}}};
}

bool is_json_media(std::string_view m) {
    return m == "application/json" || m.ends_with("+json") || m == "text/json";
}

// Reads an optional string attribute; false (with `error`) when present but not a string.
bool read_string(dom::object obj, std::string_view key, std::string& out, event_error& error) {
    dom::element v;
    if (obj[key].get(v)) return true;
    std::string_view s;
    if (v.get(s)) {
        error = bad_event("`" + std::string(key) + "` must be a string");
        return false;
    }
    out.assign(s);
    return true;
}

bool read_version(dom::element v, unsigned& out, event_error& error) {
    std::uint64_t n = 0;
    std::string_view s;
    if (!v.get(n)) {
        // integer
    } else if (!v.get(s) && !s.empty() && s.size() <= 9 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        n = std::stoull(std::string(s));
    } else {
        error = bad_event("`version` must be a positive integer, such as 2");
        return false;
    }
    if (n == 0 || n > 1'000'000) {
        error = bad_event("`version` must be a positive integer, such as 2");
        return false;
    }
    out = static_cast<unsigned>(n);
    return true;
}

// The attributes every shape shares, after `type`.
bool finish(incoming_event& e, event_error& error) {
    if (!e.time.empty() && !schema::check_format(schema::format_kind::date_time, e.time)) {
        error =
            bad_event("`time` must be an RFC 3339 timestamp such as 2026-11-27T10:00:00Z, got \"" +
                      e.time + "\"");
        return false;
    }
    if (!e.datacontenttype.empty() && !is_json_media(media_type(e.datacontenttype))) {
        error = {{415,
                  "unsupported_data_type",
                  "Unsupported data content type",
                  "data must be JSON to be checked against its contract; got datacontenttype " +
                      e.datacontenttype,
                  {}}};
        return false;
    }
    if (!e.traceparent.empty() && !is_valid_traceparent(e.traceparent)) {
        e.traceparent.clear();  // W3C: an invalid traceparent is ignored, and so is its tracestate
        e.tracestate.clear();
    }
    return true;
}

bool read_type(dom::object obj, incoming_event& e, event_error& error) {
    dom::element v;
    if (obj["type"].get(v) || v.get(e.type) || e.type.empty()) {
        error = bad_event(
            "`type` is required: a non-empty string naming the event type, such as "
            "\"user.created\"");
        return false;
    }
    return true;
}

}  // namespace

std::string media_type(std::string_view content_type) {
    auto semi = content_type.find(';');
    std::string_view m = content_type.substr(0, semi);
    while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
    while (!m.empty() && m.front() == ' ') m.remove_prefix(1);
    std::string out(m);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return out;
}

body_mode mode_for(std::string_view content_type, bool has_ce_specversion_header) {
    auto m = media_type(content_type);
    if (m == "application/cloudevents+json") return body_mode::structured;
    if (m == "application/cloudevents-batch+json") return body_mode::batch;
    if (has_ce_specversion_header)
        return is_json_media(m) ? body_mode::binary : body_mode::unsupported;
    if (m == "application/json") return body_mode::envelope;
    return body_mode::unsupported;
}

std::optional<incoming_event> read_structured(dom::element element, event_error& error) {
    dom::object obj;
    if (element.get(obj)) {
        error = bad_event("a structured CloudEvent must be a JSON object");
        return std::nullopt;
    }
    std::string_view spec;
    if (obj["specversion"].get(spec) || spec != "1.0") {
        error = bad_event("`specversion` must be \"1.0\"");
        return std::nullopt;
    }
    incoming_event e;
    if (!read_type(obj, e, error)) return std::nullopt;
    for (auto [key, out] : {std::pair<std::string_view, std::string*>{"id", &e.id},
                            {"source", &e.source},
                            {"time", &e.time},
                            {"subject", &e.subject},
                            {"datacontenttype", &e.datacontenttype},
                            {"traceparent", &e.traceparent},
                            {"tracestate", &e.tracestate}})
        if (!read_string(obj, key, *out, error)) return std::nullopt;
    if (obj["data_base64"].error() == simdjson::SUCCESS) {
        error = {{415,
                  "unsupported_data_type",
                  "Unsupported data content type",
                  "data_base64 is not accepted: contracts check JSON data; send it as `data`",
                  {}}};
        return std::nullopt;
    }
    dom::element v;
    if (!obj["version"].get(v) && !read_version(v, e.version, error)) return std::nullopt;
    if (!obj["data"].get(e.data)) e.has_data = true;
    if (!finish(e, error)) return std::nullopt;
    return e;
}

std::optional<incoming_event> read_envelope(dom::element element, event_error& error) {
    dom::object obj;
    if (element.get(obj)) {
        error = bad_event(
            "the body must be a JSON object: {\"type\": ..., \"version\": ..., \"data\": {...}}");
        return std::nullopt;
    }
    incoming_event e;
    if (!read_type(obj, e, error)) return std::nullopt;
    for (auto [key, out] : {std::pair<std::string_view, std::string*>{"id", &e.id},
                            {"source", &e.source},
                            {"time", &e.time},
                            {"subject", &e.subject}})
        if (!read_string(obj, key, *out, error)) return std::nullopt;
    dom::element v;
    if (!obj["version"].get(v) && !read_version(v, e.version, error)) return std::nullopt;
    if (!obj["data"].get(e.data)) e.has_data = true;
    for (auto f : obj) {
        static constexpr std::string_view known[] = {"type",   "version", "data", "id",
                                                     "source", "subject", "time"};
        if (std::find(std::begin(known), std::end(known), f.key) == std::end(known)) {
            error = bad_event(
                "unknown member `" + std::string(f.key) +
                "` in the envelope; expected type, version, data, id, source, subject, time");
            return std::nullopt;
        }
    }
    if (!finish(e, error)) return std::nullopt;
    return e;
}

std::optional<incoming_event> read_binary(const header_source& headers, dom::element body,
                                          event_error& error) {
    if (headers.get("ce-specversion").value_or("") != "1.0") {
        error = bad_event("the ce-specversion header must be 1.0");
        return std::nullopt;
    }
    // Header bytes reach responses, Redis and logs: they must be UTF-8 like the body.
    for (std::string_view name : {"ce-type", "ce-id", "ce-source", "ce-time", "ce-subject",
                                  "ce-traceparent", "ce-tracestate", "ce-version", "content-type"})
        if (auto v = headers.get(name); v && !simdjson::validate_utf8(v->data(), v->size())) {
            error = bad_event("the " + std::string(name) + " header is not valid UTF-8");
            return std::nullopt;
        }
    incoming_event e;
    auto type = headers.get("ce-type");
    if (!type || type->empty()) {
        error = bad_event("the ce-type header is required");
        return std::nullopt;
    }
    e.type = *type;
    auto copy = [&](std::string_view name, std::string& out) {
        if (auto v = headers.get(name)) out.assign(*v);
    };
    copy("ce-id", e.id);
    copy("ce-source", e.source);
    copy("ce-time", e.time);
    copy("ce-subject", e.subject);
    copy("content-type", e.datacontenttype);
    copy("ce-traceparent", e.traceparent);
    copy("ce-tracestate", e.tracestate);
    if (auto v = headers.get("ce-version")) {
        std::string text(*v);
        simdjson::dom::parser p;
        std::string quoted = "\"" + text + "\"";
        auto parsed = p.parse(quoted);
        if (parsed.error() || !read_version(parsed.value(), e.version, error)) {
            if (parsed.error())
                error = bad_event("the ce-version header must be a positive integer, such as 2");
            return std::nullopt;
        }
    }
    e.data = body;
    e.has_data = true;
    if (!finish(e, error)) return std::nullopt;
    return e;
}

bool is_valid_traceparent(std::string_view t) {
    // 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>; ids not all zero.
    if (t.size() != 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    for (std::size_t i = 0; i < t.size(); ++i)
        if (i != 2 && i != 35 && i != 52 && !hex(t[i])) return false;
    if (t.substr(0, 2) == "ff") return false;
    if (t.substr(3, 32) == std::string(32, '0') || t.substr(36, 16) == std::string(16, '0'))
        return false;
    return true;
}

namespace {

// A JSON syntax checker that stops at the first error: only run after simdjson
// refused the text, to say where.
class json_locator {
  public:
    explicit json_locator(std::string_view s) : s_(s) {}

    std::size_t find_error() {
        skip_ws();
        if (!value(0)) return pos_;
        skip_ws();
        return pos_ < s_.size() ? pos_ : s_.size();
    }

  private:
    void skip_ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }
    bool string() {
        ++pos_;  // opening quote
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c == '\\') {
                ++pos_;
                if (pos_ >= s_.size()) return false;
                char e = s_[pos_];
                if (e == 'u') {
                    for (int i = 1; i <= 4; ++i)
                        if (pos_ + i >= s_.size() ||
                            !std::isxdigit(static_cast<unsigned char>(s_[pos_ + i])))
                            return false;
                    pos_ += 4;
                } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
                    return false;
                }
            }
            ++pos_;
        }
        return false;
    }
    bool number() {
        if (s_[pos_] == '-') ++pos_;
        auto digits = [&] {
            std::size_t start = pos_;
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
            return pos_ > start;
        };
        if (pos_ < s_.size() && s_[pos_] == '0')
            ++pos_;
        else if (!digits())
            return false;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            if (!digits()) return false;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (!digits()) return false;
        }
        return true;
    }
    bool value(int depth) {
        if (depth > 1000 || pos_ >= s_.size()) return false;
        char c = s_[pos_];
        if (c == '"') return string();
        if (c == '{') {
            ++pos_;
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
            while (true) {
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != '"' || !string()) return false;
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != ':') return false;
                ++pos_;
                skip_ws();
                if (!value(depth + 1)) return false;
                skip_ws();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
                return false;
            }
        }
        if (c == '[') {
            ++pos_;
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
            while (true) {
                skip_ws();
                if (!value(depth + 1)) return false;
                skip_ws();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
                return false;
            }
        }
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return number();
        return false;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

text_position locate_json_error(std::string_view text) {
    std::size_t at = json_locator(text).find_error();
    text_position p;
    for (std::size_t i = 0; i < at && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++p.line;
            p.column = 1;
        } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++p.column;
        }
    }
    return p;
}

}  // namespace sluice::publish
