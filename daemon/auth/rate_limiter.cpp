#include "auth/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace sluice::auth {

std::optional<token_bucket::clock::duration> token_bucket::take(double n, clock::time_point now) {
    if (now > at_) {
        tokens_ =
            std::min(burst_, tokens_ + std::chrono::duration<double>(now - at_).count() * rate_);
        at_ = now;
    }
    double need = std::min(n, burst_);  // more than a burst: a full bucket lets it through
    if (tokens_ >= need) {
        tokens_ -= need;
        return std::nullopt;
    }
    auto wait = std::chrono::duration<double>((need - tokens_) / rate_);
    return std::chrono::duration_cast<clock::duration>(wait);
}

bool token_bucket::idle_since(clock::time_point now, clock::duration idle) const {
    return now - at_ >= idle &&
           tokens_ + std::chrono::duration<double>(now - at_).count() * rate_ >= burst_;
}

std::optional<token_bucket::clock::duration> rate_limiter::take(
    std::string_view key, double n, double rate, double burst,
    token_bucket::clock::time_point now) {
    auto& s = shards_[std::hash<std::string_view>{}(key) % shards];
    std::lock_guard lock(s.mutex);
    auto it = s.buckets.find(std::string(key));
    if (it == s.buckets.end()) {
        if (s.buckets.size() >= max_per_shard_)
            std::erase_if(s.buckets, [&](const auto& kv) {
                return kv.second.idle_since(now, std::chrono::seconds(1));
            });
        if (s.buckets.size() >= max_per_shard_) {
            if (!s.overflow) s.overflow.emplace(rate, burst, now);
            return s.overflow->take(n, now);
        }
        it = s.buckets.emplace(std::string(key), token_bucket(rate, burst, now)).first;
    }
    return it->second.take(n, now);
}

long long retry_after_seconds(token_bucket::clock::duration wait) {
    auto s = std::chrono::duration<double>(wait).count();
    return std::max(1LL, static_cast<long long>(std::ceil(s)));
}

}  // namespace sluice::auth
