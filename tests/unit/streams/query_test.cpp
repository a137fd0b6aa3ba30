#include "streams/query.hpp"
#include "deliver/protocol.hpp"

#include <catch2/catch.hpp>

using namespace sluice::streams;

TEST_CASE("query strings are split and percent-decoded, '+' kept", "[unit][streams]") {
    auto p = parse_query("from=2026-11-27T10%3A00%3A00%2B01:00&&limit=5&flag&to=1+2");
    REQUIRE(p);
    REQUIRE(p->size() == 4);
    CHECK((*p)[0].name == "from");
    CHECK((*p)[0].value == "2026-11-27T10:00:00+01:00");
    CHECK((*p)[1].value == "5");
    CHECK((*p)[2].name == "flag");
    CHECK((*p)[2].value.empty());
    CHECK((*p)[3].value == "1+2");
    CHECK_FALSE(parse_query("from=%G1"));
    CHECK_FALSE(parse_query("from=abc%"));
    CHECK_FALSE(parse_query("from=abc%2"));
    CHECK(parse_query("")->empty());
}

TEST_CASE("replay defaults to the whole stream, 100 at a time", "[unit][streams]") {
    page_query q;
    CHECK_FALSE(parse_replay_query("", q));
    CHECK(q.first == "-");
    CHECK(q.last == "+");
    CHECK(q.limit == 100);
}

TEST_CASE("replay from and to take entry ids and RFC 3339 times", "[unit][streams]") {
    page_query q;
    REQUIRE_FALSE(parse_replay_query("from=1700000000000-3&to=1700000000500-1&limit=1000", q));
    CHECK(q.first == "1700000000000-3");
    CHECK(q.last == "1700000000500-1");
    CHECK(q.limit == 1000);

    // A time starts at its first millisecond and, as `to`, ends with its last entry.
    REQUIRE_FALSE(
        parse_replay_query("from=2023-11-14T22:13:20Z&to=2023-11-14T23:13:20.5%2B01:00", q));
    CHECK(q.first == "1700000000000-0");
    CHECK(q.last == "1700000000500-18446744073709551615");

    // A bare <ms> as `to` covers its whole millisecond, as XRANGE does; `start`/`end` reset.
    REQUIRE_FALSE(parse_replay_query("from=start&to=1700000000000", q));
    CHECK(q.first == "-");
    CHECK(q.last == "1700000000000-18446744073709551615");
    REQUIRE_FALSE(parse_replay_query("from=1700000000000&to=end", q));
    CHECK(q.first == "1700000000000-0");
    CHECK(q.last == "+");
}

TEST_CASE("bad replay parameters name the parameter and what it takes", "[unit][streams]") {
    page_query q;
    auto check = [&](std::string_view query, std::string_view parameter, std::string_view text) {
        auto bad = parse_replay_query(query, q);
        REQUIRE(bad);
        CHECK(bad->parameter == parameter);
        CHECK_THAT(bad->detail, Catch::Matchers::Contains(std::string(text)));
    };
    check("from=yesterday", "from", "from must be `start`, an entry id");
    check("from=new", "from", "got 'new'");
    check("from=2026-13-01T00:00:00Z", "from", "RFC 3339");
    check("to=x-1", "to", "to must be `end`");
    check("limit=0", "limit", "limit must be an integer from 1 to 1000; got '0'");
    check("limit=1001", "limit", "from 1 to 1000");
    check("limit=ten", "limit", "got 'ten'");
    check("limit=5x", "limit", "got '5x'");
    check("limit=-1", "limit", "got '-1'");
    check("limt=5", "limt", "unknown query parameter 'limt'; this endpoint takes from, to, limit");
    check("limit=5&limit=6", "limit", "more than once");
    check("from=%ZZ", "", "malformed %-escape");
    // Whatever the client sent is echoed printable and short.
    check("from=%00%FF", "from", "got '\?\?'");  // escaped: "??'" would be a trigraph
}

TEST_CASE("the dead-letter list takes from and limit only", "[unit][streams]") {
    page_query q;
    REQUIRE_FALSE(parse_dead_letter_query("from=5-1&limit=2", q));
    CHECK(q.first == "5-1");
    CHECK(q.limit == 2);
    auto bad = parse_dead_letter_query("to=5-1", q);
    REQUIRE(bad);
    CHECK(bad->parameter == "to");
}

TEST_CASE("delete takes all=true or all=false", "[unit][streams]") {
    bool all = true;
    CHECK_FALSE(parse_delete_query("", all));
    CHECK_FALSE(all);
    CHECK_FALSE(parse_delete_query("all=true", all));
    CHECK(all);
    CHECK_FALSE(parse_delete_query("all=false", all));
    CHECK_FALSE(all);
    auto bad = parse_delete_query("all=yes", all);
    REQUIRE(bad);
    CHECK(bad->parameter == "all");
    CHECK(parse_delete_query("everything=true", all));
}

TEST_CASE("an unknown parameter is named in UTF-8 whatever bytes its name decodes to",
          "[unit][streams]") {
    // Found by fuzz_query: the name went into the problem's `parameter` member raw, so
    // `%FF=1` made the 400 answer invalid UTF-8 JSON.
    page_query q;
    auto bad = parse_replay_query("fr%FF%FE=1", q);
    REQUIRE(bad);
    CHECK(bad->parameter == "fr??");
    CHECK_THAT(bad->detail, Catch::Matchers::Contains("unknown query parameter 'fr\?\?'"));
    bool all = false;
    auto del = parse_delete_query(std::string(100, 'a') + "%C3=true", all);
    REQUIRE(del);
    CHECK(del->parameter == std::string(64, 'a'));  // cut like echo(), without its quotes
    // Printable names stay as the client wrote them.
    CHECK(parse_replay_query("limt=5", q)->parameter == "limt");
}

TEST_CASE("group names are 1 to 128 safe characters", "[unit][streams]") {
    CHECK(sluice::deliver::valid_group_name("billing"));
    CHECK(sluice::deliver::valid_group_name("team.billing_v2:eu-1"));
    CHECK(sluice::deliver::valid_group_name(std::string(128, 'g')));
    CHECK_FALSE(sluice::deliver::valid_group_name(""));
    CHECK_FALSE(sluice::deliver::valid_group_name(std::string(129, 'g')));
    CHECK_FALSE(sluice::deliver::valid_group_name("bad group"));
    CHECK_FALSE(sluice::deliver::valid_group_name("a/b"));
    CHECK_FALSE(sluice::deliver::valid_group_name("caf\xc3\xa9"));
    CHECK_FALSE(sluice::deliver::valid_group_name("%41"));
}

TEST_CASE("echoed client text is short, quoted and printable", "[unit][streams]") {
    CHECK(echo("abc") == "'abc'");
    CHECK(echo("a\nb\x80") == "'a?b?'");
    CHECK(echo(std::string(100, 'x')) == "'" + std::string(64, 'x') + "...'");
}
