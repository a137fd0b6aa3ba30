#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/entry.hpp"

namespace sluice::deliver {

using store::stream_entry;

// Appends the CloudEvent JSON of a stored event: every CloudEvents attribute as a JSON
// string, `version` as a number, `data` as the JSON it holds, byte for byte. Fields
// whose names hold '_' (not valid CloudEvents attribute names) are Sluice's own
// metadata, e.g. a dead letter's `dlq_reason`, and are left out. Sans-I/O.
void append_event_json(std::string& out, const stream_entry& entry);

}  // namespace sluice::deliver
