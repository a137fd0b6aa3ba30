#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "deliver/position.hpp"

namespace sluice::deliver {

// The decisions of one consumer group on one broker thread, with no I/O: which
// member gets each entry, what each member holds and until when, what to acknowledge,
// what to make due again and when, how many entries to read or claim. Fed with the
// entries the shell read or claimed, the members' acks, nacks, extends, joins and
// leaves, and the time; it answers with frames to send and store operations to run,
// collected in an `output` the shell takes after each call (docs/architecture.md,
// "Delivery"). The rules are those of docs/protocol.md:
//   - an entry goes to the next member with room, round robin; a member holds at most
//     its window (its credit is window - held), and a held entry's deadline is its
//     member's ack_timeout after the delivery or the last extend;
//   - an ack applies to every id, held or not (the event was processed); its nack
//     reason is forgotten with it when the entry may have one (redelivered, or no
//     longer held here);
//   - a nack makes a held entry due after delay_ms (default: the backoff for its
//     delivery count), at most ack_timeout + that backoff; ids not held are unknown;
//   - an extend restarts a held entry's deadline; ids not held are unknown;
//   - a passed deadline makes the entry due after its backoff (its PEL idle time set
//     to the type's ack_timeout), and frees the member's credit;
//   - a member that leaves, and entries read for members that are all gone, are due
//     at once for whoever comes next.
// Credit comes back one way: whatever ends a hold (ack, nack, deadline, leave) frees
// it, and the next dispatch() or want() sees it.
class group_dispatcher {
  public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using member_id = std::uint64_t;

    // The type's delivery policy as far as waits go (registry::type_policy).
    struct policy {
        std::chrono::milliseconds ack_timeout{30'000};
        std::chrono::milliseconds retry_backoff{1000};
        std::chrono::milliseconds retry_backoff_max{60'000};
    };

    // An entry handed to a member: frame it and send it to `to`.
    struct frame {
        member_id to = 0;
        std::string entry;
        std::shared_ptr<const std::string> event;  // the event's JSON, shared by every frame of it
        std::uint64_t delivery = 1;
        std::uint64_t entry_ms = 0;
    };

    // What the shell must do, in this order: send the frames; write the idle times
    // (XCLAIM ... IDLE ms JUSTID) and nack reasons now; write the acks (XACK, and HDEL
    // of `ack_reasons`) once per event-loop turn. The counts are for metrics.
    struct output {
        std::vector<frame> frames;
        std::vector<std::pair<std::string, std::uint64_t>> idle;  // entry id, PEL idle ms
        std::vector<std::pair<std::vector<std::string>, std::string>> reasons;  // fields, reason
        std::vector<std::string> acks;
        std::vector<std::string> ack_reasons;  // "<group>\n<entry id>" fields
        std::uint64_t delivered = 0, redelivered = 0, acked = 0, nacked = 0;

        bool empty() const {
            return frames.empty() && idle.empty() && reasons.empty() && acks.empty() &&
                   ack_reasons.empty() && delivered + redelivered + acked + nacked == 0;
        }
    };

    explicit group_dispatcher(std::string group) : group_(std::move(group)) {}

    // A new member, fed from the next dispatch.
    member_id join(unsigned window, std::chrono::milliseconds ack_timeout);
    // What it held becomes due at once; so do entries read for nobody, if it was the last.
    void leave(member_id m, const policy& p);
    bool idle() const { return members_.empty(); }
    std::size_t members() const { return members_.size(); }

    // Entries read (delivery 1) or claimed (their delivery count), in stream order.
    // They wait until dispatch(); if nobody is left to take them they are given back
    // at once (due for the next member, anywhere).
    void take(std::string entry, std::shared_ptr<const std::string> event, std::uint64_t entry_ms,
              std::uint64_t delivery, const policy& p);

    // Hands waiting entries to members with room, round robin.
    void dispatch(time_point now);

    void ack(member_id m, const std::vector<std::string>& ids);
    // These return the ids `m` does not hold and apply the others.
    std::vector<std::string> nack(member_id m, const std::vector<std::string>& ids,
                                  std::optional<std::uint64_t> delay_ms, const std::string& reason,
                                  const policy& p);
    std::vector<std::string> extend(member_id m, const std::vector<std::string>& ids,
                                    time_point now);

    // Ends the holds whose deadline passed by `now`; then dispatches.
    void tick(time_point now, const policy& p);
    // The earliest deadline of any hold, if any.
    std::optional<time_point> next_deadline() const;

    // How many entries a read or claim should ask for now: the members' free credit
    // beyond what already waits.
    unsigned want() const;
    // want(), once it is worth a read: after the members' windows were full, a read
    // waits until a quarter of them is free again (at least 1), so a full window
    // refilled by single acks costs one read per batch of acks, not one XREADGROUP
    // COUNT 1 per ack. Until the windows fill, and with nothing held, it is want().
    unsigned want_batch();
    std::size_t waiting() const { return ready_.size(); }
    std::size_t held(member_id m) const;

    // What to do since the last call; leaves the output empty.
    output take_output() { return std::exchange(out_, {}); }
    const output& pending_output() const { return out_; }

  private:
    struct hold {
        std::uint64_t delivery = 0;
        time_point deadline;
    };
    // Holds are keyed by the entry id as two numbers: no string per held entry.
    struct id_hash {
        std::size_t operator()(const entry_id& id) const {
            return std::hash<std::uint64_t>()(id.ms * 0x9E3779B97F4A7C15ULL ^ id.seq);
        }
    };
    struct member {
        member_id id = 0;
        unsigned window = 0;
        std::chrono::milliseconds ack_timeout{0};
        std::unordered_map<entry_id, hold, id_hash> held;
        // Deadlines in the order they were set (so in time order: a member's
        // ack_timeout is fixed); an ended or extended hold leaves a stale one behind,
        // skipped when it comes up and swept by compact().
        std::vector<std::pair<time_point, entry_id>> deadlines;
        std::size_t deadlines_head = 0;

        unsigned credit() const {
            return held.size() < window ? window - static_cast<unsigned>(held.size()) : 0;
        }
        void compact();
    };
    struct waiting_entry {
        std::string entry;
        std::shared_ptr<const std::string> event;
        std::uint64_t entry_ms = 0;
        std::uint64_t delivery = 1;
    };

    member* find(member_id m);
    void give_back_if_alone(const policy& p);
    static std::uint64_t backoff_ms(const policy& p, std::uint64_t delivery);
    static std::uint64_t due_at_once_ms(const policy& p);

    std::string group_;
    std::vector<std::unique_ptr<member>> members_;
    std::size_t next_member_ = 0;
    bool refilling_ = false;  // the windows were full: read again at a quarter free
    member_id last_id_ = 0;
    std::deque<waiting_entry> ready_;
    output out_;
};

}  // namespace sluice::deliver
