#include "deliver/group_dispatcher.hpp"

#include <algorithm>

namespace sluice::deliver {

void group_dispatcher::member::compact() {
    // Ended and extended holds leave stale deadlines behind. Once those outnumber the
    // holds, the list is rebuilt from what is held, so its size follows the window
    // rather than the ack or extend rate.
    if (deadlines.size() - deadlines_head <= 2 * held.size() + 64) return;
    std::vector<std::pair<time_point, entry_id>> live;
    live.reserve(held.size());
    for (const auto& [entry, h] : held) live.emplace_back(h.deadline, entry);
    std::sort(live.begin(), live.end());
    deadlines = std::move(live);
    deadlines_head = 0;
}

group_dispatcher::member* group_dispatcher::find(member_id m) {
    for (auto& p : members_)
        if (p->id == m) return p.get();
    return nullptr;
}

std::uint64_t group_dispatcher::backoff_ms(const policy& p, std::uint64_t delivery) {
    auto base = static_cast<std::uint64_t>(p.retry_backoff.count());
    auto cap = static_cast<std::uint64_t>(p.retry_backoff_max.count());
    std::uint64_t wait = base;
    for (std::uint64_t i = 1; i < delivery && wait < cap; ++i) wait *= 2;
    return std::min(wait, cap);
}

std::uint64_t group_dispatcher::due_at_once_ms(const policy& p) {
    // Idle for the ack timeout plus the longest backoff: due whatever its delivery count.
    return static_cast<std::uint64_t>((p.ack_timeout + p.retry_backoff_max).count());
}

group_dispatcher::member_id group_dispatcher::join(unsigned window,
                                                   std::chrono::milliseconds ack_timeout) {
    auto m = std::make_unique<member>();
    m->id = ++last_id_;
    m->window = window;
    m->ack_timeout = ack_timeout;
    members_.push_back(std::move(m));
    return last_id_;
}

void group_dispatcher::leave(member_id id, const policy& p) {
    auto it =
        std::find_if(members_.begin(), members_.end(), [id](const auto& m) { return m->id == id; });
    if (it == members_.end()) return;
    auto idle = due_at_once_ms(p);
    for (auto& [entry, h] : (*it)->held) out_.idle.emplace_back(entry.str(), idle);
    auto index = static_cast<std::size_t>(it - members_.begin());
    members_.erase(it);
    if (next_member_ > index) --next_member_;
    if (next_member_ >= members_.size()) next_member_ = 0;
    give_back_if_alone(p);
}

void group_dispatcher::give_back_if_alone(const policy& p) {
    if (!members_.empty() || ready_.empty()) return;
    auto idle = due_at_once_ms(p);
    for (auto& r : ready_) out_.idle.emplace_back(std::move(r.entry), idle);
    ready_.clear();
}

void group_dispatcher::take(std::string entry, std::shared_ptr<const std::string> event,
                            std::uint64_t entry_ms, std::uint64_t delivery, const policy& p) {
    ready_.push_back({std::move(entry), std::move(event), entry_ms, delivery});
    give_back_if_alone(p);
}

void group_dispatcher::dispatch(time_point now) {
    while (!ready_.empty() && !members_.empty()) {
        // The next member with room, round robin.
        member* to = nullptr;
        for (std::size_t i = 0; i < members_.size() && !to; ++i) {
            auto& m = members_[(next_member_ + i) % members_.size()];
            if (m->credit() > 0) {
                to = m.get();
                next_member_ = (next_member_ + i + 1) % members_.size();
            }
        }
        if (!to) return;
        auto r = std::move(ready_.front());
        ready_.pop_front();
        auto id = parse_entry_id(r.entry);
        if (!id) continue;  // not a stream entry id: Redis never gives one
        auto deadline = now + to->ack_timeout;
        to->deadlines.emplace_back(deadline, *id);
        to->held[*id] = {r.delivery, deadline};
        to->compact();
        ++(r.delivery > 1 ? out_.redelivered : out_.delivered);
        out_.frames.push_back(
            {to->id, std::move(r.entry), std::move(r.event), r.delivery, r.entry_ms});
    }
}

void group_dispatcher::ack(member_id id, const std::vector<std::string>& ids) {
    auto* m = find(id);
    for (const auto& entry : ids) {
        auto key = parse_entry_id(entry);
        auto it = m && key ? m->held.find(*key) : decltype(m->held.end()){};
        bool held = m && key && it != m->held.end();
        // Only a redelivered entry may carry a nack reason; one no longer held here
        // (past its deadline) may be a redelivery, so its reason goes too.
        if (!held || it->second.delivery > 1) out_.ack_reasons.push_back(group_ + '\n' + entry);
        if (held) m->held.erase(it);
        out_.acks.push_back(entry);  // acked even when no longer held here: it was processed
    }
    out_.acked += ids.size();
}

std::vector<std::string> group_dispatcher::nack(member_id id, const std::vector<std::string>& ids,
                                                std::optional<std::uint64_t> delay_ms,
                                                const std::string& reason, const policy& p) {
    auto timeout = static_cast<std::uint64_t>(p.ack_timeout.count());
    std::vector<std::string> unknown, fields;
    auto* m = find(id);
    for (const auto& entry : ids) {
        auto key = parse_entry_id(entry);
        auto it = m && key ? m->held.find(*key) : decltype(m->held.end()){};
        if (!m || !key || it == m->held.end()) {
            unknown.push_back(entry);
            continue;
        }
        auto wait = backoff_ms(p, it->second.delivery);
        // Due once idle reaches timeout + wait: start it that far minus the delay.
        auto delay = std::min(delay_ms.value_or(wait), timeout + wait);
        out_.idle.emplace_back(entry, timeout + wait - delay);
        if (!reason.empty()) fields.push_back(group_ + '\n' + entry);
        m->held.erase(it);
        ++out_.nacked;
    }
    if (!fields.empty()) out_.reasons.emplace_back(std::move(fields), reason);
    return unknown;
}

std::vector<std::string> group_dispatcher::extend(member_id id, const std::vector<std::string>& ids,
                                                  time_point now) {
    std::vector<std::string> unknown;
    auto* m = find(id);
    if (!m) return ids;
    auto deadline = now + m->ack_timeout;
    for (const auto& entry : ids) {
        auto key = parse_entry_id(entry);
        auto it = key ? m->held.find(*key) : m->held.end();
        if (it == m->held.end()) {
            unknown.push_back(entry);
            continue;
        }
        it->second.deadline = deadline;
        m->deadlines.emplace_back(deadline, *key);
        out_.idle.emplace_back(entry, 0);
    }
    m->compact();
    return unknown;
}

void group_dispatcher::tick(time_point now, const policy& p) {
    // Idle as if the type's whole ack timeout had passed: due after the backoff.
    auto timeout = static_cast<std::uint64_t>(p.ack_timeout.count());
    for (auto& m : members_) {
        auto& list = m->deadlines;
        while (m->deadlines_head < list.size() && list[m->deadlines_head].first <= now) {
            auto [deadline, entry] = std::move(list[m->deadlines_head++]);
            if (m->deadlines_head == list.size()) {
                list.clear();
                m->deadlines_head = 0;
            } else if (m->deadlines_head > 64 && m->deadlines_head > list.size() / 2) {
                list.erase(list.begin(), list.begin() + static_cast<long>(m->deadlines_head));
                m->deadlines_head = 0;
            }
            auto it = m->held.find(entry);
            if (it == m->held.end() || it->second.deadline != deadline) continue;
            m->held.erase(it);
            out_.idle.emplace_back(entry.str(), timeout);
        }
    }
    dispatch(now);
}

std::optional<group_dispatcher::time_point> group_dispatcher::next_deadline() const {
    std::optional<time_point> first;
    for (const auto& m : members_)
        for (auto i = m->deadlines_head; i < m->deadlines.size(); ++i) {
            const auto& [deadline, entry] = m->deadlines[i];
            auto it = m->held.find(entry);
            if (it == m->held.end() || it->second.deadline != deadline) continue;
            if (!first || deadline < *first) first = deadline;
            break;  // a member's deadlines are in time order
        }
    return first;
}

unsigned group_dispatcher::want() const {
    std::size_t free = 0;
    for (const auto& m : members_) free += m->credit();
    return free > ready_.size() ? static_cast<unsigned>(free - ready_.size()) : 0;
}

unsigned group_dispatcher::want_batch() {
    std::size_t window = 0, holding = 0;
    for (const auto& m : members_) {
        window += m->window;
        holding += m->held.size();
    }
    auto n = want();
    if (holding == 0) refilling_ = false;
    if (n == 0) {
        refilling_ = holding > 0;
        return 0;
    }
    if (refilling_ && n < std::max<std::size_t>(1, window / 4)) return 0;
    refilling_ = false;
    return n;
}

std::size_t group_dispatcher::held(member_id id) const {
    for (const auto& m : members_)
        if (m->id == id) return m->held.size();
    return 0;
}

}  // namespace sluice::deliver
