#pragma once

#include <cstdint>

namespace sluice::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
// For servers that cannot bind port 0 themselves, such as redis-server.
std::uint16_t free_port();

}  // namespace sluice::test
