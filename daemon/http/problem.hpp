#pragma once

#include <string>
#include <string_view>

namespace sluice::http {

// An RFC 9457 problem detail. `code` is Sluice's stable, machine-readable name for
// the error (snake_case); clients branch on it, never on `title` or `detail`.
struct problem {
    unsigned status = 500;
    std::string_view code;   // e.g. "not_found"
    std::string_view title;  // short, the same for every occurrence of `code`
    std::string detail;      // this occurrence, for a person
    std::string extra_json;  // optional further members, e.g. R"("allow":["GET"])"
};

inline constexpr std::string_view problem_content_type = "application/problem+json";

// The application/problem+json body: type (urn:sluice:problem:<code>), title,
// status, detail, code, plus `extra_json` members when given.
std::string to_json(const problem& p);

}  // namespace sluice::http
