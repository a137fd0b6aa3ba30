#pragma once

#include <boost/asio/any_io_executor.hpp>
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

// Every 5 s, reads each registered type's consumer groups (XINFO GROUPS, one
// pipelined request for all types) and sets
// sluice_group_pending and sluice_group_lag; once a minute it also removes the
// Redis consumers (one per broker I/O thread and start) that hold nothing and have
// been idle for a day. Runs on the control thread; a failed round is skipped (the
// gauges keep their last values).
class group_stats {
  public:
    using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;

    group_stats(redis::client& redis, catalog_source catalog, metrics::registry& metrics);
    ~group_stats();

    void start(boost::asio::any_io_executor ex);
    void stop();  // on the executor's thread

    struct state;

  private:
    std::shared_ptr<state> state_;
};

}  // namespace sluice::streams
