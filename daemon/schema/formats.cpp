#include "schema/formats.hpp"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include "schema/regex.hpp"

namespace sluice::schema {
namespace {

// Character classes by table: one load instead of a chain of comparisons.
enum : std::uint8_t { c_digit = 1, c_alpha = 2, c_hex = 4, c_atext = 8, c_uri = 16 };
constexpr std::array<std::uint8_t, 256> char_classes = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = c_digit | c_hex;
    for (int c = 'a'; c <= 'z'; ++c)
        t[static_cast<std::size_t>(c)] =
            static_cast<std::uint8_t>(c_alpha | (c <= 'f' ? c_hex : 0));
    for (int c = 'A'; c <= 'Z'; ++c)
        t[static_cast<std::size_t>(c)] =
            static_cast<std::uint8_t>(c_alpha | (c <= 'F' ? c_hex : 0));
    for (std::size_t c = 0; c < 256; ++c)
        if (t[c] & (c_digit | c_alpha)) t[c] |= c_atext | c_uri;
    for (unsigned char c : std::string_view("!#$%&'*+-/=?^_`{|}~."))
        t[c] |= c_atext;  // RFC 5322 atext, '.'
    for (unsigned char c : std::string_view("-._~!$&'()*+,;=:@/?"))
        t[c] |= c_uri;  // RFC 3986 pchar, '/', '?'
    return t;
}();
inline bool has_class(char c, std::uint8_t cls) {
    return char_classes[static_cast<unsigned char>(c)] & cls;
}
inline bool is_digit(char c) {
    return has_class(c, c_digit);
}
inline bool is_alpha(char c) {
    return has_class(c, c_alpha);
}
inline bool is_hex(char c) {
    return has_class(c, c_hex);
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
    // Units come in order and without gaps (RFC 3339: a year may be followed only by
    // months, months only by days; hours only by minutes, minutes only by seconds).
    static constexpr std::string_view date_units = "YMD", time_units = "HMS";
    bool any = false;
    std::size_t next_unit = 0;
    while (pos < s.size() && s[pos] != 'T') {
        if (!read_number() || pos >= s.size()) return false;
        auto u = date_units.find(s[pos], next_unit);
        if (u == std::string_view::npos || (any && u != next_unit)) return false;
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
            if (u == std::string_view::npos || (any_time && u != next_unit)) return false;
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

// RFC 3492 Punycode decoding of an A-label's tail into code points.
bool punycode_decode(std::string_view in, std::u32string& out) {
    constexpr std::uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
    out.clear();
    auto delim = in.rfind('-');
    std::size_t pos = 0;
    if (delim != std::string_view::npos) {
        for (char c : in.substr(0, delim)) {
            if (static_cast<unsigned char>(c) >= 0x80) return false;
            out.push_back(static_cast<unsigned char>(c));
        }
        pos = delim + 1;
    }
    std::uint32_t n = 128, i = 0, bias = 72;
    auto adapt = [&](std::uint32_t delta, std::uint32_t points, bool first) {
        delta = first ? delta / damp : delta / 2;
        delta += delta / points;
        std::uint32_t k = 0;
        while (delta > ((base - tmin) * tmax) / 2) {
            delta /= base - tmin;
            k += base;
        }
        return k + (base - tmin + 1) * delta / (delta + skew);
    };
    while (pos < in.size()) {
        std::uint32_t old_i = i, w = 1;
        for (std::uint32_t k = base;; k += base) {
            if (pos >= in.size()) return false;
            char c = in[pos++];
            std::uint32_t digit;
            if (c >= 'a' && c <= 'z')
                digit = static_cast<std::uint32_t>(c - 'a');
            else if (c >= 'A' && c <= 'Z')
                digit = static_cast<std::uint32_t>(c - 'A');
            else if (c >= '0' && c <= '9')
                digit = static_cast<std::uint32_t>(c - '0' + 26);
            else
                return false;
            if (digit > (0xFFFFFFFFu - i) / w) return false;
            i += digit * w;
            std::uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
            if (digit < t) break;
            w *= base - t;
        }
        auto len = static_cast<std::uint32_t>(out.size() + 1);
        bias = adapt(i - old_i, len, old_i == 0);
        n += i / len;
        i %= len;
        if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF)) return false;
        out.insert(out.begin() + i, n);
        ++i;
    }
    return true;
}

std::string utf8(char32_t c) {
    std::string s;
    if (c < 0x80) {
        s += static_cast<char>(c);
    } else if (c < 0x800) {
        s += static_cast<char>(0xC0 | (c >> 6));
        s += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        s += static_cast<char>(0xE0 | (c >> 12));
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (c >> 18));
        s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
}

// Unicode properties of one code point, through PCRE2's tables.
bool has_property(char32_t c, std::string_view property) {
    // Compiled once each: a hostname may ask about every code point of a label.
    static const regex mark("^\\p{M}$"), greek("^\\p{Greek}$"), hebrew("^\\p{Hebrew}$"),
        arabic("^\\p{Arabic}$"), hiragana("^\\p{Hiragana}$"), katakana("^\\p{Katakana}$"),
        han("^\\p{Han}$");
    const regex* re = property == "M"          ? &mark
                      : property == "Greek"    ? &greek
                      : property == "Hebrew"   ? &hebrew
                      : property == "Arabic"   ? &arabic
                      : property == "Hiragana" ? &hiragana
                      : property == "Katakana" ? &katakana
                                               : &han;
    return re->search(utf8(c));
}

bool is_virama(char32_t c) {
    static constexpr char32_t viramas[] = {
        0x094D, 0x09CD, 0x0A4D, 0x0ACD, 0x0B4D, 0x0BCD, 0x0C4D, 0x0CCD, 0x0D3B, 0x0D3C, 0x0D4D,
        0x0DCA, 0x0E3A, 0x0EBA, 0x0F84, 0x1039, 0x103A, 0x1714, 0x1734, 0x17D2, 0x1A60, 0x1B44,
        0x1BAA, 0x1BAB, 0x1BF2, 0x1BF3, 0x2D7F, 0xA806, 0xA8C4, 0xA953, 0xA9C0, 0xAAF6, 0xABED};
    for (auto v : viramas)
        if (v == c) return true;
    return false;
}

// IDNA2008 (RFC 5891/5892) checks Sluice applies to the U-label of an A-label: valid
// Punycode that decodes to non-ASCII, no "--" in positions 3-4, no leading combining
// mark, none of the DISALLOWED exceptions, and the CONTEXTJ/CONTEXTO rules.
bool idna_label(std::string_view ace) {
    std::u32string u;
    if (!punycode_decode(ace, u) || u.empty()) return false;
    bool ascii_only = true;
    for (auto c : u) ascii_only = ascii_only && c < 0x80;
    if (ascii_only) return false;
    if (u.size() >= 4 && u[2] == '-' && u[3] == '-') return false;
    if (has_property(u[0], "M")) return false;
    bool arabic_indic = false, extended_arabic_indic = false, needs_kana_or_han = false,
         has_kana_or_han = false;
    for (std::size_t i = 0; i < u.size(); ++i) {
        char32_t c = u[i];
        char32_t prev = i > 0 ? u[i - 1] : 0, next = i + 1 < u.size() ? u[i + 1] : 0;
        switch (c) {
            case 0x0640:
            case 0x07FA:
            case 0x302E:
            case 0x302F:
            case 0x3031:
            case 0x3032:
            case 0x3033:
            case 0x3034:
            case 0x3035:
            case 0x303B:
                return false;  // DISALLOWED exceptions
            case 0x00B7:       // MIDDLE DOT: only between two 'l'
                if (prev != 'l' || next != 'l') return false;
                break;
            case 0x0375:  // GREEK KERAIA: before a Greek character
                if (!next || !has_property(next, "Greek")) return false;
                break;
            case 0x05F3:
            case 0x05F4:  // HEBREW GERESH, GERSHAYIM: after a Hebrew character
                if (!prev || !has_property(prev, "Hebrew")) return false;
                break;
            case 0x30FB:
                needs_kana_or_han = true;
                break;
            case 0x200D:  // ZERO WIDTH JOINER: after a virama
                if (!is_virama(prev)) return false;
                break;
            case 0x200C:  // ZERO WIDTH NON-JOINER: after a virama, or between joining letters
                if (!is_virama(prev) &&
                    !(prev && next && has_property(prev, "Arabic") && has_property(next, "Arabic")))
                    return false;
                break;
            default:
                break;
        }
        if (c >= 0x0660 && c <= 0x0669) arabic_indic = true;
        if (c >= 0x06F0 && c <= 0x06F9) extended_arabic_indic = true;
        if (c != 0x30FB &&
            (has_property(c, "Hiragana") || has_property(c, "Katakana") || has_property(c, "Han")))
            has_kana_or_han = true;
    }
    if (arabic_indic && extended_arabic_indic) return false;
    if (needs_kana_or_han && !has_kana_or_han) return false;
    return true;
}

bool hostname(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        auto dot = s.find('.', start);
        std::string_view label =
            s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
        // "--" in positions 3-4 is reserved for A-labels (xn--), which must be valid IDNA.
        if (label.size() >= 4 && label[2] == '-' && label[3] == '-') {
            bool xn = std::tolower(static_cast<unsigned char>(label[0])) == 'x' &&
                      std::tolower(static_cast<unsigned char>(label[1])) == 'n';
            if (!xn || !idna_label(label.substr(4))) return false;
        }
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
        for (char c : local)
            if (!has_class(c, c_atext)) return false;
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
    if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return false;
    std::uint8_t all = c_hex;
    for (std::size_t i : {0, 9, 14, 19, 24}) {
        std::size_t end = i == 24 ? 36 : i == 0 ? 8 : i + 4;
        for (std::size_t j = i; j < end; ++j) all &= char_classes[static_cast<unsigned char>(s[j])];
    }
    return all & c_hex;
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
    return has_class(c, c_uri);
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
        auto at = authority.find('@');
        if (at != authority.rfind('@')) return false;  // one userinfo at most
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
        for (char c : at == std::string_view::npos ? std::string_view{} : authority.substr(0, at))
            if (!uri_char(c) && c != '%') return false;
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
