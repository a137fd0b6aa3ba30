#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace sluice::redis {

// A decoded Redis reply, owning its bytes.
struct reply {
    enum class kind { nil, status, error, integer, string, array };

    kind type = kind::nil;
    std::string str;              // status, error and string
    long long integer = 0;        // integer
    std::vector<reply> elements;  // array

    bool is_error() const { return type == kind::error; }
    // An error reply that means "not now" rather than "never" (out of memory, a
    // replica, loading, busy script, failover, cluster reshaping): worth a retry.
    bool is_transient_error() const {
        if (!is_error()) return false;
        for (std::string_view prefix :
             {"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"})
            if (std::string_view(str).starts_with(prefix)) return true;
        return false;
    }
};

// The arguments of one command, as views: `args("XADD", key, "*", field, value)`.
// A function rather than a braced list because GCC 12 rejects braced lists of
// string literals inside coroutines.
template <typename... Args>
std::vector<std::string_view> args(const Args&... a) {
    std::vector<std::string_view> argv;
    argv.reserve(sizeof...(a));
    (argv.emplace_back(a), ...);
    return argv;
}

// Appends the RESP encoding of one command (an array of bulk strings) to `out`.
// Our own encoder, checked against hiredis's redisFormatCommandArgv in the tests:
// hiredis formats lengths with sprintf and allocates per command, which cost a
// tenth of the CPU of a pipelined XADD load.
void encode_command(std::string& out, const std::string_view* argv, std::size_t argc);
inline void encode_command(std::string& out, const std::vector<std::string_view>& argv) {
    encode_command(out, argv.data(), argv.size());
}

// One bulk string (`$<len>` and the bytes), for callers that encode arguments once
// and reuse them (request::push with a tail).
void append_bulk(std::string& out, std::string_view s);

// One or more commands sent together, in order, with nothing from other callers
// between them (so MULTI ... EXEC stays whole). Its reply is the command's reply for
// one command, else an array with one reply per command.
class request {
  public:
    request() = default;
    explicit request(const std::vector<std::string_view>& argv) { push(argv); }

    request& push(const std::vector<std::string_view>& argv) {
        encode_command(wire_, argv);
        ++commands_;
        return *this;
    }
    request& push(const request& other) {
        wire_ += other.wire_;
        commands_ += other.commands_;
        return *this;
    }
    // A command whose last `tail_args` arguments are already encoded (append_bulk,
    // back to back in `tail`): arguments shared by several commands are encoded once.
    request& push(const std::string_view* head, std::size_t head_args, std::string_view tail,
                  std::size_t tail_args);
    template <typename... Args>
    request& push_command(const Args&... a) {
        const std::string_view argv[] = {std::string_view(a)...};
        encode_command(wire_, argv, sizeof...(a));
        ++commands_;
        return *this;
    }

    // Room for `bytes` of encoded commands, so a large pipeline is not copied as it grows.
    void reserve(std::size_t bytes) { wire_.reserve(bytes); }

    std::size_t commands() const { return commands_; }
    const std::string& wire() const { return wire_; }

    // A write that must reach replicas before it counts: on a connection with
    // min_replicas, it completes only after a WAIT that covers it (multiplexer).
    request& replicate() {
        replicated_ = true;
        return *this;
    }
    bool needs_replication() const { return replicated_; }
    std::string release_wire() { return std::move(wire_); }

  private:
    std::string wire_;
    std::size_t commands_ = 0;
    bool replicated_ = false;
};

// One command as a request: `client.async_exec(command("GET", key), token)`.
template <typename... Args>
request command(const Args&... a) {
    request r;
    r.push_command(a...);
    return r;
}

// Caps on what one reply may hold, so a huge or hostile reply cannot exhaust memory.
// A reply is charged its string bytes plus 16 bytes per array element (about what
// the decoded `reply` costs beyond its strings). Nesting is capped at 8 arrays deep,
// as hiredis caps it.
struct reply_limits {
    std::size_t max_bytes = 64 * 1024 * 1024;  // redis.max_reply_bytes
    std::size_t max_elements = 1024 * 1024;    // per array
};

// A reply that went over the caps and was skipped: how much of it was charged when
// the decoder gave up storing it (at least the cap, the whole reply once it ended)
// and why, in words (e.g. "a reply of 2097186 bytes, over the cap of 1048576").
struct skipped_reply {
    std::size_t bytes = 0;
    std::string reason;
};

// Decodes a byte stream of replies. Sans-I/O: feed() what the socket gave, then take
// replies with next() until it says need_more. A reply over the caps is not stored:
// its bytes are counted and dropped as they arrive, and next() reports it once it has
// ended (too_large), so the replies after it still match their requests. Only bytes
// that are not RESP break the stream. Not thread-safe; one per connection.
class reply_decoder {
  public:
    enum class result { ok, need_more, bad_input, too_large };

    explicit reply_decoder(reply_limits limits = {});
    ~reply_decoder();
    reply_decoder(const reply_decoder&) = delete;
    reply_decoder& operator=(const reply_decoder&) = delete;

    // Takes a copy of `data`; call next() until need_more before feeding again, so at
    // most one read's worth of bytes waits here. False when the stream is already
    // broken by earlier bytes.
    bool feed(const char* data, std::size_t size);

    // ok: `out` holds the next complete reply. need_more: wait for bytes.
    // too_large: the next reply was over the caps and has been skipped whole; `out`
    // is untouched and skipped() says how large it was. bad_input: the stream is not
    // RESP; the connection must be dropped. See error().
    result next(reply& out);

    const skipped_reply& skipped() const;

    // Bytes held for replies not yet taken: fed and unframed, or handed to hiredis and
    // not yet built. Bounded by the caps plus one feed, even while a reply is skipped.
    std::size_t buffered_bytes() const;

    std::string error() const;

    struct state;

  private:
    std::unique_ptr<state> state_;
};

}  // namespace sluice::redis
