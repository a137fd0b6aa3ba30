#include "streams/pages.hpp"

#include <charconv>
#include <limits>

#include "deliver/position.hpp"
#include "json/write.hpp"
#include "log/logger.hpp"

namespace sluice::streams {
namespace {

// The value of `name` as a JSON string, or null when the entry lacks it.
void append_field(std::string& out, const deliver::stream_entry& e, std::string_view name) {
    for (const auto& [k, v] : e.fields)
        if (k == name) return json::append_string(out, v);
    out += "null";
}

void append_next(std::string& out, const std::vector<deliver::stream_entry>& entries, bool more) {
    out += R"(,"next":)";
    if (entries.empty() || !more)
        out += "null";
    else
        json::append_string(out, id_after(entries.back().id));
    out += '}';
}

}  // namespace

std::string id_after(std::string_view id) {
    auto parsed = deliver::parse_entry_id(id);
    if (!parsed) return {};
    if (parsed->seq == std::numeric_limits<std::uint64_t>::max()) {
        ++parsed->ms;
        parsed->seq = 0;
    } else {
        ++parsed->seq;
    }
    return parsed->str();
}

std::string replay_page_json(std::string_view type,
                             const std::vector<deliver::stream_entry>& entries, bool more) {
    std::string out = R"({"type":)";
    json::append_string(out, type);
    out += R"(,"events":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) out += ',';
        out += R"({"entry":)";
        json::append_string(out, entries[i].id);
        out += R"(,"event":)";
        deliver::append_event_json(out, entries[i]);
        out += '}';
    }
    out += ']';
    append_next(out, entries, more);
    return out;
}

namespace {

// One dead letter's members after the opening brace: dlq_entry, entry, group,
// deliveries, reason, time, event.
void append_dead_letter(std::string& out, const deliver::stream_entry& e) {
    out += R"("dlq_entry":)";
    json::append_string(out, e.id);
    out += R"(,"entry":)";
    append_field(out, e, "dlq_entry");
    out += R"(,"group":)";
    append_field(out, e, "dlq_group");
    out += R"(,"deliveries":)";
    auto deliveries = e.field("dlq_deliveries");
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(deliveries.data(), deliveries.data() + deliveries.size(), n);
    bool numeric =
        !deliveries.empty() && ec == std::errc() && end == deliveries.data() + deliveries.size();
    out += numeric ? std::to_string(n) : std::string("null");
    out += R"(,"reason":)";
    append_field(out, e, "dlq_reason");
    out += R"(,"time":)";
    append_field(out, e, "dlq_time");
    out += R"(,"event":)";
    deliver::append_event_json(out, e);
}

}  // namespace

std::string dead_letter_page_json(std::string_view type,
                                  const std::vector<deliver::stream_entry>& entries, bool more) {
    std::string out = R"({"type":)";
    json::append_string(out, type);
    out += R"(,"dead_letters":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) out += ',';
        out += '{';
        append_dead_letter(out, entries[i]);
        out += '}';
    }
    out += ']';
    append_next(out, entries, more);
    return out;
}

std::string dead_letter_json(std::string_view type, const deliver::stream_entry& entry) {
    std::string out = R"({"type":)";
    json::append_string(out, type);
    out += ',';
    append_dead_letter(out, entry);
    out += '}';
    return out;
}

std::size_t entry_charge(const deliver::stream_entry& e) {
    std::size_t n = e.id.size() + 16 * (2 + 2 * e.fields.size());
    for (const auto& [k, v] : e.fields) n += k.size() + v.size();
    return n;
}

page_reader::page_reader(const page_query& q, const page_limits& limits)
    : limit_(q.limit)
    , step_bytes_(limits.step_bytes())
    , ask_(std::max<std::size_t>(1, step_bytes_ / std::max<std::size_t>(1, limits.max_entry_bytes)))
    , from_(q.first) {}

std::size_t page_reader::next_count() const {
    if (done_) return 0;
    return std::min(ask_, limit_ - entries_.size());
}

void page_reader::take(std::vector<deliver::stream_entry> entries) {
    std::size_t asked = next_count();
    if (asked == 0) return;
    bool ended = entries.size() < asked;
    for (auto& e : entries) {
        bytes_ += entry_charge(e);
        entries_.push_back(std::move(e));
    }
    if (entries_.size() >= limit_) {
        done_ = more_ = true;
        return;
    }
    if (ended || entries_.empty()) {
        done_ = true;
        return;
    }
    from_ = id_after(entries_.back().id);
    if (from_.empty()) {
        done_ = true;  // not an entry id: nothing can follow it
        return;
    }
    if (bytes_ >= step_bytes_) done_ = more_ = cut_by_bytes_ = true;
}

bool page_reader::too_large() {
    if (ask_ > 1) {
        ask_ = std::max<std::size_t>(1, std::min(ask_, next_count()) / 2);
        return true;
    }
    if (entries_.empty()) return false;
    done_ = more_ = cut_by_bytes_ = true;
    return true;
}

}  // namespace sluice::streams
