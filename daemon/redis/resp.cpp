#include "redis/resp.hpp"

#include <hiredis/hiredis.h>

namespace sluice::redis {

// Decoding goes straight into `reply` objects through hiredis's reply-object hooks:
// no redisReply tree to build, copy and free. A child is a slot in its parent's
// `elements`, so a whole reply is one allocation plus its strings and vectors.
struct reply_decoder::state {
    reply_limits limits;
    std::size_t bytes = 0;  // of the reply being decoded
    std::string over_limit;
};

namespace {

using decoder_state = reply_decoder::state;

reply* node_for(const redisReadTask* task) {
    if (task->parent) {
        auto* parent = static_cast<reply*>(task->parent->obj);
        return &parent->elements[static_cast<std::size_t>(task->idx)];
    }
    static_cast<decoder_state*>(task->privdata)->bytes = 0;
    return new reply();
}

// False (and the reason recorded) when `more` bytes would break the cap.
bool charge(const redisReadTask* task, std::size_t more) {
    auto* st = static_cast<decoder_state*>(task->privdata);
    st->bytes += more;
    if (st->bytes <= st->limits.max_bytes) return true;
    st->over_limit = "a reply larger than " + std::to_string(st->limits.max_bytes) + " bytes";
    return false;
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
    if (!charge(task, len)) return nullptr;
    reply* r = node_for(task);
    r->type = task->type == REDIS_REPLY_ERROR    ? reply::kind::error
              : task->type == REDIS_REPLY_STATUS ? reply::kind::status
                                                 : reply::kind::string;
    r->str.assign(str, len);
    return r;
}

void* create_array(const redisReadTask* task, int elements) {
    auto* st = static_cast<decoder_state*>(task->privdata);
    auto n = static_cast<std::size_t>(elements);
    if (n > st->limits.max_elements) {
        st->over_limit =
            "an array of more than " + std::to_string(st->limits.max_elements) + " elements";
        return nullptr;
    }
    if (!charge(task, n * 16)) return nullptr;
    reply* r = node_for(task);
    r->type = reply::kind::array;
    r->elements.resize(n);
    return r;
}

void* create_integer(const redisReadTask* task, long long value) {
    reply* r = node_for(task);
    r->type = reply::kind::integer;
    r->integer = value;
    return r;
}

void* create_nil(const redisReadTask* task) {
    reply* r = node_for(task);
    r->type = reply::kind::nil;
    return r;
}

// hiredis frees only the root (on error, or never when we take it): children live
// inside it.
void free_object(void* obj) {
    delete static_cast<reply*>(obj);
}

redisReplyObjectFunctions reply_functions{create_string, create_array, create_integer, create_nil,
                                          free_object};

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

reply_decoder::reply_decoder(reply_limits limits)
    : state_(std::make_unique<state>()), reader_(redisReaderCreateWithFunctions(&reply_functions)) {
    state_->limits = limits;
    reader_->privdata = state_.get();
}

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
    auto* r = static_cast<reply*>(raw);
    out = std::move(*r);
    delete r;
    return result::ok;
}

std::string reply_decoder::error() const {
    if (!state_->over_limit.empty()) return "refused " + state_->over_limit;
    return reader_->err ? std::string(reader_->errstr) : std::string();
}

}  // namespace sluice::redis
