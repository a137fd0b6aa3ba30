#pragma once

#include <exception>
#include <string>

#include "log/logger.hpp"

namespace sluice::net {

// What an exception that ended a task says ("unknown exception" for one that is not
// a std::exception).
inline std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& failure) {
        return failure.what();
    } catch (...) {
        return "unknown exception";
    }
}

// A co_spawn completion handler for a task whose failure matters but has no one to
// return to: logs the exception with `what` names the task. Never rethrows.
inline auto report_failure(std::string what) {
    return [what = std::move(what)](std::exception_ptr e) {
        if (e) log::error("task failed", {{"task", what}, {"error", what_of(e)}});
    };
}

}  // namespace sluice::net
