#include "redis/error.hpp"

#include <string>

namespace sluice::redis {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "sluice.redis"; }
    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
            case error::not_connected:
                return "not connected to Redis";
            case error::connection_lost:
                return "the connection to Redis was lost";
            case error::timeout:
                return "Redis did not answer in time";
            case error::protocol_error:
                return "Redis sent bytes that are not RESP";
            case error::handshake_failed:
                return "Redis refused the connection handshake";
            case error::closed:
                return "the Redis client was closed";
            case error::overloaded:
                return "too many Redis requests are waiting";
            case error::reply_too_large:
                return "the Redis reply was larger than redis.max_reply_bytes";
            case error::not_replicated:
                return "fewer replicas than publish.min_replicas confirmed the write in time";
        }
        return "unknown Redis error";
    }
};

}  // namespace

const boost::system::error_category& error_category() {
    static const category instance;
    return instance;
}

}  // namespace sluice::redis
