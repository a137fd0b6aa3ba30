#pragma once

#include <string_view>

namespace sluice::schema {

enum class format_kind {
    unknown,  // not asserted: any string is fine
    date_time,
    date,
    time,
    duration,
    email,
    hostname,
    ipv4,
    ipv6,
    uri,
    uri_reference,
    uuid,
    json_pointer,
    relative_json_pointer,
    regex,
};

// The checker for a format name; unknown for names Sluice does not assert.
format_kind format_from_name(std::string_view name);

// True when `value` is valid for `kind` (always true for unknown). Sans-I/O, no
// allocation except for `regex`, which compiles the pattern.
bool check_format(format_kind kind, std::string_view value);

}  // namespace sluice::schema
