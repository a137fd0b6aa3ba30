#include "catalog/holder.hpp"

#include <catch2/catch.hpp>

using namespace sluice;

TEST_CASE("the catalog holder is empty until set, and a swap leaves held catalogs alone",
          "[unit][catalog]") {
    catalog::holder h;
    CHECK_FALSE(h.is_loaded());
    CHECK(h.get() == nullptr);

    auto first = std::make_shared<catalog::schema_catalog>();
    first->types["user.created"] = {};
    h.set(first);
    REQUIRE(h.is_loaded());
    auto in_use = h.get();  // a request holds this one
    CHECK(in_use == first);

    auto second = std::make_shared<catalog::schema_catalog>();
    h.set(second);
    CHECK(h.get() == second);
    CHECK(in_use->types.contains("user.created"));  // still whole for its request
}
