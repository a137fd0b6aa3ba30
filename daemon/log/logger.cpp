#include "log/logger.hpp"

#include "json/write.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace sluice::log {
namespace {

std::atomic<int> min_level_{static_cast<int>(level::info)};
std::atomic<format> format_{format::json};

template <typename Number>
void append_number(std::string& out, Number v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

void append_value(std::string& out, const field::value_type& v, bool quote_strings) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string_view>) {
                if (quote_strings) {
                    out += '"';
                    json::append_escaped(out, x);
                    out += '"';
                } else {
                    out.append(x);
                }
            } else if constexpr (std::is_same_v<T, bool>) {
                out += x ? "true" : "false";
            } else {
                append_number(out, x);
            }
        },
        v);
}

bool needs_quotes_in_text(std::string_view s) {
    if (s.empty()) return true;
    for (char c : s)
        if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
    return false;
}

}  // namespace

void append_timestamp(std::string& out) {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto secs = time_point_cast<seconds>(now);
    auto millis = static_cast<int>(duration_cast<milliseconds>(now - secs).count());
    // The date and time of day change once a second: format them once a second per
    // thread (gmtime and snprintf per event were a tenth of a batch publish).
    thread_local std::int64_t cached = -1;
    thread_local char prefix[20];  // YYYY-MM-DDTHH:MM:SS
    auto count = secs.time_since_epoch().count();
    if (count != cached) {
        std::time_t t = system_clock::to_time_t(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        auto put = [](char* at, int value, int digits) {
            for (int i = digits - 1; i >= 0; --i, value /= 10)
                at[i] = static_cast<char>('0' + value % 10);
        };
        put(prefix, tm.tm_year + 1900, 4);
        prefix[4] = '-';
        put(prefix + 5, tm.tm_mon + 1, 2);
        prefix[7] = '-';
        put(prefix + 8, tm.tm_mday, 2);
        prefix[10] = 'T';
        put(prefix + 11, tm.tm_hour, 2);
        prefix[13] = ':';
        put(prefix + 14, tm.tm_min, 2);
        prefix[16] = ':';
        put(prefix + 17, tm.tm_sec, 2);
        cached = count;
    }
    char tail[5] = {'.', static_cast<char>('0' + millis / 100),
                    static_cast<char>('0' + millis / 10 % 10), static_cast<char>('0' + millis % 10),
                    'Z'};
    out.append(prefix, 19);
    out.append(tail, 5);
}

bool parse_level(std::string_view text, level& out) {
    if (text == "debug")
        out = level::debug;
    else if (text == "info")
        out = level::info;
    else if (text == "warn" || text == "warning")
        out = level::warn;
    else if (text == "error")
        out = level::error;
    else
        return false;
    return true;
}

std::string_view to_string(level l) {
    switch (l) {
        case level::debug:
            return "debug";
        case level::info:
            return "info";
        case level::warn:
            return "warn";
        case level::error:
            return "error";
    }
    return "info";
}

void configure(level min_level, format fmt) {
    min_level_.store(static_cast<int>(min_level), std::memory_order_relaxed);
    format_.store(fmt, std::memory_order_relaxed);
}

bool is_enabled(level l) {
    return static_cast<int>(l) >= min_level_.load(std::memory_order_relaxed);
}

void write(level l, std::string_view msg, fields f) {
    write(l, msg, std::span<const field>(f.begin(), f.size()));
}

void write(level l, std::string_view msg, std::span<const field> f) {
    thread_local std::string line;
    line.clear();
    if (format_.load(std::memory_order_relaxed) == format::json) {
        line += R"({"time":")";
        append_timestamp(line);
        line += R"(","level":")";
        line += to_string(l);
        line += R"(","msg":")";
        json::append_escaped(line, msg);
        line += '"';
        for (const auto& fld : f) {
            line += ",\"";
            json::append_escaped(line, fld.key);
            line += "\":";
            append_value(line, fld.value, true);
        }
        line += "}\n";
    } else {
        append_timestamp(line);
        line += ' ';
        for (char c : to_string(l)) line += static_cast<char>(c - 'a' + 'A');
        line += ' ';
        line += msg;
        for (const auto& fld : f) {
            line += ' ';
            line += fld.key;
            line += '=';
            const auto* s = std::get_if<std::string_view>(&fld.value);
            append_value(line, fld.value, s != nullptr && needs_quotes_in_text(*s));
        }
        line += '\n';
    }
    // One fwrite per line: stdio locks the stream, so concurrent lines never interleave.
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

}  // namespace sluice::log
