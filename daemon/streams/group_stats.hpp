#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace sluice::catalog {
struct schema_catalog;
}
namespace sluice::metrics {
class registry;
}
namespace sluice::redis {
class client;
}

namespace sluice::streams {

// Every `every` (5 s unless told), reads each registered type's consumer groups and sets
// sluice_group_pending and sluice_group_lag; once a minute it also removes the
// Redis consumers (one per broker I/O thread and start) that hold nothing and have
// been idle for a day. A type's groups are read by list_groups_script (the first
// groups_to_list(max_reply_bytes) of them), as many types per pipelined request as
// fit in half the reply cap at that many groups each, so no reply of the poller can
// go over the cap however many groups there are. Runs on the control thread; a
// failed request skips its types for the round (their gauges keep their values).
class group_stats {
  public:
    using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;

    group_stats(redis::client& redis, catalog_source catalog, metrics::registry& metrics,
                std::size_t max_reply_bytes = 64 * 1024 * 1024,
                std::chrono::milliseconds every = std::chrono::seconds(5));
    ~group_stats();

    void start(boost::asio::any_io_executor ex);
    void stop();  // on the executor's thread

    struct state;

  private:
    std::shared_ptr<state> state_;
};

}  // namespace sluice::streams
