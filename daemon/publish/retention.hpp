#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace sluice::catalog {
struct schema_catalog;
}
namespace sluice::redis {
class client;
}
namespace sluice::metrics {
class registry;
}

namespace sluice::publish {

// Applies each type's retention (max_length, max_age) to its stream once per
// `period`, by XTRIM MINID, and never past an entry a consumer group still needs:
// the oldest pending entry of each group, or the first one it has not been given
// (unless the type's policy says `unsafe`). A group holding trimming back with an
// entry older than the policy's idle_group_after is logged and reported in
// sluice_retention_blocked_groups.
// Runs on the executor given to start() (the control thread); a failed round (Redis
// away) is simply retried at the next one.
class retention_trimmer {
  public:
    using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;

    retention_trimmer(redis::client& redis, catalog_source catalog,
                      metrics::registry* metrics = nullptr,
                      std::chrono::milliseconds period = std::chrono::seconds(1));
    ~retention_trimmer();

    void start(boost::asio::any_io_executor ex);
    void stop();  // on the executor's thread

    struct state;

  private:
    std::shared_ptr<state> state_;
};

}  // namespace sluice::publish
