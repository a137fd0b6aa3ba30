#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::auth {

// A token bucket: `rate` tokens a second, holding at most `burst`. Sans-I/O: the
// caller passes the time.
class token_bucket {
  public:
    using clock = std::chrono::steady_clock;
    token_bucket(double rate, double burst, clock::time_point now)
        : rate_(rate), burst_(burst), tokens_(burst), at_(now) {}

    // Takes `n` tokens if there are that many; else takes none and says how long
    // until there would be (a request larger than the burst waits for a full bucket).
    std::optional<clock::duration> take(double n, clock::time_point now);
    // Full and untouched since `now - idle`: the bucket can be forgotten.
    bool idle_since(clock::time_point now, clock::duration idle) const;

  private:
    double rate_, burst_, tokens_;
    clock::time_point at_;
};

// Buckets by key ("principal name", "client address"), made on first use with the
// rate given then, shared by every I/O thread. Bounded: past `max_keys` keys, buckets
// full and idle for a second are forgotten, and if none are, the new key is limited
// by a shared overflow bucket, so memory stays bounded whatever keys clients mint.
// Thread-safe (a lock per shard).
class rate_limiter {
  public:
    explicit rate_limiter(std::size_t max_keys = 100'000) : max_per_shard_(max_keys / shards + 1) {}

    // Takes `n` from the bucket of `key` (made with `rate` per second and a burst of
    // `burst`); nothing when allowed, else the time until it would be.
    std::optional<token_bucket::clock::duration> take(std::string_view key, double n, double rate,
                                                      double burst,
                                                      token_bucket::clock::time_point now);

  private:
    static constexpr std::size_t shards = 16;
    struct shard {
        std::mutex mutex;
        std::unordered_map<std::string, token_bucket> buckets;
        std::optional<token_bucket> overflow;
    };
    std::size_t max_per_shard_;
    std::array<shard, shards> shards_;
};

// Whole seconds a client should wait (Retry-After), at least 1.
long long retry_after_seconds(token_bucket::clock::duration wait);

}  // namespace sluice::auth
