// The WebSocket protocol's client frames (deliver/protocol.hpp): JSON text a
// subscriber sends. A frame is read or refused with a stable code; either way what
// the server writes back (the error frame, or the subscribed frame built from what
// was read) must be one valid JSON document, and what was read stays within the
// protocol's bounds.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "deliver/protocol.hpp"
#include "fuzz_check.hpp"

using namespace sluice::deliver;
using sluice::fuzz::is_json;
using sluice::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = parse_client_frame(text);
    if (!r.frame) {
        require(!r.error.code.empty() && !r.error.message.empty(),
                "a refusal has a code and a message");
        require(is_json(error_frame(r.error)), "the error frame is JSON");
        return 0;
    }
    const client_frame& f = *r.frame;
    switch (f.op) {
        case client_frame::kind::subscribe: {
            require(!f.id.empty() && f.id.size() <= max_id_length,
                    "a subscription id is 1..128 bytes");
            require(!f.type.empty(), "a subscription names a type");
            require(f.group.empty() || valid_group_name(f.group), "a group name is valid");
            require(f.window >= 1 && f.window <= max_window, "the window is within 1..max_window");
            require(parse_start_position(f.from_text).has_value(), "`from` reads again");
            subscribed_info info{
                f.id, f.type, f.group, f.from_text, f.window, f.ack_timeout_ms.value_or(0), false};
            require(is_json(subscribed_frame(info)), "the subscribed frame is JSON");
            break;
        }
        case client_frame::kind::ack:
        case client_frame::kind::nack:
        case client_frame::kind::extend:
            require(f.entries.size() <= max_entries_per_frame, "entries are capped per frame");
            require(f.reason.size() <= max_reason_length, "a nack reason is capped");
            for (const auto& e : f.entries) {
                std::string head;
                append_event_frame_head(head, f.sub, e, 1);
                require(is_json(head + "null}"), "an event frame for a read entry id is JSON");
            }
            [[fallthrough]];
        case client_frame::kind::unsubscribe:
            require(!f.sub.empty() && f.sub.size() <= max_id_length, "`sub` is 1..128 bytes");
            require(is_json(unsubscribed_frame(f.sub, f.reason)), "the unsubscribed frame is JSON");
            break;
        case client_frame::kind::auth:
            require(!f.token.empty() && f.token.size() <= max_token_length,
                    "a token is 1..8192 bytes");
            require(is_json(authenticated_frame(f.token, 0)), "the authenticated frame is JSON");
            break;
    }
    return 0;
}
