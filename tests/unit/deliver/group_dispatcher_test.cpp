#include "deliver/group_dispatcher.hpp"

#include <catch2/catch.hpp>

using namespace sluice::deliver;
using namespace std::chrono_literals;
using dispatcher = group_dispatcher;

namespace {

const dispatcher::policy policy{30'000ms, 1000ms, 60'000ms};
const dispatcher::time_point t0{};

std::shared_ptr<const std::string> body(const std::string& s) {
    return std::make_shared<const std::string>(s);
}

void take(dispatcher& d, const std::string& id, std::uint64_t delivery = 1) {
    d.take(id, body("{}"), 0, delivery, policy);
}

std::vector<std::string> frames_to(const dispatcher::output& out, dispatcher::member_id m) {
    std::vector<std::string> ids;
    for (const auto& f : out.frames)
        if (f.to == m) ids.push_back(f.entry);
    return ids;
}

using ids = std::vector<std::string>;
using idle = std::vector<std::pair<std::string, std::uint64_t>>;

}  // namespace

TEST_CASE("entries go round robin to members with room, never beyond a window", "[unit][deliver]") {
    dispatcher d("billing");
    auto a = d.join(2, 30'000ms);
    auto b = d.join(1, 30'000ms);
    CHECK(d.want() == 3);
    for (auto id : {"1-0", "2-0", "3-0", "4-0"}) take(d, id);
    CHECK(d.want() == 0);  // four wait for three places
    d.dispatch(t0);
    auto out = d.take_output();
    CHECK(frames_to(out, a) == ids{"1-0", "3-0"});
    CHECK(frames_to(out, b) == ids{"2-0"});
    CHECK(out.delivered == 3);
    CHECK(d.waiting() == 1);  // 4-0 waits for credit
    CHECK(d.held(a) == 2);
    CHECK(d.held(b) == 1);
    // An ack frees credit: the waiting entry goes out at the next dispatch.
    d.ack(b, {"2-0"});
    d.dispatch(t0);
    out = d.take_output();
    CHECK(frames_to(out, b) == ids{"4-0"});
    CHECK(out.acks == ids{"2-0"});
    CHECK(out.ack_reasons.empty());  // a first delivery has no nack reason to forget
    CHECK(out.acked == 1);
}

TEST_CASE("a redelivered entry is counted as one and its ack forgets its nack reason",
          "[unit][deliver]") {
    dispatcher d("billing");
    auto a = d.join(10, 30'000ms);
    take(d, "1-0", 3);
    d.dispatch(t0);
    auto out = d.take_output();
    REQUIRE(out.frames.size() == 1);
    CHECK(out.frames[0].delivery == 3);
    CHECK(out.redelivered == 1);
    CHECK(out.delivered == 0);
    d.ack(a, {"1-0"});
    out = d.take_output();
    CHECK(out.ack_reasons == ids{"billing\n1-0"});
}

TEST_CASE("an ack applies to ids not held, forgetting their reason too", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(10, 30'000ms);
    d.ack(a, {"9-0"});
    auto out = d.take_output();
    CHECK(out.acks == ids{"9-0"});
    CHECK(out.ack_reasons == ids{"g\n9-0"});
}

TEST_CASE("a nack makes an entry due after its delay, capped, and saves the reason",
          "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(10, 30'000ms);
    take(d, "1-0");
    take(d, "2-0", 2);
    take(d, "3-0");
    d.dispatch(t0);
    d.take_output();
    // Due once idle reaches timeout + backoff; the idle time set is that minus the delay.
    auto unknown = d.nack(a, {"1-0", "7-0"}, 5000, "payment down", policy);
    CHECK(unknown == ids{"7-0"});
    auto out = d.take_output();
    CHECK(out.idle == idle{{"1-0", 30'000 + 1000 - 5000}});
    REQUIRE(out.reasons.size() == 1);
    CHECK(out.reasons[0].first == ids{"g\n1-0"});
    CHECK(out.reasons[0].second == "payment down");
    CHECK(out.nacked == 1);
    // Without a delay: the backoff for its delivery count (2 -> 2 s), so idle = timeout.
    d.nack(a, {"2-0"}, std::nullopt, "", policy);
    out = d.take_output();
    CHECK(out.idle == idle{{"2-0", 30'000}});
    CHECK(out.reasons.empty());
    // A delay beyond ack_timeout + backoff is capped there: due at once.
    d.nack(a, {"3-0"}, 10'000'000, "", policy);
    out = d.take_output();
    CHECK(out.idle == idle{{"3-0", 0}});
    CHECK(d.held(a) == 0);
    // Nacked ids are no longer held: a second nack reports them.
    CHECK(d.nack(a, {"1-0"}, std::nullopt, "", policy) == ids{"1-0"});
}

TEST_CASE("a passed deadline frees the credit and makes the entry due after its backoff",
          "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(1, 1000ms);
    take(d, "1-0");
    take(d, "2-0");
    d.dispatch(t0);
    CHECK(frames_to(d.take_output(), a) == ids{"1-0"});
    CHECK(d.next_deadline() == t0 + 1000ms);
    d.tick(t0 + 999ms, policy);
    CHECK(d.take_output().empty());
    d.tick(t0 + 1000ms, policy);
    auto out = d.take_output();
    // Idle set to the type's ack timeout: the claim script finds it due after the backoff.
    CHECK(out.idle == idle{{"1-0", 30'000}});
    CHECK(frames_to(out, a) == ids{"2-0"});  // the freed credit takes the next entry
    CHECK(d.next_deadline() == t0 + 2000ms);
    // An ack of the expired entry is still applied (it was processed).
    d.ack(a, {"1-0"});
    CHECK(d.take_output().acks == ids{"1-0"});
}

TEST_CASE("an extend restarts a deadline, ids not held are unknown", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(5, 1000ms);
    take(d, "1-0");
    d.dispatch(t0);
    d.take_output();
    auto unknown = d.extend(a, {"1-0", "5-0"}, t0 + 800ms);
    CHECK(unknown == ids{"5-0"});
    CHECK(d.take_output().idle == idle{{"1-0", 0}});  // the PEL idle time restarts too
    d.tick(t0 + 1000ms, policy);                      // the first deadline is stale now
    CHECK(d.take_output().empty());
    CHECK(d.held(a) == 1);
    CHECK(d.next_deadline() == t0 + 1800ms);
    d.tick(t0 + 1800ms, policy);
    CHECK(d.take_output().idle == idle{{"1-0", 30'000}});
    CHECK(d.held(a) == 0);
}

TEST_CASE("a member that leaves makes what it held due at once", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(5, 30'000ms);
    auto b = d.join(5, 30'000ms);
    take(d, "1-0");
    take(d, "2-0");
    d.dispatch(t0);
    d.take_output();
    d.leave(a, policy);
    auto out = d.take_output();
    CHECK(out.idle == idle{{"1-0", 30'000 + 60'000}});
    CHECK(d.members() == 1);
    CHECK(d.held(b) == 1);
    // Its acks after leaving are still written.
    d.ack(a, {"1-0"});
    CHECK(d.take_output().acks == ids{"1-0"});
}

TEST_CASE("entries read for members that are all gone are given back at once", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(5, 30'000ms);
    take(d, "1-0");
    d.leave(a, policy);  // before the dispatch: 1-0 was read for nobody
    auto out = d.take_output();
    CHECK(out.idle == idle{{"1-0", 90'000}});
    CHECK(d.waiting() == 0);
    CHECK(d.idle());
    take(d, "2-0");  // a read that completes after the last member left
    CHECK(d.take_output().idle == idle{{"2-0", 90'000}});
}

TEST_CASE("round robin goes on past a member that left", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(10, 30'000ms);
    auto b = d.join(10, 30'000ms);
    auto c = d.join(10, 30'000ms);
    take(d, "1-0");
    take(d, "2-0");
    d.dispatch(t0);
    d.take_output();  // a, b
    d.leave(b, policy);
    d.take_output();
    take(d, "3-0");
    take(d, "4-0");
    d.dispatch(t0);
    auto out = d.take_output();
    CHECK(frames_to(out, c) == ids{"3-0"});
    CHECK(frames_to(out, a) == ids{"4-0"});
}

TEST_CASE("acked entries leave no deadline behind", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(1, 30'000ms);
    for (int i = 0; i < 10'000; ++i) {
        take(d, std::to_string(i) + "-0");
        d.dispatch(t0);
        d.ack(a, {std::to_string(i) + "-0"});
        d.take_output();
    }
    CHECK(d.held(a) == 0);
    CHECK_FALSE(d.next_deadline());  // every one is stale
}

TEST_CASE("a full window is read again once a quarter of it is free", "[unit][deliver]") {
    dispatcher d("g");
    auto a = d.join(8, 30'000ms);
    CHECK(d.want_batch() == 8);  // nothing held: read what fits
    for (int i = 0; i < 7; ++i) take(d, std::to_string(i) + "-0");
    d.dispatch(t0);
    CHECK(d.want_batch() == 1);  // not full yet: the last place is read for
    take(d, "7-0");
    d.dispatch(t0);
    d.take_output();
    CHECK(d.want_batch() == 0);  // full
    d.ack(a, {"0-0"});
    CHECK(d.want() == 1);
    CHECK(d.want_batch() == 0);  // one free place of eight: wait for more acks
    d.ack(a, {"1-0"});
    CHECK(d.want_batch() == 2);  // a quarter free
    take(d, "8-0");
    d.dispatch(t0);
    CHECK(d.want_batch() == 1);  // refilling: what is free is read for again
    d.ack(a, {"2-0", "3-0", "4-0", "5-0", "6-0", "7-0", "8-0"});
    CHECK(d.want_batch() == 8);
}
