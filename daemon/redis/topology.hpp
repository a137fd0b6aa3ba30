#pragma once

#include <optional>
#include <string>

#include "redis/endpoint.hpp"
#include "redis/resp.hpp"

namespace sluice::redis {

// What a node says it is (ROLE's first element).
enum class node_role { master, replica, sentinel, unknown };

// Reads ROLE's reply. Sans-I/O, like the rest of this file.
node_role role_of(const reply& r);

// The master's address in the reply to SENTINEL GET-MASTER-ADDR-BY-NAME: a two-element
// array of host and port. Nothing when the sentinel does not know the master (nil) or
// the reply is not that shape.
std::optional<node_address> master_address_of(const reply& r);

// How a sentinel is reached: the nodes' transport and TLS settings, the sentinel's
// address and the sentinels' own credentials, no database.
endpoint sentinel_endpoint(const endpoint& nodes, const node_address& sentinel);

}  // namespace sluice::redis
