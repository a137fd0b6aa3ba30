#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string_view>

namespace sluice::net {

// Runs `ctx` until it is stopped or out of work. An exception that a handler lets
// escape would end the thread and, unhandled, the process: it is handed to `failed`
// (with what it says) and the loop goes on serving every other connection. Asio
// allows run() to be called again after a handler threw, without restart().
void run_catching(boost::asio::io_context& ctx,
                  const std::function<void(std::string_view what)>& failed);

}  // namespace sluice::net
