#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace sluice::redis {

// Why a Redis request did not get a reply. Error *replies* (e.g. WRONGTYPE) are not
// errors here: they arrive as a reply of kind::error.
enum class error {
    not_connected = 1,  // no connection is up; the request was not sent
    connection_lost,    // the connection broke before the reply came
    timeout,            // Redis did not answer within the configured time
    protocol_error,     // the bytes from Redis were not valid RESP
    handshake_failed,   // AUTH / SELECT / CLIENT SETNAME was refused
    closed,             // the client was shut down
    overloaded,         // too many requests (or bytes) already waiting; retry later
    // The reply was over redis.max_reply_bytes (or the per-array element cap) and was
    // skipped; the connection goes on serving. The reply that comes with this error
    // is an error reply whose `str` says how large it was.
    reply_too_large,
    // The write was applied by the master, but fewer replicas than asked
    // (connection_options::min_replicas) confirmed it within the replica timeout. The
    // reply that comes with this error is the request's own.
    not_replicated,
};

const boost::system::error_category& error_category();

inline boost::system::error_code make_error_code(error e) {
    return {static_cast<int>(e), error_category()};
}

}  // namespace sluice::redis

template <>
struct boost::system::is_error_code_enum<sluice::redis::error> : std::true_type {};
