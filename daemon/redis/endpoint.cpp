#include "redis/endpoint.hpp"

namespace sluice::redis {

std::string endpoint::display() const {
    switch (kind) {
        case transport::unix_socket:
            return "unix:" + path;
        case transport::tls:
            return "tls:" + host + ":" + std::to_string(port);
        case transport::tcp:
            break;
    }
    return host + ":" + std::to_string(port);
}

}  // namespace sluice::redis
