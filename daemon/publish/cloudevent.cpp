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

// ASCII case-insensitive equality: media type names are case-insensitive.
bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// `m` from media_type().
bool is_json_media(std::string_view m) {
    return iequal(m, "application/json") ||
           (m.size() >= 5 && iequal(m.substr(m.size() - 5), "+json")) || iequal(m, "text/json");
}

// The members the event readers look at, found in one pass over the object rather
// than one lookup per name. The first of duplicated names wins, as with a lookup.
enum member : unsigned {
    m_specversion,
    m_type,
    m_id,
    m_source,
    m_time,
    m_subject,
    m_datacontenttype,
    m_traceparent,
    m_tracestate,
    m_data_base64,
    m_version,
    m_data,
    m_other,
};
constexpr std::string_view member_names[] = {
    "specversion",     "type",        "id",         "source",      "time",    "subject",
    "datacontenttype", "traceparent", "tracestate", "data_base64", "version", "data"};

member member_of(std::string_view key) {
    // By length first: at most three names share one.
    auto is = [&](member m) { return key == member_names[m]; };
    switch (key.size()) {
        case 2:
            return is(m_id) ? m_id : m_other;
        case 4:
            return is(m_type) ? m_type : is(m_time) ? m_time : is(m_data) ? m_data : m_other;
        case 6:
            return is(m_source) ? m_source : m_other;
        case 7:
            return is(m_subject) ? m_subject : is(m_version) ? m_version : m_other;
        case 10:
            return is(m_tracestate) ? m_tracestate : m_other;
        case 11:
            return is(m_specversion)   ? m_specversion
                   : is(m_traceparent) ? m_traceparent
                   : is(m_data_base64) ? m_data_base64
                                       : m_other;
        case 15:
            return is(m_datacontenttype) ? m_datacontenttype : m_other;
        default:
            return m_other;
    }
}

struct members {
    dom::element value[m_other];
    unsigned present = 0;
    std::string_view first_outside;  // the first member whose name is not in `allowed`
    bool outside = false;

    bool has(member m) const { return (present >> m) & 1u; }
};

members gather(dom::object obj, unsigned allowed) {
    members out;
    for (auto field : obj) {
        auto m = member_of(field.key);
        if (m == m_other || !((allowed >> m) & 1u)) {
            if (!out.outside) out.first_outside = field.key;
            out.outside = true;
            if (m == m_other) continue;
        }
        if (out.has(m)) continue;
        out.value[m] = field.value;
        out.present |= 1u << m;
    }
    return out;
}

