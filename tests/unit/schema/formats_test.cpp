#include "schema/formats.hpp"

#include <catch2/catch.hpp>

using namespace sluice::schema;

TEST_CASE("format names map to checkers, unknown formats pass", "[unit][schema]") {
    CHECK(format_from_name("date-time") == format_kind::date_time);
    CHECK(format_from_name("iri") == format_kind::unknown);
    CHECK(check_format(format_kind::unknown, "anything"));
}

TEST_CASE("date-time follows RFC 3339, leap seconds at 23:59:60 UTC only", "[unit][schema]") {
    CHECK(check_format(format_kind::date_time, "2026-11-27T00:29:00.000Z"));
    CHECK(check_format(format_kind::date_time, "1998-12-31T15:59:60.123-08:00"));
    CHECK_FALSE(check_format(format_kind::date_time, "1998-12-31T22:59:60Z"));
    CHECK_FALSE(check_format(format_kind::date_time, "2021-02-29T00:00:00Z"));
    CHECK(check_format(format_kind::date_time, "2020-02-29t00:00:00z"));
    CHECK_FALSE(check_format(format_kind::date_time, "2026-11-27 00:29:00Z"));
}

TEST_CASE("durations keep their units in order and without gaps", "[unit][schema]") {
    CHECK(check_format(format_kind::duration, "P1Y2M3DT4H5M6S"));
    CHECK(check_format(format_kind::duration, "P4W"));
    CHECK_FALSE(check_format(format_kind::duration, "P1Y2D"));
    CHECK_FALSE(check_format(format_kind::duration, "PT"));
    CHECK_FALSE(check_format(format_kind::duration, "P1W2D"));
}

TEST_CASE("emails, hosts and addresses", "[unit][schema]") {
    CHECK(check_format(format_kind::email, "alice.example@example.com"));
    CHECK(check_format(format_kind::email, "\"joe bloggs\"@example.com"));
    CHECK_FALSE(check_format(format_kind::email, "two..dots@example.com"));
    CHECK(check_format(format_kind::hostname, "xn--9n2bp8q.xn--9t4b11yi5a"));
    CHECK_FALSE(check_format(format_kind::hostname, "xn--X"));
    CHECK(check_format(format_kind::ipv4, "192.168.0.1"));
    CHECK_FALSE(check_format(format_kind::ipv4, "192.168.0.01"));
    CHECK(check_format(format_kind::ipv6, "::ffff:192.168.0.1"));
    CHECK_FALSE(check_format(format_kind::ipv6, "fe80::1%eth0"));
}
