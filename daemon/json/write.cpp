#include "json/write.hpp"

namespace sluice::json {

std::size_t utf8_sequence_length(std::string_view s) {
    auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    if (s.empty()) return 0;
    unsigned char lead = at(0);
    // RFC 3629: the lead byte gives the length; the second byte's range also rules
    // out overlong forms, surrogates and code points past U+10FFFF.
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        n = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        n = 3;
        if (lead == 0xE0) lo = 0xA0;
        if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        n = 4;
        if (lead == 0xF0) lo = 0x90;
        if (lead == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() < n || at(1) < lo || at(1) > hi) return 0;
    for (std::size_t i = 2; i < n; ++i)
        if ((at(i) & 0xC0) != 0x80) return 0;
    return n;
}

void append_escaped(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    // Runs of characters that need no escape (nearly all of them) go in one append.
    auto plain = [](unsigned char u) { return u >= 0x20 && u < 0x80 && u != '"' && u != '\\'; };
    while (!text.empty()) {
        std::size_t run = 0;
        while (run < text.size() && plain(static_cast<unsigned char>(text[run]))) ++run;
        out.append(text.data(), run);
        text.remove_prefix(run);
        if (text.empty()) break;
        if (static_cast<unsigned char>(text.front()) >= 0x80) {
            // JSON is UTF-8: a byte that starts no well-formed sequence (a client's raw
            // path, a header) becomes U+FFFD, so the output always parses.
            auto n = utf8_sequence_length(text);
            if (n == 0) {
                out += "\\ufffd";
                n = 1;
            } else {
                out.append(text.data(), n);
            }
            text.remove_prefix(n);
            continue;
        }
        char c = text.front();
        text.remove_prefix(1);
        auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:  // the other control characters
                out += "\\u00";
                out += hex[u >> 4];
                out += hex[u & 0xf];
        }
    }
}

void append_string(std::string& out, std::string_view text) {
    out += '"';
    append_escaped(out, text);
    out += '"';
}

std::string quoted(std::string_view text) {
    std::string out;
    append_string(out, text);
    return out;
}

}  // namespace sluice::json
