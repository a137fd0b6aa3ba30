#include "schema/formats.hpp"

#include <arpa/inet.h>

#include <cctype>

#include "schema/regex.hpp"

namespace sluice::schema {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Reads exactly `n` digits at `pos` into `out`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!is_digit(s[pos + i])) return false;
        out = out * 10 + (s[pos + i] - '0');
    }
    pos += n;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
}

int days_in_month(int year, int month) {
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool full_date(std::string_view s, std::size_t& pos) {
    int y, m, d;
    if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, m) ||
        !expect(s, pos, '-') || !digits(s, pos, 2, d))
        return false;
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

// partial-time time-offset, with the leap-second rule: :60 only at 23:59 UTC.
bool full_time(std::string_view s, std::size_t& pos) {
    int h, m, sec;
    if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, m) ||
        !expect(s, pos, ':') || !digits(s, pos, 2, sec))
        return false;
    if (h > 23 || m > 59 || sec > 60) return false;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t start = pos;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
        if (pos == start) return false;
    }
    if (pos >= s.size()) return false;
    int offset_minutes = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        int sign = s[pos] == '-' ? -1 : 1;
        ++pos;
        int oh, om;
        if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om)) return false;
        if (oh > 23 || om > 59) return false;
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (sec == 60) {
        int utc = ((h * 60 + m - offset_minutes) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59) return false;
    }
    return true;
}

bool date_time(std::string_view s) {
    std::size_t pos = 0;
    if (!full_date(s, pos)) return false;
    if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't')) return false;
    ++pos;
    return full_time(s, pos) && pos == s.size();
}

bool date(std::string_view s) {
    std::size_t pos = 0;
    return full_date(s, pos) && pos == s.size();
}

bool time(std::string_view s) {
    std::size_t pos = 0;
    return full_time(s, pos) && pos == s.size();
}

// ISO 8601 durations as RFC 3339 Appendix A gives them: P[nY][nM][nD][T[nH][nM][nS]]
// with at least one element (and one after T), or PnW alone.
bool duration(std::string_view s) {
    if (s.size() < 2 || s[0] != 'P') return false;
    std::size_t pos = 1;
    auto read_number = [&]() {
        std::size_t start = pos;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
        return pos > start;
    };
    if (s.back() == 'W') {
        return read_number() && pos == s.size() - 1;
    }
    static constexpr std::string_view date_units = "YMD", time_units = "HMS";
    bool any = false;
    std::size_t next_unit = 0;
    while (pos < s.size() && s[pos] != 'T') {
        if (!read_number() || pos >= s.size()) return false;
        auto u = date_units.find(s[pos], next_unit);
        if (u == std::string_view::npos) return false;
        next_unit = u + 1;
        ++pos;
        any = true;
    }
    if (pos < s.size()) {
        ++pos;  // T
        bool any_time = false;
        next_unit = 0;
        while (pos < s.size()) {
            if (!read_number() || pos >= s.size()) return false;
            auto u = time_units.find(s[pos], next_unit);
            if (u == std::string_view::npos) return false;
            next_unit = u + 1;
            ++pos;
            any_time = true;
        }
        if (!any_time) return false;
        any = true;
    }
    return any;
}

bool ipv4(std::string_view s) {
    int parts = 0;
    std::size_t pos = 0;
    while (true) {
        std::size_t start = pos;
        int value = 0;
        while (pos < s.size() && is_digit(s[pos]) && pos - start < 3)
            value = value * 10 + (s[pos++] - '0');
        std::size_t len = pos - start;
        if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
        ++parts;
        if (pos == s.size()) break;
        if (s[pos] != '.' || parts == 4) return false;
        ++pos;
    }
    return parts == 4;
}

bool ipv6(std::string_view s) {
    if (s.empty() || s.size() > 45) return false;
    for (char c : s)
        if (!is_hex(c) && c != ':' && c != '.') return false;
    std::string copy(s);
    unsigned char buf[16];
    return inet_pton(AF_INET6, copy.c_str(), buf) == 1;
}

bool hostname(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    if (s.back() == '.') s.remove_suffix(1);
    if (s.empty()) return false;
    std::size_t start = 0;
    while (true) {
        auto dot = s.find('.', start);
        std::string_view label =
            s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
        // "--" in positions 3-4 is reserved for A-labels (xn--), which must be punycode.
        if (label.size() >= 4 && label[2] == '-' && label[3] == '-' &&
            !(std::tolower(static_cast<unsigned char>(label[0])) == 'x' &&
              std::tolower(static_cast<unsigned char>(label[1])) == 'n'))
            return false;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return true;
}

bool email(std::string_view s) {
    auto at = s.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return false;
    std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
    if (local.size() > 64) return false;
    if (local.front() == '"') {
        if (local.size() < 2 || local.back() != '"') return false;
        for (std::size_t i = 1; i + 1 < local.size(); ++i) {
            char c = local[i];
            if (c == '\\') {
                ++i;
                continue;
            }
            if (c == '"' || static_cast<unsigned char>(c) < 0x20) return false;
        }
    } else {
        if (local.front() == '.' || local.back() == '.' ||
            local.find("..") != std::string_view::npos)
            return false;
        static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~.";
        for (char c : local)
            if (!is_alpha(c) && !is_digit(c) && specials.find(c) == std::string_view::npos)
                return false;
    }
    if (domain.front() == '[') {
        if (domain.back() != ']') return false;
        std::string_view literal = domain.substr(1, domain.size() - 2);
        if (literal.starts_with("IPv6:")) return ipv6(literal.substr(5));
        return ipv4(literal);
    }
    return hostname(domain);
}

bool uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
    }
    return true;
}

