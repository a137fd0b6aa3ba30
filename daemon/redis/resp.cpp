#include "redis/resp.hpp"

#include <hiredis/hiredis.h>

namespace sluice::redis {
namespace {

void convert(const redisReply& in, reply& out) {
    switch (in.type) {
        case REDIS_REPLY_STRING:
            out.type = reply::kind::string;
            break;
        case REDIS_REPLY_STATUS:
            out.type = reply::kind::status;
            break;
        case REDIS_REPLY_ERROR:
            out.type = reply::kind::error;
            break;
        case REDIS_REPLY_INTEGER:
            out.type = reply::kind::integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = reply::kind::array;
            break;
        default:
            out.type = reply::kind::nil;
            break;
    }
    out.str.clear();
    out.elements.clear();
    out.integer = in.integer;
    if (in.str) out.str.assign(in.str, static_cast<std::size_t>(in.len));
    if (in.type == REDIS_REPLY_ARRAY) {
        out.elements.resize(in.elements);
        for (std::size_t i = 0; i < in.elements; ++i) convert(*in.element[i], out.elements[i]);
    }
}

}  // namespace

void encode_command(std::string& out, const std::vector<std::string_view>& argv) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (auto a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    char* cmd = nullptr;
    int n = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    if (n > 0 && cmd) out.append(cmd, static_cast<std::size_t>(n));
    redisFreeCommand(cmd);
}

reply_decoder::reply_decoder() : reader_(redisReaderCreate()) {}

reply_decoder::~reply_decoder() {
    redisReaderFree(reader_);
}

bool reply_decoder::feed(const char* data, std::size_t size) {
    return redisReaderFeed(reader_, data, size) == REDIS_OK;
}

reply_decoder::result reply_decoder::next(reply& out) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return result::bad_input;
    if (!raw) return result::need_more;
    auto* r = static_cast<redisReply*>(raw);
    convert(*r, out);
    freeReplyObject(r);
    return result::ok;
}

std::string reply_decoder::error() const {
    return reader_->err ? std::string(reader_->errstr) : std::string();
}

}  // namespace sluice::redis
