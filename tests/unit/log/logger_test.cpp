#include "log/logger.hpp"

#include <catch2/catch.hpp>

using namespace sluice::log;

TEST_CASE("log levels parse from their names", "[unit][log]") {
    level l{};
    CHECK(parse_level("debug", l));
    CHECK(l == level::debug);
    CHECK(parse_level("warning", l));
    CHECK(l == level::warn);
    CHECK_FALSE(parse_level("verbose", l));
}
