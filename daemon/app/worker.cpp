#include "app/worker.hpp"

#include "app/redis_options.hpp"
#include "app/service_options.hpp"
#include "catalog/holder.hpp"

namespace sluice::app {

worker::worker(std::size_t i, boost::asio::any_io_executor ex, const config::settings& settings,
               const std::string& consumer, const catalog::holder& catalogs,
               metrics::registry& metrics)
    : index(i)
    , executor(std::move(ex))
    , redis(executor, to_client_options(settings, "io-" + std::to_string(i)), &metrics)
    , store(redis)
    , hub(
          executor, redis, to_client_options(settings, "deliver"),
          consumer + "-" + std::to_string(i), [&catalogs] { return catalogs.get(); }, metrics,
          to_websocket_limits(settings.websocket)) {}

http::worker_slot worker::lent() {
    http::worker_slot slot;
    slot.lend(redis);
    slot.lend(store);
    slot.lend(hub);
    return slot;
}

}  // namespace sluice::app
