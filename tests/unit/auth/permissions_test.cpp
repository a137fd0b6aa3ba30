#include <catch2/catch.hpp>

#include "auth/authenticator.hpp"
#include "auth/permissions.hpp"

using namespace sluice::auth;

TEST_CASE("type patterns: * matches any run of characters, the rest itself", "[auth]") {
    CHECK(matches("*", "orders.placed"));
    CHECK(matches("orders.*", "orders.placed"));
    CHECK(matches("orders.*", "orders.eu.placed"));
    CHECK(matches("*.placed", "orders.placed"));
    CHECK(matches("o*s.*d", "orders.placed"));
    CHECK(matches("orders.placed", "orders.placed"));
    CHECK_FALSE(matches("orders.*", "orders"));
    CHECK_FALSE(matches("orders.*", "users.created"));
    CHECK_FALSE(matches("orders.placed", "orders.placedx"));
    CHECK_FALSE(matches("", "x"));
    CHECK(matches("a*a*a*a*b", std::string(200, 'a') + "b"));
    CHECK_FALSE(matches("a*a*a*a*b", std::string(200, 'a')));
    CHECK(pattern_problem("orders.*").empty());
    CHECK_FALSE(pattern_problem("").empty());
    CHECK_FALSE(pattern_problem("has space").empty());
}

TEST_CASE("a principal may do what one of its grants allows on a matching type and group",
          "[auth]") {
    principal p{
        "billing",
        {{{"orders.*"}, {}, static_cast<action_set>(action::publish)},
         {{"orders.*"},
          {"billing", "billing-*"},
          static_cast<action_set>(action::consume) | static_cast<action_set>(action::replay)}}};
    CHECK(p.may(action::publish, "orders.placed"));
    CHECK_FALSE(p.may(action::publish, "users.created"));
    CHECK(p.may(action::consume, "orders.placed", "billing"));
    CHECK(p.may(action::consume, "orders.placed", "billing-eu"));
    CHECK_FALSE(p.may(action::consume, "orders.placed", "shipping"));
    CHECK(p.may(action::replay, "orders.placed"));
    CHECK_FALSE(p.may(action::subscribe, "orders.placed"));
    CHECK_FALSE(p.may(action::admin, "orders.placed"));
    CHECK_FALSE(p.may(action::metrics));
    principal any_group{"c", {{{"*"}, {}, static_cast<action_set>(action::consume)}}};
    CHECK(any_group.may(action::consume, "x", "anything"));
    CHECK(action_named("admin") == action::admin);
    CHECK_FALSE(action_named("root"));
}

TEST_CASE("API keys are known by their SHA-256, and a bad or unknown one is invalid", "[auth]") {
    CHECK(sha256_hex("sk_demo_publish") ==
          "5c8096b743a6f25b28a213c956999c8c479fd44b901a524ad5f570f34ac9c817");
    auth_settings s;
    s.enabled = true;
    s.api_keys.push_back({"publisher", sha256_hex("k1"), {{{"*"}, {}, 1}}});
    authenticator a(s);
    auto good = a.identify("Bearer k1", "");
    REQUIRE(good.who);
    CHECK(good.who->name == "publisher");
    CHECK_FALSE(good.anonymous);
    CHECK(a.identify("bearer   k1 ", "").who == good.who);
    CHECK(a.identify("", "k1").who == good.who);
    CHECK(a.identify("Bearer k2", "").invalid);
    CHECK(a.identify("Basic azE6", "").invalid);
    CHECK(a.identify("Bearer ", "").invalid);
    auto none = a.identify("", "");
    CHECK(none.anonymous);
    CHECK(none.who == &a.anonymous());
    CHECK(none.who->grants.empty());

    authenticator off(auth_settings{});
    CHECK_FALSE(off.enabled());
    auto open = off.identify("Bearer whatever", "");
    REQUIRE(open.who);
    CHECK(open.who->may(action::admin, "x"));

    auto k = new_api_key();
    CHECK(k.size() == 46);
    CHECK(k.starts_with("sk_"));
    CHECK(new_api_key() != k);
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a verified client certificate names its principal when no credential is sent",
          "[unit][auth]") {
    auth_settings s;
    s.enabled = true;
    s.api_keys.push_back({"publisher", sha256_hex("k1"), {{{"*"}, {}, 1}}});
    s.certificates.push_back({"billing-service", {{{"user.*"}, {}, 1}}, 5});
    authenticator a(s);
    auto cert = a.identify("", "", "billing-service");
    REQUIRE(cert.who);
    CHECK(cert.who->name == "billing-service");
    CHECK(cert.who->publish_rate == 5);
    CHECK_FALSE(cert.anonymous);
    // A credential in the request wins over the certificate, good or bad.
    CHECK(a.identify("Bearer k1", "", "billing-service").who->name == "publisher");
    CHECK(a.identify("", "k1", "billing-service").who->name == "publisher");
    CHECK(a.identify("Bearer nope", "", "billing-service").invalid);
    // A certificate the config does not list is anonymous.
    CHECK(a.identify("", "", "stranger").anonymous);
    CHECK(a.identify("", "", "").anonymous);
}
