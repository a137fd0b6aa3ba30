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
    std::string release_wire() { return std::move(wire_); }

  private:
    std::string wire_;
    std::size_t commands_ = 0;
};

// One command as a request: `client.async_exec(command("GET", key), token)`.
template <typename... Args>
request command(const Args&... a) {
    request r;
    r.push_command(a...);
    return r;
}

// Caps on what one reply may hold, so a huge or hostile reply cannot exhaust memory.
// Nesting is capped by hiredis itself (depth 7).
struct reply_limits {
    std::size_t max_bytes = 64 * 1024 * 1024;  // strings plus 16 bytes per element
    std::size_t max_elements = 1024 * 1024;    // per array
};

// Decodes a byte stream of replies. Sans-I/O: feed() what the socket gave, then take
// replies with next() until it says need_more. Not thread-safe; one per connection.
class reply_decoder {
  public:
    enum class result { ok, need_more, bad_input };

    explicit reply_decoder(reply_limits limits = {});
    ~reply_decoder();
    reply_decoder(const reply_decoder&) = delete;
    reply_decoder& operator=(const reply_decoder&) = delete;

    // False when the decoder is already broken by earlier bytes.
    bool feed(const char* data, std::size_t size);

    // ok: `out` holds the next complete reply. need_more: wait for bytes.
    // bad_input: the stream is not RESP; the connection must be dropped. See error().
    result next(reply& out);

    std::string error() const;

    struct state;

  private:
    std::unique_ptr<state> state_;
    redisReader* reader_;
};

}  // namespace sluice::redis
