#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

namespace sluice::net {

// True when the caller runs inside `ex`'s io_context on this thread, so work for `ex`
// may run inline without a trip through the scheduler (or its allocation).
inline bool is_running_in(const boost::asio::any_io_executor& ex) {
    if (const auto* io = ex.target<boost::asio::io_context::executor_type>())
        return io->running_in_this_thread();
    return false;
}

}  // namespace sluice::net
