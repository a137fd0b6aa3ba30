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
};

// The arguments of one command, as views: `command("XADD", key, "*", field, value)`.
// A function rather than a braced list because GCC 12 rejects braced lists of
// string literals inside coroutines.
template <typename... Args>
std::vector<std::string_view> command(const Args&... args) {
    std::vector<std::string_view> argv;
    argv.reserve(sizeof...(args));
    (argv.emplace_back(args), ...);
    return argv;
}

// Appends the RESP encoding of one command (argv) to `out`. Uses hiredis's encoder.
void encode_command(std::string& out, const std::vector<std::string_view>& argv);

// Decodes a byte stream of replies. Sans-I/O: feed() what the socket gave, then take
// replies with next() until it says need_more. Not thread-safe; one per connection.
class reply_decoder {
  public:
    enum class result { ok, need_more, bad_input };

    reply_decoder();
    ~reply_decoder();
    reply_decoder(const reply_decoder&) = delete;
    reply_decoder& operator=(const reply_decoder&) = delete;

    // False when the decoder is already broken by earlier bytes.
    bool feed(const char* data, std::size_t size);

    // ok: `out` holds the next complete reply. need_more: wait for bytes.
    // bad_input: the stream is not RESP; the connection must be dropped. See error().
    result next(reply& out);

    std::string error() const;

  private:
    redisReader* reader_;
};

}  // namespace sluice::redis
