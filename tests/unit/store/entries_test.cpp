#include "store/entries.hpp"

#include <catch2/catch.hpp>

#include "support/replies.hpp"

using namespace sluice;
using namespace sluice::store;
using namespace sluice::test;

TEST_CASE("XRANGE replies become stream entries, other shapes are refused", "[unit][store]") {
    std::vector<redis::reply> items;
    items.push_back(entry("1-0", {"id", "a", "data", "{}"}));
    items.push_back(entry("1-1", {"id", "b"}));
    auto entries = entries_from_xrange(array(std::move(items)));
    REQUIRE(entries);
    REQUIRE(entries->size() == 2);
    CHECK((*entries)[0].id == "1-0");
    CHECK((*entries)[0].field("data") == "{}");
    CHECK((*entries)[1].field("id") == "b");
    CHECK(entries_from_xrange(array({}))->empty());
    CHECK_FALSE(entries_from_xrange(str("1-0")));
    std::vector<redis::reply> odd;
    odd.push_back(entry("1-0", {"id"}));
    CHECK_FALSE(entries_from_xrange(array(std::move(odd))));
}

TEST_CASE("delivery reads keep the well-formed entries of a read and skip the rest",
          "[unit][store]") {
    std::vector<redis::reply> items;
    items.push_back(entry("1-0", {"id", "a"}));
    items.push_back(str("not an entry"));
    items.push_back(entry("1-2", {"id", "c"}));
    auto read = list(list(str("sluice:{t}:events"), array(std::move(items))));
    auto entries = entries_of_read(read);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].id == "1-0");
    CHECK(entries[1].field("id") == "c");
    auto none = nil();
    CHECK(entries_of_read(none).empty());  // BLOCK timed out
}

TEST_CASE("a claim reply gives the claimed entries with their delivery, the dead and next",
          "[unit][store]") {
    auto claimed = list(entry("2-0", {"id", "x"}));
    claimed.elements[0].elements.push_back(num(3));
    auto r = list(claimed, list(str("1-0"), str("1-1")), str("(2-0"));
    auto c = claim_result_of(r);
    REQUIRE(c.claimed.size() == 1);
    CHECK(c.claimed[0].entry.id == "2-0");
    CHECK(c.claimed[0].delivery == 3);
    CHECK(c.dead == std::vector<std::string>{"1-0", "1-1"});
    CHECK(c.next == "(2-0");
    auto end = list(list(), list(), str(""));
    CHECK(claim_result_of(end).next == "-");
}
