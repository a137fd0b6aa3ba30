#include "redis/resp.hpp"

#include <hiredis/hiredis.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

namespace sluice::redis {

// Decoding goes straight into `reply` objects through hiredis's reply-object hooks:
// no redisReply tree to build, copy and free. The root is a slot in the decoder and a
// child is a slot in its parent's `elements`, and next() swaps the root with the
// caller's reply, so steady traffic reuses the same strings and vectors.
//
// In front of hiredis sits a framer of our own that reads only the RESP headers (type
// byte and length line) and jumps over string payloads: it finds where each reply
// ends and charges it against the caps before hiredis sees its bytes. A reply within
// the caps is handed to hiredis as it streams in; one over them is dropped byte by
// byte as it arrives (hiredis is reset and never sees the rest), so it costs no
// memory and the next reply still starts where the framer says it does.
namespace {

// Arrays open at once: hiredis 0.14 refuses a ninth level (its task stack).
constexpr std::size_t max_depth = 8;
// A type byte, a length of at most 20 digits and its sign: a longer header line is not
// RESP, so a stream without CRLF cannot make the decoder buffer without bound.
constexpr std::size_t max_header_line = 32;

enum class frame_step { done, need_more, bad };
enum class phase { header, bulk, skip_line };

}  // namespace

struct reply_decoder::state {
    reply_limits limits;
    redisReader* reader = nullptr;
    reply root;
    std::string in;       // fed and not yet framed, from `pos`
    std::size_t pos = 0;  // consumed by offset; compacted in feed()

    // The reply being framed.
    phase at = phase::header;
    std::array<std::size_t, max_depth> left{};  // elements still to come, per open array
    std::size_t depth = 0;
    std::size_t bulk_left = 0;     // payload bytes of the current bulk string still to come
    std::size_t crlf_left = 0;     // bytes of its CRLF still to come
    std::size_t line_scanned = 0;  // bytes after `pos` already searched for CRLF
    bool cr_seen = false;          // skipping a line whose last byte so far is '\r'
    std::size_t charged = 0;       // string bytes + 16 per array element, so far
    bool skipping = false;
    bool looking_ahead = false;  // framing replies behind one already complete
    std::size_t ready = 0;       // complete replies handed to hiredis and not yet taken
    bool too_many_elements = false;
    std::size_t elements_seen = 0;  // of the array that was over max_elements

    skipped_reply skipped;
    std::string broken;  // why the stream is not RESP; empty while it is

