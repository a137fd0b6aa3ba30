#include "redis/resp.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

namespace sluice::redis {

// Decoding goes straight into `reply` objects through hiredis's reply-object hooks:
// no redisReply tree to build, copy and free. The root is a slot in the decoder and a
// child is a slot in its parent's `elements`, and next() swaps the root with the
// caller's reply, so steady traffic reuses the same strings and vectors.
struct reply_decoder::state {
    reply_limits limits;
    std::size_t bytes = 0;  // of the reply being decoded
    std::string over_limit;
    reply root;
};

namespace {

using decoder_state = reply_decoder::state;

reply* node_for(const redisReadTask* task) {
    reply* r;
    if (task->parent) {
        r = &static_cast<reply*>(task->parent->obj)->elements[static_cast<std::size_t>(task->idx)];
    } else {
        auto* st = static_cast<decoder_state*>(task->privdata);
        st->bytes = 0;
        r = &st->root;
    }
    r->str.clear();  // keeps capacity
    r->elements.clear();
    r->integer = 0;
    return r;
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

// Every node lives in the decoder's root slot: nothing to free.
void free_object(void*) {}

redisReplyObjectFunctions reply_functions{create_string, create_array, create_integer, create_nil,
                                          free_object};

}  // namespace

namespace {

std::size_t digits(std::size_t n) {
    std::size_t d = 1;
    while (n >= 10) n /= 10, ++d;
    return d;
}

void append_header(std::string& out, char kind, std::size_t n) {
    char buf[24];
    buf[0] = kind;
    auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void encode_command(std::string& out, const std::string_view* argv, std::size_t argc) {
    std::size_t size = 3 + digits(argc);
    for (std::size_t i = 0; i < argc; ++i) size += 5 + digits(argv[i].size()) + argv[i].size();
    out.reserve(out.size() + size);
    append_header(out, '*', argc);
    for (std::size_t i = 0; i < argc; ++i) append_bulk(out, argv[i]);
}

void append_bulk(std::string& out, std::string_view s) {
    append_header(out, '$', s.size());
    out.append(s);
    out.append("\r\n", 2);
}

request& request::push(const std::string_view* head, std::size_t head_args, std::string_view tail,
                       std::size_t tail_args) {
    append_header(wire_, '*', head_args + tail_args);
    for (std::size_t i = 0; i < head_args; ++i) append_bulk(wire_, head[i]);
    wire_.append(tail);
    ++commands_;
    return *this;
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
    std::swap(out, *static_cast<reply*>(raw));
    return result::ok;
}

std::string reply_decoder::error() const {
    if (!state_->over_limit.empty()) return "refused " + state_->over_limit;
    return reader_->err ? std::string(reader_->errstr) : std::string();
}

}  // namespace sluice::redis