bool json_pointer(std::string_view s) {
    if (s.empty()) return true;
    if (s.front() != '/') return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s[i] == '~' && (i + 1 >= s.size() || (s[i + 1] != '0' && s[i + 1] != '1')))
            return false;
    return true;
}

bool relative_json_pointer(std::string_view s) {
    std::size_t pos = 0;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == 0 || (pos > 1 && s[0] == '0')) return false;
    std::string_view rest = s.substr(pos);
    return rest == "#" || json_pointer(rest);
}

// Characters allowed anywhere in a URI outside the authority's IP literal.
bool uri_char(char c) {
    static constexpr std::string_view allowed = "-._~!$&'()*+,;=:@/?";
    return is_alpha(c) || is_digit(c) || allowed.find(c) != std::string_view::npos;
}

// Checks a relative or absolute reference body (after any scheme): characters,
// percent-escapes, one '#', and an authority with a numeric port.
bool uri_body(std::string_view s) {
    bool seen_hash = false;
    std::size_t i = 0;
    if (s.starts_with("//")) {
        std::size_t end = s.find_first_of("/?#", 2);
        std::string_view authority =
            s.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2);
        auto at = authority.rfind('@');
        std::string_view hostport =
            at == std::string_view::npos ? authority : authority.substr(at + 1);
        if (hostport.starts_with('[')) {
            auto close = hostport.find(']');
            if (close == std::string_view::npos) return false;
            if (!ipv6(hostport.substr(1, close - 1))) return false;
            hostport = hostport.substr(close + 1);
            if (!hostport.empty() && hostport.front() != ':') return false;
        }
        auto colon = hostport.rfind(':');
        if (colon != std::string_view::npos)
            for (char c : hostport.substr(colon + 1))
                if (!is_digit(c)) return false;
        for (char c : authority.substr(0, authority.size() - hostport.size()))
            if (c != '[' && c != ']' && !uri_char(c) && c != '%') return false;
        for (char c : hostport)
            if (!uri_char(c) && c != '%') return false;
        i = end == std::string_view::npos ? s.size() : end;
    }
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
            i += 2;
        } else if (c == '#') {
            if (seen_hash) return false;
            seen_hash = true;
        } else if (!uri_char(c)) {
            return false;
        }
    }
    return true;
}

bool uri(std::string_view s) {
    auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || !is_alpha(s[0])) return false;
    for (char c : s.substr(0, colon))
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
    return uri_body(s.substr(colon + 1));
}

bool uri_reference(std::string_view s) {
    auto colon = s.find(':');
    auto first_special = s.find_first_of("/?#");
    if (colon != std::string_view::npos &&
        (first_special == std::string_view::npos || colon < first_special))
        return uri(s);
    return uri_body(s);
}

}  // namespace

format_kind format_from_name(std::string_view name) {
    if (name == "date-time") return format_kind::date_time;
    if (name == "date") return format_kind::date;
    if (name == "time") return format_kind::time;
    if (name == "duration") return format_kind::duration;
    if (name == "email") return format_kind::email;
    if (name == "hostname") return format_kind::hostname;
    if (name == "ipv4") return format_kind::ipv4;
    if (name == "ipv6") return format_kind::ipv6;
    if (name == "uri") return format_kind::uri;
    if (name == "uri-reference") return format_kind::uri_reference;
    if (name == "uuid") return format_kind::uuid;
    if (name == "json-pointer") return format_kind::json_pointer;
    if (name == "relative-json-pointer") return format_kind::relative_json_pointer;
    if (name == "regex") return format_kind::regex;
    return format_kind::unknown;
}

bool check_format(format_kind kind, std::string_view v) {
    switch (kind) {
        case format_kind::unknown:
            return true;
        case format_kind::date_time:
            return date_time(v);
        case format_kind::date:
            return date(v);
        case format_kind::time:
            return time(v);
        case format_kind::duration:
            return duration(v);
        case format_kind::email:
            return email(v);
        case format_kind::hostname:
            return hostname(v);
        case format_kind::ipv4:
            return ipv4(v);
        case format_kind::ipv6:
            return ipv6(v);
        case format_kind::uri:
            return uri(v);
        case format_kind::uri_reference:
            return uri_reference(v);
        case format_kind::uuid:
            return uuid(v);
        case format_kind::json_pointer:
            return json_pointer(v);
        case format_kind::relative_json_pointer:
            return relative_json_pointer(v);
        case format_kind::regex:
            return regex::is_valid(v);
    }
    return true;
}

}  // namespace sluice::schema
