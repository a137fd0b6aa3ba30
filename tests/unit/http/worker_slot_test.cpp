#include "http/worker_slot.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

using namespace sluice;

namespace {
struct store_like {
    int id = 0;
};
struct hub_like {
    int id = 0;
};
}  // namespace

TEST_CASE("a worker slot hands back each lent object by its type", "[unit][http]") {
    store_like store{1};
    hub_like hub{2};
    http::worker_slot slot;
    slot.lend(store);
    slot.lend(hub);
    CHECK(&slot.get<store_like>() == &store);
    CHECK(&slot.get<hub_like>() == &hub);
    CHECK(slot.find<std::string>() == nullptr);
    CHECK_THROWS_AS(slot.get<std::string>(), std::logic_error);
    http::worker_slot copy = slot;  // the server keeps a copy per thread
    CHECK(copy.get<hub_like>().id == 2);
}

TEST_CASE("a worker slot refuses a type lent twice and more objects than it holds",
          "[unit][http]") {
    store_like a, b;
    http::worker_slot slot;
    slot.lend(a);
    CHECK_THROWS_AS(slot.lend(b), std::logic_error);
    CHECK(&slot.get<store_like>() == &a);
    int i = 0;
    long l = 0;
    double d = 0;
    std::string s;
    slot.lend(i);
    slot.lend(l);
    slot.lend(d);
    CHECK_THROWS_AS(slot.lend(s), std::logic_error);
}
