#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/subscription.hpp"

namespace sluice::deliver {

// What a written data frame leaves for the one who queued it: its fan-out
// subscription (whose window it held) and its event's stream time (for latency).
struct frame_receipt {
    std::shared_ptr<subscription> fanout;
    std::uint64_t entry_ms = 0;
};

// The outgoing side of one WebSocket connection, sans-I/O: what waits to be written
// and what the next write carries. Data frames (text messages) queue in order with the
// time they were queued; control frames (pings, the close frame) go before them; of
// the client's pings only the latest is answered (RFC 6455, 5.5.3), so a client that
// pings and never reads costs one pong, not a pile. One write at a time: begin_write()
// moves the pong, the control frames and as many data frames as fit `batch_bytes`
// into one buffer, write_receipts() says what that write carried, and end_write()
// forgets it. No clock of its own (times are passed in) and no socket; one thread,
// nothing locked.
class ws_send_queue {
  public:
    // A write carries at most about this many bytes of data frames (one frame more
    // may pass it), so one burst is one syscall without one write growing unbounded.
    static constexpr std::size_t batch_bytes = 256 * 1024;
    // Event bodies this large are written from where they are (shared by every socket
    // they go to), not copied: cheaper than the copy; smaller ones are copied, cheaper
    // than one more buffer in the gathered write.
    static constexpr std::size_t shared_body_bytes = 1024;
    // Asio's gather limit per writev: pieces beyond it are copied.
    static constexpr std::size_t max_pieces = 64;

    // `max_queued_bytes`: websocket.max_queued_bytes, every kind of frame counted.
    explicit ws_send_queue(std::size_t max_queued_bytes) : max_queued_bytes_(max_queued_bytes) {}

    // The wire size of a data frame's payload: head, body and the closing '}'.
    static std::size_t frame_bytes(const out_frame& f) {
        return f.head.size() + (f.body ? f.body->size() + 1 : 0);
    }

    // Queues data frame `f` at time `now`. Returns false when the queue then holds more
    // than max_queued_bytes (the caller closes the connection), true otherwise. Once
    // closing, frames are dropped (and true is returned).
    bool push(out_frame f, clock_type::time_point now);

    // Queues a ping (the server's keepalive).
    void ping();

    // The client pinged with `payload`: the answer replaces any earlier one not yet
    // written. Ignored once closing.
    void answer_ping(std::string_view payload);

    // Starts the close handshake: the data frames not yet written and the pending pong
    // are dropped, and a close frame (`code`, `reason` cut to fit) queued after the
    // control frames. Returns the frames dropped, for the caller to release what they
    // hold; nothing (and no second close frame) once closing.
    std::vector<out_frame> close(std::uint16_t code, std::string_view reason);

    bool closing() const { return closing_; }
    // Anything waiting to be written: data, control frames or a pong.
    bool has_work() const { return has_data() || !control_.empty() || pong_; }
    bool has_data() const { return head_ < queue_.size(); }
    // True when the oldest data frame not yet written was queued more than `limit`
    // before `now`.
    bool waited_longer_than(clock_type::duration limit, clock_type::time_point now) const {
        return has_data() && now - queue_[head_].at > limit;
    }
    // What waits, for logs: bytes of every kind of frame, and data frames.
    std::size_t queued_bytes() const { return queued_bytes_ + control_.size(); }
    std::size_t queued_frames() const { return queue_.size() - head_; }

    // A shared body written in place: it goes at `offset` in write_bytes().
    struct piece {
        std::size_t offset;
        std::shared_ptr<const std::string> body;
    };

    // Fills the next write: the pong, the control frames, then data frames in order
    // until batch_bytes. Call with no write in progress.
    void begin_write();
    // The write in progress: write_bytes() with each piece's body inserted at its
    // offset, in order. write_closes(): it carries the close frame and is the last.
    const std::string& write_bytes() const { return out_; }
    const std::vector<piece>& write_pieces() const { return pieces_; }
    bool write_closes() const { return closes_; }
    // The receipts of the data frames the write carries that have one (a fan-out frame
    // or an event's stream time), in order. Valid until end_write().
    std::span<const frame_receipt> write_receipts() const { return receipts_; }
    // The write is over (done or failed): forgets it. A connection with little traffic
    // keeps no write buffer; a busy one keeps it until release_if_idle().
    void end_write();

    // Gives the buffers back while nothing waits (the keepalive calls it once an
    // interval).
    void release_if_idle();
    // The connection is over: frees the write buffer.
    void release_write_buffer() { std::string().swap(out_); }

  private:
    void release_buffers();

    struct queued {
        out_frame frame;
        clock_type::time_point at;
    };

    std::size_t max_queued_bytes_;
    std::string out_;                      // the bytes of the write in progress
    std::vector<piece> pieces_;            // shared bodies written in place within it
    std::vector<frame_receipt> receipts_;  // of the write in progress
    std::string control_;                  // control frames waiting, written before data frames
    std::optional<std::string> pong_;      // the answer to the latest ping, not yet written
    std::size_t queued_bytes_ = 0;         // of the data frames in queue_ from head_
    std::vector<queued> queue_;            // data frames from head_
    std::size_t head_ = 0;
    bool closing_ = false;  // no more data frames; a close frame is queued or written
    bool closes_ = false;
};

}  // namespace sluice::deliver
