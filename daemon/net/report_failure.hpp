#pragma once

#include <exception>
#include <string>

#include "log/logger.hpp"

namespace sluice::net {

// A co_spawn completion handler for a task whose failure matters but has no one to
// return to: logs the exception with `what` names the task. Never rethrows.
inline auto report_failure(std::string what) {
    return [what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& failure) {
            log::error("task failed", {{"task", what}, {"error", failure.what()}});
        } catch (...) {
            log::error("task failed", {{"task", what}, {"error", "unknown exception"}});
        }
    };
}

}  // namespace sluice::net
