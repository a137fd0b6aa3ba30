#include "deliver/position.hpp"

#include <charconv>
#include <chrono>
#include <limits>

namespace sluice::deliver {
namespace {

bool parse_u64(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return false;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && p == text.data() + text.size();
}

bool digits(std::string_view text, std::size_t at, std::size_t n, int& out) {
    if (at + n > text.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        out = out * 10 + (text[i] - '0');
    }
    return true;
}

}  // namespace

entry_id entry_id::before() const {
    if (seq > 0) return {ms, seq - 1};
    if (ms > 0) return {ms - 1, std::numeric_limits<std::uint64_t>::max()};
    return {0, 0};
}

std::optional<entry_id> parse_entry_id(std::string_view text) {
    entry_id id;
    auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        if (!parse_u64(text, id.ms)) return std::nullopt;
        return id;
    }
    if (!parse_u64(text.substr(0, dash), id.ms) || !parse_u64(text.substr(dash + 1), id.seq))
        return std::nullopt;
    return id;
}

std::optional<std::uint64_t> parse_rfc3339_ms(std::string_view t) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    int year, month, day, hour, minute, second;
    if (!digits(t, 0, 4, year) || t.size() < 20 || t[4] != '-' || !digits(t, 5, 2, month) ||
        t[7] != '-' || !digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't') ||
        !digits(t, 11, 2, hour) || t[13] != ':' || !digits(t, 14, 2, minute) || t[16] != ':' ||
        !digits(t, 17, 2, second))
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    std::size_t i = 19;
    std::uint64_t millis = 0;
    if (i < t.size() && t[i] == '.') {
        ++i;
        std::size_t start = i;
        int scale = 100;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            if (scale > 0) millis += static_cast<std::uint64_t>(t[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start) return std::nullopt;
    }
    long offset_minutes = 0;
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
        ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int oh, om;
        if (!digits(t, i + 1, 2, oh) || i + 3 >= t.size() || t[i + 3] != ':' ||
            !digits(t, i + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset_minutes = (oh * 60 + om) * (t[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != t.size()) return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                       std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok() || year < 1970) return std::nullopt;
    auto days = sys_days(ymd).time_since_epoch().count();
    long long seconds = static_cast<long long>(days) * 86400 + hour * 3600 + minute * 60 + second -
                        offset_minutes * 60;
    if (seconds < 0) return std::nullopt;
    return static_cast<std::uint64_t>(seconds) * 1000 + millis;
}

std::string start_position::after() const {
    switch (where) {
        case kind::newest:
            return "$";
        case kind::oldest:
            return "0-0";
        case kind::at:
            break;
    }
    return first.before().str();
}

std::optional<start_position> parse_start_position(std::string_view text) {
    start_position p;
    if (text == "new") return p;
    if (text == "start") {
        p.where = start_position::kind::oldest;
        return p;
    }
    p.where = start_position::kind::at;
    if (auto id = parse_entry_id(text)) {
        p.first = *id;
        return p;
    }
    if (auto ms = parse_rfc3339_ms(text)) {
        p.first = {*ms, 0};
        return p;
    }
    return std::nullopt;
}

std::string recreate_group_at(std::optional<entry_id> oldest, std::optional<entry_id> last_seen) {
    if (oldest && last_seen && *oldest <= *last_seen) return last_seen->str();
    return "0";
}

}  // namespace sluice::deliver