// Reads an optional string attribute; false (with `error`) when present but not a string.
bool read_string(const members& ms, member m, std::string& out, event_error& error) {
    if (!ms.has(m)) return true;
    std::string_view s;
    if (ms.value[m].get(s)) {
        error = bad_event("`" + std::string(member_names[m]) + "` must be a string");
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

// `version` (optional) and `data` (its absence is the caller's to judge).
bool read_version_and_data(const members& ms, incoming_event& e, event_error& error) {
    if (ms.has(m_version) && !read_version(ms.value[m_version], e.version, error)) return false;
    if (ms.has(m_data)) {
        e.data = ms.value[m_data];
        e.has_data = true;
    }
    return true;
}

bool read_type(const members& ms, incoming_event& e, event_error& error) {
    if (!ms.has(m_type) || ms.value[m_type].get(e.type) || e.type.empty()) {
        error = bad_event(
            "`type` is required: a non-empty string naming the event type, such as "
            "\"user.created\"");
        return false;
    }
    return true;
}

}  // namespace

std::string_view media_type(std::string_view content_type) {
    std::string_view m = content_type.substr(0, content_type.find(';'));
    while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
    while (!m.empty() && m.front() == ' ') m.remove_prefix(1);
    return m;
}

body_mode mode_for(std::string_view content_type, bool has_ce_specversion_header) {
    auto m = media_type(content_type);
    if (iequal(m, "application/cloudevents+json")) return body_mode::structured;
    if (iequal(m, "application/cloudevents-batch+json")) return body_mode::batch;
    if (has_ce_specversion_header)
        return is_json_media(m) ? body_mode::binary : body_mode::unsupported;
    if (iequal(m, "application/json")) return body_mode::envelope;
    return body_mode::unsupported;
}

std::optional<incoming_event> read_structured(dom::element element, event_error& error) {
    dom::object obj;
    if (element.get(obj)) {
        error = bad_event("a structured CloudEvent must be a JSON object");
        return std::nullopt;
    }
    auto ms = gather(obj, ~0u);
    std::string_view spec;
    if (!ms.has(m_specversion) || ms.value[m_specversion].get(spec) || spec != "1.0") {
        error = bad_event("`specversion` must be \"1.0\"");
        return std::nullopt;
    }
    incoming_event e;
    if (!read_type(ms, e, error)) return std::nullopt;
    if (!read_string(ms, m_id, e.id, error) || !read_string(ms, m_source, e.source, error) ||
        !read_string(ms, m_time, e.time, error) || !read_string(ms, m_subject, e.subject, error) ||
        !read_string(ms, m_datacontenttype, e.datacontenttype, error) ||
        !read_string(ms, m_traceparent, e.traceparent, error) ||
        !read_string(ms, m_tracestate, e.tracestate, error))
        return std::nullopt;
    if (ms.has(m_data_base64)) {
        error = {{415,
                  "unsupported_data_type",
                  "Unsupported data content type",
                  "data_base64 is not accepted: contracts check JSON data; send it as `data`",
                  {}}};
        return std::nullopt;
    }
    if (!read_version_and_data(ms, e, error)) return std::nullopt;
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
    constexpr unsigned allowed = 1u << m_type | 1u << m_version | 1u << m_data | 1u << m_id |
                                 1u << m_source | 1u << m_subject | 1u << m_time;
    auto ms = gather(obj, allowed);
    incoming_event e;
    if (!read_type(ms, e, error)) return std::nullopt;
    if (!read_string(ms, m_id, e.id, error) || !read_string(ms, m_source, e.source, error) ||
        !read_string(ms, m_time, e.time, error) || !read_string(ms, m_subject, e.subject, error))
        return std::nullopt;
    if (!read_version_and_data(ms, e, error)) return std::nullopt;
    if (ms.outside) {
        error =
            bad_event("unknown member `" + std::string(ms.first_outside) +
                      "` in the envelope; expected type, version, data, id, source, subject, time");
        return std::nullopt;
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

std::string_view bound_tracestate(std::string_view ts, std::string& storage) {
    constexpr std::size_t max_chars = 512, max_members = 32, long_member = 128;
    auto trim = [](std::string_view m) {
        while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
        while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
        return m;
    };
    std::vector<std::string_view> members;
    std::size_t count = 0;
    for (std::size_t at = 0; at <= ts.size() && count <= max_members;) {
        auto comma = ts.find(',', at);
        if (comma == std::string_view::npos) comma = ts.size();
        if (!trim(ts.substr(at, comma - at)).empty()) ++count;
        at = comma + 1;
    }
    if (ts.size() <= max_chars && count <= max_members) return ts;
    for (std::size_t at = 0; at <= ts.size();) {
        auto comma = ts.find(',', at);
        if (comma == std::string_view::npos) comma = ts.size();
        auto m = trim(ts.substr(at, comma - at));
        if (!m.empty()) members.push_back(m);
        at = comma + 1;
    }
    // The joined length is kept as members go, so a tracestate of many members (a
    // 1 MiB body holds half a million) costs one pass, not one pass per member dropped.
    std::size_t chars = 0;  // of the kept members, without the commas between them
    for (auto m : members) chars += m.size();
    std::size_t kept = members.size();
    auto joined = [&] { return chars + (kept ? kept - 1 : 0); };
    // Members over 128 characters go first, from the end; then members from the end.
    std::vector<bool> dropped(members.size(), false);
    for (std::size_t i = members.size(); i-- > 0 && joined() > max_chars;)
        if (members[i].size() > long_member) {
            dropped[i] = true;
            chars -= members[i].size();
            --kept;
        }
    std::size_t last = members.size();  // members from `last` on are cut from the end
    while (kept > 0 && (joined() > max_chars || kept > max_members)) {
        --last;
        if (dropped[last]) continue;
        dropped[last] = true;
        chars -= members[last].size();
        --kept;
    }
    storage.clear();
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (dropped[i]) continue;
        if (!storage.empty()) storage += ',';
        storage += members[i];
    }
    return storage;
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