    frame_step frame();
    frame_step header(bool& ended);
    frame_step fail(std::string why) {
        broken = std::move(why);
        return frame_step::bad;
    }
    void charge(std::size_t n);
    void start_skipping();
    bool end_element();
    void reset_reader();
    void reset_frame() {
        at = phase::header;
        depth = 0;
        bulk_left = crlf_left = line_scanned = charged = 0;
        cr_seen = skipping = too_many_elements = false;
    }
};

namespace {

using decoder_state = reply_decoder::state;

reply* node_for(const redisReadTask* task) {
    reply* r;
    if (task->parent) {
        r = &static_cast<reply*>(task->parent->obj)->elements[static_cast<std::size_t>(task->idx)];
    } else {
        r = &static_cast<decoder_state*>(task->privdata)->root;
    }
    r->str.clear();  // keeps capacity
    r->elements.clear();
    r->integer = 0;
    return r;
}

// The caps were checked by the framer before these bytes reached hiredis.
void* create_string(const redisReadTask* task, char* str, std::size_t len) {
    reply* r = node_for(task);
    r->type = task->type == REDIS_REPLY_ERROR    ? reply::kind::error
              : task->type == REDIS_REPLY_STATUS ? reply::kind::status
                                                 : reply::kind::string;
    r->str.assign(str, len);
    return r;
}

void* create_array(const redisReadTask* task, int elements) {
    reply* r = node_for(task);
    r->type = reply::kind::array;
    r->elements.resize(static_cast<std::size_t>(elements));
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

// The signed decimal of a RESP length line, or nothing when it is not one.
std::optional<long long> length_of(std::string_view digits_text) {
    // As strict as hiredis, which reads the whole reply later: no leading zeros, no
    // "-0", so both judge the same bytes alike.
    auto digits = digits_text.substr(!digits_text.empty() && digits_text[0] == '-' ? 1 : 0);
    if (digits.empty() || (digits[0] == '0' && digits_text.size() > 1)) return std::nullopt;
    long long n = 0;
    auto [end, ec] =
        std::from_chars(digits_text.data(), digits_text.data() + digits_text.size(), n);
    if (ec != std::errc() || end != digits_text.data() + digits_text.size() || digits_text.empty())
        return std::nullopt;
    return n;
}

std::string printable(char c) {
    if (c >= 0x21 && c < 0x7f) return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
    return buf;
}

}  // namespace

void reply_decoder::state::reset_reader() {
    if (reader) redisReaderFree(reader);
    reader = redisReaderCreateWithFunctions(&reply_functions);
    reader->privdata = this;
}

// Adds `n` bytes to the reply's charge; past the cap, the rest of the reply is skipped.
void reply_decoder::state::charge(std::size_t n) {
    charged = n > std::numeric_limits<std::size_t>::max() - charged
                  ? std::numeric_limits<std::size_t>::max()
                  : charged + n;
    if (!skipping && charged > limits.max_bytes) start_skipping();
}

// From here on the reply's bytes are counted and dropped; hiredis, which may hold the
// start of this reply (and nothing else: earlier replies were all taken), starts over.
void reply_decoder::state::start_skipping() {
    skipping = true;
    if (!looking_ahead) reset_reader();  // looking ahead, hiredis holds complete replies
}

// One element (a scalar, or an array whose last element just ended) is complete.
// True when that completes the whole reply.
bool reply_decoder::state::end_element() {
    while (depth > 0) {
        if (--left[depth - 1] > 0) return false;
        --depth;
    }
    return true;
}

// Frames from `pos` as far as the bytes here go. Never stores a payload byte of a
// skipped reply: they are only counted.
frame_step reply_decoder::state::frame() {
    for (;;) {
        const std::size_t end = in.size();
        switch (at) {
            case phase::header: {
                bool ended = false;
                auto step = header(ended);
                if (step != frame_step::done) return step;
                if (ended && end_element()) return frame_step::done;
                break;
            }
            case phase::bulk: {
                auto take = std::min(bulk_left, end - pos);
                pos += take;
                bulk_left -= take;
                while (bulk_left == 0 && crlf_left > 0 && pos < end) {
                    if (in[pos] != "\r\n"[2 - crlf_left])
                        return fail("a bulk string not followed by CRLF");
                    ++pos;
                    --crlf_left;
                }
                if (bulk_left > 0 || crlf_left > 0) return frame_step::need_more;
                at = phase::header;
                if (end_element()) return frame_step::done;
                break;
            }
            case phase::skip_line: {
                // The rest of a status or error line over the cap: find its CRLF.
                while (pos < end) {
                    const char* start = in.data() + pos;
                    const void* nl = std::memchr(start, '\n', end - pos);
                    std::size_t n =
                        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - start)
                           : end - pos;
                    bool crlf = nl && (n > 0 ? start[n - 1] == '\r' : cr_seen);
                    // A '\r' ending the bytes here may start the CRLF: held back, and
                    // charged with the next bytes unless they start with '\n'.
                    bool hold = !nl && n > 0 && start[n - 1] == '\r';
                    std::size_t content = n + (cr_seen && !(nl && n == 0) ? 1 : 0);
                    if ((crlf && n > 0) || hold) --content;
                    if (nl && !crlf) ++content;  // a lone '\n' is part of the line
                    charge(content);
                    cr_seen = hold;
                    pos += nl ? n + 1 : n;
                    if (nl && !crlf) continue;
                    if (!crlf) break;
                    at = phase::header;
                    line_scanned = 0;
                    if (end_element()) return frame_step::done;
                    break;
                }
                if (at == phase::skip_line) return frame_step::need_more;
                break;
            }
        }
    }
}

// One header line (or a whole status, error or integer line) at `pos`. done: it was
// read, `ended` says whether it was a whole element (not a bulk string's or array's
// start) and `at` what comes next. need_more: its CRLF has not come yet.
frame_step reply_decoder::state::header(bool& ended) {
    const std::size_t end = in.size();
    if (pos == end) return frame_step::need_more;
    const char kind = in[pos];
    if (kind != '+' && kind != '-' && kind != ':' && kind != '$' && kind != '*')
        return fail("expected a RESP type byte (+ - : $ *), got " + printable(kind));
    // Resume the CRLF search where the last call stopped, one byte back for a '\r'.
    std::size_t from = pos + 1 + (line_scanned > 0 ? line_scanned - 1 : 0);
    std::size_t cr = std::string_view(in).find("\r\n", from);
    bool is_text = kind == '+' || kind == '-';
    if (cr == std::string_view::npos) {
        line_scanned = end - pos - 1;
        if (!is_text) {
            if (end - pos > max_header_line)
                return fail("a RESP length line longer than " + std::to_string(max_header_line) +
                            " bytes");
            return frame_step::need_more;
        }
        std::size_t so_far = line_scanned - (in[end - 1] == '\r' ? 1 : 0);
        if (!skipping && charged + so_far <= limits.max_bytes) return frame_step::need_more;
        // Too long to keep: count the line's bytes and drop them as they come.
        if (!skipping) start_skipping();
        ++pos;
        at = phase::skip_line;
        cr_seen = false;
        line_scanned = 0;
        return frame_step::done;
    }
    line_scanned = 0;
    // The same bytes must be judged the same however they arrive: a number line too
    // long to wait for is too long once whole, too.
    if (!is_text && cr - pos > max_header_line)
        return fail("a RESP length line longer than " + std::to_string(max_header_line) + " bytes");
    std::string_view line(in.data() + pos + 1, cr - pos - 1);
    pos = cr + 2;
    ended = true;
    if (is_text) {
        charge(line.size());
        return frame_step::done;
    }
    auto n = length_of(line);
    if (kind == ':') {
        // Checked here, not left to hiredis: it sees a reply only once it is whole, so
        // a bad integer would otherwise fail early or late by how the bytes arrived.
        if (!n)
            return fail("a RESP integer that is not a number: " + std::string(line.substr(0, 24)));
        return frame_step::done;
    }
    if (!n || *n < -1)
        return fail(std::string("a RESP ") + (kind == '$' ? "bulk" : "array") +
                    " length that is not a number: " + std::string(line.substr(0, 24)));
    if (*n == -1) return frame_step::done;  // nil
    auto count = static_cast<std::size_t>(*n);
    if (count > 0 || kind == '$') ended = false;
    if (kind == '$') {
        charge(count);
        bulk_left = count;
        crlf_left = 2;
        at = phase::bulk;
        return frame_step::done;
    }
    if (count > limits.max_elements && !skipping) {
        too_many_elements = true;
        elements_seen = count;
        start_skipping();
    }
    charge(count > std::numeric_limits<std::size_t>::max() / 16
               ? std::numeric_limits<std::size_t>::max()
               : count * 16);
    if (count == 0) return frame_step::done;
    if (depth == max_depth)
        return fail("RESP arrays nested deeper than " + std::to_string(max_depth));
    left[depth++] = count;
    return frame_step::done;
}

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

reply_decoder::reply_decoder(reply_limits limits) : state_(std::make_unique<state>()) {
    state_->limits = limits;
    state_->reset_reader();
}

reply_decoder::~reply_decoder() {
    redisReaderFree(state_->reader);
}

bool reply_decoder::feed(const char* data, std::size_t size) {
    auto& st = *state_;
    if (!st.broken.empty()) return false;
    // Consume by offset; move the unread rest to the front only once it is the
    // smaller part, so a long line fed byte by byte is not copied per byte.
    if (st.pos == st.in.size()) {
        st.in.clear();
        st.pos = 0;
    } else if (st.pos > 0 && st.pos >= st.in.size() - st.pos) {
        st.in.erase(0, st.pos);
        st.pos = 0;
    }
    st.in.append(data, size);
    return true;
}

reply_decoder::result reply_decoder::next(reply& out) {
    auto& st = *state_;
    void* raw = nullptr;
    if (st.ready > 0) {
        // Framed and handed over by an earlier call: hiredis has the whole reply.
        --st.ready;
        if (redisReaderGetReply(st.reader, &raw) != REDIS_OK || !raw) {
            st.broken = "a reply did not end where its framing said it would";
            return result::bad_input;
        }
        std::swap(out, *static_cast<reply*>(raw));
        return result::ok;
    }
    if (!st.broken.empty()) return result::bad_input;
    std::size_t start = st.pos;
    auto step = st.frame();
    if (step == frame_step::bad) return result::bad_input;
    if (st.skipping) {
        if (step == frame_step::need_more) return result::need_more;
        st.skipped.bytes = st.charged;
        st.skipped.reason =
            st.too_many_elements
                ? "an array of " + std::to_string(st.elements_seen) + " elements, over the " +
                      std::to_string(st.limits.max_elements) + " a reply may hold per array"
                : "a reply of " + std::to_string(st.charged) +
                      " bytes, over redis.max_reply_bytes (" + std::to_string(st.limits.max_bytes) +
                      ")";
        st.reset_frame();
        return result::too_large;
    }
    if (step == frame_step::done) {
        // Frame the complete replies behind this one too, so hiredis gets them in one
        // feed; one that is incomplete, over the caps or not RESP is left for a later
        // call, to be framed again from its start once the replies before it are taken.
        std::size_t committed = st.pos;
        for (;;) {
            st.reset_frame();
            st.looking_ahead = true;
            auto ahead = st.frame();
            st.looking_ahead = false;
            if (ahead == frame_step::done && !st.skipping) {
                committed = st.pos;
                ++st.ready;
                continue;
            }
            st.pos = committed;
            st.broken.clear();
            st.reset_frame();
            break;
        }
    }
    // Within the caps: hiredis gets the bytes framed so far and builds what it can.
    // What is still being framed (a header line without its CRLF) stays here.
    if (st.pos > start &&
        redisReaderFeed(st.reader, st.in.data() + start, st.pos - start) != REDIS_OK) {
        st.broken = st.reader->errstr;
        return result::bad_input;
    }
    if (redisReaderGetReply(st.reader, &raw) != REDIS_OK) {
        st.broken = st.reader->err ? st.reader->errstr : "hiredis refused the reply";
        return result::bad_input;
    }
    if (step == frame_step::need_more) {
        if (!raw) return result::need_more;
        st.broken = "a reply ended before its framing said it would";
        return result::bad_input;
    }
    if (!raw) {
        st.broken = "a reply did not end where its framing said it would";
        return result::bad_input;
    }
    st.reset_frame();
    std::swap(out, *static_cast<reply*>(raw));
    return result::ok;
}

const skipped_reply& reply_decoder::skipped() const {
    return state_->skipped;
}

std::size_t reply_decoder::buffered_bytes() const {
    const auto& st = *state_;
    return st.in.size() - st.pos + (st.reader->len - st.reader->pos);
}

std::string reply_decoder::error() const {
    return state_->broken;
}

}  // namespace sluice::redis
