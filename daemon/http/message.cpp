#include "http/message.hpp"

namespace sluice::http {

response make_response(unsigned status, std::string body, std::string_view content_type) {
    response res{static_cast<beast_http::status>(status), 11};
    res.set(beast_http::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

response make_problem(const problem& p) {
    return make_response(p.status, to_json(p), problem_content_type);
}

}  // namespace sluice::http
