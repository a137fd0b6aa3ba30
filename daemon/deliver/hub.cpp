#include "deliver/hub.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <random>

#include "catalog/schema_catalog.hpp"
#include "deliver/fanout.hpp"
#include "deliver/ws_session.hpp"
#include "metrics/registry.hpp"

namespace sluice::deliver {

namespace net = boost::asio;

std::string process_consumer_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::random_device rd;
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string tag;
    for (int i = 0; i < 6; ++i) tag += alphabet[rd() % 36];
    return std::string(host[0] ? host : "sluice") + '-' + std::to_string(getpid()) + '-' + tag;
}

hub::hub(net::any_io_executor ex, redis::client& io, redis::client_options blocking,
         std::string consumer, catalog_source catalog, metrics::registry& metrics,
         websocket_limits limits)
    : ex_(std::move(ex))
    , io_(io)
    , catalog_(std::move(catalog))
    , metrics_(metrics)
    , limits_(limits)
    , ctx_{io,
           std::move(blocking),
           std::move(consumer),
           [this](const std::string& type) { return policy(type); },
           [this](const std::string& type, const std::string& group) -> metrics::delivery_series& {
               return metrics_.delivery(type, group);
           },
           [this](std::string_view task) { metrics_.count_task_restart(task); }} {}

hub::~hub() = default;

registry::type_policy::delivery_policy hub::policy(const std::string& type) const {
    auto c = catalog_();
    if (c) {
        auto it = c->policies.find(type);
        if (it != c->policies.end()) return it->second.delivery;
    }
    return {};
}

std::shared_ptr<group_reader> hub::join_group(const std::string& type, const std::string& group) {
    auto& r = groups_[{type, group}];
    if (!r) {
        r = std::make_shared<group_reader>(ex_, ctx_, type, group);
        r->start();
    }
    return r;
}

void hub::leave_group(const std::shared_ptr<subscription>& s) {
    auto it = groups_.find({s->type, s->group});
    if (it == groups_.end()) return;
    it->second->remove(s);
    if (it->second->idle()) {
        it->second->stop();
        groups_.erase(it);
    }
}

std::shared_ptr<tail_watch> hub::join_tail(const std::string& type) {
    auto& t = tails_[type];
    if (!t) {
        t = std::make_shared<tail_watch>(ex_, ctx_, type);
        t->start();
    }
    ++t->users;
    return t;
}

void hub::leave_tail(const std::string& type) {
    auto it = tails_.find(type);
    if (it == tails_.end()) return;
    if (--it->second->users == 0) {
        it->second->stop();
        tails_.erase(it);
    }
}

void hub::set_limits(const websocket_limits& l) {
    net::post(ex_, [this, l] { limits_ = l; });
}

void hub::drain() {
    net::post(ex_, [this] {
        draining_ = true;
        for (auto* s : sessions_) s->close_going_away();
    });
}

void hub::stop() {
    net::post(ex_, [this] {
        draining_ = true;
        for (auto* s : sessions_) s->cut();  // sockets the drain left open
        for (auto& [k, r] : groups_) r->stop();
        for (auto& [k, t] : tails_) t->stop();
        groups_.clear();
        tails_.clear();
    });
}

void hub::accept(sluice::net::stream stream, http::request req, std::string leftover,
                 http::connection_lease lease, ws_access access) {
    auto s =
        std::make_shared<ws_session>(std::move(stream), *this, std::move(lease), std::move(access));
    s->start(req, std::move(leftover));
}

}  // namespace sluice::deliver
