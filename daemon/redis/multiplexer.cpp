#include "redis/multiplexer.hpp"

#include <algorithm>

namespace sluice::redis {

multiplexer::multiplexer(multiplexer_options options)
    : options_(std::move(options)), decoder_(options_.limits) {}

multiplexer::~multiplexer() = default;

bool multiplexer::add(request req, completion done, clock_type::time_point now,
                      std::chrono::milliseconds extra_time) {
    if (closed_) {
        done(make_error_code(closed_why_), reply{});
        return false;
    }
    auto bytes = req.wire().size();
    if (pending() >= options_.max_pending_requests ||
        pending_bytes_ + bytes > options_.max_pending_bytes) {
        done(make_error_code(error::overloaded), reply{});
        return false;
    }
    auto expected = std::max<std::size_t>(1, req.commands());
    bool replicated = req.needs_replication() && options_.min_replicas > 0;
    pending_bytes_ += bytes;
    queued_.push_back(entry{std::move(done),
                            req.release_wire(),
                            bytes,
                            expected,
                            now,
                            extra_time,
                            {},
                            {},
                            replicated,
                            false});
    return true;
}

std::string_view multiplexer::prepare_write(clock_type::time_point now) {
    if (written_ > 0) {
        buffer_.erase(0, written_);
        written_ = 0;
    }
    if (waiting_) return buffer_;  // the rest waits for the WAIT's answer
    bool replicated = false;
    for (auto& e : queued_) {
        buffer_ += e.wire;
        e.wire = std::string();  // its bytes are in the buffer now; free them
        e.since = now;
        replicated = replicated || e.replicated;
        awaiting_.push_back(std::move(e));
    }
    queued_.clear();
    if (replicated) {
        // One WAIT for every replicated write in this one: Redis answers it once
        // min_replicas replicas have what came before it on this connection.
        auto n = std::to_string(options_.min_replicas);
        auto ms = std::to_string(options_.replica_timeout.count());
        const std::string_view argv[] = {"WAIT", n, ms};
        encode_command(buffer_, argv, 3);
        entry w;
        w.since = now;
        w.extra_time = options_.replica_timeout;
        w.wait = true;
        awaiting_.push_back(std::move(w));
        waiting_ = true;
    }
    if (!buffer_.empty()) write_started_ = now;
    return buffer_;
}

void multiplexer::commit_write(std::size_t n) {
    written_ = std::min(buffer_.size(), written_ + n);
    if (written_ == buffer_.size()) {
        buffer_.clear();  // keeps its capacity for the next write
        written_ = 0;
    }
}

boost::system::error_code multiplexer::refuse_stream(std::string why) {
    if (broken_.empty()) broken_ = std::move(why);
    return make_error_code(error::protocol_error);
}

// Completes `e`, already off awaiting_ (so a completion that adds the caller's next
// request is safe). A request one of whose replies was skipped fails with
// error::reply_too_large, and its reply is an error reply saying why.
void multiplexer::finish(entry& e, reply r) {
    pending_bytes_ -= std::min(pending_bytes_, e.bytes);
    boost::system::error_code ec;
    if (!e.too_large.empty()) {
        ec = make_error_code(error::reply_too_large);
        r = reply{reply::kind::error, std::move(e.too_large), 0, {}};
    }
    e.done(ec, std::move(r));
}

boost::system::error_code multiplexer::consume(std::string_view bytes) {
    if (closed_) return {};
    if (!broken_.empty()) return make_error_code(error::protocol_error);
    if (!decoder_.feed(bytes.data(), bytes.size())) return refuse_stream(decoder_.error());
    for (;;) {
        reply r;
        auto res = decoder_.next(r);
        if (res == reply_decoder::result::need_more) return {};
        if (res == reply_decoder::result::bad_input) return refuse_stream(decoder_.error());
        if (awaiting_.empty()) return refuse_stream("a reply nobody asked for");
        auto& front = awaiting_.front();
        if (res == reply_decoder::result::too_large) {
            // Skipped by the decoder: only this request fails; the stream is still in
            // step, so the requests behind it are served.
            const auto& skipped = decoder_.skipped();
            if (options_.on_reply_too_large) options_.on_reply_too_large(skipped);
            if (front.too_large.empty())
                front.too_large = "Redis's reply was not read: " + skipped.reason;
            r = reply{};
        }
        if (front.expected > 1) {
            // A request of several commands completes with all its replies.
            front.collected.type = reply::kind::array;
            front.collected.elements.push_back(std::move(r));
            if (front.collected.elements.size() < front.expected) continue;
            r = std::move(front.collected);
        }
        auto e = std::move(front);
        awaiting_.pop_front();
        if (e.replicated) {
            held_.push_back({std::move(e), std::move(r)});
            continue;
        }
        if (e.wait) {
            // WAIT answers how many replicas have the writes before it (an error
            // reply, e.g. on a replica or without permission, counts as none).
            bool enough = r.type == reply::kind::integer &&
                          r.integer >= static_cast<long long>(options_.min_replicas);
            waiting_ = false;
            auto done = std::move(held_);
            held_.clear();
            for (auto& h : done) {
                if (closed_) {  // a completion gave up the connection: the rest fail
                    h.e.done(make_error_code(closed_why_), reply{});
                    continue;
                }
                pending_bytes_ -= std::min(pending_bytes_, h.e.bytes);
                boost::system::error_code ec;
                if (!h.e.too_large.empty()) {
                    ec = make_error_code(error::reply_too_large);
                    h.r = reply{reply::kind::error, std::move(h.e.too_large), 0, {}};
                } else if (!enough) {
                    ec = make_error_code(error::not_replicated);
                }
                h.e.done(ec, std::move(h.r));
            }
            if (closed_) return {};
            continue;
        }
        finish(e, std::move(r));
        if (closed_) return {};  // the completion gave up the connection
    }
}

void multiplexer::cancel_all(error why) {
    if (closed_) return;
    closed_ = true;
    closed_why_ = why;
    // Moved out first: a completion that adds a request is refused, not served.
    auto failed_held = std::move(held_);
    auto failed_awaiting = std::move(awaiting_);
    auto failed_queued = std::move(queued_);
    held_.clear();
    awaiting_.clear();
    queued_.clear();
    pending_bytes_ = 0;
    for (auto& h : failed_held) h.e.done(make_error_code(why), reply{});
    for (auto& e : failed_awaiting)
        if (e.done) e.done(make_error_code(why), reply{});
    for (auto& e : failed_queued) e.done(make_error_code(why), reply{});
}

bool multiplexer::is_overdue(clock_type::time_point now,
                             std::chrono::milliseconds dead_after) const {
    bool late_reply = !awaiting_.empty() &&
                      now - awaiting_.front().since > dead_after + awaiting_.front().extra_time;
    bool stuck_write = is_writing() && now - write_started_ > dead_after;
    // What waits for a WAIT's answer may wait the replica timeout more.
    auto held_back = waiting_ ? options_.replica_timeout : std::chrono::milliseconds(0);
    bool never_sent = !queued_.empty() && now - queued_.front().since > dead_after + held_back;
    return late_reply || stuck_write || never_sent;
}

}  // namespace sluice::redis
