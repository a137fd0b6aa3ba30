#include "http/problem.hpp"

#include "json/write.hpp"
#include "log/logger.hpp"

namespace sluice::http {

std::string to_json(const problem& p) {
    std::string out;
    out.reserve(160 + p.detail.size() + p.extra_json.size());
    out += R"({"type":"urn:sluice:problem:)";
    json::append_escaped(out, p.code);
    out += R"(","title":")";
    json::append_escaped(out, p.title);
    out += R"(","status":)";
    out += std::to_string(p.status);
    if (!p.detail.empty()) {
        out += R"(,"detail":")";
        json::append_escaped(out, p.detail);
        out += '"';
    }
    out += R"(,"code":")";
    json::append_escaped(out, p.code);
    out += '"';
    if (!p.extra_json.empty()) {
        out += ',';
        out += p.extra_json;
    }
    out += '}';
    return out;
}

}  // namespace sluice::http
