#include "deliver/protocol.hpp"

#include <simdjson.h>

#include "json/write.hpp"
#include "log/logger.hpp"

namespace sluice::deliver {
namespace {

using namespace simdjson;

frame_error fail(std::string id, std::string code, std::string message) {
    return {std::move(id), std::move(code), std::move(message)};
}

// Reads an optional string member; false (with `err` set) when present but wrong.
bool read_string(dom::object obj, const char* name, std::string& out, bool required,
                 std::size_t max_len, const std::string& id, frame_error& err) {
    auto v = obj[name];
    if (v.error() == NO_SUCH_FIELD) {
        if (!required) return true;
        err = fail(id, "invalid_frame", std::string("`") + name + "` is required");
        return false;
    }
    std::string_view s;
    if (v.get(s) != SUCCESS) {
        err = fail(id, "invalid_frame", std::string("`") + name + "` must be a string");
        return false;
    }
    if (s.empty() && required) {
        err = fail(id, "invalid_frame", std::string("`") + name + "` must not be empty");
        return false;
    }
    if (s.size() > max_len) {
        err = fail(
            id, "invalid_frame",
            std::string("`") + name + "` is longer than " + std::to_string(max_len) + " bytes");
        return false;
    }
    out = s;
    return true;
}

bool read_count(dom::object obj, const char* name, std::optional<std::uint64_t>& out,
                std::uint64_t min, std::uint64_t max, const std::string& id, frame_error& err) {
    auto v = obj[name];
    if (v.error() == NO_SUCH_FIELD) return true;
    std::uint64_t n = 0;
    if (v.get(n) != SUCCESS || n < min || n > max) {
        err = fail(id, "invalid_frame",
                   std::string("`") + name + "` must be an integer from " + std::to_string(min) +
                       " to " + std::to_string(max));
        return false;
    }
    out = n;
    return true;
}

bool read_entries(dom::object obj, client_frame& f, frame_error& err) {
    dom::array list;
    if (obj["entries"].get(list) != SUCCESS) {
        err = fail(f.sub, "invalid_frame", "`entries` must be an array of stream entry ids");
        return false;
    }
    if (list.size() == 0 || list.size() > max_entries_per_frame) {
        err = fail(f.sub, "invalid_frame",
                   "`entries` must hold 1 to " + std::to_string(max_entries_per_frame) + " ids");
        return false;
    }
    f.entries.reserve(list.size());
    for (auto item : list) {
        std::string_view s;
        if (item.get(s) != SUCCESS || !parse_entry_id(s) || s.find('-') == std::string_view::npos) {
            err = fail(f.sub, "invalid_frame",
                       "`entries` must hold stream entry ids such as \"1764237600000-0\"");
            return false;
        }
        f.entries.emplace_back(s);
    }
    return true;
}

// The frame's `id` (else its `sub`), for an error about the frame as a whole.
std::string frame_name(dom::object obj) {
    for (const char* name : {"id", "sub"}) {
        std::string_view s;
        if (obj[name].get(s) == SUCCESS && !s.empty() && s.size() <= max_id_length)
            return std::string(s);
    }
    return {};
}

}  // namespace

bool valid_group_name(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

parse_result parse_client_frame(std::string_view text) {
    thread_local dom::parser parser;
    parse_result r;
    frame_error& err = r.error;
    dom::element doc;
    if (auto e = parser.parse(text.data(), text.size()).get(doc); e != SUCCESS) {
        err = fail("", "malformed_json", std::string("the frame is not JSON: ") + error_message(e));
        return r;
    }
    dom::object obj;
    if (doc.get(obj) != SUCCESS) {
        err = fail("", "invalid_frame", "a frame must be a JSON object with an `op` member");
        return r;
    }
    client_frame f;
    std::string op;
    if (!read_string(obj, "op", op, true, 32, "", err)) {
        err.id = frame_name(obj);
        return r;
    }

    if (op == "subscribe") {
        f.op = client_frame::kind::subscribe;
        if (!read_string(obj, "id", f.id, true, max_id_length, "", err)) return r;
        if (!read_string(obj, "type", f.type, true, 256, f.id, err)) return r;
        // Any length: valid_group_name() refuses a long name as invalid_group.
        if (!read_string(obj, "group", f.group, false, std::string::npos, f.id, err)) return r;
        if (obj["group"].error() != NO_SUCH_FIELD && !valid_group_name(f.group)) {
            err = fail(f.id, "invalid_group",
                       "`group` must be 1 to 128 characters of A-Z a-z 0-9 . _ : -");
            return r;
        }
        std::string from = "new";
        if (!read_string(obj, "from", from, false, 64, f.id, err)) return r;
        auto pos = parse_start_position(from);
        if (!pos) {
            err = fail(f.id, "invalid_position",
                       "`from` must be \"new\", \"start\", a stream entry id such as "
                       "\"1764237600000-0\", or an RFC 3339 time; got \"" +
                           from + "\"");
            return r;
        }
        f.from = *pos;
        f.from_text = from;
        std::optional<std::uint64_t> window;
        if (!read_count(obj, "window", window, 1, max_window, f.id, err)) return r;
        if (window) f.window = static_cast<unsigned>(*window);
        if (!read_count(obj, "ack_timeout_ms", f.ack_timeout_ms, 1, 86'400'000, f.id, err))
            return r;
    } else if (op == "ack" || op == "nack" || op == "extend") {
        f.op = op == "ack"    ? client_frame::kind::ack
               : op == "nack" ? client_frame::kind::nack
                              : client_frame::kind::extend;
        if (!read_string(obj, "sub", f.sub, true, max_id_length, "", err)) return r;
        if (!read_entries(obj, f, err)) return r;
        if (f.op == client_frame::kind::nack) {
            if (!read_count(obj, "delay_ms", f.delay_ms, 0, 86'400'000, f.sub, err)) return r;
            if (!read_string(obj, "reason", f.reason, false, max_reason_length, f.sub, err))
                return r;
        }
    } else if (op == "unsubscribe") {
        f.op = client_frame::kind::unsubscribe;
        if (!read_string(obj, "sub", f.sub, true, max_id_length, "", err)) return r;
    } else if (op == "auth") {
        f.op = client_frame::kind::auth;
        if (!read_string(obj, "token", f.token, true, max_token_length, "", err)) return r;
        if (f.token.empty()) {
            err = fail("", "invalid_frame", "`token` must not be empty");
            return r;
        }
    } else {
        err = fail(frame_name(obj), "unknown_op",
                   "unknown `op` \"" + op +
                       "\"; expected subscribe, ack, nack, extend, unsubscribe or auth");
        return r;
    }
    r.frame = std::move(f);
    return r;
}

std::string error_frame(const frame_error& e) {
    std::string out = R"({"op":"error","id":)";
    if (e.id.empty())
        out += "null";
    else
        json::append_string(out, e.id);
    out += R"(,"code":)";
    json::append_string(out, e.code);
    out += R"(,"message":)";
    json::append_string(out, e.message);
    out += '}';
    return out;
}

std::string authenticated_frame(std::string_view principal, std::int64_t expires_at) {
    std::string out = R"({"op":"authenticated","principal":)";
    json::append_string(out, principal);
    out += R"(,"expires_at":)";
    out += expires_at > 0 ? std::to_string(expires_at) : std::string("null");
    out += '}';
    return out;
}

std::string unsubscribed_frame(std::string_view sub, std::string_view reason) {
    std::string out = R"({"op":"unsubscribed","sub":)";
    json::append_string(out, sub);
    out += R"(,"reason":)";
    json::append_string(out, reason);
    out += '}';
    return out;
}

std::string subscribed_frame(const subscribed_info& s) {
    std::string out = R"({"op":"subscribed","id":)";
    json::append_string(out, s.id);
    out += R"(,"type":)";
    json::append_string(out, s.type);
    out += R"(,"group":)";
    if (s.group.empty())
        out += "null";
    else
        json::append_string(out, s.group);
    out += R"(,"from":)";
    json::append_string(out, s.from);
    out += R"(,"window":)" + std::to_string(s.window);
    if (!s.group.empty()) {
        out += R"(,"ack_timeout_ms":)" + std::to_string(s.ack_timeout_ms);
        out += R"(,"created":)";
        out += s.created ? "true" : "false";
    }
    out += '}';
    return out;
}

void append_event_frame_head(std::string& out, std::string_view sub, std::string_view entry,
                             std::uint64_t delivery) {
    out += R"({"op":"event","sub":)";
    json::append_string(out, sub);
    out += R"(,"entry":")";
    out += entry;  // digits and '-'
    out += R"(","delivery":)";
    out += std::to_string(delivery);
    out += R"(,"event":)";
}

}  // namespace sluice::deliver
