#include "net/run_loop.hpp"

#include <exception>

namespace sluice::net {

void run_catching(boost::asio::io_context& ctx,
                  const std::function<void(std::string_view what)>& failed) {
    for (;;) {
        try {
            ctx.run();
            return;
        } catch (const std::exception& e) {
            failed(e.what());
        } catch (...) {
            failed("unknown exception");
        }
    }
}

}  // namespace sluice::net
