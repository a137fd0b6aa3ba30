#include "store/dead_letters.hpp"
#include "store/scripts.hpp"

#include <catch2/catch.hpp>

#include "support/replies.hpp"

using namespace sluice;
using namespace sluice::store;
using kind = redis::reply::kind;
using namespace sluice::test;

TEST_CASE("requeue replies accumulate over calls, other shapes are refused", "[unit][store]") {
    requeue_result done;
    REQUIRE(read_requeue_reply(list(list(str("9-0"), str("20-0"), str("9-1"), str("20-1")),
                                    list(str("9-5")), num(1000), str("9-999")),
                               done));
    REQUIRE(read_requeue_reply(list(list(str("10-0"), str("21-0")), list(), num(1), str("10-0")),
                               done));
    REQUIRE(done.requeued.size() == 3);
    CHECK(done.requeued[0] == std::pair<std::string, std::string>("9-0", "20-0"));
    CHECK(done.requeued[2].second == "21-0");
    CHECK(done.missing == std::vector<std::string>{"9-5"});
    CHECK(done.examined == 1);
    CHECK(done.last == "10-0");
    CHECK_FALSE(read_requeue_reply(list(list(str("1-0")), list(), num(0), str("")), done));
    CHECK_FALSE(read_requeue_reply(num(3), done));
}

TEST_CASE("the dead-letter scripts are distinct and known by their SHA1", "[unit][store]") {
    CHECK(requeue_script().sha1().size() == 40);
    CHECK(requeue_script().sha1() != clear_dead_letters_script().sha1());
    CHECK_THAT(requeue_script().source(), Catch::Matchers::Contains("'dlq_'"));
}
