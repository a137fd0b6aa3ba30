// The RESP reply decoder (redis/resp.hpp) over bytes a Redis server (or whatever
// answers on its port) sends, and the command encoder against it.
//
// 1. The input as a reply stream, fed whole and then one byte at a time: the
//    decoder must never crash, must stay within its caps and must decode the same
//    replies either way (a socket delivers bytes in any split).
// 2. The input split at '\n' into command arguments: what encode_command writes must
//    decode to an array of exactly those bulk strings.
// 3. Each decoded reply read as ROLE's and as a sentinel's answer (redis/topology.hpp):
//    whatever they say must be a role, or an address with a host and a real port.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "redis/resp.hpp"
#include "redis/topology.hpp"

using namespace sluice::redis;
using sluice::fuzz::require;

namespace {

// Small caps, so the over-limit paths are reachable within -max_len.
constexpr reply_limits limits{.max_bytes = 4096, .max_elements = 64};

struct outcome {
    std::vector<reply> replies;
    bool bad = false;
};

bool same(const reply& a, const reply& b) {
    if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
        a.elements.size() != b.elements.size())
        return false;
    for (std::size_t i = 0; i < a.elements.size(); ++i)
        if (!same(a.elements[i], b.elements[i])) return false;
    return true;
}

bool same(const outcome& a, const outcome& b) {
    if (a.bad != b.bad || a.replies.size() != b.replies.size()) return false;
    for (std::size_t i = 0; i < a.replies.size(); ++i)
        if (!same(a.replies[i], b.replies[i])) return false;
    return true;
}

// Bytes and elements of a reply as the decoder charges them (strings plus 16 bytes
// per array element), to check the cap held.
std::size_t charged(const reply& r) {
    std::size_t n = r.str.size() + 16 * r.elements.size();
    for (const auto& e : r.elements) n += charged(e);
    return n;
}

outcome decode(std::string_view wire, std::size_t chunk) {
    reply_decoder d(limits);
    outcome out;
    for (std::size_t at = 0; at < wire.size() && !out.bad; at += chunk) {
        auto piece = wire.substr(at, chunk);
        if (!d.feed(piece.data(), piece.size())) {
            out.bad = true;
            break;
        }
        for (;;) {
            reply r;
            auto res = d.next(r);
            if (res == reply_decoder::result::need_more) break;
            if (res == reply_decoder::result::bad_input) {
                require(!d.error().empty(), "a broken stream says why");
                out.bad = true;
                break;
            }
            if (res != reply_decoder::result::ok) {
                // A reply over the caps, skipped whole: recorded as a marker, so both
                // ways of feeding must skip the same replies.
                out.replies.push_back(reply{reply::kind::nil, "skipped", -1, {}});
                continue;
            }
            require(r.type != reply::kind::array || r.elements.size() <= limits.max_elements,
                    "an array is within the element cap");
            require(charged(r) <= limits.max_bytes, "a reply is within the byte cap");
            out.replies.push_back(std::move(r));
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view wire(reinterpret_cast<const char*>(data), size);
    auto whole = decode(wire, wire.size() + 1);
    auto bytewise = decode(wire, 1);
    require(same(whole, bytewise), "the same replies whether bytes arrive at once or one by one");
    for (const auto& r : whole.replies) {
        auto role = role_of(r);
        require(role == node_role::unknown || r.type == reply::kind::array,
                "only an array names a role");
        if (auto a = master_address_of(r))
            require(!a->host.empty() && a->port != 0, "a master's address has a host and a port");
    }

    std::vector<std::string_view> argv;
    for (std::string_view rest = wire; argv.size() < 32;) {
        auto nl = rest.find('\n');
        argv.push_back(rest.substr(0, nl));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    std::string encoded;
    encode_command(encoded, argv);
    reply_decoder d(reply_limits{.max_bytes = 1 << 20, .max_elements = 64});
    require(d.feed(encoded.data(), encoded.size()), "an encoded command is accepted");
    reply r;
    require(d.next(r) == reply_decoder::result::ok, "an encoded command decodes whole");
    require(r.type == reply::kind::array && r.elements.size() == argv.size(),
            "an encoded command is an array of its arguments");
    for (std::size_t i = 0; i < argv.size(); ++i)
        require(r.elements[i].type == reply::kind::string && r.elements[i].str == argv[i],
                "each argument comes back byte for byte");
    require(d.next(r) == reply_decoder::result::need_more, "nothing follows the command");
    return 0;
}
