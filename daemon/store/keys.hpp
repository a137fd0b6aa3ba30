#pragma once

#include <string>
#include <string_view>

namespace sluice::store {

// Key layout (docs/storage.md). Every key of one type carries the hash tag {<type>},
// so a type's stream, dead letters, nack reasons and idempotency keys share one
// Redis Cluster slot and one script may touch them all.
std::string stream_key(std::string_view type);                    // sluice:{user.created}:events
void assign_stream_key(std::string& out, std::string_view type);  // the same, reusing `out`
std::string dead_letter_key(std::string_view type);               // sluice:{user.created}:dlq
// sluice:{user.created}:nack: a hash of the last nack reason per `<group>\n<entry id>`.
std::string nack_reasons_key(std::string_view type);
// Per `<group>\n<consumer>` (a broker instance), the longest ack timeout (ms) of its
// subscriptions: when what it holds is due for another broker's claim.
std::string ack_timeouts_key(std::string_view type);  // sluice:{user.created}:acktimeout
// sluice:{user.created}:idem:<sha1 of len(source):source id>: bounded length whatever
// the publisher's source and id are.
std::string idempotency_key(std::string_view type, std::string_view source, std::string_view id);

}  // namespace sluice::store
