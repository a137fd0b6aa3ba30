#include "deliver/ws_send_queue.hpp"

#include <iterator>

#include "deliver/ws_codec.hpp"

namespace sluice::deliver {

bool ws_send_queue::push(out_frame f, clock_type::time_point now) {
    if (closing_) return true;
    queued_bytes_ += frame_bytes(f);
    queue_.push_back({std::move(f), now});
    return queued_bytes() <= max_queued_bytes_;
}

void ws_send_queue::ping() {
    append_ws_frame_header(control_, ws_opcode::ping, 0);
}

void ws_send_queue::answer_ping(std::string_view payload) {
    if (!closing_) pong_ = payload;  // reuses the earlier answer's buffer
}

std::vector<out_frame> ws_send_queue::close(std::uint16_t code, std::string_view reason) {
    if (closing_) return {};
    closing_ = true;
    std::vector<out_frame> dropped;
    dropped.reserve(queue_.size() - head_);
    for (auto i = head_; i < queue_.size(); ++i) dropped.push_back(std::move(queue_[i].frame));
    queue_.clear();
    head_ = 0;
    queued_bytes_ = 0;
    pong_.reset();
    append_ws_close_frame(control_, code, reason);
    return dropped;
}

void ws_send_queue::begin_write() {
    out_.clear();
    if (pong_) {
        append_ws_frame_header(out_, ws_opcode::pong, pong_->size());
        out_ += *pong_;
        pong_.reset();
    }
    out_ += control_;
    control_.clear();
    closes_ = closing_ && head_ == queue_.size();
    std::size_t batched = 0;
    while (head_ < queue_.size() && batched < batch_bytes) {
        auto& f = queue_[head_++].frame;
        std::size_t size = frame_bytes(f);
        queued_bytes_ -= size;
        batched += size;
        append_ws_frame_header(out_, ws_opcode::text, size);
        out_ += f.head;
        if (f.body && f.body->size() >= shared_body_bytes && pieces_.size() + 2 < max_pieces) {
            pieces_.push_back({out_.size(), std::move(f.body)});
            out_ += '}';
        } else if (f.body) {
            out_ += *f.body;
            out_ += '}';
        }
        if (f.fanout || f.entry_ms) receipts_.push_back({std::move(f.fanout), f.entry_ms});
    }
    if (head_ == queue_.size()) {
        queue_.clear();
        head_ = 0;
    }
}

void ws_send_queue::end_write() {
    pieces_.clear();
    receipts_.clear();
    if (head_ == queue_.size() && out_.capacity() <= 4096) release_buffers();
}

void ws_send_queue::release_if_idle() {
    if (!has_work()) release_buffers();
}

void ws_send_queue::release_buffers() {
    std::string().swap(out_);
    std::vector<queued>().swap(queue_);
    std::vector<frame_receipt>().swap(receipts_);
}

}  // namespace sluice::deliver
