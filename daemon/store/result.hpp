#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "redis/resp.hpp"

namespace sluice::store {

// Why one store operation did not complete. Either Redis gave no usable reply
// (`no_reply`: not connected, overloaded, timed out, connection lost, reply over
// redis.max_reply_bytes; `ec` says which and `text` what came with it, e.g. the size
// of the skipped reply), or it answered and refused (`refused`: `text` is its error
// reply, `transient` when it means "not now", as OOM, LOADING or READONLY do), or it
// answered in a shape we do not read (`refused` with an empty `text`: a bug, or a key
// of the wrong type). `op` names the command or script, for answers and logs.
struct failure {
    enum class kind { none, no_reply, refused };

    kind what = kind::none;
    boost::system::error_code ec;
    std::string text;
    bool transient = false;
    std::string_view op;

    explicit operator bool() const { return what != kind::none; }

    static failure no_reply(boost::system::error_code ec, std::string detail, std::string_view op) {
        return {kind::no_reply, ec, std::move(detail), false, op};
    }
    // `r` is an error reply, or a reply of a shape the caller cannot read.
    static failure refused(const redis::reply& r, std::string_view op) {
        return {
            kind::refused, {}, r.is_error() ? r.str : std::string(), r.is_transient_error(), op};
    }
};

// The one result shape of the data path: the value, or the failure that left it
// default-constructed. Operations on many items (an append of a batch) hold a result
// per item in `value`, and `error` only for what failed for all of them.
template <typename T>
struct result {
    T value{};
    failure error;

    bool ok() const { return !error; }
};

// For operations that return nothing but success.
struct done {};

}  // namespace sluice::store
